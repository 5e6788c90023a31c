"""RPG's episodes in worker processes: the collected batch and the updates are bit-identical
for any --workers (Discrete, Gaussian Box, SDE, history inputs, MultiDiscrete); torch envs
stay in the process."""
import csv

import pytest
import torch

from dps.algorithms.rpg import RPG, Config
from dps.envs.registry import make_env
from dps.policies import make_policy
from dps.run import main

CASES = [("gym:CartPole-v1,max_steps=40", {}),
         ("gym:Pendulum-v1,max_steps=20", {}),
         ("gym:Pendulum-v1,max_steps=20", {"sde": True}),
         ("gym:CartPole-v1,max_steps=40", {"prev_action": True, "prev_reward": True}),
         ("gym:plugin_envs:PluginChoose-v0", {})]


def _learner(spec, workers, episodes=5, **options):
    cfg = Config(episodes=episodes, **options)
    env = RPG.wrap_env(make_env(spec, "cpu"), cfg)
    policy = make_policy("lstm:hidden=5", env.observation_shape, env.action_space.out_size)
    rpg = RPG(policy, env, cfg, seed=3)
    rpg.workers = workers
    return rpg


@pytest.mark.parametrize("spec, options", CASES)
def test_batch_and_updates_bit_identical_for_any_worker_count(spec, options):
    runs = []
    for workers in (1, 2, 3):
        rpg = _learner(spec, workers, **options)
        stats = [rpg.step() for _ in range(2)]
        runs.append((rpg.theta.detach().clone(), rpg.collect(7), stats))
    (theta, batch, stats) = runs[0]
    for other_theta, other, other_stats in runs[1:]:
        assert torch.equal(theta, other_theta) and stats == other_stats
        for name in ("obs", "actions", "alive", "rewards"):
            assert torch.equal(getattr(batch, name), getattr(other, name)), name
        if batch.theta_hat is not None:
            assert torch.equal(batch.theta_hat, other.theta_hat)


def test_a_worker_with_one_episode_and_more_workers_than_episodes():
    a, b = _learner("gym:Pendulum-v1,max_steps=10", 1, episodes=2), _learner("gym:Pendulum-v1,max_steps=10", 3,
                                                                              episodes=2)
    assert torch.equal(a.collect(1).actions, b.collect(1).actions)


def test_torch_env_stays_in_process():
    rpg = _learner("tmaze:length=3", 2)
    assert rpg.step()["episodes"] == 5


def _rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(f)]


def test_cli_metrics_identical_for_workers_1_and_2(tmp_path):
    base = ["rpg", "--env", "gym:CartPole-v1,max_steps=30", "--generations", "3", "--episodes", "6",
            "--eval-episodes", "4", "--center-episodes", "3", "--eval-every", "1", "--quiet"]
    for w in (1, 2):
        assert main([*base, "--workers", str(w), "--out", str(tmp_path / f"w{w}")]) == 0
    assert _rows(tmp_path / "w1" / "metrics.csv") == _rows(tmp_path / "w2" / "metrics.csv")
