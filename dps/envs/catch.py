"""Catch: a ball falls down a ``rows × columns`` grid; a paddle on the bottom row catches it.

* Start: the ball is in a random column (uniform, from the reset generator) of the top
  row 0; the paddle is in column ``columns // 2`` of the bottom row ``rows − 1``.
* Actions ``Discrete(3)``: 0 = left, 1 = stay, 2 = right (a move into the side wall
  leaves the paddle in place). Each step the paddle moves, then the ball falls one row.
* When the ball reaches the bottom row (after ``rows − 1`` steps, the episode's fixed
  length) the episode ends with +1 if the paddle is under it (``success``), else −1. All
  other rewards are 0.
* Observation: the grid flattened row-major to ``rows · columns`` floats, 1.0 at the
  ball's cell and at the paddle's cell, 0 elsewhere (as bsuite's catch; the two can only
  share a cell on the final step).
* Done slots stay frozen: further steps return reward 0 and ``done`` True.
* Non-finite numbers: the state is integers and actions are indices, so nothing here can
  become NaN (a policy whose outputs are NaN is the rollout engine's business,
  ``dps/rollout.py``). An action tensor of floats with a NaN/±inf entry is a failure on
  that step — the env's worst outcome, a miss: reward −1, ``done``, no success.
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from ..errors import UserError
from ..spec import Range
from .base import BatchedEnv, Discrete


class Catch(BatchedEnv):
    has_success = True
    supports_select_rows = True
    action_space = Discrete(3)

    def __init__(self, rows: Annotated[int, Range(2, 1024)] = 10, columns: Annotated[int, Range(1, 1024)] = 5,
                 device="cpu"):
        """
        :param rows: grid height (>= 2); an episode lasts rows − 1 steps
        :param columns: grid width (>= 1)
        """
        super().__init__(device)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 2:
            raise UserError(f"bad value {rows!r} for catch option rows; accepted: an integer >= 2")
        if not isinstance(columns, int) or isinstance(columns, bool) or columns < 1:
            raise UserError(f"bad value {columns!r} for catch option columns; accepted: an integer >= 1")
        self.rows, self.columns = rows, columns
        self.max_steps = rows - 1
        self.observation_shape = (rows * columns,)
        self.ball_row: Optional[torch.Tensor] = None  # (P, B) long
        self.ball_col: Optional[torch.Tensor] = None  # (P, B) long
        self.paddle: Optional[torch.Tensor] = None    # (P, B) long, column on the bottom row
        self.over: Optional[torch.Tensor] = None      # (P, B) bool

    def _obs(self) -> torch.Tensor:
        P, B = self.paddle.shape
        C = self.columns
        grid = torch.zeros(P, B, self.rows * C, device=self.device)
        ball = (self.ball_row * C + self.ball_col).unsqueeze(-1)
        pad = ((self.rows - 1) * C + self.paddle).unsqueeze(-1)
        grid = grid.scatter(-1, ball, 1.0)
        return grid.scatter(-1, pad, 1.0)

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        dev = self.device
        self.ball_col = torch.randint(0, self.columns, (P, B), generator=generator, device=dev)
        self.ball_row = torch.zeros(P, B, dtype=torch.long, device=dev)
        self.paddle = torch.full((P, B), self.columns // 2, dtype=torch.long, device=dev)
        self.over = torch.zeros(P, B, dtype=torch.bool, device=dev)
        return self._obs()

    def select_rows(self, index: torch.Tensor) -> None:
        self.ball_row, self.ball_col, self.paddle, self.over = (
            x.index_select(0, index) for x in (self.ball_row, self.ball_col, self.paddle, self.over))

    def step(self, action: torch.Tensor):
        a = action.to(self.device).reshape(self.paddle.shape)
        # float actions could be NaN (.long() would turn it into some index): a miss
        bad = ~torch.isfinite(a) if a.is_floating_point() else None
        a = a.long()
        live = ~self.over
        move = torch.where((a >= 0) & (a <= 2), a - 1, torch.zeros_like(a))
        paddle = (self.paddle + move).clamp(0, self.columns - 1)
        self.paddle = torch.where(live, paddle, self.paddle)
        self.ball_row = torch.where(live, self.ball_row + 1, self.ball_row)
        landed = live & (self.ball_row == self.rows - 1)
        if bad is not None:
            landed = landed | (live & bad)   # ends now, as a miss
        caught = landed & (self.ball_col == self.paddle)
        if bad is not None:
            caught = caught & ~bad
        reward = torch.where(caught, 1.0, torch.where(landed, -1.0, 0.0)).to(torch.float32)
        done = self.over | landed
        self.over = done
        return self._obs(), reward, done, {"success": caught}
