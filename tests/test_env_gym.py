"""The gymnasium adapter: spaces, hidden components, equivalence with a plain gymnasium
loop, workers=1 vs workers=2, an LSTM rollout, and user errors."""
import os

import gymnasium
import numpy as np
import pytest
import torch

import dps
from dps.envs.base import Box, Discrete
from dps.envs.gymnasium import GymEnv
from dps.evaluation import WorkerError, run_episodes
from dps.rollout import make_generator, rollout


def test_cartpole_spaces_and_shapes():
    env = dps.make_env("gym:CartPole-v1")
    assert env.observation_shape == (4,)
    assert env.action_space == Discrete(2)
    assert env.max_steps == 500 and env.has_success
    obs = env.reset(3, 2, make_generator(0, "cpu"))
    assert obs.shape == (3, 2, 4) and obs.dtype == torch.float32
    obs, reward, done, info = env.step(torch.zeros(3, 2, dtype=torch.long))
    assert obs.shape == (3, 2, 4) and reward.shape == (3, 2) and done.dtype == torch.bool
    assert info["success"].shape == (3, 2)


def test_pendulum_box_space():
    env = dps.make_env("gym:Pendulum-v1")
    assert env.observation_shape == (3,)
    assert env.action_space == Box(1, (-2.0,), (2.0,))
    assert env.max_steps == 200 and not env.has_success
    env.reset(2, 2, make_generator(0, "cpu"))
    obs, reward, done, _ = env.step(torch.full((2, 2, 1), 5.0))  # out of bounds: clipped
    assert obs.shape == (2, 2, 3) and reward.shape == (2, 2) and not done.any()


def test_velocities_hidden_and_max_steps():
    full = dps.make_env("gym:CartPole-v1")
    env = dps.make_env("gym:CartPole-v1,velocities=false,max_steps=20")
    assert env.observation_shape == (2,) and env.hide == (1, 3) and env.max_steps == 20
    a = full.reset(2, 3, make_generator(5, "cpu"))
    b = env.reset(2, 3, make_generator(5, "cpu"))
    assert torch.equal(b, a[..., [0, 2]])
    assert dps.make_env("gym:Pendulum-v1,velocities=false").observation_shape == (2,)
    assert dps.make_env("gym:CartPole-v1,hide=0").observation_shape == (3,)


def _policy_action(obs_row: np.ndarray, t: int) -> int:
    """A deterministic, state-dependent CartPole controller (balances for a while)."""
    return int(obs_row[2] + 0.3 * obs_row[3] > 0) if t % 7 else 0


def test_matches_plain_gymnasium_loop():
    P, B, seed = 2, 3, 11
    env = dps.make_env("gym:CartPole-v1")
    obs = env.reset(P, B, make_generator(seed, "cpu"))
    seeds = GymEnv.draw_seeds(P, B, make_generator(seed, "cpu"))
    returns = torch.zeros(P, B)
    alive = torch.ones(P, B, dtype=torch.bool)
    for t in range(env.max_steps):
        action = torch.tensor([[_policy_action(obs[p, b].numpy(), t) for b in range(B)] for p in range(P)])
        obs, reward, done, _ = env.step(action)
        returns += reward * alive
        alive &= ~done
        if not alive.any():
            break
    for p in range(P):
        for b in range(B):
            g = gymnasium.make("CartPole-v1")
            o, _ = g.reset(seed=int(seeds[p, b]))
            total, t = 0.0, 0
            while True:
                o, r, term, trunc, _ = g.step(_policy_action(o, t))
                total += r
                t += 1
                if term or trunc:
                    break
            assert returns[p, b].item() == total


def test_lstm_rollout_matches_manual_loop():
    env = dps.make_env("gym:CartPole-v1")
    policy = dps.LSTMPolicy(env.observation_shape, 2, hidden=8)
    params = torch.stack([policy.init_params(torch.Generator().manual_seed(i)) for i in range(3)])
    res = rollout(policy, env, params, episodes=2, seed=4)
    assert res.returns.shape == (3, 2)
    assert torch.equal(res.returns, res.lengths.float())  # reward 1 per step
    assert res.env_steps == int(res.lengths.sum())
    seeds = GymEnv.draw_seeds(3, 2, make_generator(4, "cpu"))
    for p, b in [(0, 0), (2, 1)]:
        g = gymnasium.make("CartPole-v1")
        o, _ = g.reset(seed=int(seeds[p, b]))
        state = policy.initial_state(1, 1)
        total = 0.0
        while True:
            out, state = policy.step(params[p:p + 1], torch.as_tensor(o).reshape(1, 1, -1), state)
            o, r, term, trunc, _ = g.step(int(out[0, 0].argmax()))
            total += r
            if term or trunc:
                break
        assert res.returns[p, b].item() == total


@pytest.mark.parametrize("spec,P,B", [("gym:CartPole-v1", 5, 3), ("gym:CartPole-v1", 1, 4),
                                      ("gym:Pendulum-v1,velocities=false", 3, 2)])
def test_workers_give_identical_results(spec, P, B):
    one = dps.make_env(spec)
    policy = dps.LSTMPolicy(one.observation_shape, one.action_space.out_size, hidden=4)
    params = torch.randn(P, policy.num_params, generator=torch.Generator().manual_seed(0)) * 0.5
    params[0] = 0  # all outputs equal: greedy ties are broken by the seeded generator
    a = rollout(policy, one, params, B, seed=3, max_steps=60)
    b = run_episodes(policy, one, params, B, seed=3, workers=2, max_steps=60)
    assert torch.equal(a.returns, b.returns) and torch.equal(a.lengths, b.lengths)
    assert a.env_steps == b.env_steps
    assert (a.success is None) == (b.success is None)
    if a.success is not None:
        assert torch.equal(a.success, b.success)


class _CrashingPolicy(dps.LSTMPolicy):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.home = os.getpid()  # the main process plays a share of the slots itself

    def step(self, params, obs, state, episode_start=None):
        if os.getpid() != self.home:
            os._exit(3)  # a worker dying abruptly (segfault, OOM kill)
        return super().step(params, obs, state, episode_start)


def test_crashed_worker_raises_clear_error():
    env = dps.make_env("gym:CartPole-v1")
    policy = _CrashingPolicy((4,), 2, hidden=2)
    with pytest.raises(WorkerError, match=r"CartPole-v1.*died \(exit code 3\)"):
        run_episodes(policy, env, torch.zeros(2, policy.num_params), 1, seed=0, workers=2)
    # the broken pool is gone; the next call starts a new one
    healthy = dps.LSTMPolicy((4,), 2, hidden=2)
    params = torch.randn(2, healthy.num_params, generator=torch.Generator().manual_seed(1))
    one = run_episodes(healthy, env, params, 3, seed=0, workers=1)
    assert torch.equal(one.returns, run_episodes(healthy, env, params, 3, seed=0, workers=2).returns)
    env.close()


def test_user_errors():
    with pytest.raises(dps.UserError, match="CartPol-v1.*CartPole-v1"):
        dps.make_env("gym:CartPol-v1")
    with pytest.raises(dps.UserError, match=r"hide index \[4\].*0\.\.3"):
        dps.make_env("gym:CartPole-v1,hide=1+4")
    with pytest.raises(dps.UserError, match="FrozenLake-v1.*CartPole-v1"):
        dps.make_env("gym:FrozenLake-v1,velocities=false")
    with pytest.raises(dps.UserError, match="removes every"):
        dps.make_env("gym:CartPole-v1,hide=0+1+2+3")
