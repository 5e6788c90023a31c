"""RPG learner: BPTT reach, reset semantics, checkpoint/resume, extra inputs, convergence."""
import io

import pytest
import torch

from dps.algorithms.learner import RunContext
from dps.algorithms.rpg import RPG, Config
from dps.envs.memory import ClassQuery
from dps.envs.tmaze import TMaze
from dps.policies import LSTMPolicy
from dps.rollout import rollout


def lstm_learner(obs_size=3, n=4, policy_kw=None, **kw):
    env = TMaze(length=3)
    return RPG(LSTMPolicy(obs_size, n, hidden=5, **(policy_kw or {})), env, Config(episodes=4, **kw), seed=3)


def final_logp_and_grad(learner, obs, actions):
    obs = obs.clone().requires_grad_(True)
    params = learner.theta.detach().double().unsqueeze(0)
    logp, _ = learner.log_probs(obs, actions, params=params)
    (g,) = torch.autograd.grad(logp[-1, 0], obs)
    return logp, g


@pytest.mark.parametrize("policy_kw", [{}, {"skip": True, "input_bias": -2.0, "forget_bias": 5.0}])
def test_bptt_reaches_first_step_and_matches_finite_differences(policy_kw):
    learner = lstm_learner(out_init=1.0, policy_kw=policy_kw)
    g = torch.Generator().manual_seed(0)
    T = 12
    obs = torch.randn(T, 1, 3, generator=g, dtype=torch.float64)
    actions = torch.randint(0, 4, (T, 1), generator=g)
    _, grad = final_logp_and_grad(learner, obs, actions)
    g0 = grad[0, 0]
    assert float(g0.abs().max()) > 1e-6                   # the last decision depends on o_0 …
    params = learner.theta.detach().double().unsqueeze(0)
    h = 1e-6
    for j in range(3):                                     # … exactly as finite differences say
        e = torch.zeros_like(obs)
        e[0, 0, j] = h
        lp_plus = learner.log_probs(obs + e, actions, params=params)[0][-1, 0]
        lp_minus = learner.log_probs(obs - e, actions, params=params)[0][-1, 0]
        fd = float(lp_plus - lp_minus) / (2 * h)
        assert fd == pytest.approx(float(g0[j]), rel=1e-5, abs=1e-9)


def test_truncated_bptt_cuts_the_gradient():
    learner = lstm_learner(out_init=1.0, tbptt=4)
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(10, 1, 3, generator=g, dtype=torch.float64)
    actions = torch.randint(0, 4, (10, 1), generator=g)
    _, grad = final_logp_and_grad(learner, obs, actions)
    assert float(grad[:8].abs().max()) == 0.0              # steps before the last cut (t = 8)
    assert float(grad[8:].abs().max()) > 0.0


def test_packed_episodes_with_episode_start_equal_separate_runs():
    learner = lstm_learner(out_init=1.0)
    g = torch.Generator().manual_seed(1)
    A, B = torch.randn(4, 1, 3, generator=g), torch.randn(6, 1, 3, generator=g)
    aA, aB = torch.randint(0, 4, (4, 1), generator=g), torch.randint(0, 4, (6, 1), generator=g)
    lA, eA = learner.log_probs(A, aA)
    lB, eB = learner.log_probs(B, aB)
    start = torch.zeros(10, 1, dtype=torch.bool)
    start[4] = True
    lAB, eAB = learner.log_probs(torch.cat([A, B]), torch.cat([aA, aB]), episode_start=start)
    assert torch.allclose(lAB, torch.cat([lA, lB]), atol=1e-6)
    assert torch.allclose(eAB, torch.cat([eA, eB]), atol=1e-6)
    lost, _ = learner.log_probs(torch.cat([A, B]), torch.cat([aA, aB]))  # without the reset: differs
    assert not torch.allclose(lost[4:], lB, atol=1e-4)


@pytest.mark.parametrize("baseline", ["value", "moving"])
def test_resume_is_bit_identical(baseline):
    def make():
        return RPG(LSTMPolicy(3, 4, hidden=4), TMaze(length=3),
                   Config(episodes=6, baseline=baseline, entropy=0.01), seed=11)

    a = make()
    stats_a = [a.step() for _ in range(4)]
    b = make()
    for _ in range(2):
        b.step()
    buf = io.BytesIO()
    torch.save(b.state_dict(), buf)
    buf.seek(0)
    c = make()
    c.load_state_dict(torch.load(buf, weights_only=True))
    stats_c = [c.step() for _ in range(2)]
    assert torch.equal(a.center, c.center)
    assert stats_a[2:] == stats_c
    if baseline == "value":
        assert torch.equal(a.value.params, c.value.params)


def test_step_metrics_and_center():
    learner = lstm_learner()
    s = learner.step()
    for key in ("episodes", "env_steps", "best", "mean", "loss", "grad_norm", "entropy", "success"):
        assert key in s
    assert s["episodes"] == 4 and s["env_steps"] >= 4 * 4
    assert learner.center.shape == (learner.policy.num_params,)


