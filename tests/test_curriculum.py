"""--curriculum KEY=START..END: stages advance only after a centre evaluation at or above
--curriculum-success, by the factor, up to END; success counts only at END; the final
evaluation is on END; resume continues the stage bit-identically; mistakes are one line."""
import csv
import json

import pytest
import torch

from dps.checkpoint import load_checkpoint
from dps.envs.registry import make_env
from dps.evaluation import greedy_evaluation
from dps.policies import make_policy
from dps.run import main
from dps.runner import RunConfig, train
from dps.runner.curriculum import Curriculum
from dps.seeding import EVAL, derive_seed

CUR = dict(algo="pgpe", env="tmaze", curriculum="length=5..40", eval_episodes=50, seed=0)


def _run(tmp_path, name, generations, **kw):
    return train(RunConfig(**{**CUR, **kw, "generations": generations, "out": str(tmp_path / name)}), quiet=True)


def _rows(d):
    return list(csv.DictReader(open(d / "metrics.csv")))


def test_next_values_grow_by_the_factor_and_stop_at_end():
    c = Curriculum.parse("length=10..1000", "tmaze", 2.0, 0.95)
    seq = [c.start]
    while seq[-1] < c.end:
        seq.append(c.next(seq[-1]))
    assert seq == [10, 20, 40, 80, 160, 320, 640, 1000]
    slow = Curriculum.parse("length=1..4", "tmaze", 1.2, 0.9)
    assert [slow.next(v) for v in (1, 2, 3)] == [2, 3, 4]  # an integer option grows by at least 1
    assert c.spec_at(20) == "tmaze:length=20"


def test_stages_advance_on_success_and_the_run_is_judged_on_end(tmp_path):
    d = _run(tmp_path, "c", 400)
    rows = _rows(d)
    s = json.loads((d / "summary.json").read_text())
    stages = s["curriculum"]["stages"]
    assert [st["value"] for st in stages] == [5, 10, 20, 40] and s["curriculum"]["reached"] == 40
    values = [int(r["curriculum"]) for r in rows]
    assert values == sorted(values) and values[0] == 5
    for prev, st in zip(stages, stages[1:]):  # each stage began right after a centre evaluation that passed
        before = rows[st["generation"] - 1]
        assert int(before["curriculum"]) == prev["value"] and float(before["center_success"]) >= 0.95
        assert int(rows[st["generation"]]["curriculum"]) == st["value"]
        assert st["episodes"] == int(before["episodes"])
        earlier = [r for r in rows[prev["generation"]:st["generation"] - 1] if r["center_success"]]
        assert all(float(r["center_success"]) < 0.95 for r in earlier)  # not before
    # success counts only at END: the first success and the early stop are at length 40
    assert s["first_success"]["generation"] >= stages[-1]["generation"]
    assert s["stopped_early"]
    # the final evaluation is of the target env, length 40
    env = make_env("tmaze:length=40")
    pol = make_policy(s["policy"], env.observation_shape, env.action_space.out_size)
    center = load_checkpoint(d / "checkpoint.pt")["center"]
    assert s["eval"] == greedy_evaluation(pol, env, center, 50, derive_seed(0, EVAL))


def test_final_evaluation_is_on_end_even_when_a_stage_is_not_reached(tmp_path):
    d = _run(tmp_path, "short", 3, stop_success=None)
    s = json.loads((d / "summary.json").read_text())
    assert s["curriculum"]["reached"] == 5
    # a length-40 episode takes at least 41 steps; a length-5 one at most its time limit 4*5+20 = 40
    assert s["eval"]["mean_length"] >= 41


def test_resume_continues_the_stage_bit_identically(tmp_path):
    full = _run(tmp_path, "full", 120, stop_success=None)
    half = _run(tmp_path, "half", 100, stop_success=None)
    train(RunConfig(algo="", generations=120), resume=str(half), quiet=True)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(half / "checkpoint.pt")
    assert torch.equal(a["center"], b["center"]) and a["curriculum"] == b["curriculum"]
    assert [r["curriculum"] for r in _rows(full)] == [r["curriculum"] for r in _rows(half)]
    assert len({r["curriculum"] for r in _rows(full)[:100]}) > 1, "the first half must cross a stage"


def test_rpg_follows_the_env_it_is_given():
    from dps.algorithms.rpg import RPG, Config
    env = make_env("tmaze:length=5")
    pol = make_policy("lstm:hidden=3", env.observation_shape, env.action_space.out_size)
    learner = RPG(pol, env, Config(episodes=4))
    longer = make_env("tmaze:length=9")
    learner.set_env(longer)
    assert learner.env is longer and learner.gamma == longer.gamma
    stats = learner.step()
    assert stats["env_steps"] >= 4 * 10  # episodes of the longer corridor


