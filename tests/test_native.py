"""The C kernels (dps/native) against the torch path they replace, and the torch path as
the fallback where no kernel can be built."""
import logging
import os

import pytest
import torch

import dps
from dps import native
from dps.native import lstm as native_lstm
from dps.rollout import rollout

needs_kernels = pytest.mark.skipif(native.library("kernels") is None, reason="no C compiler here")


@pytest.fixture
def torch_path(monkeypatch):
    """A context in which the kernels are off (the torch path everywhere)."""
    class Switch:
        def __enter__(self):
            monkeypatch.setenv("DPS_NATIVE", "0")

        def __exit__(self, *exc):
            monkeypatch.delenv("DPS_NATIVE", raising=False)
    return Switch()


def _inputs(policy, P, B, dtype, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    params = scale * torch.randn(P, policy.num_params, generator=g, dtype=dtype)
    obs = torch.randn(P, B, *policy.obs_shape, generator=g)
    state = tuple(torch.randn(P, B, policy.hidden, generator=g, dtype=dtype) for _ in range(2 * policy.layers))
    return params, obs, state


POLICIES = [dict(hidden=16), dict(hidden=7, layers=2, peepholes=True), dict(hidden=5, skip=True, input_scale=3.0),
            dict(hidden=17, layers=3), dict(hidden=1), dict(hidden=33, peepholes=True, skip=True),
            dict(hidden=6, skip=True, input_scale=(0.5, 3.0, 1.0, 2.0))]


@needs_kernels
@pytest.mark.parametrize("kw", POLICIES)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-13)])
def test_lstm_step_matches_torch(kw, dtype, tol, torch_path):
    policy = dps.LSTMPolicy((4,), 3, **kw)
    params, obs, state = _inputs(policy, 5, 9, dtype)
    out, new = policy.step(params, obs, state)
    with torch_path:
        ref_out, ref_new = policy.step(params, obs, state)
    assert out.dtype == dtype and all(s.dtype == dtype for s in new)
    torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)
    for a, b in zip(new, ref_new):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    # episode starts reset the state before the step, as on the torch path
    start = torch.zeros(5, 9, dtype=torch.bool)
    start[1, 3] = start[4, 8] = True
    out, new = policy.step(params, obs, state, start)
    with torch_path:
        ref_out, ref_new = policy.step(params, obs, state, start)
    torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)


@needs_kernels
@pytest.mark.parametrize("kw", POLICIES)
def test_lstm_step_slot_does_not_depend_on_batch(kw):
    """A slot's numbers are the same bits alone, in a group of 4, or in a large batch."""
    policy = dps.LSTMPolicy((4,), 3, **kw)
    params, obs, state = _inputs(policy, 3, 70, torch.float32, seed=1)
    out, new = policy.step(params, obs, state)
    for B in (1, 3, 4, 5, 9):
        for start in (0, 2, 61):
            sl = slice(start, start + B)
            o, n = policy.step(params, obs[:, sl], tuple(s[:, sl] for s in state))
            assert torch.equal(o, out[:, sl])
            assert all(torch.equal(a, b[:, sl]) for a, b in zip(n, new))


@needs_kernels
def test_lstm_step_keeps_torch_path_for_autograd_and_subclasses():
    policy = dps.LSTMPolicy((4,), 2, hidden=4)
    params, obs, state = _inputs(policy, 2, 3, torch.float32)
    params.requires_grad_(True)
    out, _ = policy.step(params, obs, state)
    out.sum().backward()
    assert params.grad is not None and params.grad.abs().sum() > 0

    class Traced(dps.LSTMPolicy):
        def features(self, *a, **k):
            self.calls = getattr(self, "calls", 0) + 1
            return super().features(*a, **k)
    sub = Traced((4,), 2, hidden=4)
    sub.step(params.detach(), obs, state)
    assert sub.calls == 1


