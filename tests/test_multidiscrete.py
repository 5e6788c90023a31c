"""MultiDiscrete and MultiBinary actions through the shared heads (searchers' greedy
rollouts and RPG), and flattened Dict/Tuple observations."""
import math

import pytest
import torch

from dps.algorithms.rpg import RPG, Config
from dps.envs.gymnasium import GymEnv
from dps.evaluation import run_episodes
from dps.policies import make_policy
from dps.policies.heads import MultiDiscreteHead, make_head
from dps.rollout import rollout
from dps.spaces import MultiDiscrete

NVEC = (3, 1, 4)


def _reference_logp(out, action):
    parts = out.split(NVEC, -1)
    return sum(torch.log_softmax(p, -1).gather(-1, action[..., j:j + 1]).squeeze(-1) for j, p in enumerate(parts))


def test_head_matches_a_per_component_reference():
    head = make_head(MultiDiscrete(NVEC))
    assert isinstance(head, MultiDiscreteHead) and head.out_size == 8
    g = torch.Generator().manual_seed(0)
    out = torch.randn(2, 5, 8, generator=g)
    greedy = head.greedy(out)
    assert greedy.shape == (2, 5, 3)
    for j, part in enumerate(out.split(NVEC, -1)):
        assert torch.equal(greedy[..., j], part.argmax(-1))
    action, logp = head.sample(out, None, g)
    assert torch.allclose(logp, _reference_logp(out, action)) and torch.allclose(head.log_prob(out, action), logp)
    ent = sum(torch.distributions.Categorical(logits=p).entropy() for p in out.split(NVEC, -1))
    assert torch.allclose(head.entropy(out), ent)


def test_sampling_frequencies_follow_the_softmax():
    head = MultiDiscreteHead((3, 2))
    out = torch.tensor([0.0, 1.0, 2.0, 0.5, -0.5]).expand(1, 20000, 5)
    action, _ = head.sample(out, None, torch.Generator().manual_seed(1))
    for j, logits in enumerate(out[0, 0].split((3, 2))):
        p = torch.softmax(logits, -1)
        freq = torch.bincount(action[0, :, j], minlength=len(p)).float() / 20000
        se = (p * (1 - p) / 20000).sqrt()
        assert bool(((freq - p).abs() < 5 * se).all()), (freq, p)


def test_ties_are_broken_per_component_and_nan_still_picks_an_action():
    head = MultiDiscreteHead((2, 2))
    out = torch.zeros(1, 4000, 4)
    a = head.greedy(out, generator=torch.Generator().manual_seed(0))
    assert 0.45 < a.float().mean().item() < 0.55    # both choices of both components
    nan = torch.full((1, 1, 4), math.nan)
    assert head.greedy(nan).shape == (1, 1, 2)
    with pytest.raises(ValueError, match="mask"):
        head.greedy(out, torch.ones(1, 4000, 4, dtype=torch.bool))


@pytest.mark.parametrize("env_id, target_return", [("plugin_envs:PluginChoose-v0", 8.0),
                                                   ("plugin_envs:PluginChooseBinary-v0", 12.0)])
def test_gym_env_gets_its_own_shape_dtype_and_offsets(env_id, target_return):
    env = GymEnv(env_id)
    # Dict{cue: Discrete(3) one-hot, rest: Tuple(Box(2), MultiBinary(2))} flattened: 3 + 2 + 2
    assert env.observation_shape == (7,)
    binary = "Binary" in env_id
    assert env.action_space == MultiDiscrete((2, 2, 2) if binary else (3, 4))
    env.reset(1, 3, torch.Generator().manual_seed(0))
    cues = [e.unwrapped.cue for e in env._envs[:3]]
    if binary:
        action = torch.tensor([[1, 0, 1]]).expand(1, 3, 3)
    else:  # the head's indices; the env adds start = (10, -2)
        action = torch.tensor([[[c, c] for c in cues]])
    total = torch.zeros(1, 3)
    for _ in range(4):
        _, r, done, _ = env.step(action)
        total += r
    assert bool(done.all()) and torch.equal(total, torch.full((1, 3), target_return))
    sent = env._envs[0].unwrapped.received[0]
    assert sent.dtype == env._envs[0].action_space.dtype


def test_workers_are_bit_identical_with_multidiscrete_actions():
    env = GymEnv("plugin_envs:PluginChoose-v0")
    policy = make_policy("lstm:hidden=3", env.observation_shape, env.action_space.out_size)
    params = torch.randn(5, policy.num_params, generator=torch.Generator().manual_seed(2))
    one = run_episodes(policy, env, params, 3, seed=5, workers=1)
    assert torch.equal(one.returns, run_episodes(policy, env, params, 3, seed=5, workers=2).returns)
    plain = rollout(policy, env, params, 3, seed=5)
    assert plain.returns.shape == (5, 3)


def test_rpg_learns_a_multidiscrete_choice():
    env = GymEnv("plugin_envs:PluginChoose-v0")
    cfg = Config(episodes=32, lr=0.05, entropy=0.0)
    policy = make_policy("lstm:hidden=8", env.observation_shape, env.action_space.out_size)
    rpg = RPG(policy, env, cfg, seed=0)
    first = [rpg.step()["mean"] for _ in range(3)]
    for _ in range(40):
        last = rpg.step()
    assert last["mean"] > sum(first) / 3 + 1.0 and math.isfinite(last["grad_norm"])


def test_an_observation_space_without_a_fixed_size_is_one_clear_error():
    import gymnasium

    class Seq(gymnasium.Env):
        observation_space = gymnasium.spaces.Sequence(gymnasium.spaces.Discrete(2))
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            return (0,), {}

    if "TestSequenceObs-v0" not in gymnasium.registry:
        gymnasium.register("TestSequenceObs-v0", entry_point=Seq, max_episode_steps=3)
    with pytest.raises(Exception) as info:
        GymEnv("TestSequenceObs-v0")
    assert type(info.value).__name__ == "UserError" and "cannot be flattened" in str(info.value)