@pytest.mark.parametrize("extra,needle", [
    (["--curriculum", "length 3"], "malformed"),
    (["--curriculum", "lenght=2..8"], "has no option 'lenght'"),
    (["--curriculum", "balanced=0..1"], "is not a number"),
    (["--curriculum", "length=8..2"], "START must be below END"),
    (["--curriculum", "length=0..8"], "bad value 0"),
    (["--curriculum", "length=2..8", "--curriculum-factor", "1"], "--curriculum-factor must be above 1"),
    (["--curriculum-success", "0.5"], "this run has no curriculum"),
    (["--curriculum", "length=2..8", "--select-on", "tmaze:length=9"], "cannot be combined"),
])
def test_curriculum_user_errors_are_one_line(extra, needle, tmp_path, capsys):
    rc = main(["pgpe", "--env", "tmaze", "--generations", "2", "--out", str(tmp_path / "x"), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("dps: error:"), err
    assert needle in err
    assert not (tmp_path / "x").exists()


def test_env_conflict_task_and_interface_changes_are_refused(tmp_path, capsys):
    cases = [(["pgpe", "--env", "tmaze:length=5", "--curriculum", "length=2..8"], "sets length=5"),
             (["evolino", "--task", "sines:n=2", "--curriculum", "n=2..3"], "a --task run has no env"),
             (["pgpe", "--env", "atari-go", "--curriculum", "size=5..9", "--policy", "mdlstm:hidden=2"],
              "changes the env's observation")]
    for argv, needle in cases:
        rc = main([*argv, "--generations", "2", "--out", str(tmp_path / "y"), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and needle in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "y").exists()


def test_a_new_stage_does_not_count_as_a_pgpe_stall():
    from dps.algorithms.pgpe import PGPE, PGPEConfig
    searcher = PGPE(torch.zeros(4), PGPEConfig(popsize=4, restart_after=3), seed=0)
    for f in (5.0, 1.0, 1.0):  # the best sample, then two generations without a better one
        searcher.ask()
        searcher.tell(torch.full((4,), f))
    assert searcher.stale == 2 and searcher.restarts == 0
    searcher.objective_changed()  # a longer corridor: lower returns are no stall
    for _ in range(2):
        searcher.ask()
        searcher.tell(torch.full((4,), 1.0))
    assert searcher.restarts == 0 and searcher.best_fitness == 1.0
    searcher.ask()
    searcher.tell(torch.full((4,), 0.5))
    searcher.ask()
    searcher.tell(torch.full((4,), 0.5))
    assert searcher.restarts == 1  # a real stall on the new task still restarts


def test_pgpe_tmaze_defaults_use_a_curriculum_above_length_10():
    from dps.runner import resolve
    r = resolve(RunConfig(algo="pgpe", env="tmaze:length=50"))
    assert (r.curriculum, r.curriculum_factor, r.curriculum_success) == ("length=10..50", 2.0, 0.95)
    assert resolve(RunConfig(algo="pgpe", env="tmaze:length=10")).curriculum is None
    # every learner measured with it on the T-maze has it; guided ES (0/10 either way) has not
    for algo in ("snes", "cmaes", "rpg"):
        assert resolve(RunConfig(algo=algo, env="tmaze:length=50")).curriculum == "length=10..50", algo
    assert resolve(RunConfig(algo="guided-es", env="tmaze:length=50")).curriculum is None
    off = resolve(RunConfig(algo="pgpe", env="tmaze:length=50", curriculum="none"))
    assert off.curriculum == "none" and off.curriculum_factor is None
    assert resolve(off) == off  # resolving again keeps it off (the comparison grid resolves first)
    mine = resolve(RunConfig(algo="pgpe", env="tmaze:length=50", curriculum="length=25..50"))
    assert mine.curriculum == "length=25..50"
    # a user's --select-on replaces the default curriculum (the two cannot be combined)
    assert resolve(RunConfig(algo="pgpe", env="tmaze:length=50", select_on=["tmaze:length=60"])).curriculum is None


def test_the_cli_reads_curriculum_none_as_off():
    from dps.run import run_config
    from dps.runner import resolve
    cfg = run_config(["pgpe", "--env", "tmaze:length=50", "--curriculum", "none"])
    assert cfg.curriculum == "none" and resolve(cfg).curriculum == "none"
    assert resolve(run_config(["pgpe", "--env", "tmaze:length=50"])).curriculum == "length=10..50"
