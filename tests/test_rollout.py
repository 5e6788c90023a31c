"""The lock-step rollout engine on a tiny hand-made env."""
import torch

from dps.envs.base import BatchedEnv, Discrete
from dps.policies import LinearPolicy
from dps.rollout import rollout


class CountEnv(BatchedEnv):
    """obs = [1]; action 1 ends the episode with reward +1 (success); action 0 gives reward
    0.5 and continues; time limit 5 (success False)."""

    observation_shape = (1,)
    action_space = Discrete(2)
    max_steps = 5
    has_success = True

    def reset(self, P, B, generator):
        self.t = torch.zeros(P, B, dtype=torch.long)
        return torch.ones(P, B, 1)

    def step(self, action):
        self.t = self.t + 1
        done = (action == 1) | (self.t >= self.max_steps)
        reward = torch.where(action == 1, 1.0, 0.5)
        return torch.ones_like(reward).unsqueeze(-1), reward, done, {"success": action == 1}


def test_masking_returns_lengths_success():
    env, pol = CountEnv(), LinearPolicy((1,), 2)
    # member 0 always picks action 1 (bias), member 1 always action 0
    params = torch.zeros(2, pol.num_params)
    params[0, pol.layout["b_out"][0].start + 1] = 1.0
    params[1, pol.layout["b_out"][0].start] = 1.0
    res = rollout(pol, env, params, episodes=3, seed=0)
    assert torch.equal(res.lengths, torch.tensor([[1, 1, 1], [5, 5, 5]]))
    assert torch.allclose(res.returns, torch.tensor([[1.0] * 3, [2.5] * 3]))
    assert torch.equal(res.success, torch.tensor([[True] * 3, [False] * 3]))
    assert res.env_steps == 18 and res.episodes == 6
    assert torch.allclose(res.fitness(), torch.tensor([1.0, 2.5]))


def test_record_and_custom_act():
    env, pol = CountEnv(), LinearPolicy((1,), 2)
    params = torch.zeros(1, pol.num_params)
    calls = []

    def act(out, mask, gen):
        calls.append(1)
        return torch.where(torch.rand(out.shape[:2], generator=gen) < 0.5, 1, 0)

    r1 = rollout(pol, env, params, 4, seed=3, act=act, record=True)
    r2 = rollout(pol, env, params, 4, seed=3, act=act, record=True)
    assert torch.equal(r1.returns, r2.returns)  # same seed ⇒ same result
    tr = r1.trajectory
    assert tr.rewards.shape[1:] == (1, 4) and tr.obs.shape[1:] == (1, 4, 1)
    assert torch.allclose(tr.rewards.sum(0), r1.returns)
    assert torch.equal(tr.alive.sum(0), r1.lengths)
    assert torch.equal(tr.actions, r2.trajectory.actions) and tr.masks is None


# ---- shortcuts (lazy tie-breaking draws, row compaction) are bit-identical -----------------
import pytest  # noqa: E402

from dps import make_env  # noqa: E402
from dps.policies import LSTMPolicy  # noqa: E402
from dps.policies.heads import make_head  # noqa: E402


def _plain_act(env):
    head = make_head(env.action_space)
    return lambda out, mask, gen: head.greedy(out, mask, gen)  # a custom act: no shortcuts


