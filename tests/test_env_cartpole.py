"""Cart-pole (dps/envs/cartpole.py).

* the torch double pole against an independent float64 reference of Wieland's equations
  (plain Python/numpy, one RK4 step at a time, written from the equations in
  docs/ENVIRONMENTS.md) over hundreds of steps of a balancing (LQR) controller;
* ``integrator=gym`` against gymnasium's own CartPole-v1, side by side, step by step;
* hand-worked failure conditions, observation scaling, discrete actions, masking;
* the damping fitness against a hand computation on the reference trajectory;
* the 625 grid start states, ``cartpole_checks``, determinism, rollouts, CPU vs CUDA.
"""
import math

import numpy as np
import pytest
import torch

from dps.envs.base import Box, Discrete
from dps.envs.cartpole import CartPole, grid_start_states
from dps.envs.registry import make_env
from dps.errors import UserError
from dps.evaluation.cartpole import cartpole_checks
from dps.policies import LinearPolicy, LSTMPolicy
from dps.rollout import make_generator, rollout


@pytest.fixture(autouse=True)
def _one_thread():
    """Small float64 tensors: intra-op threads only add synchronisation (and on a loaded
    2-core machine make these tests several times slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---- an independent float64 reference of the double pole ---------------------------------
def ref_derivs(s, F):
    """Wieland's equations for the double pole; s = [x, x', t1, t1', t2, t2']."""
    g, M, mu = -9.8, 1.0, 0.000002
    x, xd, t1, t1d, t2, t2d = s
    m1, l1, m2, l2 = 0.1, 0.5, 0.01, 0.05
    ft1 = m1 * l1 * t1d ** 2 * math.sin(t1) + 0.75 * m1 * math.cos(t1) * (mu * t1d / (m1 * l1) + g * math.sin(t1))
    ft2 = m2 * l2 * t2d ** 2 * math.sin(t2) + 0.75 * m2 * math.cos(t2) * (mu * t2d / (m2 * l2) + g * math.sin(t2))
    mt1 = m1 * (1 - 0.75 * math.cos(t1) ** 2)
    mt2 = m2 * (1 - 0.75 * math.cos(t2) ** 2)
    xdd = (F + ft1 + ft2) / (M + mt1 + mt2)
    t1dd = -0.75 / l1 * (xdd * math.cos(t1) + g * math.sin(t1) + mu * t1d / (m1 * l1))
    t2dd = -0.75 / l2 * (xdd * math.cos(t2) + g * math.sin(t2) + mu * t2d / (m2 * l2))
    return np.array([xd, xdd, t1d, t1dd, t2d, t2dd])


def ref_action(s, F):
    """One action: two RK4 steps of 0.01 s."""
    h = 0.01
    for _ in range(2):
        k1 = ref_derivs(s, F)
        k2 = ref_derivs(s + h / 2 * k1, F)
        k3 = ref_derivs(s + h / 2 * k2, F)
        k4 = ref_derivs(s + h * k3, F)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


def lqr_gain():
    """A discrete-time LQR gain for the double pole (finite-difference linearisation of the
    reference map at the upright state, Riccati recursion)."""
    z, eps = np.zeros(6), 1e-6
    A = np.stack([(ref_action(z + eps * e, 0.0) - ref_action(z - eps * e, 0.0)) / (2 * eps)
                  for e in np.eye(6)], 1)
    Bm = ((ref_action(z, eps) - ref_action(z, -eps)) / (2 * eps)).reshape(6, 1)
    Q, R = np.diag([1.0, 0.1, 10.0, 0.1, 10.0, 0.1]), np.array([[0.01]])
    P = Q.copy()
    for _ in range(3000):
        K = np.linalg.solve(R + Bm.T @ P @ Bm, Bm.T @ P @ A)
        P = Q + A.T @ P @ (A - Bm @ K)
    return K[0]  # force = -K @ s


K_LQR = lqr_gain()


def lqr_noise(T, seed):
    return np.random.default_rng(seed).normal(0, 1.0, T)


def lqr_force(s, noise):
    """The closed-loop LQR force plus a noise term, clipped to ±10 N. (The replay is
    closed-loop on purpose: the upright double pole is open-loop unstable, so replaying
    fixed forces would amplify round-off by ~1.3× per step.)"""
    return float(np.clip(-K_LQR @ s + noise, -10, 10))


def lqr_trajectory(T, noise_seed=0):
    """Reference states s_0..s_T of a noisy LQR balancing run from the standard start."""
    noise = lqr_noise(T, noise_seed)
    s = np.array([0.0, 0.0, math.radians(4.0), 0.0, 0.0, 0.0])
    states = [s]
    for t in range(T):
        s = ref_action(s, lqr_force(s, noise[t]))
        states.append(s)
    return np.array(states), noise


def env_lqr_step(env, noise_t):
    """Step a (1, 1) double-pole env with the LQR force computed from its own state."""
    F = lqr_force(env.state[0, 0].numpy(), noise_t)
    return env.step(torch.tensor([[[F / 10.0]]], dtype=torch.float64))


def test_double_pole_matches_float64_reference():
    T = 400
    states, noise = lqr_trajectory(T)
    assert np.abs(states[:, 0]).max() < 2.4 and np.abs(states[:, [2, 4]]).max() < math.radians(36)
    assert np.abs(states[:, 4]).max() > 1e-3  # the short pole really moves
    env = CartPole(poles=2, max_steps=T)
    env.reset(1, 1, make_generator(0, "cpu"))
    assert np.allclose(env.state[0, 0].numpy(), states[0], atol=0)
    err = 0.0
    for t in range(T):
        _, r, done, info = env_lqr_step(env, noise[t])
        err = max(err, np.abs(env.state[0, 0].numpy() - states[t + 1]).max())
        assert bool(done) == (t == T - 1)
    assert err < 1e-10
    assert bool(info["success"])


def test_single_pole_derivatives_by_hand():
    """poles=1 uses Wieland's equations with pole 1 only (no second pole term)."""
    env = CartPole(poles=1)
    s = torch.tensor([[[0.1, -0.2, 0.05, 0.3]]], dtype=torch.float64)
    env.reset_to(s)
    g, M, m, l, mu = -9.8, 1.0, 0.1, 0.5, 2e-6
    x, xd, th, thd = s[0, 0].tolist()
    ft = m * l * thd ** 2 * math.sin(th) + 0.75 * m * math.cos(th) * (mu * thd / (m * l) + g * math.sin(th))
    xdd = (5.0 + ft) / (M + m * (1 - 0.75 * math.cos(th) ** 2))
    thdd = -0.75 / l * (xdd * math.cos(th) + g * math.sin(th) + mu * thd / (m * l))
    d = env._wieland(env._q, torch.tensor([[5.0]], dtype=torch.float64))[0, 0]
    # internal order: q = (x, θ, ẋ, θ̇), dq/dt = (ẋ, θ̇, ẍ, θ̈)
    assert np.allclose(d.numpy(), [xd, thd, xdd, thdd], rtol=1e-14, atol=1e-15)
    assert env.observation_shape == (4,) and CartPole(poles=2).observation_shape == (6,)