def _controller(policy):
    """The balancing controller of experiments/bench_rollout.py (one saturated cell)."""
    H = policy.hidden
    v = torch.zeros(policy.num_params)
    W = v[policy.layout["W0"][0]].view(*policy.layout["W0"][1])
    b = v[policy.layout["b0"][0]]
    Wo = v[policy.layout["W_out"][0]].view(*policy.layout["W_out"][1])
    for j, k in enumerate((0.1, 0.2, 1.0, 0.5)):
        W[j, 2 * H] = 10.0 * k
    b[0], b[H], b[3 * H] = 8.0, -8.0, 8.0
    Wo[0, 0], Wo[0, 1] = -5.0, 5.0
    return v


CARTPOLES = [("cartpole:discrete=true,integrator=gym,max_steps=300", torch.float32),
             ("cartpole:discrete=true,integrator=gym,max_steps=300", torch.float64),
             ("cartpole:discrete=true,max_steps=300", torch.float32),
             ("cartpole:poles=2,velocities=false,fitness=steps,max_steps=300", torch.float32),
             ("cartpole:poles=2,fitness=steps,start=grid,max_steps=300", torch.float64)]


@needs_kernels
@pytest.mark.parametrize("spec,dtype", CARTPOLES)
@pytest.mark.parametrize("regime", ["random", "balancing"])
def test_cartpole_episodes_match_torch_loop(spec, dtype, regime, torch_path):
    env = dps.make_env(spec)
    policy = dps.LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=8)
    g = torch.Generator().manual_seed(2)
    mean = _controller(policy) if regime == "balancing" and env.observation_shape == (4,) else \
        torch.zeros(policy.num_params)
    params = (mean + 0.3 * torch.randn(64, policy.num_params, generator=g)).to(dtype)
    fused = rollout(policy, env, params, 8, seed=5)
    with torch_path:
        ref = rollout(policy, env, params, 8, seed=5)
    same = (fused.lengths == ref.lengths).float().mean().item()
    assert same >= 0.97, same  # rounding differences can move a chaotic episode's end
    assert torch.equal(fused.returns, fused.lengths.to(dtype))
    assert fused.env_steps == int(fused.lengths.sum())
    assert (fused.success == ref.success).float().mean().item() >= 0.97
    assert fused.returns.dtype == ref.returns.dtype and fused.lengths.dtype == ref.lengths.dtype
    ok = fused.lengths == ref.lengths
    assert torch.equal(fused.success[ok], ref.success[ok])


# the first case goes past step 100, where the potential counts
DAMPING = [("cartpole:fitness=damping,discrete=true,max_steps=400", 4, "balancing", 1.0),
           ("cartpole:poles=2,velocities=false,max_steps=300", 4, "random", 1.0),
           ("cartpole:poles=2,velocities=false,max_steps=300", 4, "random", (0.5, 1.5, 1.5)),
           ("cartpole:poles=2,velocities=false,start=grid,max_steps=300", 2, "random", 1.0)]


@needs_kernels
@pytest.mark.parametrize("spec,hidden,regime,scale", DAMPING)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_damping_fitness_episodes_match_torch_loop(spec, hidden, regime, scale, dtype, torch_path):
    """The kernel's damping fitness (lstm_cartpole.h) against the env's shaped rewards
    summed by the torch loop: the same episode lengths where the physics agree, the same
    returns up to the order J is summed in."""
    env = dps.make_env(spec)
    assert env.fitness == "damping" and env.native_spec() is not None
    policy = dps.LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=hidden, skip=True,
                            input_scale=scale)
    g = torch.Generator().manual_seed(3)
    mean = _controller(policy) if regime == "balancing" else torch.zeros(policy.num_params)
    params = (mean + 0.3 * torch.randn(48, policy.num_params, generator=g)).to(dtype)
    fused = rollout(policy, env, params, 4, seed=5)
    with torch_path:
        ref = rollout(policy, env, params, 4, seed=5)
    ok = fused.lengths == ref.lengths
    assert ok.float().mean().item() >= 0.97
    if regime == "balancing":
        assert (fused.lengths > 150).float().mean().item() > 0.5   # the potential's part is exercised
    # libm's sin/cos against torch's move a few bang-bang trajectories apart over hundreds
    # of steps (their states, so their J); the others agree to the float type's rounding
    rel = ((fused.returns - ref.returns).abs() / ref.returns.abs())[ok].double()
    assert rel.median().item() <= (1e-7 if dtype == torch.float32 else 1e-13)
    assert torch.quantile(rel, 0.9).item() <= 1e-6 and rel.max().item() <= 1e-3
    assert fused.returns.dtype == ref.returns.dtype and torch.equal(fused.success[ok], ref.success[ok])


