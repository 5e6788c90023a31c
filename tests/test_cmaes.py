"""CMA-ES through pycma: determinism, replay-based resume, restarts, bounds, convergence."""
import io
import math

import numpy as np
import pytest
import torch

from dps.algorithms.cmaes import CMAES
from dps.errors import UserError


def sphere(x):
    return (x ** 2).sum(-1)


def rosenbrock(x):
    return (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2).sum(-1)


def rastrigin(x):
    return 10 * x.shape[-1] + (x ** 2 - 10 * torch.cos(2 * math.pi * x)).sum(-1)


def step(s, f):
    x = s.ask()
    return x, s.tell(-f(x))          # dps maximises; pycma gets f back


def roundtrip(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_ask_is_deterministic_given_seed_and_isolated_from_global_numpy():
    a = CMAES(torch.zeros(6), CMAES.Config(popsize=8), seed=5)
    b = CMAES(torch.zeros(6), CMAES.Config(popsize=8), seed=5)
    c = CMAES(torch.zeros(6), CMAES.Config(popsize=8), seed=6)
    for _ in range(5):
        np.random.seed(123)
        xa, _ = step(a, sphere)
        np.random.rand(17)                       # someone else uses numpy's global RNG
        before = np.random.get_state()[1].copy()
        xb, _ = step(b, sphere)
        assert np.array_equal(before, np.random.get_state()[1])   # pycma did not touch it
        assert torch.equal(xa, xb)
    assert not torch.equal(c.ask(), a.ask())


@pytest.mark.parametrize("restarts", ["none", "ipop", "bipop"])
def test_resume_replays_bit_identically(restarts):
    """Save after k generations (across restarts for ipop/bipop), load into a fresh object,
    and the next asks are bit-identical to the uninterrupted run."""
    cfg = dict(popsize=6, sigma0=2.0, restarts=restarts, tolfun=1e-1, tolx=1e-2, float64=True)
    ref = CMAES(torch.full((4,), 3.0), CMAES.Config(**cfg), seed=11)
    restarted = 0
    for _ in range(200):
        _, st = step(ref, rastrigin)
        restarted += bool(st.get("restarted"))
    if restarts != "none":
        assert restarted >= 2, "the test must cross restarts"
    sd = roundtrip(ref.state_dict())
    new = CMAES(torch.full((4,), 3.0), CMAES.Config(**cfg), seed=11)
    new.load_state_dict(sd)
    assert new.generation == ref.generation and new.irun == ref.irun and new.evals == ref.evals
    assert torch.equal(new.center, ref.center)
    for _ in range(30):
        x_ref, st_ref = step(ref, rastrigin)
        x_new, st_new = step(new, rastrigin)
        assert torch.equal(x_ref, x_new)
        assert st_ref == st_new


def test_resume_with_a_pending_population():
    s = CMAES(torch.zeros(5), CMAES.Config(popsize=6), seed=2)
    for _ in range(3):
        step(s, sphere)
    x = s.ask()
    new = CMAES(torch.zeros(5), CMAES.Config(popsize=6), seed=2)
    new.load_state_dict(roundtrip(s.state_dict()))
    assert torch.equal(new.ask(), x)
    f = -sphere(x)
    assert s.tell(f) == new.tell(f)
    assert torch.equal(s.ask(), new.ask())


def test_replay_detects_a_mismatched_checkpoint():
    s = CMAES(torch.zeros(5), CMAES.Config(popsize=6), seed=2)
    step(s, sphere)
    other = CMAES(torch.zeros(5), CMAES.Config(popsize=8), seed=2)
    with pytest.raises(UserError, match="does not replay"):
        other.load_state_dict(s.state_dict())


def test_fitness_is_negated_for_pycma_and_sphere_converges():
    D = 30
    s = CMAES(torch.ones(D), CMAES.Config(sigma0=0.5, float64=True), seed=0)
    assert s.popsize == 4 + int(3 * math.log(D))          # pycma's default
    for _ in range(600):
        step(s, sphere)
        if s.stopped:
            break
    assert float(sphere(s.center)) < 1e-10
    assert s.best_fitness > -1e-10                          # best tracked on dps' (max) scale


def test_rosenbrock_30d_reaches_ftarget():
    D = 30
    s = CMAES(torch.zeros(D), CMAES.Config(sigma0=0.5, ftarget=-1e-6, float64=True), seed=0)
    for _ in range(4000):
        _, st = step(s, rosenbrock)
        if s.stopped:
            break
    assert "ftarget" in st["stop"]
    assert s.best_fitness >= -1e-6
    assert float(rosenbrock(s.best_params)) <= 1e-6


def test_ipop_doubles_popsize_and_reports_stop_reason():
    s = CMAES(torch.full((5,), 3.0), CMAES.Config(popsize=6, sigma0=2.0, restarts="ipop", tolfun=1e-8,
                                                  ftarget=-1e-8, maxfevals=200_000, float64=True), seed=0)
    sizes, reasons = [s.popsize], []
    for _ in range(5000):
        _, st = step(s, rastrigin)
        if st.get("restarted"):
            sizes.append(st["popsize"])
            reasons.append(st["stop"])
        if s.stopped:
            break
    assert len(sizes) >= 2
    assert sizes == [6 * 2 ** i for i in range(len(sizes))]
    assert all(r for r in reasons)                        # pycma's own criterion, e.g. 'tolfun'
    assert s.best_fitness >= -1e-8                          # Rastrigin's global optimum found


def test_bipop_interleaves_small_and_large_runs():
    s = CMAES(torch.full((5,), 3.0), CMAES.Config(popsize=6, sigma0=2.0, restarts="bipop", tolfun=1e-6,
                                                  max_restarts=3, float64=True), seed=1)
    popsizes, sigmas = [], []
    for _ in range(3000):
        _, st = step(s, rastrigin)
        if st.get("restarted"):
            popsizes.append(st["popsize"])
            sigmas.append(st["sigma"])
        if s.stopped:
            break
    assert s.stopped and s.irun - s.runs_with_small == 3      # max_restarts large runs
    assert s.runs_with_small >= 1 and len(s.small_evals) >= 2 and len(s.large_evals) >= 1
    assert any(sg < 2.0 for sg in sigmas)                    # a small (local) run: sigma0·0.01^U
    assert 24 in popsizes                                    # a large run: 6·2²


def test_bounds_and_budget():
    s = CMAES(torch.ones(4), CMAES.Config(popsize=8, lower=0.5, upper=2.0, maxfevals=400), seed=0)
    for _ in range(100):
        x, st = step(s, sphere)
        assert bool((x >= 0.5).all() and (x <= 2.0).all())
        if s.stopped:
            break
    assert s.stopped and "maxfevals" in st["stop"] and 400 <= s.evals <= 408
    assert torch.allclose(s.center, torch.full((4,), 0.5), atol=0.05)


def test_bad_options():
    with pytest.raises(UserError, match="restarts"):
        CMAES(torch.zeros(3), CMAES.Config(restarts="lpop"))
    with pytest.raises(UserError, match="sigma0"):
        CMAES(torch.zeros(3), CMAES.Config(sigma0=0.0))
    with pytest.raises(UserError, match="below"):
        CMAES(torch.zeros(3), CMAES.Config(lower=1.0, upper=0.0))
