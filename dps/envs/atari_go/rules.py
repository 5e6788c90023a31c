"""Atari-Go (capture Go) rules for G games in lock-step on one device.

Rules (docs: ``/work/shared/ATARI_GO.md``): N×N board, 4-neighbour adjacency, Black
first, strict alternation, no pass, no ko, stones are never removed. A move is legal iff
its point is empty. A move by colour c at p is resolved in this order:

a. an opponent group adjacent to p has p as its only liberty → c wins (``capture``), even
   when c's own new group would have no liberty;
b. else c's group containing p (merged with adjacent own groups) has no liberty → c loses
   (``suicide``);
c. else the stone stays and play passes.

Representation (all tensors on one device, leading dim G)::

    board   (G, N²+1) int8   0 empty, 1 black, 2 white; column N² is the off-board
                             sentinel (value 3) that every border neighbour points to
    label   (G, N²+1) long   group label of each stone (the index of one of its stones);
                             N² (the sentinel) for empty points
    pl, s, ss (G, N²+1)      per-label *pseudo-liberty* statistics of each group: the
                             number of (stone, empty neighbour) pairs, the sum of those
                             neighbours' indices and the sum of their squares

No flood fill is needed: the statistics are additive, so a move updates them in O(1) per
game (subtract the new stone's point from adjacent groups, sum the merged own groups,
relabel the merged stones by comparison with ≤ 4 labels). A group has no liberty iff
``pl == 0`` and exactly one (distinct) liberty iff ``pl·ss == s²`` (Cauchy–Schwarz holds
with equality only when all pseudo-liberties are the same point) — the classic
pseudo-liberty trick of fast Go engines. The same identities, evaluated for every empty
point at once, give the capture, suicide, self-atari, rescue and atari maps the opponents
need (:meth:`Boards.features`).

The view ``grid`` is ``(G, N, N)``; point index ``i·N + j`` is row i, column j.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch

from ...errors import UserError

EMPTY, BLACK, WHITE, BORDER = 0, 1, 2, 3
CAPTURE, SUICIDE = 1, 2
REASONS = {0: None, CAPTURE: "capture", SUICIDE: "suicide"}
COLORS = {BLACK: "black", WHITE: "white"}
MIN_SIZE, MAX_SIZE = 2, 19


def check_size(N) -> int:
    """``N`` as an int in 2..19, else one :class:`UserError` naming it."""
    if isinstance(N, bool) or not isinstance(N, int) or not MIN_SIZE <= N <= MAX_SIZE:
        raise UserError(f"board size must be an integer from {MIN_SIZE} to {MAX_SIZE}, got {N!r}")
    return N


_TABLES: dict = {}


def neighbour_table(N: int, device) -> torch.Tensor:
    """``(N²+1, 4)`` long: up, down, left, right neighbour of each point, N² off-board."""
    key = (N, str(device))
    if key not in _TABLES:
        t = torch.full((N * N + 1, 4), N * N, dtype=torch.long)
        for i in range(N):
            for j in range(N):
                p = i * N + j
                if i > 0:
                    t[p, 0] = p - N
                if i < N - 1:
                    t[p, 1] = p + N
                if j > 0:
                    t[p, 2] = p - 1
                if j < N - 1:
                    t[p, 3] = p + 1
        _TABLES[key] = t.to(device)
    return _TABLES[key]


def _stat_dtype(N: int) -> torch.dtype:
    # pl·ss and s² are at most 16·N⁸ (pl ≤ 4N², indices < N²): int32 holds that up to 9×9
    return torch.int32 if 16 * N ** 8 < 2 ** 31 else torch.int64


def live_moves(b, move: torch.Tensor, active: Optional[torch.Tensor] = None, check: bool = True):
    """Start of a move shared by both engines: ``(q, live)`` — the games of ``b`` that play
    (``active`` and not done) and their moves, 0 in the others. A move off the board in a
    live game raises :class:`UserError` (unless ``check`` is False)."""
    move = move.to(b.device, torch.long).reshape(b.G)
    live = ~b.done if active is None else (active.to(b.device) & ~b.done)
    q = torch.where(live, move, torch.zeros_like(move))
    if check and bool(((q < 0) | (q >= b.M)).any()):
        bad = q[(q < 0) | (q >= b.M)][0].item()
        raise UserError(f"move index {bad} off the {b.N}x{b.N} board (0..{b.M - 1})")
    return q, live


def refuse_occupied(occupied: torch.Tensor, q: torch.Tensor) -> None:
    """One :class:`UserError` naming the first game whose move ``q`` is on an occupied point."""
    if bool(occupied.any()):
        g = int(occupied.nonzero()[0, 0])
        raise UserError(f"illegal move {int(q[g])} in game {g}: the point is occupied")


def play_out(b, players: dict, compact: bool = True, **play_kw) -> dict:
    """Play every game of ``b`` (:class:`Boards` or :class:`.bitboard.BitBoards`, fresh
    boards, Black to move) to the end: ``players[colour].move(b)``, then
    ``b.play(move, **play_kw)``. Once a quarter of the batch has finished, the finished
    games are dropped (``compact``) and each player is told the kept games
    (``select(keep)``). A finished game's result no longer changes, so it is copied out
    only when it leaves the batch or at the end. Returns ``winner``, ``plies``, ``reason``
    (G,) in the original game order."""
    G0, dev = b.G, b.device
    ids = torch.arange(G0, device=dev)
    winner = torch.zeros(G0, dtype=torch.int8, device=dev)
    plies = torch.zeros(G0, dtype=torch.long, device=dev)
    reason = torch.zeros(G0, dtype=torch.int8, device=dev)
    unique = list({id(p): p for p in players.values()}.values())

    def record(rows):
        winner[ids[rows]] = b.winner[rows]
        plies[ids[rows]] = b.plies[rows]
        reason[ids[rows]] = b.reason[rows]

    color = BLACK
    for _ in range(b.M):
        b.play(players[color].move(b), **play_kw)
        color = 3 - color
        n_done = int(torch.count_nonzero(b.done))
        if n_done == b.G:
            break
        if compact and n_done * 4 >= b.G:
            record(b.done.nonzero()[:, 0])
            keep = (~b.done).nonzero()[:, 0]
            b, ids = b.select(keep), ids[keep]
            for pl in unique:
                pl.select(keep)
    record(torch.arange(b.G, device=dev))
    return dict(winner=winner, plies=plies, reason=reason)


def record_outcome(b, c, live, capture, suicide, cont) -> None:
    """Move bookkeeping shared by both engines: plies, winner, end reason, done and the
    side to move of ``b`` after colour ``c`` (G,) moved in the ``live`` games."""
    other = (3 - c).to(torch.int8)
    b.plies = b.plies + live.long()
    b.winner = torch.where(capture, c, torch.where(suicide, other, b.winner))
    b.reason = torch.where(capture, torch.full_like(b.reason, CAPTURE),
                           torch.where(suicide, torch.full_like(b.reason, SUICIDE), b.reason))
    b.done = b.done | capture | suicide
    b.to_move = torch.where(cont, other, c)


_EARLIER = torch.tril(torch.ones(4, 4, dtype=torch.bool), -1)  # [d, d']: d' < d


class Boards:
    """G Atari-Go games in lock-step (see the module docstring)."""

    def __init__(self, N: int, G: int, device="cpu"):
        self.N = check_size(N)
        if G < 1:
            raise UserError(f"number of games must be >= 1, got {G}")
        self.G = int(G)
        self.device = torch.device(device)
        self.M = N * N  # number of points; index M is the off-board sentinel
        self.nbr = neighbour_table(N, self.device)
        self.sdt = _stat_dtype(N)
        self.idx = torch.arange(self.M + 1, device=self.device, dtype=self.sdt)
        self.reset()

    # ---- state -------------------------------------------------------------------------
    def reset(self, mask: Optional[torch.Tensor] = None) -> None:
        """Empty boards (all games, or those where ``mask`` is True)."""
        G, M, dev = self.G, self.M, self.device
        board = torch.zeros(G, M + 1, dtype=torch.int8, device=dev)
        board[:, M] = BORDER
        fresh = dict(
            board=board,
            label=torch.full((G, M + 1), M, dtype=torch.long, device=dev),
            pl=torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            s=torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            ss=torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            to_move=torch.full((G,), BLACK, dtype=torch.int8, device=dev),
            plies=torch.zeros(G, dtype=torch.long, device=dev),
            winner=torch.zeros(G, dtype=torch.int8, device=dev),
            reason=torch.zeros(G, dtype=torch.int8, device=dev),
            done=torch.zeros(G, dtype=torch.bool, device=dev),
        )
        if mask is None:
            for k, v in fresh.items():
                setattr(self, k, v)
        else:
            for k, v in fresh.items():
                old = getattr(self, k)
                m = mask.reshape(-1, *([1] * (old.dim() - 1)))
                setattr(self, k, torch.where(m, v, old))

    def clone(self) -> "Boards":
        new = Boards.__new__(Boards)
        new.__dict__.update(self.__dict__)
        for k in ("board", "label", "pl", "s", "ss", "to_move", "plies", "winner", "reason", "done"):
            setattr(new, k, getattr(self, k).clone())
        return new

    def select(self, index: torch.Tensor) -> "Boards":
        """A new :class:`Boards` holding the games ``index`` (long, may repeat)."""
        new = Boards.__new__(Boards)
        new.__dict__.update(self.__dict__)
        for k in ("board", "label", "pl", "s", "ss", "to_move", "plies", "winner", "reason", "done"):
            setattr(new, k, getattr(self, k)[index])
        new.G = int(index.numel())
        return new

    @property
    def grid(self) -> torch.Tensor:
        """``(G, N, N)`` int8 view of the board: 0 empty, 1 black, 2 white."""
        return self.board[:, : self.M].reshape(self.G, self.N, self.N)

    def legal(self) -> torch.Tensor:
        """``(G, N²)`` bool: empty points (suicide is legal; finished games: empty points)."""
        return self.board[:, : self.M] == EMPTY

    def planes(self, color: torch.Tensor) -> torch.Tensor:
        """``(G, 2, N, N)`` float, player-canonical for ``color`` (G,): channel 0 =
        opponent stones, channel 1 = own stones."""
        g = self.grid
        c = color.to(torch.int8).reshape(-1, 1, 1)
        own = g == c
        opp = (g != EMPTY) & ~own
        return torch.stack((opp, own), 1).float()

    # ---- group statistics --------------------------------------------------------------
    def _neighbours(self, points: torch.Tensor):
        """For ``points`` (G, K) long: colours, labels and group stats of their 4
        neighbours, each (G, K, 4), and the neighbour indices."""
        G, K = points.shape
        nb = self.nbr[points]                       # (G, K, 4)
        flat = nb.reshape(G, K * 4)
        col = self.board.gather(1, flat).reshape(G, K, 4)
        lab = self.label.gather(1, flat)
        pl = self.pl.gather(1, lab).reshape(G, K, 4)
        s = self.s.gather(1, lab).reshape(G, K, 4)
        ss = self.ss.gather(1, lab).reshape(G, K, 4)
        return nb, col, lab.reshape(G, K, 4), pl, s, ss

    @staticmethod
    def _distinct(col, lab):
        """``first`` (…, 4): direction d is a stone whose group did not appear in an
        earlier direction; ``mult`` (…, 4): how many directions touch d's group."""
        stone = (col == BLACK) | (col == WHITE)
        same = (lab.unsqueeze(-1) == lab.unsqueeze(-2)) & stone.unsqueeze(-1) & stone.unsqueeze(-2)
        first = stone & ~(same & _EARLIER.to(col.device)).any(-1)
        mult = same.sum(-1)
        return first, mult

    def _resolve(self, points: torch.Tensor, color: torch.Tensor):
        """Move outcome of ``color`` (G,) playing at each of ``points`` (G, K) (all assumed
        empty): ``capture``, ``suicide`` (G, K) bool, plus the neighbour data."""
        nb, col, lab, pl, s, ss = self._neighbours(points)
        c = color.reshape(-1, 1, 1)
        stone = (col == BLACK) | (col == WHITE)
        atari = stone & (pl * ss == s * s)          # groups with one liberty (here: the point)
        own = col == c
        opp = stone & ~own
        emp = col == EMPTY
        capture = (opp & atari).any(-1)
        suicide = ~capture & ~emp.any(-1) & ~(own & ~atari).any(-1)
        return capture, suicide, (nb, col, lab, pl, s, ss, own, opp, emp)

    # ---- moves -------------------------------------------------------------------------
    def play(self, move: torch.Tensor, active: Optional[torch.Tensor] = None) -> None:
        """Play ``move`` (G,) long (point indices) for the side to move in every game that
        is ``active`` (default: not done). Moves of inactive or finished games are ignored
        (masked); a move on an occupied point of a live game raises :class:`UserError`."""
        G = self.G
        q, live = live_moves(self, move, active)
        refuse_occupied(live & (self.board.gather(1, q[:, None])[:, 0] != EMPTY), q)
        c = self.to_move
        capture, suicide, (nb, col, lab, pl, s, ss, own, opp, emp) = self._resolve(q[:, None], c)
        capture, suicide = capture[:, 0] & live, suicide[:, 0] & live
        nb, col, lab, pl, s, ss = nb[:, 0], col[:, 0], lab[:, 0], pl[:, 0], s[:, 0], ss[:, 0]
        own, emp = own[:, 0], emp[:, 0]
        cont = live & ~capture & ~suicide
        # the stone goes onto the board in every live game (finished games show their last move)
        rows = torch.arange(G, device=self.device)
        self.board[rows, q] = torch.where(live, c, self.board[rows, q])
        # adjacent groups lose q as a liberty (once per touching stone)
        first, mult = self._distinct(col, lab)
        qv = q.to(self.sdt)[:, None]
        w = (first & cont[:, None]).to(self.sdt) * mult.to(self.sdt)
        self.pl.scatter_add_(1, lab, -w)
        self.s.scatter_add_(1, lab, -w * qv)
        self.ss.scatter_add_(1, lab, -w * qv * qv)
        # the merged own group, labelled q
        take = (first & own).to(self.sdt)
        e = emp.to(self.sdt)
        nbv = nb.to(self.sdt)
        npl = ((pl - mult.to(self.sdt) * 1) * take).sum(1) + e.sum(1)
        ns = ((s - mult.to(self.sdt) * qv) * take).sum(1) + (e * nbv).sum(1)
        nss = ((ss - mult.to(self.sdt) * qv * qv) * take).sum(1) + (e * nbv * nbv).sum(1)
        npl, ns, nss = npl.to(self.sdt), ns.to(self.sdt), nss.to(self.sdt)
        self.pl[rows, q] = torch.where(cont, npl, self.pl[rows, q])
        self.s[rows, q] = torch.where(cont, ns, self.s[rows, q])
        self.ss[rows, q] = torch.where(cont, nss, self.ss[rows, q])
        merged = torch.where(own & cont[:, None], lab, torch.full_like(lab, -1))
        hit = (self.label.unsqueeze(-1) == merged.unsqueeze(1)).any(-1)
        self.label = torch.where(hit, q[:, None], self.label)
        self.label[rows, q] = torch.where(cont, q, self.label[rows, q])
        record_outcome(self, c, live, capture, suicide, cont)

    def place(self, points: Sequence[int], color: int, game: int = 0) -> None:
        """Put stones of ``color`` on ``points`` of one game without applying the rules
        (position set-up); groups left without liberty raise :class:`UserError`."""
        for p in points:
            if not 0 <= p < self.M:
                raise UserError(f"set-up point {p} off the {self.N}x{self.N} board")
            if int(self.board[game, p]) != EMPTY:
                raise UserError(f"set-up point {p} given twice")
            self._place_unchecked(int(p), color, game)

    def _place_unchecked(self, p: int, color: int, game: int) -> None:
        sub = self.select(torch.tensor([game], device=self.device))
        sub.done[:] = False
        sub.to_move[:] = color
        q = torch.tensor([p], device=self.device)
        nb, col, lab, pl, s, ss = (t[:, 0] for t in sub._neighbours(q[:, None]))
        first, mult = self._distinct(col, lab)
        own = col == color
        emp = col == EMPTY
        w = first.to(self.sdt) * mult.to(self.sdt)
        qv = q.to(self.sdt)[:, None]
        sub.pl.scatter_add_(1, lab, -w)
        sub.s.scatter_add_(1, lab, -w * qv)
        sub.ss.scatter_add_(1, lab, -w * qv * qv)
        take = (first & own).to(self.sdt)
        e, nbv, m = emp.to(self.sdt), nb.to(self.sdt), mult.to(self.sdt)
        sub.pl[0, p] = (((pl - m) * take).sum() + e.sum()).to(self.sdt)
        sub.s[0, p] = (((s - m * qv) * take).sum() + (e * nbv).sum()).to(self.sdt)
        sub.ss[0, p] = (((ss - m * qv * qv) * take).sum() + (e * nbv * nbv).sum()).to(self.sdt)
        merged = torch.where(own, lab, torch.full_like(lab, -1))
        hit = (sub.label.unsqueeze(-1) == merged.unsqueeze(1)).any(-1)
        sub.label = torch.where(hit, q[:, None], sub.label)
        sub.label[0, p] = p
        sub.board[0, p] = color
        for k in ("board", "label", "pl", "s", "ss"):
            getattr(self, k)[game] = getattr(sub, k)[0]

    @classmethod
    def from_stones(cls, N: int, black: Iterable = (), white: Iterable = (),
                    to_move: Optional[int] = None, G: int = 1, device="cpu") -> "Boards":
        """G copies of a position given by stone lists of ``(row, col)`` pairs or point
        indices. ``to_move`` defaults to Black when both have as many stones, else White."""
        b = cls(N, G, device)
        pts = {}
        for color, stones in ((BLACK, black), (WHITE, white)):
            pts[color] = [b._point(x) for x in stones]
        for color in (BLACK, WHITE):
            for g in range(G):
                b.place(pts[color], color, g)
        stones = b.board[:, : b.M]
        has_stone = (stones == BLACK) | (stones == WHITE)
        lab = b.label[:, : b.M]
        dead = has_stone & (b.pl.gather(1, lab) == 0)
        if bool(dead.any()):
            p = int(dead[0].nonzero()[0, 0])
            raise UserError(f"set-up position has a group without liberty at {divmod(p, N)}")
        if to_move is None:
            to_move = BLACK if len(pts[BLACK]) == len(pts[WHITE]) else WHITE
        if to_move not in (BLACK, WHITE):
            raise UserError(f"to_move must be 1 (black) or 2 (white), got {to_move!r}")
        b.to_move[:] = to_move
        b.plies[:] = len(pts[BLACK]) + len(pts[WHITE])
        return b

    def _point(self, x) -> int:
        if isinstance(x, (tuple, list)):
            r, c = x
            if not (0 <= r < self.N and 0 <= c < self.N):
                raise UserError(f"point {tuple(x)} off the {self.N}x{self.N} board")
            return r * self.N + c
        return int(x)

    # ---- analysis for the opponents ----------------------------------------------------
    def features(self, what: Iterable[str] = ("capture", "suicide")) -> dict:
        """Maps ``(G, N²)`` bool over every point for the side to move (False on occupied
        points):

        * ``legal`` — empty;
        * ``capture`` — the move captures (wins);
        * ``suicide`` — the move loses (no capture, own group left without liberty);
        * ``self_atari`` — no capture and the own group containing the move has exactly
          one liberty afterwards;
        * ``rescue`` — no capture, the move touches an own group that is in atari and the
          merged group has ≥ 2 liberties afterwards;
        * ``atari`` — no capture, no suicide, and an adjacent opponent group is left with exactly one
          liberty.
        """
        what = set(what)
        G, M = self.G, self.M
        pts = self.idx[:M].long().expand(G, M)
        capture, suicide, (nb, col, lab, pl, s, ss, own, opp, emp) = self._resolve(pts, self.to_move)
        legal = self.board[:, :M] == EMPTY
        out = {"legal": legal, "capture": capture & legal, "suicide": suicide & legal}
        if what & {"self_atari", "rescue", "atari"}:
            first, mult = self._distinct(col, lab)
            x = self.idx[:M].reshape(1, M, 1)
            m = mult.to(self.sdt)
            pl_a, s_a, ss_a = pl - m, s - m * x, ss - m * x * x  # groups' stats after the move
            ok = legal & ~capture & ~suicide
            if what & {"self_atari", "rescue"}:
                take = (first & own).to(self.sdt)
                e, nbv = emp.to(self.sdt), nb.to(self.sdt)
                npl = (pl_a * take).sum(-1) + e.sum(-1)
                ns = (s_a * take).sum(-1) + (e * nbv).sum(-1)
                nss = (ss_a * take).sum(-1) + (e * nbv * nbv).sum(-1)
                one = (npl > 0) & (npl * nss == ns * ns)
                two = (npl > 0) & ~one
                out["self_atari"] = ok & one
                in_atari = own & (pl * ss == s * s)
                out["rescue"] = ok & in_atari.any(-1) & two
            if "atari" in what:
                hit = first & opp & (pl_a > 0) & (pl_a * ss_a == s_a * s_a)
                out["atari"] = ok & hit.any(-1)
        return out

    # ---- results -----------------------------------------------------------------------
    def result(self, g: int = 0) -> dict:
        return dict(done=bool(self.done[g]), winner=COLORS.get(int(self.winner[g])),
                    plies=int(self.plies[g]), end_reason=REASONS[int(self.reason[g])])


