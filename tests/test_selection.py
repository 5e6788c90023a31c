"""--select-on: the run returns the latest centre whose score (its lowest env score over the
training env and every held-out env) is within one standard error of the best so far; the
kept centre is a real centre of the trajectory, scored on fixed seeds, resumed
bit-identically, and used by every consumer."""
import csv
import json
import math

import pytest
import torch

from dps.checkpoint import load_checkpoint
from dps.envs.registry import make_env
from dps.evaluation import greedy_evaluation, run_episodes
from dps.policies import make_policy
from dps.run import main
from dps.runner import RunConfig, evaluate_run, load_run, resolve, train
from dps.seeding import EVAL, SELECT, derive_seed

# a 5x5 player scored on 7x7 as well: win rates move from one centre to the next
TRAIN, HELD = "atari-go:size=5,opponent=L2", "atari-go:size=7,opponent=L2"
SEL = dict(algo="pgpe", env=TRAIN, policy="mdlstm:hidden=2", popsize=8, episodes=4, eval_episodes=20,
           eval_every=4, select_on=[HELD], select_every=1, select_episodes=12, seed=3)


def _run(tmp_path, name, generations, **kw):
    cfg = RunConfig(**{**SEL, **kw, "generations": generations, "out": str(tmp_path / name)})
    return train(cfg, quiet=True, report=False)


def _scores(d):
    return [(int(r["generation"]), r["select_score"]) for r in csv.DictReader(open(d / "metrics.csv"))]


def _one_se_rule(scores, n):
    """Reference: the latest centre whose score is within one standard error (of the best
    success rate so far, sqrt(p (1 - p) / n)) of the best so far; and the best score."""
    top = kept = None
    for g, s in enumerate(scores):
        if top is None or s > top:
            top = s
        if s >= top - math.sqrt(top * (1 - top) / n):
            kept = g
    return kept, top


def test_one_se_rule_reference_prefers_later_centres_within_noise():
    # 0.9 at n=100 has standard error 0.03: 0.88 later is kept, 0.85 is not
    assert _one_se_rule([0.5, 0.9, 0.88, 0.85], 100) == (2, 0.9)
    assert _one_se_rule([0.5, 0.9, 0.88, 0.95, 0.5], 100) == (3, 0.95)
    assert _one_se_rule([1.0, 0.99, 1.0], 100) == (2, 1.0)  # no error at p = 1: only ties


def test_kept_centre_is_the_best_scoring_centre_of_the_trajectory(tmp_path):
    G = 12
    d = _run(tmp_path, "full", G)
    rows = _scores(d)
    assert all(s != "" for _, s in rows)  # select_every=1: every generation scored
    scores = [float(s) for _, s in rows]
    kept_g, top = _one_se_rule(scores, 12)
    summary = json.loads((d / "summary.json").read_text())
    kept = summary["selection"]["kept"]
    assert kept["generation"] == kept_g and kept["score"] == scores[kept_g]
    assert summary["selection"]["top"]["score"] == top == max(scores)
    assert summary["selection"]["on"] == [TRAIN, HELD]
    assert len(set(scores)) > 1, "the test needs centres that score differently"
    # the kept centre is the learner's centre after generation kept_g: the same run stopped there
    short = _run(tmp_path, "short", kept_g + 1)
    ck = load_checkpoint(d / "checkpoint.pt")
    assert torch.equal(ck["selected_center"], load_checkpoint(short / "checkpoint.pt")["center"])
    assert not torch.equal(ck["selected_center"], ck["center"]) or kept_g == G - 1
    # its scores, recomputed independently: success on fixed-seed episodes of each env; the score is the lowest
    for i, spec in enumerate([TRAIN, HELD]):
        env = make_env(spec)
        pol = make_policy("mdlstm:hidden=2", env.observation_shape, env.action_space.out_size)
        res = run_episodes(pol, env, ck["selected_center"][None], 12, derive_seed(3, SELECT, i))
        assert kept["scores"][spec] == float(res.success.float().mean())
    assert kept["score"] == min(kept["scores"].values())
    # the final evaluation, evaluate and load_run all use the kept centre
    env = make_env(TRAIN)
    pol = make_policy("mdlstm:hidden=2", env.observation_shape, env.action_space.out_size)
    assert summary["eval"] == greedy_evaluation(pol, env, ck["selected_center"], 20, derive_seed(3, EVAL))
    assert evaluate_run(d) == summary["eval"]
    assert torch.equal(load_run(d)[1], ck["selected_center"])


