"""The Atari-Go report across board sizes (dps.evaluation.atari_go): rows for every size and
opponent, per-size wall times, the transfer table, reproducibility, and the batched game
loop against plain rollouts."""
import json

import pytest
import torch

from dps.envs.atari_go.env import AtariGoEnv
from dps.evaluation.atari_go import FLOOR, final_report, play_cell
from dps.policies import make_policy
from dps.policies.mdlstm import MDLSTMPolicy
from dps.rollout import rollout

OPPS = ("L0", "L2", "L4", "L5", "L6")


def _report(run_dir, seed=3, sizes=(5, 11), games=20):
    env = AtariGoEnv(size=5, opponent="L2")
    pol = MDLSTMPolicy((2, 5, 5), 25, hidden=2)
    params = pol.init_params(torch.Generator().manual_seed(0))
    out = final_report(env, pol, params, run_dir, seed=seed, games=games, sizes=sizes, opponents=OPPS)
    return out, json.loads((run_dir / "report.json").read_text()), (run_dir / "report.md").read_text()


def test_report_covers_every_size_and_opponent_with_timing_and_transfer_table(tmp_path):
    out, data, md = _report(tmp_path)
    assert [(r["N"], r["opponent"], r["player"]) for r in data["rows"]] == [
        (N, o, p) for N in (5, 11) for o in OPPS for p in ("trained", FLOOR)]
    assert all(r["games"] == 20 and r["black_games"] == r["white_games"] == 10 for r in data["rows"])
    assert data["sizes_skipped"] == [] and data["games_per_cell"] == 20
    assert set(data["size_wall_s"]) == {"5", "11"} and all(t > 0 for t in data["size_wall_s"].values())
    assert data["threads"] == torch.get_num_threads()
    assert set(out) == {f"N{N}/{o}" for N in (5, 11) for o in OPPS} | {"floor"}
    assert set(out["floor"]) == set(out) - {"floor"}
    # the compact transfer table comes first: one row per opponent, one column per size
    transfer, detail = md.index("## Transfer"), md.index("## All cells")
    assert transfer < detail
    assert "| opponent | 5×5 | 11×11 |" in md[transfer:detail]
    for o in OPPS:
        row = next(line for line in md[transfer:detail].splitlines() if line.startswith(f"| {o} |"))
        assert row == f"| {o} | " + " | ".join(
            f"{out[f'N{N}/{o}']:.3f} ({out['floor'][f'N{N}/{o}']:.3f})" for N in (5, 11)) + " |"
    assert "Wall time per size" in md and "11×11" in md[md.index("Wall time per size"):detail]
    assert "| 11 | L6 | trained |" in md[detail:]


def test_same_seed_same_report(tmp_path):
    a = _report(tmp_path / "a")
    b = _report(tmp_path / "b")
    c = _report(tmp_path / "c", seed=4, sizes=(5,))
    assert a[0] == b[0] and a[1]["rows"] == b[1]["rows"]
    assert [r for r in a[1]["rows"] if r["N"] == 5] != c[1]["rows"]  # the seed reaches the games


@pytest.mark.parametrize("N,opponent,spec", [(5, "L2", "mdlstm:hidden=2"), (5, "L4", "mdlstm:hidden=2"),
                                             (7, "L0", "mdlstm:hidden=2"), (6, "L6", "mdlstm:hidden=2"),
                                             (5, "L2", "lstm:hidden=3"), (4, "L5", "lstm:hidden=3")])
def test_play_cell_plays_the_rollouts_games(N, opponent, spec):
    """Both networks of one batch play the games of one plain rollout each (bits engine at
    5×5 vs L2, general engine otherwise), also a policy with memory across moves (an LSTM
    on the flat board), whose state follows each game through the dropping of finished ones."""
    pol = make_policy(spec, (2, N, N), N * N)
    params = torch.stack([pol.init_params(torch.Generator().manual_seed(s)) for s in (5, 6)])
    games, seeds = 24, (11, 12)
    ref = []
    for p in range(2):
        env = AtariGoEnv(size=N, opponent=opponent, games=games)
        rollout(pol, env, params[p:p + 1], games, seeds[p])
        ref.append(env.results())
    full = play_cell(pol, params, N, opponent, games, seeds, compact=False)
    for p in range(2):
        assert torch.equal(full["won"][p], ref[p]["won"][0])
        assert torch.equal(full["plies"][p], ref[p]["plies"][0])
        assert torch.equal(full["agent_color"][p], ref[p]["agent_color"][0])
    # dropping finished games changes the batch shape, which may move a score by an ulp and
    # so flip a near-tie: the same games up to such rare flips
    dropped = play_cell(pol, params, N, opponent, games, seeds)
    assert (dropped["plies"] != full["plies"]).float().mean() <= 0.1
    assert torch.equal(dropped["agent_color"], full["agent_color"])