def test_gym_mode_matches_gymnasium_cartpole_v1():
    gym = pytest.importorskip("gymnasium")
    genv = gym.make("CartPole-v1").unwrapped
    rng = np.random.default_rng(0)
    env = CartPole(integrator="gym", discrete=True)
    assert env.max_steps == 500 and env.action_space == Discrete(2)
    compared = 0
    for episode in range(6):
        genv.reset(seed=episode)
        s0 = np.array(genv.state, dtype=np.float64)
        env.reset_to(torch.tensor(s0).reshape(1, 1, 4))
        for t in range(200):
            a = int(rng.integers(0, 2)) if t % 7 else 1 - (t // 7) % 2
            gobs, grew, gterm, _, _ = genv.step(a)
            obs, rew, done, _ = env.step(torch.tensor([[a]]))
            assert np.allclose(env.state[0, 0].numpy(), np.asarray(genv.state), rtol=0, atol=1e-12)
            assert np.allclose(obs[0, 0].numpy(), gobs, atol=1e-6)
            assert float(rew) == grew and bool(done) == gterm
            compared += 1
            if gterm:
                break
    assert compared > 60
    genv.close()


def test_gym_mode_continuous_force_and_start_distribution():
    env = CartPole(integrator="gym")
    obs = env.reset(8, 64, make_generator(0, "cpu"))
    assert env.start == "random" and env.action_space == Box.uniform(1, -1.0, 1.0)
    assert obs.abs().max() < 0.05 and obs.std() > 0.02
    s = torch.tensor([[[0.0, 0.1, 0.02, -0.1]]], dtype=torch.float64)
    e1, e2 = CartPole(integrator="gym"), CartPole(integrator="gym", discrete=True)
    e1.reset_to(s)
    e2.reset_to(s)
    e1.step(torch.full((1, 1, 1), 1.0, dtype=torch.float64))
    e2.step(torch.tensor([[1]]))
    assert torch.equal(e1.state, e2.state)


def test_failure_conditions_by_hand():
    env = CartPole(poles=2)
    d = math.radians
    states = torch.tensor([[
        [2.41, 0, 0, 0, 0, 0], [-2.41, 0, 0, 0, 0, 0], [2.39, 0, 0, 0, 0, 0],
        [0, 0, d(36.1), 0, 0, 0], [0, 0, -d(35.9), 0, 0, 0], [0, 0, 0, 0, -d(36.1), 0],
    ]], dtype=torch.float64)
    assert env.failed(states).tolist() == [[True, True, False, True, False, True]]
    single = CartPole(poles=1)
    s1 = torch.tensor([[[0, 0, d(12.1), 0], [0, 0, d(11.9), 0], [0, 0, -d(12.1), 0]]], dtype=torch.float64)
    assert single.failed(s1).tolist() == [[True, False, True]]
    # a cart at 2.39 m moving at 2 m/s crosses 2.4 m within one 0.02 s action (x ≈ 2.43)
    env.reset_to(torch.tensor([[[2.39, 2.0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]], dtype=torch.float64))
    _, r, done, info = env.step(torch.zeros(1, 2, 1, dtype=torch.float64))
    assert done.tolist() == [[True, False]] and r.tolist() == [[1.0, 1.0]]
    assert not info["success"].any()
    assert 2.42 < env.state[0, 0, 0] < 2.44
    # the done slot stays frozen and gets reward 0
    frozen = env.state[0, 0].clone()
    _, r, done, _ = env.step(torch.ones(1, 2, 1, dtype=torch.float64))
    assert torch.equal(env.state[0, 0], frozen) and r[0, 0] == 0 and done[0, 0]
    assert r[0, 1] == 1 and not done[0, 1]


def test_observation_scaling_and_standard_start():
    s = torch.tensor([[[0.48, 0.2, 0.052, -0.4, 0.104, 1.0]]], dtype=torch.float64)
    env = CartPole(poles=2)
    obs = env.reset_to(s)
    assert torch.allclose(obs, torch.tensor([[[0.1, 0.1, 0.1, -0.2, 0.2, 0.5]]]))
    env = CartPole(poles=2, velocities=False)
    assert env.fitness == "damping"
    assert torch.allclose(env.reset_to(s), torch.tensor([[[0.1, 0.1, 0.2]]]))
    one = CartPole(poles=1, velocities=False)
    assert torch.allclose(one.reset_to(s[..., :4]), torch.tensor([[[0.1, 0.1]]]))
    start = CartPole(poles=2).reset(2, 3, make_generator(0, "cpu"))
    expect = torch.tensor([0, 0, math.radians(4) / 0.52, 0, 0, 0], dtype=torch.float32)
    assert torch.allclose(start, expect.expand(2, 3, 6))
    ctl = CartPole(poles=2, discrete=True)
    ctl.reset_to(s)
    cont = CartPole(poles=2)
    cont.reset_to(s)
    ctl.step(torch.tensor([[0]]))
    cont.step(torch.tensor([[[-1.0]]]))
    assert torch.equal(ctl.state, cont.state)


def test_damping_fitness_on_the_reference_trajectory():
    T = 150
    states, noise = lqr_trajectory(T, noise_seed=1)
    env = CartPole(poles=2, velocities=False, max_steps=T)
    env.reset(1, 1, make_generator(0, "cpu"))
    total, returns = 0.0, {}
    for t in range(T):
        _, r, done, _ = env_lqr_step(env, noise[t])
        total += float(r)
        returns[t + 1] = total
    jiggle = np.abs(states[:, :4]).sum(1)  # |x| + |x'| + |t1| + |t1'|, raw units

    def damping(t):
        f = 0.1 * t / 1000
        return f + 0.9 * 0.75 / jiggle[t - 99:t + 1].sum() if t > 100 else f

    for t in (1, 50, 100, 101, 120, 150):
        assert returns[t] == pytest.approx(damping(t), rel=1e-9), t
    assert damping(150) > 0.015 + 0.01  # the damping term is really there


def test_damping_fitness_of_a_short_failing_episode():
    env = CartPole(poles=2, velocities=False)
    env.reset(1, 3, make_generator(0, "cpu"))
    res_total, t = torch.zeros(1, 3, dtype=torch.float64), 0
    while True:
        _, r, done, _ = env.step(torch.ones(1, 3, 1))
        res_total += r
        t += 1
        if done.all():
            break
    assert t < 100 and torch.allclose(res_total, torch.full((1, 3), 0.1 * t / 1000, dtype=torch.float64))


def test_grid_start_states():
    g = grid_start_states(2)
    assert g.shape == (625, 6)
    first = [4.32 * 0.05 - 2.16, 2.70 * 0.05 - 1.35, 0.12566304 * 0.05 - 0.06283152,
             0.30019504 * 0.05 - 0.15009752, 0, 0]
    assert np.allclose(g[0].numpy(), [-1.944, -1.215, -0.056548368, -0.135087768, 0, 0], atol=1e-12)
    assert np.allclose(g[0].numpy(), first, atol=1e-15)
    assert np.allclose(g[-1].numpy(), [1.944, 1.215, 0.056548368, 0.135087768, 0, 0], atol=1e-12)
    assert np.allclose(g[1].numpy()[:3], g[0].numpy()[:3]) and g[1, 3] == pytest.approx(0.30019504 * 0.25 - 0.15009752)
    assert torch.unique(g, dim=0).shape[0] == 625
    env = CartPole(poles=2, start="grid")
    env.reset(1, 630, make_generator(0, "cpu"))
    assert torch.equal(env.state[0, :625], g) and torch.equal(env.state[0, 625:], g[:5])
    assert grid_start_states(1).shape == (625, 4)


def _lqr_linear_policy(env):
    """A LinearPolicy whose greedy action tanh(out) ≈ the LQR force / 10 N."""
    pol = LinearPolicy(env.observation_shape, 1)
    scale = np.array([4.8, 2.0, 0.52, 2.0, 0.52, 2.0])
    w = torch.zeros(pol.num_params, dtype=torch.float64)
    sl, _ = pol.layout["W_out"]
    w[sl] = torch.tensor(-K_LQR * scale / 10.0)
    return pol, w


def test_cartpole_checks_with_a_balancing_controller():
    env = CartPole(poles=2)
    pol, w = _lqr_linear_policy(env)
    env.solve_steps = 1500  # a short stand-in for the 100,000-step test (runtime)
    ev = cartpole_checks(pol, env, w, seed=0)
    assert ev["success_rate"] == 1.0
    assert 5 < ev["generalization"] <= 625
    # zero force balances exactly the five grid states that are equilibria
    # (v = 0.5 for x', t1, t1' gives exactly 0; x takes its five values)
    zero = cartpole_checks(pol, env, torch.zeros_like(w), seed=0)
    assert zero == {"generalization": 5, "success_rate": 0.0}
    assert cartpole_checks(pol, CartPole(integrator="gym"), w, 0) == {}


def test_rollout_with_lstm_is_deterministic():
    env = make_env("cartpole:poles=2,velocities=false,start=random,max_steps=200")
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=4)
    g = torch.Generator().manual_seed(0)
    params = torch.stack([pol.init_params(g) for _ in range(3)])
    r1 = rollout(pol, env, params, episodes=4, seed=3)
    r2 = rollout(pol, env, params, episodes=4, seed=3)
    r3 = rollout(pol, env, params, episodes=4, seed=4)
    assert torch.equal(r1.returns, r2.returns) and not torch.equal(r1.returns, r3.returns)
    assert ((r1.returns >= 1e-4) & (r1.returns < 1.0)).all()  # damping fitness range here
    steps = make_env("cartpole:discrete=true,start=random,max_steps=50")
    pol2 = LSTMPolicy(steps.observation_shape, 2, hidden=4)
    r = rollout(pol2, steps, pol2.init_params(g).reshape(1, -1), episodes=5, seed=0)
    assert torch.equal(r.returns, r.lengths.float())


def test_options_and_errors():
    env = make_env("cartpole:poles=2,velocities=false,fitness=steps,start=grid,discrete=true")
    assert (env.poles, env.velocities, env.fitness, env.start, env.discrete) == (2, False, "steps", "grid", True)
    for bad in ["cartpole:poles=3", "cartpole:fitness=foo", "cartpole:start=middle",
                "cartpole:integrator=euler", "cartpole:poles=2,integrator=gym", "cartpole:max_steps=0"]:
        with pytest.raises(UserError, match="accepted"):
            make_env(bad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_trajectories_agree():
    P, B, T = 2, 8, 200
    start = (torch.rand(P, B, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 0.5) * 0.1
    actions = torch.rand(T, P, B, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    envs = [CartPole(poles=2, velocities=False, device=d) for d in ("cpu", "cuda")]
    for e in envs:
        e.reset_to(start.to(e.device))
    for t in range(T):
        out = [e.step(actions[t].to(e.device)) for e in envs]
        assert torch.allclose(envs[0].state, envs[1].state.cpu(), atol=1e-9)
        assert torch.equal(out[0][2], out[1][2].cpu())
        assert torch.allclose(out[0][1], out[1][1].cpu(), atol=1e-9)


def test_damping_fitness_stays_finite_at_rest():
    env = CartPole(poles=2, velocities=False, max_steps=120)
    env.reset_to(torch.zeros(1, 2, 6, dtype=torch.float64))  # exact equilibrium, J = 0
    total = torch.zeros(1, 2, dtype=torch.float64)
    for _ in range(120):
        _, r, done, info = env.step(torch.zeros(1, 2, 1))
        total += r
    assert torch.isfinite(total).all() and (total > 1e8).all() and info["success"].all()


# ---- the fast single-trajectory simulator (dps/envs/cartpole_fast.py) ----------------------
from dps.envs.cartpole import SCALE  # noqa: E402
from dps.envs.cartpole_fast import linear_balance_steps  # noqa: E402


def _torch_linear(poles, velocities, weights, max_steps, start=None):
    env = CartPole(poles=poles, velocities=velocities, max_steps=max_steps, fitness="steps")
    pol = LinearPolicy(env.observation_shape, 1)
    X = torch.tensor(weights, dtype=torch.float32).reshape(-1, pol.num_params)
    obs = env.reset(X.shape[0], 1, make_generator(0, "cpu")) if start is None else \
        env.reset_to(torch.as_tensor(start, dtype=torch.float64).reshape(X.shape[0], 1, -1))
    lengths = torch.zeros(X.shape[0], 1, dtype=torch.long)
    for _ in range(max_steps):
        out, _ = pol.step(X, obs)
        obs, _, done, _ = env.step(torch.tanh(out))
        lengths += (~done).long()
        if bool(done.all()):
            break
    # the torch env counts the failing transition too
    return torch.where(lengths < max_steps, lengths + 1, lengths)[:, 0].tolist(), env.state[:, 0]


def test_fast_simulator_tracks_the_torch_env_under_near_lqr_control():
    """The LQR gain folded into a linear tanh policy (10·tanh(w·obs) ≈ −K s near the
    equilibrium) balances; the fast simulator's state after 50 steps (still far from the
    equilibrium: |x| ≈ 0.25 m) and after 500 equals the torch env's to float32-policy
    precision, and both balance 3000 steps."""
    w = [-float(K_LQR[j]) * SCALE[j] / FORCE_MAG_N for j in range(6)] + [0.0]
    for T in (50, 500):
        n, state = linear_balance_steps(w, poles=2, velocities=True, max_steps=T, return_state=True)
        lengths, tstate = _torch_linear(2, True, w, T)
        assert n == lengths[0] == T
        np.testing.assert_allclose(state, tstate[0].numpy(), rtol=0, atol=1e-6)
    assert abs(state[2]) < math.radians(4)          # it is balancing, not merely surviving
    assert linear_balance_steps(w, poles=2, velocities=True, max_steps=3000) == 3000
    assert _torch_linear(2, True, w, 3000)[0][0] == 3000


FORCE_MAG_N = 10.0


@pytest.mark.parametrize("poles,velocities", [(1, True), (2, True), (2, False), (1, False)])
def test_fast_simulator_episode_lengths_equal_the_torch_env(poles, velocities):
    """Random linear policies from the standard start and from grid starts: the same episode
    length, failing step included, for every one."""
    n_obs = (2 + 2 * poles) if velocities else (1 + poles)
    g = torch.Generator().manual_seed(poles * 10 + velocities)
    W = (torch.randn(40, n_obs + 1, generator=g) * 2).tolist()
    fast = [linear_balance_steps(w, poles=poles, velocities=velocities, max_steps=400) for w in W]
    ref, _ = _torch_linear(poles, velocities, W, 400)
    assert fast == ref
    assert len(set(fast)) > 5   # the policies differ: not all failing at once
    starts = grid_start_states(poles)[::37][: len(W)]
    fast = [linear_balance_steps(w, poles=poles, velocities=velocities, max_steps=400, start=s.tolist())
            for w, s in zip(W, starts)]
    ref, _ = _torch_linear(poles, velocities, W[: len(starts)], 400, start=starts)
    assert fast == ref


def test_fast_simulator_rejects_bad_input():
    with pytest.raises(ValueError, match="poles"):
        linear_balance_steps([0.0] * 7, poles=3)
    with pytest.raises(ValueError, match="7 parameters"):
        linear_balance_steps([0.0] * 5, poles=2, velocities=True)
