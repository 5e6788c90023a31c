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
    assert r1.rewards.shape[1:] == (1, 4)
    assert torch.allclose(r1.rewards.sum(0), r1.returns)
    assert torch.equal(r1.alive.sum(0), r1.lengths)
