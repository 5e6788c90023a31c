"""AtariGoEnv on the BatchedEnv contract, and its report (dps.evaluation.atari_go)."""
import json

import pytest
import torch

from dps.envs.atari_go.env import AtariGoEnv
from dps.envs.registry import make_env
from dps.errors import UserError
from dps.evaluation.atari_go import final_report, wilson
from dps.policies import LinearPolicy
from dps.policies.mdlstm import MDLSTMPolicy
from dps.rollout import make_generator, rollout


def test_registry_and_bad_options():
    env = make_env("atari-go:size=5,opponent=killer")
    assert isinstance(env, AtariGoEnv) and env.games == 40 and env.opponent == "L2"
    assert env.observation_shape == (2, 5, 5) and env.action_space.n == 25
    with pytest.raises(UserError, match="23"):
        AtariGoEnv(size=23)
    with pytest.raises(UserError, match="L9"):
        AtariGoEnv(opponent="L9")


def test_colours_alternate_and_observation_is_canonical():
    env = AtariGoEnv(size=5, opponent="L0")
    obs = env.reset(2, 4, make_generator(0, "cpu"))
    assert obs.shape == (2, 4, 2, 5, 5)
    # b even: opponent Black already moved (one stone in channel 0); b odd: empty board
    assert obs[:, 0::2, 0].sum((-1, -2)).eq(1).all() and obs[:, 0::2, 1].sum().eq(0)
    assert obs[:, 1::2].sum().eq(0)
    mask = env.action_mask()
    assert mask.shape == (2, 4, 25) and mask[:, 1::2].all() and mask[:, 0::2].sum(-1).eq(24).all()
    action = mask.float().argmax(-1)
    obs2, r, d, info = env.step(action)
    # after one step: agent stone in channel 1 (unless the game already ended)
    live = ~d
    assert (obs2[..., 1, :, :].sum((-1, -2))[live] == 1).all()
    assert (obs2[..., 0, :, :].sum((-1, -2))[:, 0::2][live[:, 0::2]] == 2).all()


def test_rollout_finishes_every_game_with_plus_minus_one():
    env = AtariGoEnv(size=5, opponent="L2")
    pol = LinearPolicy((2, 5, 5), 25)
    params = torch.stack([pol.init_params(torch.Generator().manual_seed(s)) for s in range(3)])
    res = rollout(pol, env, params, 20, seed=1)
    out = env.results()
    assert out["done"].all()
    assert set(res.returns.flatten().tolist()) <= {-1.0, 1.0}
    assert torch.equal(res.success, res.returns > 0) and torch.equal(res.success, out["won"])
    assert (res.lengths <= env.max_steps).all()
    res2 = rollout(pol, env, params, 20, seed=1)
    assert torch.equal(res.returns, res2.returns) and torch.equal(res.lengths, res2.lengths)


def test_shaped_reward_magnitude():
    env = AtariGoEnv(size=4, opponent="L0", shaping=True)
    pol = LinearPolicy((2, 4, 4), 16)
    res = rollout(pol, env, torch.zeros(1, pol.num_params), 50, seed=2)
    plies = env.results()["plies"].float()
    want = 1 - 0.2 * (plies - 3).clamp_min(0) / 13
    assert torch.allclose(res.returns.abs(), want)


def test_wilson_interval():
    lo, hi = wilson(50, 100)
    assert lo < 0.5 < hi and abs((lo + hi) / 2 - 0.5) < 1e-9 and 0.39 < lo < 0.41
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] > 0.999999


def test_final_report_writes_files(tmp_path):
    env = AtariGoEnv(size=5)
    pol = LinearPolicy((2, 5, 5), 25)
    params = pol.init_params(torch.Generator().manual_seed(0))
    out = final_report(env, pol, params, tmp_path, seed=3, games=40)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["sizes_skipped"] == [7, 9, 11, 13, 19]  # a linear policy is tied to its board size
    assert {(r["N"], r["opponent"], r["player"]) for r in data["rows"]} == {
        (5, o, p) for o in ("L0", "L2", "L4", "L5", "L6") for p in ("trained", "random-weight floor")}
    for r in data["rows"]:
        assert r["black_games"] == r["white_games"] == 20
        assert r["win_ci"][0] <= r["win"] <= r["win_ci"][1]
    assert set(data["size_wall_s"]) == {"5"}
    assert set(out) == {"N5/L0", "N5/L2", "N5/L4", "N5/L5", "N5/L6", "floor"}
    assert "| 5 | L2 | trained |" in (tmp_path / "report.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.md"]  # no temp files left
    (tmp_path / "plain.txt").write_text("x")  # written atomically, yet as readable as a plain write
    mode = (tmp_path / "plain.txt").stat().st_mode
    assert (tmp_path / "report.md").stat().st_mode == (tmp_path / "report.json").stat().st_mode == mode


