"""RPG's faster paths against the ones they replace: the sampling rollout's row step and
Gumbel-max, the in-place returns-to-go, the replay's log-softmax and the grouped replay."""
import pytest
import torch

import dps.algorithms.rpg as rpg_module
from dps.algorithms.rpg import RPG, Config, gumbel_max
from dps.algorithms.rpg_baselines import returns_to_go
from dps.envs.memory import ClassQuery
from dps.envs.tmaze import TMaze
from dps.policies import LSTMPolicy
from dps.policies.heads import DiscreteHead
from dps.rollout import Actor, rollout


@pytest.mark.parametrize("kw", [{}, {"skip": True, "input_scale": 2.0}, {"layers": 2}, {"fast_tanh": True},
                                {"fast_tanh": True, "layers": 2, "skip": True}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("native", ["1", "0"])
def test_row_step_is_the_step_bit_for_bit(kw, dtype, native, monkeypatch):
    """The row step computes what LSTMPolicy.step computes, with the C kernel and without
    (then it is features + readout, op for op)."""
    monkeypatch.setenv("DPS_NATIVE", native)
    g = torch.Generator().manual_seed(3)
    policy = LSTMPolicy((3,), 4, hidden=8, **kw)
    params = policy.init_params(g, dtype=dtype)[None]
    step = policy.row_step(params)
    ref = new = torch_ref = policy.initial_state(1, 37, dtype=dtype)
    for _ in range(30):
        obs = torch.randn(1, 37, 3, generator=g)
        out_ref, ref = policy.step(params, obs, ref)
        out_new, new = step(obs, new)
        assert torch.equal(out_ref, out_new)
        assert all(torch.equal(a, b) for a, b in zip(ref, new))
        if native == "0":
            feats, torch_ref = policy.features(params, obs, torch_ref)
            assert torch.equal(policy.readout(params, feats), out_new)


def test_row_step_only_for_one_plain_row():
    policy = LSTMPolicy((3,), 2, hidden=4)
    params = policy.init_params(torch.Generator().manual_seed(0))[None]
    assert policy.row_step(params) is not None
    assert policy.row_step(params.expand(2, -1)) is None
    assert policy.row_step(params.clone().requires_grad_()) is None
    assert LSTMPolicy((3,), 2, hidden=4, peepholes=True).row_step(
        LSTMPolicy((3,), 2, hidden=4, peepholes=True).init_params()[None]) is None


@pytest.mark.parametrize("masked", [False, True])
def test_gumbel_max_draws_like_the_head(masked):
    """The same uniform draws and the same indices as DiscreteHead.sample (its log-softmax
    is a per-slot constant); the generator ends in the same state."""
    head = DiscreteHead(5)
    for seed in range(5):
        g = torch.Generator().manual_seed(100 + seed)
        out = torch.randn(1, 4000, 5, generator=g) * 3
        mask = torch.rand(1, 4000, 5, generator=g) < 0.7 if masked else None
        if mask is not None:
            mask[..., 0] = True
        g1, g2 = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        assert torch.equal(gumbel_max(out, mask, g1), head.sample(out, mask, g2)[0])
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


class _ReferenceSampler(Actor):
    """The plain sampling step: the policy's step and the head's sample."""

    def __init__(self, policy, head):
        self.policy, self.head = policy, head

    def __call__(self, params, obs, state, mask, generator):
        out, state = self.policy.step(params, obs, state)
        action, _ = self.head.sample(out, mask, generator)
        return action, action, state


@pytest.mark.parametrize("env, policy_kw", [(ClassQuery(length=30), {}),
                                            (TMaze(length=4), {"skip": True, "input_bias": -5.0})])
def test_collect_is_the_reference_rollout(env, policy_kw):
    """The sampling rollout (row step, Gumbel-max) records the batch the policy's step with
    the head's sample records for the same seed."""
    learner = RPG(LSTMPolicy(env.observation_shape, env.action_space.n, hidden=8, **policy_kw), env,
                  Config(episodes=64), seed=1)
    for seed in range(4):
        batch = learner.collect(seed)
        ref = rollout(learner.policy, env, learner.center[None], 64, seed,
                      actor=_ReferenceSampler(learner.policy, learner.head), record=True).trajectory
        assert torch.equal(batch.obs, ref.obs[:, 0]) and torch.equal(batch.actions, ref.actions[:, 0])
        assert torch.equal(batch.rewards, ref.rewards[:, 0]) and torch.equal(batch.alive, ref.alive[:, 0])


def _returns_loop(rewards, gamma):
    R, acc = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        R[t] = acc
    return R


@pytest.mark.parametrize("gamma", [1.0, 0.99, 0.5, 0.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_returns_to_go_bit_for_bit(gamma, dtype):
    g = torch.Generator().manual_seed(0)
    r = torch.randn(57, 13, generator=g, dtype=dtype) * (torch.rand(57, 13, generator=g) < 0.5)
    assert torch.equal(returns_to_go(r, gamma), _returns_loop(r, gamma))
    assert returns_to_go(r[:0], gamma).shape == (0, 13)


def test_replay_log_softmax_matches_the_head():
    """The replay's log-probabilities and entropies (one log-softmax along a leading dim)
    are the head's up to rounding, with and without legal-action masks, gradients too."""
    env = TMaze(length=3)
    learner = RPG(LSTMPolicy(env.observation_shape, 4, hidden=6), env, Config(episodes=4), seed=0)
    g = torch.Generator().manual_seed(2)
    obs = torch.randn(23, 7, 3, generator=g)
    actions = torch.randint(0, 4, (23, 7), generator=g)
    masks = torch.rand(23, 7, 4, generator=g) < 0.6
    masks[..., 0] = True
    actions = torch.where(masks.gather(-1, actions[..., None])[..., 0], actions, 0)
    for m in (None, masks):
        params = learner.theta.unsqueeze(0)
        fast = learner._fused_log_probs(params, None, obs, actions, m)
        out = learner.policy.sequence(params, obs)
        ref = learner.head.log_prob(out, actions, m), learner.head.entropy(out, m)
        for a, b in zip(fast, ref):
            assert torch.allclose(a, b, rtol=1e-6, atol=1e-6)
        grads = [torch.autograd.grad(x.sum() + 0.3 * y.sum(), learner.theta)[0] for x, y in (fast, ref)]
        assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def _surrogate_and_grads(learner, batch):
    surr, _, info = learner.surrogate(batch)
    params = [learner.theta] + ([learner.log_std] if learner.log_std is not None else [])
    return float(surr.detach()), info["entropy"], torch.autograd.grad(surr, params)


@pytest.mark.parametrize("box", [False, True])
def test_grouped_replay_matches_one_replay(box, monkeypatch):
    """Replaying the episodes in groups (forward and backward per group) gives the one-call
    surrogate, entropy and gradients (θ, and log σ for Box actions) up to the order of the
    sums: relative 1e-5 in float32."""
    from dps.envs.cartpole import CartPole
    env = CartPole(velocities=False) if box else ClassQuery(length=40)
    out = 1 if box else 2
    learner = RPG(LSTMPolicy(env.observation_size, out, hidden=8, skip=box), env, Config(episodes=48), seed=4)
    batch = learner.collect(3)
    assert learner._replay_groups(batch) is None
    whole = _surrogate_and_grads(learner, batch)
    monkeypatch.setattr(rpg_module, "REPLAY_CELL_STEPS", batch.alive.shape[0] * 8 * 10)
    assert len(learner._replay_groups(batch)) == 5
    grouped = _surrogate_and_grads(learner, batch)
    assert grouped[0] == pytest.approx(whole[0], rel=1e-5, abs=1e-6)
    assert grouped[1] == pytest.approx(whole[1], rel=1e-6)
    for a, b in zip(grouped[2], whole[2]):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max()))


def test_replay_groups_only_for_large_replays():
    """One call for the usual sizes; groups once steps × episodes × cells is large."""
    env = ClassQuery(length=200)
    learner = RPG(LSTMPolicy(env.observation_shape, 2, hidden=16), env, Config(episodes=256), seed=0)
    alive = torch.ones(200, 256, dtype=torch.bool)
    batch = rpg_module.Batch(obs=None, actions=None, alive=alive, rewards=None, masks=None, theta_hat=None,
                             success=None)
    groups = learner._replay_groups(batch)
    assert [(s.start, s.stop) for s in groups] == [(0, 64), (64, 128), (128, 192), (192, 256)]
    for T, M in ((50, 256), (200, 32), (10, 32)):
        batch.alive = torch.ones(T, M, dtype=torch.bool)
        assert learner._replay_groups(batch) is None


def test_grouped_updates_follow_one_replay(monkeypatch):
    """Three updates with grouped replays stay within rounding of three with one replay."""
    def run(groups):
        env = ClassQuery(length=30)
        learner = RPG(LSTMPolicy(env.observation_shape, 2, hidden=8), env, Config(episodes=40), seed=2)
        if groups:
            monkeypatch.setattr(rpg_module, "REPLAY_CELL_STEPS", 30 * 8 * 10)
        for _ in range(3):
            learner.step()
        monkeypatch.setattr(rpg_module, "REPLAY_CELL_STEPS", 2 ** 18)
        return learner.theta.detach().clone()

    assert torch.allclose(run(True), run(False), rtol=0, atol=1e-5)
