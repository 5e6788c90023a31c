"""Bakker's T-maze, a long-term-dependency POMDP (Bakker, *Reinforcement Learning with
Long Short-Term Memory*, NIPS 2001; REFERENCES §7).

::

                  [N arm]
    [S]-[c]-[c]-…-[J]          positions 0 … N along the corridor: 0 = start S,
                  [S arm]      1 … N-1 corridor cells c, N = T-junction J

* The goal arm (north or south) is drawn per episode. The observation is 3 bits, a
  function of the cell only: start ``011`` (goal north) or ``110`` (goal south), corridor
  ``101``, junction ``010``. **Design choice:** the start cell always shows the goal signal,
  also when the agent walks back onto it (the observation is a property of the cell, as
  in Bakker's description "the goal is shown at the start cell").
* Actions ``Discrete(4)``: 0 = N, 1 = E, 2 = S, 3 = W. E/W move along the corridor; N/S at
  the junction enter an arm and end the episode; any move into a wall (W at the start, E
  at the junction, N/S in the corridor or at the start) leaves the agent in place.
* Rewards: correct arm +4 (episode ends, success), wrong arm −0.1 (episode ends, no
  success), wall bump −0.1, else 0. ``gamma = 0.98``. The optimal path is N east moves
  and one move into the correct arm: N+1 steps, undiscounted return 4.
* Time limit ``max_steps`` (default 4N + 20): ``done`` on that step, no success.
* Slots that are done stay frozen: further steps return reward 0 and ``done`` True.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import UserError
from .base import BatchedEnv, Discrete

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3


class TMaze(BatchedEnv):
    has_success = True
    supports_select_rows = True
    gamma = 0.98
    observation_shape = (3,)
    action_space = Discrete(4)

    def __init__(self, length: int = 10, max_steps: Optional[int] = None, balanced: bool = True,
                 device="cpu"):
        """
        :param length: N, the number of east moves from the start cell to the junction (>= 1)
        :param max_steps: the time limit; default 4·N + 20
        :param balanced: each member's B episodes alternate the goal arm (starting with a
            random arm per member), so every member sees both arms equally often — the
            fitness of a memoryless policy then no longer fluctuates with the arm counts.
            False: the arm is drawn independently per episode.
        """
        super().__init__(device)
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise UserError(f"bad value {length!r} for tmaze option length; accepted: an integer >= 1")
        if max_steps is None:
            max_steps = 4 * length + 20
        if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
            raise UserError(f"bad value {max_steps!r} for tmaze option max_steps; accepted: an integer >= 1")
        self.length = length
        self.max_steps = max_steps
        self.balanced = bool(balanced)
        # observation table: rows = start(goal north), start(goal south), corridor, junction
        self._codes = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0]],
                                   dtype=torch.float32, device=self.device)
        self.pos: Optional[torch.Tensor] = None   # (P, B) long, 0 … N
        self.goal: Optional[torch.Tensor] = None  # (P, B) long, 0 = north, 1 = south
        self.over: Optional[torch.Tensor] = None  # (P, B) bool, episode finished
        self.t = 0                                # steps taken (the same for all slots)

    def _obs(self) -> torch.Tensor:
        N = self.length
        at_start = self.pos == 0
        row = torch.where(at_start, self.goal,
                          torch.where(self.pos == N, torch.full_like(self.pos, 3), torch.full_like(self.pos, 2)))
        return self._codes[row]

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        if self.balanced:
            first = torch.randint(0, 2, (P, 1), generator=generator, device=self.device)
            self.goal = (first + torch.arange(B, device=self.device)) % 2
        else:
            self.goal = torch.randint(0, 2, (P, B), generator=generator, device=self.device)
        self.pos = torch.zeros(P, B, dtype=torch.long, device=self.device)
        self.over = torch.zeros(P, B, dtype=torch.bool, device=self.device)
        self.t = 0
        return self._obs()

    def select_rows(self, index: torch.Tensor) -> None:
        self.pos, self.goal, self.over = (x.index_select(0, index) for x in (self.pos, self.goal, self.over))

    def step(self, action: torch.Tensor):
        a = action.to(self.device).long().reshape(self.pos.shape)
        N = self.length
        live = ~self.over
        at_junction = self.pos == N
        east = (a == EAST) & (self.pos < N)
        west = (a == WEST) & (self.pos > 0)
        vertical = (a == NORTH) | (a == SOUTH)
        enter = vertical & at_junction
        correct = enter & (((a == NORTH) & (self.goal == 0)) | ((a == SOUTH) & (self.goal == 1)))
        moved = east | west | enter
        valid = moved | ~((a >= 0) & (a <= 3))  # an out-of-range action (only on done slots) is a no-op
        bump = ~valid
        new_pos = self.pos + east.long() - west.long()
        self.pos = torch.where(live, new_pos, self.pos)
        reward = torch.where(correct, 4.0, torch.where(bump | (enter & ~correct), -0.1, 0.0))
        reward = torch.where(live, reward, torch.zeros_like(reward)).to(torch.float32)
        self.t += 1
        done = self.over | enter | (self.t >= self.max_steps)
        success = correct & live
        self.over = done
        return self._obs(), reward, done, {"success": success}