@needs_kernels
def test_cartpole_kernel_is_used_and_steps_like_the_env():
    """The kernel's physics step for step: one slot, the env stepped by hand with the
    kernel's actions gives the same episode length."""
    env = dps.make_env("cartpole:discrete=true,integrator=gym")
    policy = dps.LSTMPolicy(env.observation_shape, 2, hidden=4)
    g = torch.Generator().manual_seed(0)
    params = 0.5 * torch.randn(16, policy.num_params, generator=g)
    env.reset(16, 4, torch.Generator().manual_seed(1))
    out = native_lstm.lstm_cartpole(params, policy.native_spec(params), env.native_spec(), env.native_start(),
                                    4, env.max_steps)
    assert out is not None
    returns, lengths, success = out
    assert lengths.min() >= 1 and lengths.max() <= env.max_steps
    assert torch.equal(success, lengths == env.max_steps)


@needs_kernels
def test_ties_and_nans_fall_back_to_the_torch_loop(torch_path):
    """Where the torch loop draws tie-breaking numbers (all outputs equal) or ends a slot
    for a NaN output, the kernel hands over: the result is the torch loop's, bit for bit."""
    env = dps.make_env("cartpole:discrete=true,integrator=gym,max_steps=50")
    policy = dps.LSTMPolicy(env.observation_shape, 2, hidden=4)
    params = torch.zeros(6, policy.num_params)      # every output ties
    params[2] = 0.3
    params[4, 0] = float("nan")                      # NaN outputs
    env.reset(6, 3, torch.Generator().manual_seed(0))
    assert native_lstm.lstm_cartpole(params, policy.native_spec(params), env.native_spec(), env.native_start(),
                                     3, 50) is None
    fused = rollout(policy, env, params, 3, seed=4)
    with torch_path:
        ref = rollout(policy, env, params, 3, seed=4)
    assert torch.equal(fused.lengths, ref.lengths)
    assert torch.equal(fused.returns.nan_to_num(-1.0), ref.returns.nan_to_num(-1.0))
    assert torch.isnan(fused.returns[4]).all()


