"""One game with checked moves: the single-game API over :class:`.boards.Boards` (the
terminal game of :mod:`dps.play`, the tests' hand-worked positions)."""
from __future__ import annotations

import torch

from ...errors import UserError
from .boards import Boards
from .constants import COLORS, REASONS
from .render import parse_move, render


class Game:
    """One game with checked moves (the single-game API over :class:`Boards`)."""

    def __init__(self, N: int = 5, device="cpu", boards: Boards | None = None):
        self.b = boards if boards is not None else Boards(N, 1, device)
        self.N = self.b.N

    @classmethod
    def from_stones(cls, N, black=(), white=(), to_move=None) -> Game:
        return cls(N, boards=Boards.from_stones(N, black, white, to_move))

    def play(self, move) -> None:
        """``move``: point index, ``(row, col)`` or text like ``c3`` (see :mod:`.render`)."""
        if self.done:
            raise UserError(f"the game is over ({self.winner} won by {self.end_reason}); no more moves")
        if isinstance(move, str):
            p = parse_move(move, self.N)
        else:
            p = self.b._point(move)
        if not 0 <= p < self.N * self.N:
            raise UserError(f"move {move!r} off the {self.N}x{self.N} board")
        if not bool(self.b.legal()[0, p]):
            raise UserError(f"illegal move {move!r}: the point is occupied")
        self.b.play(torch.tensor([p], device=self.b.device))

    @property
    def done(self) -> bool:
        return bool(self.b.done[0])

    @property
    def winner(self) -> str | None:
        return COLORS.get(int(self.b.winner[0]))

    @property
    def plies(self) -> int:
        return int(self.b.plies[0])

    @property
    def end_reason(self) -> str | None:
        return REASONS[int(self.b.reason[0])]

    @property
    def to_move(self) -> str:
        return COLORS[int(self.b.to_move[0])]

    def legal(self) -> torch.Tensor:
        return self.b.legal()[0]

    def render(self) -> str:
        return render(self.b.grid[0])

