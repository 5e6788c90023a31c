"""The general batched engine: Atari-Go (capture Go) rules for G games in lock-step on one
device, any N up to 19.

Rules (``docs/ATARI_GO.md``): N×N board, 4-neighbour adjacency, Black
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

from collections.abc import Iterable, Sequence

import torch

from ...errors import UserError
from .constants import BLACK, BORDER, COLORS, EMPTY, REASONS, WHITE, check_size
from .lockstep import live_moves, record_outcome, refuse_occupied

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
    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Empty boards (all games, or those where ``mask`` is True)."""
        G, M, dev = self.G, self.M, self.device
        board = torch.zeros(G, M + 1, dtype=torch.int8, device=dev)
        board[:, M] = BORDER
        fresh = {
            "board": board,
            "label": torch.full((G, M + 1), M, dtype=torch.long, device=dev),
            "pl": torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            "s": torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            "ss": torch.zeros(G, M + 1, dtype=self.sdt, device=dev),
            "to_move": torch.full((G,), BLACK, dtype=torch.int8, device=dev),
            "plies": torch.zeros(G, dtype=torch.long, device=dev),
            "winner": torch.zeros(G, dtype=torch.int8, device=dev),
            "reason": torch.zeros(G, dtype=torch.int8, device=dev),
            "done": torch.zeros(G, dtype=torch.bool, device=dev),
        }
        if mask is None:
            for k, v in fresh.items():
                setattr(self, k, v)
        else:
            for k, v in fresh.items():
                old = getattr(self, k)
                m = mask.reshape(-1, *([1] * (old.dim() - 1)))
                setattr(self, k, torch.where(m, v, old))

    def clone(self) -> Boards:
        new = Boards.__new__(Boards)
        new.__dict__.update(self.__dict__)
        for k in ("board", "label", "pl", "s", "ss", "to_move", "plies", "winner", "reason", "done"):
            setattr(new, k, getattr(self, k).clone())
        return new

    def select(self, index: torch.Tensor) -> Boards:
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
    def play(self, move: torch.Tensor, active: torch.Tensor | None = None) -> None:
        """Play ``move`` (G,) long (point indices) for the side to move in every game that
        is ``active`` (default: not done). Moves of inactive or finished games are ignored
        (masked); a move on an occupied point of a live game raises :class:`UserError`."""
        G = self.G
        q, live = live_moves(self, move, active)
        refuse_occupied(live & (self.board.gather(1, q[:, None])[:, 0] != EMPTY), q)
        c = self.to_move
        capture, suicide, (nb, col, lab, pl, s, ss, own, _opp, emp) = self._resolve(q[:, None], c)
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
                    to_move: int | None = None, G: int = 1, device="cpu") -> Boards:
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
          liberty;
        * ``safe`` — no capture, no suicide, and afterwards no own group on the board has
          exactly one liberty (the new stone's group has ≥ 2 and it touches every own group
          that was in atari: stones are never removed, so a group away from the move keeps
          its liberties).
        """
        what = set(what)
        G, M = self.G, self.M
        pts = self.idx[:M].long().expand(G, M)
        capture, suicide, (nb, col, lab, pl, s, ss, own, opp, emp) = self._resolve(pts, self.to_move)
        legal = self.board[:, :M] == EMPTY
        out = {"legal": legal, "capture": capture & legal, "suicide": suicide & legal}
        if what & {"self_atari", "rescue", "atari", "safe"}:
            first, mult = self._distinct(col, lab)
            x = self.idx[:M].reshape(1, M, 1)
            m = mult.to(self.sdt)
            pl_a, s_a, ss_a = pl - m, s - m * x, ss - m * x * x  # groups' stats after the move
            ok = legal & ~capture & ~suicide
            if what & {"self_atari", "rescue", "safe"}:
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
                if "safe" in what:
                    out["safe"] = ok & two & ((first & in_atari).sum(-1) == self._groups_in_atari()[:, None])
            if "atari" in what:
                hit = first & opp & (pl_a > 0) & (pl_a * ss_a == s_a * s_a)
                out["atari"] = ok & hit.any(-1)
        return out

    def _groups_in_atari(self) -> torch.Tensor:
        """``(G,)`` the number of groups of the side to move with exactly one liberty
        (each group counted at its label point)."""
        M = self.M
        root = (self.label[:, :M] == self.idx[:M].long()) & (self.board[:, :M] == self.to_move[:, None])
        pl, s, ss = self.pl[:, :M], self.s[:, :M], self.ss[:, :M]
        return (root & (pl > 0) & (pl * ss == s * s)).sum(-1)

    # ---- results -----------------------------------------------------------------------
    def result(self, g: int = 0) -> dict:
        return {"done": bool(self.done[g]), "winner": COLORS.get(int(self.winner[g])),
                "plies": int(self.plies[g]), "end_reason": REASONS[int(self.reason[g])]}