# Recorded with the report as it was before it moved from the env package to the evaluation
# layer: the same seeds per cell and games must give the same numbers (the files hold wall
# times, so their bytes differ between runs).
LINEAR_REPORT = {"N5/L0": 0.5, "N5/L2": 0.25, "N5/L4": 0.175, "N5/L5": 0.05,
                 "floor": {"N5/L0": 0.6, "N5/L2": 0.075, "N5/L4": 0.075, "N5/L5": 0.05}}
MDLSTM_REPORT = {"N3/L0": 0.125, "N3/L5": 0.0, "N4/L0": 0.0, "N4/L5": 0.0,
                 "floor": {"N3/L0": 0.825, "N3/L5": 0.675, "N4/L0": 0.925, "N4/L5": 0.925}}


def test_final_report_numbers_and_files_unchanged(tmp_path):
    env = AtariGoEnv(size=5)
    pol = LinearPolicy((2, 5, 5), 25)
    params = pol.init_params(torch.Generator().manual_seed(0))
    four = ("L0", "L2", "L4", "L5")
    assert final_report(env, pol, params, tmp_path / "lin", seed=3, games=40, opponents=four) == LINEAR_REPORT
    _rows_match(tmp_path / "lin", LINEAR_REPORT)
    # a size-independent policy is rebuilt for every board size
    env = AtariGoEnv(size=4, opponent="L0")
    pol = MDLSTMPolicy((2, 4, 4), 16, hidden=1)
    params = pol.init_params(torch.Generator().manual_seed(1))
    out = final_report(env, pol, params, tmp_path / "md", seed=3, games=40, sizes=(3, 4), opponents=("L0", "L5"))
    assert out == MDLSTM_REPORT
    _rows_match(tmp_path / "md", MDLSTM_REPORT)


def _rows_match(run_dir, compact):
    """report.json's rows hold the compact numbers, in the row layout report readers parse."""
    rows = json.loads((run_dir / "report.json").read_text())["rows"]
    keys = {"N", "opponent", "player", "games", "mean_plies", "win", "win_ci", "black", "black_ci",
            "black_games", "white", "white_ci", "white_games"}
    assert all(set(r) == keys for r in rows)
    got = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4) for r in rows if r["player"] == "trained"}
    got["floor"] = {f"N{r['N']}/{r['opponent']}": round(r["win"], 4) for r in rows if r["player"] != "trained"}
    assert got == compact


def test_the_env_has_no_report():
    """The report drives episodes, so it belongs to the evaluation layer, not to the env."""
    assert not hasattr(AtariGoEnv, "final_report")


def _random_rollout(engine, N, opponent):
    env = AtariGoEnv(N, opponent, 8, engine=engine)
    gen, agent = make_generator(3, "cpu"), torch.Generator().manual_seed(4)
    out = [env.reset(6, 8, gen)]
    while not bool(env.boards.done.all()):
        mask = env.action_mask()
        a = torch.where(mask, torch.rand(mask.shape, generator=agent), torch.tensor(-1.0)).argmax(-1)
        obs, r, d, info = env.step(a)
        out += [obs, r, d, info["success"], info["plies"], env.action_mask()]
    return env, out


@pytest.mark.parametrize("N,opponent", [(5, "L2"), (7, "L1"), (4, "L0")])
def test_bitboard_engine_plays_the_same_games(N, opponent):
    """Up to 7x7 against L0-L2 the env keeps bitboards; the opponent sees the same maps
    and draws the same moves, so every observation, reward and mask is identical."""
    bits, a = _random_rollout("auto", N, opponent)
    gen, b = _random_rollout("boards", N, opponent)
    assert bits.engine == "bits" and gen.engine == "boards"
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_engine_option_errors_and_fallback():
    assert AtariGoEnv(9, "L2").engine == "boards" and AtariGoEnv(5, "L4").engine == "boards"
    assert make_env("atari-go:engine=boards").engine == "boards"
    with pytest.raises(UserError, match="engine 'bits' plays L0, L1, L2"):
        AtariGoEnv(5, "L5", engine="bits")
    with pytest.raises(UserError, match="engine must be one of"):
        AtariGoEnv(5, "L2", engine="fast")
