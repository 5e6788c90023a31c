"""sb3-contrib's RecurrentPPO as the action-space peer of dps's learners on dps's own envs.

Benchmark-only (the ``[bench]`` extra): ``experiments/bench_rpg.py --vs-ppo`` and
``experiments/memory_length.py`` use it.

* :class:`OneEpisodeGym` runs a dps batched env (``dps.envs.registry.make_env``) as a
  gymnasium env with one slot (P = B = 1). The T-maze draws its goal per episode
  (``balanced=false``: with one slot there is nothing to balance). :meth:`OneEpisodeGym.retarget`
  swaps the env spec between episodes, which is how a curriculum lengthens the task.
* :func:`recurrent_ppo` builds RecurrentPPO with rl-baselines3-zoo's CartPoleNoVel
  hyperparameters (8 envs, n_steps 32, batch 256, 4 epochs, γ 0.999, λ 0.98, lr 1e-3 → 0
  and clip 0.2 → 0 linearly, LSTM 64 for actor and critic, no VecNormalize); the zoo has no
  T-maze entry, and these are its settings for a recurrent policy on a memory task.
* :func:`greedy_score` evaluates the model greedily (``deterministic=True``), carrying the
  LSTM state through each episode.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from dps.envs.registry import ENVS, make_env


class OneEpisodeGym(gym.Env):
    """A gymnasium env over one slot of the dps env ``env_spec`` (module docstring)."""

    def __init__(self, env_spec: str):
        self.gen = torch.Generator()
        self.retarget(env_spec)
        self._switch()
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, self.env.observation_shape, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.env.action_space.n)

    def retarget(self, env_spec: str) -> None:
        """Train on ``env_spec`` from the next reset on (same observation and action sizes):
        a vectorised env calls this between any two steps, and the episode under way ends
        on the env it began on."""
        if env_spec.startswith("tmaze"):
            env_spec = str(ENVS.spec(env_spec).with_options(balanced="false"))
        self.pending = env_spec

    def _switch(self) -> None:
        if self.pending is not None:
            self.spec_text, self.env, self.pending = self.pending, make_env(self.pending), None

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self._switch()
        if seed is not None:
            self.gen.manual_seed(int(seed))
        return self.env.reset(1, 1, self.gen)[0, 0].numpy().astype(np.float32), {}

    def step(self, action):
        obs, r, done, info = self.env.step(torch.tensor([[int(action)]]))
        success = bool(info["success"][0, 0]) if "success" in info else False
        over = bool(done[0, 0])
        # the T-maze's time limit truncates (PPO bootstraps there); any other end terminates
        timeout = over and not success and self.spec_text.startswith("tmaze") and self.env.t >= self.env.max_steps
        return (obs[0, 0].numpy().astype(np.float32), float(r[0, 0]), over and not timeout, timeout,
                {"is_success": success})


def recurrent_ppo(venv, seed: int):
    """RecurrentPPO at rl-baselines3-zoo's CartPoleNoVel settings (module docstring)."""
    from sb3_contrib import RecurrentPPO

    def lin(x0):
        return lambda frac: frac * x0

    return RecurrentPPO("MlpLstmPolicy", venv, n_steps=32, batch_size=256, n_epochs=4, gamma=0.999,
                        gae_lambda=0.98, ent_coef=0.0, learning_rate=lin(1e-3), clip_range=lin(0.2),
                        policy_kwargs=dict(ortho_init=False, activation_fn=torch.nn.ReLU, lstm_hidden_size=64,
                                           enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64])),
                        seed=seed, device="cpu", verbose=0)


def greedy_score(model, env, episodes: int, seed: int, metric: str = "success") -> float:
    """Mean greedy success (``metric="success"``) or return over ``episodes`` episodes of
    ``env``, the k-th reset with seed ``seed + k``."""
    scores = []
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        state, start, total, info = None, np.ones((1,), dtype=bool), 0.0, {}
        while True:
            a, state = model.predict(obs[None], state=state, episode_start=start, deterministic=True)
            obs, r, term, trunc, info = env.step(int(a[0]))
            total, start = total + r, np.zeros((1,), dtype=bool)
            if term or trunc:
                break
        scores.append(float(info.get("is_success", False)) if metric == "success" else total)
    return float(np.mean(scores))
