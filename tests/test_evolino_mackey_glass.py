"""Evolino's multi-segment closed-loop fitness and its Mackey-Glass defaults."""
import math
import typing

import pytest
import torch

from dps.algorithms.evolino import Config, Evolino, closed_loop, drive_features, segment_starts
from dps.errors import UserError
from dps.policies import make_policy
from dps.spec import check_value
from dps.tasks import make_task


def test_segment_starts_spread_over_the_fit_window():
    assert segment_starts(100, 1000, 1) == [1000]
    assert segment_starts(100, 1000, 2) == [100, 1000]
    assert segment_starts(100, 1000, 4) == [100, 400, 700, 1000]
    assert segment_starts(0, 3, 4) == [0, 1, 2, 3]
    with pytest.raises(UserError, match="segments <= 4"):
        segment_starts(0, 3, 5)


def _learner(segments, task="mackey-glass:train_len=400,washout=50,trials=2", **kw):
    t = make_task(task)
    pol = make_policy("lstm:hidden=3,peepholes=true", (t.in_size,), t.out_size)
    return Evolino(pol, t, Config(segments=segments, trials=1, subpop=4, baselines=False, **kw), seed=0)


def test_segments_error_equals_separate_free_runs():
    """The batched fitness is the mean of per-segment MSEs, each computed here by a plain,
    separate teacher-forced run up to the segment start followed by its own free run."""
    learner = _learner(segments=3)
    d, pol = learner.data, learner.policy
    g = torch.Generator().manual_seed(1)
    params = (torch.rand(2, pol.num_params, generator=g, dtype=torch.float64) * 2 - 1) * 0.5
    fitted, err = learner.fit_and_score(params)
    horizon = d.length - d.fit_end
    assert learner.starts == [50, 182, d.fit_end] and d.fit_end == 315
    for p in range(2):
        row = fitted[p:p + 1]
        errs = []
        for s in learner.starts:
            x = (d.inputs[:s] * learner.scale).unsqueeze(0)
            _, state = drive_features(pol, row, x)
            pred = closed_loop(pol, row, state, d.inputs[s].reshape(1, 1), horizon, learner.scale)[0, 0]
            errs.append(float(((pred - d.targets[s:s + horizon]) ** 2).mean()))
        # these random networks' free runs diverge (MSE ~1e7), which amplifies the last-bit
        # difference between a batched and a one-row matrix product (1.1e-9 relative on one
        # CPU model); a wrong segment or horizon differs by far more than 1e-6
        assert err[p].item() == pytest.approx(sum(errs) / len(errs), rel=1e-6)


def test_one_segment_is_the_tail_error():
    learner = _learner(segments=1)
    d, pol = learner.data, learner.policy
    params = torch.full((1, pol.num_params), 0.05, dtype=torch.float64)
    fitted, err = learner.fit_and_score(params)
    _, state = drive_features(pol, fitted, (d.inputs[:d.fit_end] * learner.scale).unsqueeze(0))
    pred = closed_loop(pol, fitted, state, d.inputs[d.fit_end].reshape(1, 1), d.length - d.fit_end, learner.scale)
    assert err[0].item() == pytest.approx(float(((pred[0, 0] - d.targets[d.fit_end:]) ** 2).mean()), rel=1e-12)


def test_segments_option_validation():
    with pytest.raises(UserError, match="generative"):
        _learner(segments=2, task="anbncn")
    with pytest.raises(UserError, match="segments <="):
        _learner(segments=10_000)
    hint = typing.get_type_hints(Config, include_extras=True)["segments"]
    check_value(0, hint, "segments")            # 0: the task's own number
    with pytest.raises(UserError, match="segments"):
        check_value(-1, hint, "segments")


def test_mackey_glass_defaults_use_segments_and_do_not_diverge():
    """A short Evolino run at the default fitness stays bounded in closed loop on the test
    trials (the tail-only fitness picked nets whose free runs reach NRMSE₈₄ ~ 10⁴)."""
    task = make_task("mackey-glass:trials=20")
    pol = make_policy("lstm:hidden=10,peepholes=true", (task.in_size,), task.out_size)
    learner = Evolino(pol, task, Config(subpop=10, trials=3, baselines=False), seed=1)
    assert len(learner.starts) == task.fitness_segments == 10
    for _ in range(15):
        learner.step()
    metrics, _ = task.evaluate(learner.model())
    assert math.isfinite(metrics["nrmse84"]) and metrics["nrmse84"] < 2.0