class Game:
    """One game with checked moves (the single-game API over :class:`Boards`)."""

    def __init__(self, N: int = 5, device="cpu", boards: Optional[Boards] = None):
        self.b = boards if boards is not None else Boards(N, 1, device)
        self.N = self.b.N

    @classmethod
    def from_stones(cls, N, black=(), white=(), to_move=None) -> "Game":
        return cls(N, boards=Boards.from_stones(N, black, white, to_move))

    def play(self, move) -> None:
        """``move``: point index, ``(row, col)`` or text like ``c3`` (see :mod:`.render`)."""
        if self.done:
            raise UserError(f"the game is over ({self.winner} won by {self.end_reason}); no more moves")
        if isinstance(move, str):
            from .render import parse_move

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
    def winner(self) -> Optional[str]:
        return COLORS.get(int(self.b.winner[0]))

    @property
    def plies(self) -> int:
        return int(self.b.plies[0])

    @property
    def end_reason(self) -> Optional[str]:
        return REASONS[int(self.b.reason[0])]

    @property
    def to_move(self) -> str:
        return COLORS[int(self.b.to_move[0])]

    def legal(self) -> torch.Tensor:
        return self.b.legal()[0]

    def render(self) -> str:
        from .render import render

        return render(self.b.grid[0])


def solve(N: int) -> dict:
    """Exact game value by exhaustive search with the batched engine: every position of a
    ply level is expanded at once (one child per empty point), transpositions are merged
    by a base-3 key of the board, and values are backed up level by level.

    Returns ``{"winner": "black"|"white", "first_moves": {point: True if Black wins by
    playing it}, "positions": number of distinct non-terminal positions}``. Feasible up
    to 4×4 (the key is exact up to 5×5).
    """
    check_size(N)
    if N > 5:
        raise UserError(f"solve() handles boards up to 5x5 (exhaustive search), got {N}")
    M = N * N
    weights = torch.tensor([3 ** i for i in range(M)], dtype=torch.long)
    frontier = Boards(N, 1)
    levels = []  # per level: (parent, wins_now, child_slot or -1)
    positions = 0
    while frontier.G > 0:
        positions += frontier.G
        par, mv = frontier.legal().nonzero(as_tuple=True)
        child = frontier.select(par)
        child.play(mv)
        mover = frontier.to_move[par]
        wins_now = child.done & (child.winner == mover)
        alive = (~child.done).nonzero()[:, 0]
        keys = (child.board[alive, :M].long() * weights).sum(1)
        uniq, inv = torch.unique(keys, return_inverse=True)
        first = torch.full((uniq.numel(),), alive.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inv, torch.arange(alive.numel()), reduce="amin")
        slot = torch.full((par.numel(),), -1, dtype=torch.long)
        slot[alive] = inv
        levels.append((par, mv, wins_now, slot, frontier.G))
        frontier = child.select(alive[first])
    value = torch.zeros(0, dtype=torch.bool)  # mover-wins of the next level's positions
    for par, mv, wins_now, slot, G in reversed(levels):
        child_loses = torch.zeros(par.numel(), dtype=torch.bool)
        live = slot >= 0
        child_loses[live] = ~value[slot[live]]
        good = wins_now | child_loses
        value = torch.zeros(G, dtype=torch.long).index_add_(0, par, good.long()) > 0
        root_moves = {int(m): bool(g) for m, g in zip(mv, good)} if G == 1 else None
    return {"winner": "black" if bool(value[0]) else "white", "first_moves": root_moves,
            "positions": positions}