def test_history_inputs_via_from_run():
    env = TMaze(length=3)
    config = Config(episodes=3, prev_action=True, prev_reward=True)
    wrapped = RPG.wrap_env(env, config)
    ctx = RunContext(env=wrapped, policy=LSTMPolicy(wrapped.observation_shape, 4, hidden=4), config=config,
                     seed=0, device=torch.device("cpu"))
    learner = RPG.from_run(ctx)
    assert learner.env is wrapped and learner.policy is ctx.policy
    assert learner.env.observation_shape == (3 + 4 + 1,)
    assert learner.policy.obs_size == 8
    g = torch.Generator().manual_seed(0)
    obs = learner.env.reset(1, 2, g)
    assert torch.equal(obs[..., 3:], torch.zeros(1, 2, 5))
    obs, r, _, _ = learner.env.step(torch.tensor([[3, 1]]))          # W bumps the wall at the start
    assert torch.equal(obs[0, :, 3:7], torch.tensor([[0., 0, 0, 1], [0, 1, 0, 0]]))
    assert torch.allclose(obs[0, :, 7], r[0])
    learner.step()
    res = rollout(learner.policy, learner.env, learner.center[None], 4, seed=1)  # greedy evaluation
    assert res.returns.shape == (1, 4)


@pytest.mark.parametrize("name, make_env, budget", [
    ("class-query:length=10", lambda: ClassQuery(length=10), 100),
    ("tmaze:length=5", lambda: TMaze(length=5), 500),
])
def test_converges_on_short_memory_task(name, make_env, budget):
    """Seed 0: greedy success >= 0.9 within ``budget`` updates of M = 32 with the
    default config (class-query ≈ 2 s, T-maze ≈ 10–30 s of one CPU core; the budget is
    counted in updates so that a loaded machine cannot fail the test)."""
    env = make_env()
    learner = RPG(LSTMPolicy(env.observation_shape, env.action_space.n, hidden=16), env, Config(), seed=0)
    success = 0.0
    while learner.updates < budget and success < 0.9:
        for _ in range(10):
            learner.step()
        res = rollout(learner.policy, env, learner.center[None], 100, seed=5)
        success = float(res.success.float().mean())
    assert success >= 0.9, f"{name}: greedy success {success} after {learner.updates} updates"


def test_tmaze_20_registry_default_converges():
    """The tuned rpg default for the T-maze (skip path + closed input gates,
    docs/RPG.md) solves N = 20 with seed 0 (the CLI run stops after 250 updates, ~25 s)."""
    from dps.policies import make_policy
    from dps.runner.defaults import tuned

    run, options = tuned("rpg", "tmaze", {"length": 20})
    entry = {**run, **options}
    env = TMaze(length=20)
    policy = make_policy(entry["policy"], env.observation_shape, env.action_space.n)
    config = Config(episodes=entry["episodes"], lr=entry["lr"], entropy=entry["entropy"], baseline=entry["baseline"])
    learner = RPG(policy, env, config, seed=0)
    success = 0.0
    while learner.updates < 400 and success < 0.95:
        for _ in range(10):
            learner.step()
        res = rollout(learner.policy, env, learner.center[None], 20, seed=5)
        success = float(res.success.float().mean())
    assert success >= 0.95, f"greedy success {success} after {learner.updates} updates"


def _fused_against_loop(learner, monkeypatch, cls, obs, actions, masks=None):
    """log_probs (log-probabilities, entropies, gradient) with ``cls.sequence`` and with it
    disabled (the step loop): equal up to rounding."""
    def run():
        learner.theta.grad = None
        logp, ent = learner.log_probs(obs, actions, masks=masks)
        (logp.sum() + ent.sum()).backward()
        return logp.detach(), ent.detach(), learner.theta.grad.clone()

    fused = run()
    monkeypatch.setattr(cls, "sequence", lambda self, params, obs: None)
    loop = run()
    for a, b in zip(fused, loop):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("box", [False, True])
def test_fused_replay_equals_the_step_loop(box, monkeypatch):
    """log_probs through LSTMPolicy.sequence (one fused call) against the step loop."""
    from dps.envs.cartpole import CartPole
    env = CartPole(velocities=False) if box else TMaze(length=3)
    out = 1 if box else 4
    learner = RPG(LSTMPolicy(env.observation_size, out, hidden=5, skip=True), env, Config(episodes=3), seed=2)
    g = torch.Generator().manual_seed(4)
    obs = torch.randn(15, 3, env.observation_size, generator=g)
    actions = torch.randn(15, 3, 1, generator=g) if box else torch.randint(0, 4, (15, 3), generator=g)
    _fused_against_loop(learner, monkeypatch, LSTMPolicy, obs, actions)


def test_fused_replay_on_atari_go_with_masks(monkeypatch):
    """The MDLSTM board player (memoryless between moves) replays a game batch as one
    batch of boards; legal-move masks included."""
    from dps.envs.registry import make_env
    from dps.policies import Policy
    from dps.policies.mdlstm import MDLSTMPolicy
    env = make_env("atari-go:size=4,opponent=L0")
    learner = RPG(MDLSTMPolicy(env.observation_shape, 16, 2, "lstm"), env, Config(episodes=3), seed=1)
    batch = learner.collect(5)
    assert batch.masks is not None
    _fused_against_loop(learner, monkeypatch, Policy, batch.obs, batch.actions, batch.masks)


def test_a_diverging_update_raises_and_keeps_the_policy():
    """lr = 1e308 overflows the parameters on the first Adam step: NonFiniteError, and the
    policy and optimiser are the ones before the step (a checkpoint stays finite)."""
    from dps.errors import NonFiniteError

    env = TMaze(length=3)
    learner = RPG(LSTMPolicy(env.observation_shape, 4, hidden=4), env,
                  Config(episodes=4, lr=1e308, grad_clip=None), seed=0)
    before = learner.state_dict()
    with pytest.raises(NonFiniteError, match="RPG"):
        learner.step()
    after = learner.state_dict()
    assert torch.equal(before["theta"], after["theta"]) and torch.isfinite(after["theta"]).all()
    assert after["optimizer"]["state"] == {} and learner.updates == 0