def _params(pol, P, seed, tie_rows=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(P, pol.num_params, generator=g) * scale
    p[:tie_rows] = 0.0  # all-zero members: every output ties, every step
    return p


@pytest.mark.parametrize("spec,P,B,tie_rows", [
    ("cartpole:discrete=true,integrator=gym", 300, 2, 0),
    ("cartpole:discrete=true,integrator=gym", 200, 1, 3),
    ("cartpole:discrete=true", 131, 3, 0),
    ("cartpole:poles=2,velocities=false,discrete=true,max_steps=150", 97, 2, 0),
    ("cartpole", 130, 2, 0),  # Box actions: compaction without the lazy head → off
    ("tmaze:length=4", 150, 4, 5),
    ("tmaze:length=3,balanced=false", 70, 3, 0),
    ("catch", 90, 2, 2),
    ("class-query:length=6,noise=2", 80, 3, 4),
])
def test_shortcuts_bit_identical(spec, P, B, tie_rows):
    env = make_env(spec)
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=5)
    params = _params(pol, P, 1, tie_rows)
    ref = rollout(pol, env, params, B, seed=7, act=_plain_act(env))
    for compact in (None, False):
        res = rollout(pol, env, params, B, seed=7, compact=compact)
        assert torch.equal(res.returns, ref.returns)
        assert torch.equal(res.lengths, ref.lengths)
        assert (res.success is None) == (ref.success is None)
        if ref.success is not None:
            assert torch.equal(res.success, ref.success)
        assert res.env_steps == ref.env_steps


@pytest.mark.parametrize("spec", ["tmaze:length=4", "catch", "cartpole:discrete=true"])
def test_lazy_greedy_with_nan_outputs_matches_plain(spec):
    """Members whose outputs are NaN (or ±inf ties) take the plain loop's draws too."""
    env = make_env(spec)
    pol = LSTMPolicy(env.observation_shape, env.action_space.out_size, hidden=3)
    params = _params(pol, 70, 4)
    n = env.action_space.out_size          # the last n parameters are the output biases
    nan_all, nan_one, inf_ties = (_params(pol, 70, 4) for _ in range(3))
    nan_all[3] = float("nan")               # every output NaN
    nan_one[4, -n + 1] = float("nan")       # one output NaN: max() is NaN, no maximum is "clear"
    inf_ties[5, -n:] = float("inf")         # ties at +inf
    for params in (nan_all, nan_one, inf_ties):   # apart: one tie anywhere sends a step to the draw
        ref = rollout(pol, env, params, 2, seed=9, act=_plain_act(env))
        res = rollout(pol, env, params, 2, seed=9)
        torch.testing.assert_close(res.returns, ref.returns, rtol=0, atol=0, equal_nan=True)
        assert torch.equal(res.lengths, ref.lengths)
    # a NaN output ends the slot on its first step: NaN return, no success
    res = rollout(pol, env, nan_all, 2, seed=9)
    assert res.returns[3].isnan().all() and (res.lengths[3] == 1).all()
    assert not res.success[3].any() and not res.returns[:3].isnan().any()


def test_compaction_happens_and_matches():
    env = make_env("cartpole:discrete=true,integrator=gym")
    pol = LSTMPolicy(env.observation_shape, 2, hidden=4)
    params = _params(pol, 1000, 2, tie_rows=1, scale=0.3)
    seen = []
    orig = env.select_rows
    env.select_rows = lambda index: (seen.append(int(index.numel())), orig(index))
    res = rollout(pol, env, params, 1, seed=3)
    assert seen and all(n % 64 == 1000 % 64 for n in seen)
    del env.select_rows
    ref = rollout(pol, env, params, 1, seed=3, act=_plain_act(env))
    assert torch.equal(res.returns, ref.returns) and torch.equal(res.lengths, ref.lengths)
    assert torch.equal(res.success, ref.success)


def test_nan_output_is_never_a_success():
    """A policy whose output is NaN would take the greedy tie-break's action; on CountEnv
    a lucky action 1 is a success. The engine ends such slots as failures instead."""
    env, pol = CountEnv(), LinearPolicy((1,), 2)
    params = torch.full((3, pol.num_params), float("nan"))
    params[2] = 0.0
    params[2, pol.layout["b_out"][0].start + 1] = 1.0   # a finite member that succeeds
    for act in (None, _plain_act(env)):
        res = rollout(pol, env, params, episodes=8, seed=1, act=act)
        assert not res.success[:2].any() and res.returns[:2].isnan().all()
        assert torch.equal(res.lengths[:2], torch.ones(2, 8, dtype=torch.long))
        assert res.success[2].all() and torch.equal(res.returns[2], torch.ones(8))
