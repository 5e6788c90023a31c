"""Bakker's T-maze, a long-term-dependency POMDP (Bakker, *Reinforcement Learning with
Long Short-Term Memory*, NIPS 2001; docs/ENVIRONMENTS.md).

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
* Non-finite numbers: the state is an integer, and actions are indices, so nothing here
  can become NaN (a policy whose outputs are NaN is the rollout engine's business,
  ``dps/rollout.py``). An action tensor of floats with a NaN/±inf entry is a failure on
  that step — the env's worst outcome, as entering the wrong arm: reward −0.1 (the
  lowest reward of a step), ``done``, no success.
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from ..errors import UserError
from ..spec import Range
from .base import BatchedEnv, Discrete

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3


class TMaze(BatchedEnv):
    has_success = True
    supports_select_rows = True
    gamma = 0.98
    observation_shape = (3,)
    action_space = Discrete(4)

    def __init__(self, length: Annotated[int, Range(1, 10_000)] = 10,
                 max_steps: Optional[Annotated[int, Range(1, 1_000_000)]] = None, balanced: bool = True,
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
        self._build_tables()
        self._s: Optional[torch.Tensor] = None    # (P, B) long, 2·pos + goal (the whole state)
        self.over: Optional[torch.Tensor] = None  # (P, B) bool, episode finished
        self.t = 0                                # steps taken (the same for all slots)

    # The dynamics as lookup tables over (state s = 2·pos + goal, action): a step is a dozen
    # tensor ops instead of three dozen (the T-maze is stepped thousands of times per rollout
    # on small batches, where every op's fixed cost dominates). ``tests/test_env_tmaze.py``
    # checks it step by step against the rules written out as comparisons.
    def _build_tables(self) -> None:
        N = self.length
        S = 2 * (N + 1)
        ds, rew, end, win = ([0] * (5 * S + 1) for _ in range(4))
        for s in range(S):
            pos, goal = divmod(s, 2)
            for a in range(4):
                k = 5 * s + a
                if a == EAST and pos < N:
                    ds[k] = 2
                elif a == WEST and pos > 0:
                    ds[k] = -2
                elif a in (NORTH, SOUTH) and pos == N:
                    end[k] = 1
                    win[k] = int((a == NORTH) == (goal == 0))
                    rew[k] = 4.0 if win[k] else -0.1
                else:
                    rew[k] = -0.1          # a wall bump
            # column 4: an action outside 0..3 is a no-op (no move, no reward, not an end)
        # entry 5·S is the no-op every done slot takes; entry 5·S + 1 the failure that a
        # non-finite action causes (module docstring): the wrong arm's end, from any cell
        ds.append(0)
        rew.append(-0.1)
        end.append(1)
        win.append(0)
        dev = self.device
        self._noop = 5 * S
        self._fail = 5 * S + 1
        self._ds = torch.tensor(ds, dtype=torch.long, device=dev)
        self._rew = torch.tensor(rew, dtype=torch.float32, device=dev)
        self._end = torch.tensor(end, dtype=torch.bool, device=dev)
        self._win = torch.tensor(win, dtype=torch.bool, device=dev)
        # observation codes: rows = start(goal north), start(goal south), corridor, junction
        codes = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float32, device=dev)
        pos = torch.arange(S, device=dev) // 2
        row = torch.where(pos == 0, torch.arange(S, device=dev) % 2, torch.where(pos == N, 3, 2))
        self._obs_table = codes[row]                    # (S, 3): the observation of state s

    @property
    def pos(self) -> Optional[torch.Tensor]:
        """(P, B) long, 0 … N: the agent's cell."""
        return None if self._s is None else self._s // 2

    @pos.setter
    def pos(self, value: torch.Tensor) -> None:
        self._s = 2 * value.to(self.device).long() + self._s % 2

    @property
    def goal(self) -> Optional[torch.Tensor]:
        """(P, B) long: the goal arm, 0 = north, 1 = south."""
        return None if self._s is None else self._s % 2

    @goal.setter
    def goal(self, value: torch.Tensor) -> None:
        self._s = self._s - self._s % 2 + value.to(self.device).long()

    def _obs(self) -> torch.Tensor:
        return self._obs_table[self._s]

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        if self.balanced:
            first = torch.randint(0, 2, (P, 1), generator=generator, device=self.device)
            goal = (first + torch.arange(B, device=self.device)) % 2
        else:
            goal = torch.randint(0, 2, (P, B), generator=generator, device=self.device)
        self._s = goal  # pos 0
        self.over = torch.zeros(P, B, dtype=torch.bool, device=self.device)
        self.t = 0
        return self._obs()

    def select_rows(self, index: torch.Tensor) -> None:
        self._s, self.over = self._s.index_select(0, index), self.over.index_select(0, index)

    def step(self, action: torch.Tensor):
        a = action.to(self.device).reshape(self._s.shape)
        # float actions could be NaN (.long() would turn it into some index): a failure
        bad = ~torch.isfinite(a) if a.is_floating_point() else None
        a = a.long().clamp(-1, 4).remainder(5)  # 4: outside 0..3
        k = torch.add(a, self._s, alpha=5)
        if bad is not None:
            k.masked_fill_(bad, self._fail)
        k.masked_fill_(self.over, self._noop)
        self._s = self._s + self._ds[k]
        self.t += 1
        enter = self._end[k]
        done = torch.ones_like(enter) if self.t >= self.max_steps else self.over | enter
        self.over = done
        return self._obs(), self._rew[k], done, {"success": self._win[k]}
