"""The "noise and class query" memory task (docs/ENVIRONMENTS.md; closest published form:
Hochreiter & Schmidhuber 1997, experiment 3, the two-sequence problem).

An episode has T = ``length`` steps t = 0 … T−1. The observation at step t is::

    [ c if t = 0 else 0,   n_1 … n_k ~ N(0, 1),   1 if t = T−1 else 0 ]

with the class c ∈ {−1, +1} drawn per episode and k = ``noise`` fresh Gaussian noise
channels at every step. Actions ``Discrete(2)``: only the action taken on the query step
(t = T−1) counts — action 1 answers c = +1, action 0 answers c = −1; reward +1 if right,
−1 if wrong, and the episode ends on that step (``success`` = right). All other rewards
are 0; ``gamma = 1.0`` (the only reward is the last one, so discounting would only rescale
it). The class and the noise come from the generator given to :meth:`reset` (the env keeps
a reference to it and draws each step's noise from it), so the same generator seed gives
the same episodes.

Non-finite numbers: actions are indices and the only float state (the class, the noise)
is drawn, so nothing here can become NaN (a policy whose outputs are NaN is the rollout
engine's business, ``dps/rollout.py``). An action tensor of floats with a NaN/±inf entry
is a failure on that step, whatever the step — the env's worst outcome, a wrong answer:
reward −1, ``done``, no success. (Without this a NaN compares unequal to 1 and would
count as the answer −1, right for half the episodes.)
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from ..errors import UserError
from ..spec import Range
from .base import BatchedEnv, Discrete


class ClassQuery(BatchedEnv):
    has_success = True
    gamma = 1.0
    action_space = Discrete(2)

    def __init__(self, length: Annotated[int, Range(1, 100_000)] = 20, noise: Annotated[int, Range(0, 1024)] = 1,
                 device="cpu"):
        """
        :param length: T, steps per episode including the class step and the query step (>= 1)
        :param noise: number of N(0, 1) noise channels (>= 0)
        """
        super().__init__(device)
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise UserError(f"bad value {length!r} for class-query option length; accepted: an integer >= 1")
        if not isinstance(noise, int) or isinstance(noise, bool) or noise < 0:
            raise UserError(f"bad value {noise!r} for class-query option noise; accepted: an integer >= 0")
        self.length = length
        self.noise = noise
        self.max_steps = length
        self.observation_shape = (noise + 2,)
        self.cls: Optional[torch.Tensor] = None   # (P, B) float, ±1
        self.over: Optional[torch.Tensor] = None  # (P, B) bool
        self.t = 0                                # index of the step whose observation was last returned
        self._gen: Optional[torch.Generator] = None

    def _obs(self) -> torch.Tensor:
        P, B = self.cls.shape
        first = self.cls if self.t == 0 else torch.zeros_like(self.cls)
        query = torch.full_like(self.cls, 1.0 if self.t == self.length - 1 else 0.0)
        noise = torch.randn(P, B, self.noise, generator=self._gen, device=self.device)
        return torch.cat([first.unsqueeze(-1), noise, query.unsqueeze(-1)], -1)

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        self._gen = generator
        self.cls = torch.randint(0, 2, (P, B), generator=generator, device=self.device).float() * 2 - 1
        self.over = torch.zeros(P, B, dtype=torch.bool, device=self.device)
        self.t = 0
        return self._obs()

    def step(self, action: torch.Tensor):
        a = action.to(self.device).reshape(self.cls.shape)
        live = ~self.over
        if self.t >= self.length - 1:  # the action answers the query
            correct = (a == 1) == (self.cls > 0)
            if a.is_floating_point():  # a non-finite answer is wrong (module docstring)
                correct = correct & torch.isfinite(a)
            reward = torch.where(correct, 1.0, -1.0) * live
            done = torch.ones_like(self.over)
            success = correct & live
        else:
            reward = torch.zeros_like(self.cls)
            done = self.over.clone()
            success = torch.zeros_like(self.over)
            if a.is_floating_point():  # a non-finite action ends the episode as a wrong answer
                bad = live & ~torch.isfinite(a)
                reward = torch.where(bad, -1.0, reward)
                done = done | bad
        self.over = done
        self.t += 1
        return self._obs(), reward.to(torch.float32), done, {"success": success}
