"""A plain one-game-at-a-time Atari-Go: lists, sets and breadth-first search.

This is the test oracle of :mod:`.boards` and the benchmark baseline. It follows
ATARI_GO.md literally: groups and liberty sets are recomputed by BFS for every question.
Points are indices ``i·N + j``; colours 1 = Black, 2 = White.
"""
from __future__ import annotations

import random

BLACK, WHITE = 1, 2


class RefGame:
    def __init__(self, N: int):
        if not isinstance(N, int) or not 2 <= N <= 19:
            raise ValueError(f"board size must be an integer from 2 to 19, got {N!r}")
        self.N = N
        self.board = [0] * (N * N)
        self.to_move = BLACK
        self.plies = 0
        self.winner: int | None = None
        self.end_reason: str | None = None
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

    def groups_in_atari(self, color: int, board=None) -> int:
        """How many groups of ``color`` have exactly one liberty."""
        board = self.board if board is None else board
        seen, count = set(), 0
        for q, v in enumerate(board):
            if v == color and q not in seen:
                g = self.group(q, board)
                seen |= g
                count += len(self.liberties(g, board)) == 1
        return count

    def outcome(self, p: int, color: int | None = None) -> str:
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

    # ---- the whole ladder L0-L6, written from ATARI_GO.md one question at a time --------
    def move_classes(self) -> dict:
        """The move classes of the side to move, as sets of points: ``legal``,
        ``capture``, ``suicide``, ``self_atari`` (no capture, the new group has one
        liberty), ``rescue`` (no capture, touches an own group in atari, the merged
        group has ≥ 2 liberties), ``atari`` (no capture, no suicide, an adjacent
        opponent group is left with one liberty) and ``safe`` (no capture, no suicide, and
        afterwards no own group on the board has exactly one liberty)."""
        color, other = self.to_move, 3 - self.to_move
        out = {k: set() for k in ("legal", "capture", "suicide", "self_atari", "rescue", "atari", "safe")}
        for p in self.empty_points():
            out["legal"].add(p)
            kind = self.outcome(p)
            if kind != "stay":
                out[kind].add(p)
                continue
            after = list(self.board)
            after[p] = color
            libs = len(self.liberties(self.group(p, after), after))
            if libs == 1:
                out["self_atari"].add(p)
            if libs >= 2 and any(self.board[y] == color and len(self.liberties(self.group(y))) == 1
                                 for y in self.nbrs[p]):
                out["rescue"].add(p)
            if any(after[y] == other and len(self.liberties(self.group(y, after), after)) == 1
                   for y in self.nbrs[p]):
                out["atari"].add(p)
            if self.groups_in_atari(color, after) == 0:
                out["safe"].add(p)
        return out

    def win_in_two(self, classes: dict | None = None) -> set:
        """L6's second class: safe moves after which the side to move next has no capture
        and no safe move (empty when a capture exists). Each candidate is played on a copy
        and the opponent's classes are computed from scratch."""
        f = self.move_classes() if classes is None else classes
        if f["capture"]:
            return set()
        out = set()
        for p in f["safe"]:
            child = RefGame(self.N)
            child.board, child.to_move = list(self.board), self.to_move
            child.play(p)
            reply = child.move_classes()
            if not reply["capture"] and not reply["safe"]:
                out.add(p)
        return out

    def level_classes(self, level: str) -> list:
        """Priority list of point sets for ladder level ``L0`` … ``L6`` (ATARI_GO.md): the
        player picks uniformly in the first non-empty one."""
        levels = ("L0", "L1", "L2", "L3", "L4", "L5", "L6")
        if level not in levels:
            raise ValueError(f"reference levels are {', '.join(levels)}, got {level!r}")
        f = self.move_classes()
        legal = f["legal"]
        ok = legal - f["suicide"]
        if level == "L0":
            return [legal]
        if level == "L1":
            return [ok, legal]
        if level == "L2":
            return [f["capture"], ok, legal]
        if level == "L3":
            return [f["capture"], ok - f["self_atari"], ok, legal]
        if level == "L4":
            return [f["capture"], f["safe"], ok, legal]
        l5 = [f["capture"], f["safe"] & f["atari"], f["safe"], ok, legal]
        return l5 if level == "L5" else [f["capture"], self.win_in_two(f)] + l5[1:]

    def level_move(self, level: str, rng: random.Random) -> int:
        """A move of ladder level ``level`` (uniform in its first non-empty class)."""
        for cls in self.level_classes(level):
            if cls:
                return rng.choice(sorted(cls))
        raise ValueError("no empty point: the game is over")


def play_reference_game(N: int, black: str, white: str, rng: random.Random,
                        game_cls: type = RefGame) -> RefGame:
    """One game between reference players ``"L0"`` … ``"L6"`` (``L0`` / ``L2`` by the
    benchmark's plain :meth:`RefGame.random_move` / :meth:`RefGame.killer_move`).
    ``game_cls``: a :class:`RefGame` subclass whose ``level_classes`` adds levels (for
    probing variants of the ladder)."""
    game = game_cls(N)
    players = {BLACK: black, WHITE: white}
    while not game.done:
        kind = players[game.to_move]
        if kind == "L0":
            p = game.random_move(rng)
        elif kind == "L2":
            p = game.killer_move(rng)
        else:
            p = game.level_move(kind, rng)
        game.play(p)
    return game


def reference_win_rate(a: str, b: str, N: int, games: int, seed: int = 0,
                       game_cls: type = RefGame) -> dict:
    """:func:`.opponents.win_rate` on this engine: ``a`` against ``b``, colours alternating
    (``b`` Black in game 1), one game at a time with Python's ``random``; ``game_cls`` as
    in :func:`play_reference_game`."""
    rng = random.Random(seed)
    wins = plies = black_games = black_wins = 0
    for i in range(games):
        a_black = i % 2 == 1
        g = play_reference_game(N, a if a_black else b, b if a_black else a, rng, game_cls)
        won = g.winner == (BLACK if a_black else WHITE)
        wins += won
        plies += g.plies
        black_games += a_black
        black_wins += won and a_black
    p = wins / games
    return {"win_rate": p, "stderr": (p * (1 - p) / games) ** 0.5, "games": games,
            "as_black": black_wins / max(black_games, 1),
            "as_white": (wins - black_wins) / max(games - black_games, 1), "mean_plies": plies / games}
