"""A plain one-game-at-a-time Atari-Go: lists, sets and breadth-first search.

This is the test oracle of :mod:`.rules` and the benchmark baseline. It follows
ATARI_GO.md literally: groups and liberty sets are recomputed by BFS for every question.
Points are indices ``i·N + j``; colours 1 = Black, 2 = White.
"""
from __future__ import annotations

import random
from typing import Optional

BLACK, WHITE = 1, 2


class RefGame:
    def __init__(self, N: int):
        if not isinstance(N, int) or not 2 <= N <= 19:
            raise ValueError(f"board size must be an integer from 2 to 19, got {N!r}")
        self.N = N
        self.board = [0] * (N * N)
        self.to_move = BLACK
        self.plies = 0
        self.winner: Optional[int] = None
        self.end_reason: Optional[str] = None
        self.nbrs = []
        for p in range(N * N):
            i, j = divmod(p, N)
            self.nbrs.append([(i + di) * N + j + dj for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                              if 0 <= i + di < N and 0 <= j + dj < N])

    @property
    def done(self) -> bool:
        return self.winner is not None

    def legal(self) -> list[bool]:
        return [v == 0 for v in self.board]

    def group(self, p: int, board=None) -> set:
        """The stones connected to ``p`` (same colour)."""
        board = self.board if board is None else board
        color, seen, todo = board[p], {p}, [p]
        while todo:
            x = todo.pop()
            for y in self.nbrs[x]:
                if board[y] == color and y not in seen:
                    seen.add(y)
                    todo.append(y)
        return seen

    def liberties(self, stones: set, board=None) -> set:
        board = self.board if board is None else board
        return {y for x in stones for y in self.nbrs[x] if board[y] == 0}

    def outcome(self, p: int, color: Optional[int] = None) -> str:
        """What playing ``p`` would do: ``"capture"``, ``"suicide"`` or ``"stay"``."""
        color = self.to_move if color is None else color
        other = 3 - color
        for y in self.nbrs[p]:
            if self.board[y] == other and self.liberties(self.group(y)) == {p}:
                return "capture"
        after = list(self.board)
        after[p] = color
        if not self.liberties(self.group(p, after), after):
            return "suicide"
        return "stay"

    def play(self, p: int) -> None:
        if self.done:
            raise ValueError("the game is over")
        if self.board[p] != 0:
            raise ValueError(f"point {p} is occupied")
        what = self.outcome(p)
        self.board[p] = self.to_move
        self.plies += 1
        if what == "capture":
            self.winner, self.end_reason = self.to_move, "capture"
        elif what == "suicide":
            self.winner, self.end_reason = 3 - self.to_move, "suicide"
        else:
            self.to_move = 3 - self.to_move

    # ---- reference opponents (benchmark baseline and oracle) ----------------------------
    def empty_points(self) -> list[int]:
        return [p for p, v in enumerate(self.board) if v == 0]

    def random_move(self, rng: random.Random) -> int:
        """L0: any empty point."""
        return rng.choice(self.empty_points())

    def killer_move(self, rng: random.Random) -> int:
        """L2: a capture if any (uniform), else a non-suicide move (uniform), else any."""
        empty = self.empty_points()
        kinds = {p: self.outcome(p) for p in empty}
        caps = [p for p in empty if kinds[p] == "capture"]
        if caps:
            return rng.choice(caps)
        safe = [p for p in empty if kinds[p] != "suicide"]
        return rng.choice(safe or empty)


def play_reference_game(N: int, black: str, white: str, rng: random.Random) -> RefGame:
    """One game between reference players ``"L0"`` / ``"L2"``."""
    game = RefGame(N)
    players = {BLACK: black, WHITE: white}
    while not game.done:
        kind = players[game.to_move]
        p = game.random_move(rng) if kind == "L0" else game.killer_move(rng)
        game.play(p)
    return game