def test_without_a_compiler_the_torch_path_runs(monkeypatch, tmp_path, caplog, torch_path):
    """No compiler (and nothing cached): one warning, then every rollout on the torch path
    with the torch path's numbers."""
    monkeypatch.setenv("DPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    native.reset()
    try:
        env = dps.make_env("cartpole:discrete=true,integrator=gym,max_steps=60")
        policy = dps.LSTMPolicy(env.observation_shape, 2, hidden=4)
        params = 0.5 * torch.randn(8, policy.num_params, generator=torch.Generator().manual_seed(0))
        with caplog.at_level(logging.WARNING, logger="dps.native"):
            a = rollout(policy, env, params, 4, seed=1)
            b = rollout(policy, env, params, 4, seed=1)
        warnings = [r for r in caplog.records if r.name == "dps.native"]
        assert len(warnings) == 1 and "no C compiler" in warnings[0].getMessage()
        with torch_path:
            ref = rollout(policy, env, params, 4, seed=1)
        assert torch.equal(a.returns, ref.returns) and torch.equal(b.lengths, ref.lengths)
        assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    finally:
        native.reset()


def test_a_failing_build_falls_back(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DPS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    native.reset()
    try:
        with caplog.at_level(logging.WARNING, logger="dps.native"):
            assert native.library("kernels") is None
        assert any("failed" in r.getMessage() for r in caplog.records)
        assert list(tmp_path.iterdir()) == []  # no half-written library left behind
    finally:
        native.reset()


@needs_kernels
def test_cache_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("DPS_CACHE_DIR", str(tmp_path))
    native.reset()
    try:
        assert native.library("kernels") is not None
        built = list(tmp_path.glob("kernels-*.so"))
        assert len(built) == 1
        native.reset()
        assert native.library("kernels") is not None  # loaded from the cache
        assert list(tmp_path.glob("kernels-*.so")) == built
    finally:
        native.reset()


def test_switch_off(monkeypatch):
    monkeypatch.setenv("DPS_NATIVE", "0")
    assert not native.enabled() and native.library("kernels") is None
    policy = dps.LSTMPolicy((4,), 2, hidden=4)
    assert policy.native_spec(torch.zeros(1, policy.num_params)) is None


def test_large_policies_keep_the_torch_step():
    """Above NATIVE_MAX_HIDDEN cells torch's matrix products are faster than the kernel."""
    from dps.policies.lstm import NATIVE_MAX_HIDDEN
    big = dps.LSTMPolicy((4,), 2, hidden=NATIVE_MAX_HIDDEN + 1)
    assert big.native_spec(torch.zeros(1, big.num_params)) is None


@needs_kernels
def test_slot_aligned_policy_skips_padding_with_the_kernel(torch_path):
    """A C-kernel policy needs no slot padding: its state stays unpadded and its outputs are
    the padded torch path's up to rounding; under autograd the step pads as before."""
    from dps.policies.aligned import SLOT_ALIGN, slot_aligned
    policy = dps.LSTMPolicy((4,), 2, hidden=8)
    wrapped = slot_aligned(policy)
    params, obs, _ = _inputs(policy, 3, 5, torch.float32)
    state = wrapped.initial_state(3, 5)
    assert state[0].shape == (3, 5, 8)
    out, new = wrapped.step(params, obs, state)
    assert out.shape == (3, 5, 2) and new[0].shape == (3, 5, 8)
    assert torch.equal(out, policy.step(params, obs, state)[0])
    with torch_path:
        padded = wrapped.initial_state(3, 5)
        assert padded[0].shape == (3, SLOT_ALIGN, 8)
        ref, _ = wrapped.step(params, obs, padded)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    p = params.clone().requires_grad_(True)   # the torch step, padded for this call only
    out_grad, new_grad = wrapped.step(p, obs, state)
    assert new_grad[0].shape == (3, 5, 8)
    torch.testing.assert_close(out_grad.detach(), ref, atol=1e-6, rtol=1e-6)


def test_bad_switch_value_is_refused(monkeypatch):
    from dps.errors import UserError
    monkeypatch.setenv("DPS_NATIVE", "maybe")
    with pytest.raises(UserError, match="DPS_NATIVE.*accepted"):
        native.enabled()
    for ok in ("1", "on", "TRUE", "yes", "0", "Off"):
        monkeypatch.setenv("DPS_NATIVE", ok)
        native.enabled()


def test_pickled_policy_carries_no_kernel_state():
    import pickle
    policy = dps.LSTMPolicy((4,), 2, hidden=4)
    policy.native_spec(torch.zeros(1, policy.num_params))
    clone = pickle.loads(pickle.dumps(policy))
    assert "_native_spec" not in clone.__dict__
    assert pickle.dumps(clone) == pickle.dumps(dps.LSTMPolicy((4,), 2, hidden=4))


def test_cli_refuses_a_bad_switch_before_creating_anything(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "run"
    env = {**os.environ, "DPS_NATIVE": "maybe"}
    done = subprocess.run([sys.executable, "-m", "dps.run", "pgpe", "--env", "tmaze:length=10", "--generations", "1",
                           "--out", str(out), "--quiet"], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "DPS_NATIVE" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