def test_selection_every_k_scores_on_schedule_and_after_the_last_generation(tmp_path):
    d = _run(tmp_path, "k", 7, select_every=3)
    assert [g for g, s in _scores(d) if s != ""] == [2, 5, 6]
    kept = json.loads((d / "summary.json").read_text())["selection"]["kept"]
    assert kept["generation"] in (2, 5, 6)


def test_resume_keeps_the_selection_bit_identical(tmp_path):
    full = _run(tmp_path, "full", 8)
    half = _run(tmp_path, "half", 4)
    train(RunConfig(algo="", generations=8), resume=str(half), quiet=True, report=False)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(half / "checkpoint.pt")
    assert torch.equal(a["selected_center"], b["selected_center"]) and a["selection"] == b["selection"]
    assert _scores(full) == _scores(half)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (full, half))
    assert sa["selection"] == sb["selection"] and sa["eval"] == sb["eval"]


def test_without_select_on_the_last_centre_is_returned(tmp_path):
    d = _run(tmp_path, "plain", 3, select_on=["none"], select_every=None, select_episodes=None)
    ck = load_checkpoint(d / "checkpoint.pt")
    assert "selected_center" not in ck
    assert "selection" not in json.loads((d / "summary.json").read_text())
    assert torch.equal(load_run(d)[1], ck["center"])
    assert "select_score" not in next(csv.DictReader(open(d / "metrics.csv")))


def test_per_env_default_and_none():
    r = resolve(RunConfig(algo="pgpe", env="atari-go"))
    assert r.select_on and all(s.startswith("atari-go:") for s in r.select_on)
    assert r.select_every >= 1 and r.select_episodes >= 1
    off = resolve(RunConfig(algo="pgpe", env="atari-go", select_on=["none"]))
    assert off.select_on == [] and off.select_every is None and off.select_episodes is None
    assert resolve(off) == off  # resolving twice changes nothing (the comparison grid resolves first)
    assert resolve(RunConfig(algo="pgpe", env="tmaze")).select_on == []
    t = resolve(RunConfig(algo="pgpe", env="tmaze", select_on=["tmaze:length=9"]))
    assert (t.select_every, t.select_episodes) == (t.eval_every, t.center_episodes)


def test_the_cli_prints_the_returned_centre(tmp_path, capsys):
    rc = main(["pgpe", "--env", "tmaze:length=3", "--policy", "lstm:hidden=2", "--generations", "3", "--popsize",
               "4", "--episodes", "2", "--eval-episodes", "5", "--select-on", "tmaze:length=5", "--select-on",
               "tmaze:length=6", "--select-every", "2", "--out", str(tmp_path / "c"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "returned: the centre of generation" in out and "tmaze:length=6" in out
    on = json.loads((tmp_path / "c" / "config.json").read_text())["run"]["select_on"]
    assert on == ["tmaze:length=5", "tmaze:length=6"]


@pytest.mark.parametrize("extra,needle", [
    (["--select-on", "catch"], "--select-on 'catch': the policy 'lstm:hidden=2' has"),
    (["--select-on", "maze"], "unknown env 'maze'"),
    (["--select-on", "none", "--select-on", "tmaze"], "cannot be combined"),
    (["--select-every", "5"], "--select-every and --select-episodes"),
    (["--select-on", "tmaze", "--select-episodes", "0"], "--select-episodes must be an integer in [1, "),
    (["--select-on", "tmaze", "--select-every", "-1"], "--select-every must be an integer in [1, "),
])
def test_select_on_user_errors_are_one_line(extra, needle, tmp_path, capsys):
    rc = main(["pgpe", "--env", "tmaze:length=3", "--policy", "lstm:hidden=2", "--generations", "2",
               "--out", str(tmp_path / "x"), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("dps: error:"), err
    assert needle in err
    assert not (tmp_path / "x").exists()  # a refused run leaves nothing behind
