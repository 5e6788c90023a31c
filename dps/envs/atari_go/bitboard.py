"""Atari-Go on bitboards: G games in lock-step, each board two machine words.

The general engine (:mod:`.boards`, any N up to 19) keeps a label and pseudo-liberty
statistics per point. For N ≤ 7 a whole board fits one 64-bit word per colour, and the
rules need far fewer tensor operations, so the ladder's cheap players (L0–L2) play their
matches here (:func:`play_match_bits`; :func:`.opponents.play_match` picks this engine by
itself when it can).

Layout: point ``(i, j)`` is bit ``i·W + j`` with ``W = N + 1``; column ``N`` of every row is
a guard bit that no mask ever contains, so the four neighbours of a set are plain shifts by
±1 and ±W, with no edge masks (anything shifted off the board or onto a guard is removed by
the ``&`` with a colour or the empty set that always follows).

Words are int32 up to 5×5 (bits 0–28) and int64 for 6×6 and 7×7 (bits 0–54).

A move by colour c at p (rules: :mod:`.boards`, order capture → suicide → stay) is resolved
from five groups per game, batched as a channel-major (5, G) tensor: p inside c's stones
(c's new group) and each of p's four neighbours inside the opponent's stones. One dilation
step settles most of them (a group that already shows enough liberties); the games with an
unsettled group are flood-filled to the end, on their own, and the fill itself continues
on the still-growing games only once they are few. A group's liberties are its dilation ∩
empty.

Stones are never removed, so only the ≤ 4 groups adjacent to p change liberties. Each
colour therefore keeps ``atari`` — the stones of its groups with exactly one liberty —
updated from the same five flood fills; the capture and suicide maps of all empty points
(the L1/L2 players' questions) follow with a few shifts:

* capture(q) ⇔ q is empty and next to an opponent stone in atari (that group's only
  liberty is then q);
* suicide(q) ⇔ q is empty, no capture, q has no empty neighbour and no neighbouring own
  stone outside ``atari``.

The maps for L3–L5 (self-atari, rescue, atari) are not kept here; those players use
:class:`.boards.Boards`.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from ...errors import UserError
from .boards import Boards
from .constants import BLACK, CAPTURE, SUICIDE, WHITE, check_size
from .lockstep import live_moves, play_out, record_outcome, refuse_occupied

MAX_BITS_N = 7  # 7 rows × 8 bits = 56 bits (+8 for the last shift) fit a signed int64


def _any(mask: torch.Tensor) -> bool:
    """``mask.any()`` for a bool tensor, through a uint8 view (several times faster on CPU)."""
    return bool(mask.view(torch.uint8).any())


def _sides(is_b: torch.Tensor, black: torch.Tensor, white: torch.Tensor):
    """``(own, opp)``: the words of the side to move and of its opponent (``is_b`` (G,):
    Black to move)."""
    return torch.where(is_b, black, white), torch.where(is_b, white, black)


def _put(x: torch.Tensor, cols: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``x`` with its last-dimension entries ``cols`` replaced by ``values``."""
    return x.index_copy(x.dim() - 1, cols, values)


class BitBoards:
    """G Atari-Go games on N×N (N ≤ 7) as bitboards (see the module docstring)."""

    _FIELDS = ("black", "white", "atari_b", "atari_w", "to_move", "plies", "winner", "reason", "done")

    def __init__(self, N: int, G: int, device="cpu"):
        self.N = check_size(N)
        if N > MAX_BITS_N:
            raise UserError(f"the bitboard engine handles boards up to {MAX_BITS_N}x{MAX_BITS_N}, got {N}; "
                            "use dps.envs.atari_go.boards.Boards")
        if G < 1:
            raise UserError(f"number of games must be >= 1, got {G}")
        self.G = int(G)
        self.device = torch.device(device)
        self.M = N * N
        self.W = N + 1
        # int32 words while the highest point bit, (N-1)·W + N-1, stays below the sign bit
        # (N ≤ 5; bits shifted past it are always masked off); int64 up to N = 7
        self.dtype = torch.int32 if (N - 1) * self.W + N - 1 <= 30 else torch.int64
        self.bit = torch.tensor([1 << (i * self.W + j) for i in range(N) for j in range(N)],
                                dtype=self.dtype, device=self.device)      # (M,) bit of each point
        self.full = int(sum(1 << (i * self.W + j) for i in range(N) for j in range(N)))
        #: keep the atari sets (needed by :meth:`features`); a match between two L0
        #: players, which ask no questions, switches it off
        self.track_atari = True
        self.reset()

    # ---- state -------------------------------------------------------------------------
    def reset(self) -> None:
        G, dev = self.G, self.device
        z = torch.zeros(G, dtype=self.dtype, device=dev)
        self.black, self.white, self.atari_b, self.atari_w = z, z.clone(), z.clone(), z.clone()
        self.to_move = torch.full((G,), BLACK, dtype=torch.int8, device=dev)
        self.plies = torch.zeros(G, dtype=torch.long, device=dev)
        self.winner = torch.zeros(G, dtype=torch.int8, device=dev)
        self.reason = torch.zeros(G, dtype=torch.int8, device=dev)
        self.done = torch.zeros(G, dtype=torch.bool, device=dev)

    def select(self, index: torch.Tensor) -> BitBoards:
        """A new :class:`BitBoards` holding the games ``index`` (long or bool mask)."""
        new = BitBoards.__new__(BitBoards)
        new.__dict__.update(self.__dict__)
        for k in self._FIELDS:
            setattr(new, k, getattr(self, k)[index])
        new.G = int(new.done.numel())
        return new

    def clone(self) -> BitBoards:
        return self.select(torch.arange(self.G, device=self.device))

    # ---- conversions -------------------------------------------------------------------
    def to_points(self, x: torch.Tensor) -> torch.Tensor:
        """Bitboards ``x`` (G,) → ``(G, N²)`` bool over the points."""
        return (x.unsqueeze(-1) & self.bit) != 0

    def from_points(self, mask: torch.Tensor) -> torch.Tensor:
        """``(G, N²)`` bool → bitboards (G,) long."""
        return (mask.long() * self.bit.long()).sum(-1).to(self.dtype)

    @property
    def grid(self) -> torch.Tensor:
        """``(G, N, N)`` int8: 0 empty, 1 black, 2 white."""
        g = self.to_points(self.black).to(torch.int8) + 2 * self.to_points(self.white).to(torch.int8)
        return g.reshape(self.G, self.N, self.N)

    def planes(self, color: torch.Tensor) -> torch.Tensor:
        """As :meth:`.boards.Boards.planes`: ``(G, 2, N, N)`` float for ``color`` (G,):
        channel 0 = opponent stones, channel 1 = own stones."""
        own, opp = _sides(color.to(self.device).reshape(-1) == BLACK, self.black, self.white)
        both = torch.stack((opp, own), 1)                                  # (G, 2)
        return self.to_points(both).float().reshape(self.G, 2, self.N, self.N)

    def to_boards(self) -> Boards:
        """The same positions as a general :class:`.boards.Boards`."""
        b = Boards(self.N, self.G, self.device)
        for g in range(self.G):
            pts = {c: self.to_points(x[g : g + 1])[0].nonzero()[:, 0].tolist()
                   for c, x in ((BLACK, self.black), (WHITE, self.white))}
            for c in (BLACK, WHITE):
                b.place(pts[c], c, g)
        for k in ("to_move", "plies", "winner", "reason", "done"):
            setattr(b, k, getattr(self, k).clone())
        return b

    @classmethod
    def from_boards(cls, boards: Boards) -> BitBoards:
        """The positions of a :class:`.boards.Boards` (N ≤ 7) as bitboards."""
        bb = cls(boards.N, boards.G, boards.device)
        g = boards.board[:, : boards.M]
        bb.black, bb.white = bb.from_points(g == BLACK), bb.from_points(g == WHITE)
        for k in ("to_move", "plies", "winner", "reason", "done"):
            setattr(bb, k, getattr(boards, k).clone())
        bb._recompute_atari()
        return bb

    @classmethod
    def from_stones(cls, N: int, black: Iterable = (), white: Iterable = (),
                    to_move: int | None = None, G: int = 1, device="cpu") -> BitBoards:
        """As :meth:`.boards.Boards.from_stones` (same checks and errors)."""
        return cls.from_boards(Boards.from_stones(N, black, white, to_move, G, device))

    # ---- bit helpers -------------------------------------------------------------------
    def point_bits(self, p: torch.Tensor) -> torch.Tensor:
        """The bit of each point index ``p`` (any shape, long): ``1 << (p + p // N)``."""
        p = p.to(self.dtype)
        return torch.ones_like(p) << (p + torch.div(p, self.N, rounding_mode="floor"))

    def _nbrs(self, x: torch.Tensor) -> torch.Tensor:
        """The four neighbours of the set ``x``, guard and off-board bits included (callers
        ``&`` with a colour or the empty set)."""
        W = self.W
        return (x >> 1) | (x << 1) | (x >> W) | (x << W)

    def _fill(self, seeds: torch.Tensor, masks: torch.Tensor):
        """Flood ``seeds`` inside ``masks`` (same shape: (G,) or channel-major (K, G)) to
        their connected components. Returns ``(groups, dilation)``, dilation = groups ∪
        their neighbours, so that ``dilation & empty`` are the groups' liberties. Once
        fewer than a quarter of the games are still growing, the fill continues on those
        games only. (Testing liberties at every step to stop early was measured slower
        than this plain fill; :meth:`_groups` tests once, before filling.)"""
        g = seeds
        while True:
            d = g | self._nbrs(g)
            ng = d & masks
            if torch.equal(ng, g):
                return g, d
            if ng.shape[-1] >= 256:
                moving = ng != g
                if moving.dim() > 1:  # any over channels (uint8 max: ~10x faster than bool any)
                    moving = moving.view(torch.uint8).amax(0).bool()
                cols = moving.nonzero()[:, 0]
                if cols.numel() * 4 < ng.shape[-1]:
                    # games that stopped growing have ng == g, so their d is final
                    dim = ng.dim() - 1
                    sub_g, sub_d = self._fill(ng.index_select(dim, cols), masks.index_select(dim, cols))
                    return _put(ng, cols, sub_g), _put(d, cols, sub_d)
            g = ng

    def _groups(self, seeds, masks, empty, m, own_at):
        """The five groups around the move and their liberties, ``(grp, libs)`` (5, G).

        One dilation step settles most of them: a group whose seed stone already shows
        the liberties the caller needs is not filled (its ``grp`` stays the seed stone and
        ``libs`` holds the liberties seen, which answers every later question). Without
        atari sets (``own_at`` None) one liberty settles a group (it can be neither
        captured nor suicided); with them an opponent group needs two (it stays out of
        atari) and the own group two plus no adjacent own group in atari (whose stones
        would have to leave the atari set). The games with an unsettled group are filled
        completely, on their own."""
        d0 = seeds | self._nbrs(seeds)
        libs = d0 & empty
        if own_at is None:
            settled = (libs != 0) | (seeds == 0)
        else:
            settled = ((libs & (libs - 1)) != 0) | (seeds == 0)
            settled[0] &= (self._nbrs(m) & own_at) == 0
        cols = (~settled).view(torch.uint8).amax(0).nonzero()[:, 0]
        if cols.numel() == 0:
            return seeds, libs
        sub_g, sub_d = self._fill(seeds.index_select(1, cols), masks.index_select(1, cols))
        return _put(seeds, cols, sub_g), _put(libs, cols, sub_d & empty[cols])

    def _recompute_atari(self) -> None:
        """``atari_b`` / ``atari_w`` from scratch (after a set-up): each group is filled from
        its lowest stone until every stone is covered."""
        empty = self.full & ~(self.black | self.white)
        for name, stones in (("atari_b", self.black), ("atari_w", self.white)):
            rest, at = stones.clone(), torch.zeros_like(stones)
            while bool((rest != 0).any()):
                seed = rest & -rest
                grp, d = self._fill(seed, stones)
                libs = d & empty
                one = (libs != 0) & ((libs & (libs - 1)) == 0)
                at = at | torch.where(one, grp, torch.zeros_like(grp))
                rest = rest & ~grp
            setattr(self, name, at)

    # ---- moves -------------------------------------------------------------------------
    def legal(self) -> torch.Tensor:
        """``(G, N²)`` bool: the empty points (suicide is legal)."""
        return ~self.to_points(self.black | self.white)

    def play(self, move: torch.Tensor, active: torch.Tensor | None = None, check: bool = True) -> None:
        """As :meth:`.boards.Boards.play`: ``move`` (G,) point indices for the side to move in
        every live (``active``, not done) game; an occupied point or one off the board in a
        live game raises :class:`UserError` and changes nothing (``check=False`` skips
        those two tests, for moves known to be legal)."""
        q, live = live_moves(self, move, active, check)
        m = self.point_bits(q) * live.to(self.dtype)
        if check:
            refuse_occupied((m & (self.black | self.white)) != 0, q)
        c = self.to_move
        is_b = c == BLACK
        own, opp = _sides(is_b, self.black, self.white)
        own = own | m
        own_at, opp_at = _sides(is_b, self.atari_b, self.atari_w) if self.track_atari else (None, None)
        empty = self.full & ~(own | opp)
        W = self.W
        seeds = torch.stack((m, m >> 1, m << 1, m >> W, m << W))      # (5, G), channel-major
        masks = torch.stack((own, opp, opp, opp, opp))
        seeds &= masks
        grp, libs = self._groups(seeds, masks, empty, m, own_at)
        none = libs == 0
        dead = none[1:] & (seeds[1:] != 0)
        capture = live & (dead[0] | dead[1] | dead[2] | dead[3])
        suicide = live & none[0] & ~capture
        cont = live & ~capture & ~suicide
        if self.track_atari:
            one = ~none & ((libs & (libs - 1)) == 0)
            in_atari = grp * one                                        # groups left in atari
            own_at = (own_at & ~grp[0]) | in_atari[0]
            for k in range(1, 5):
                opp_at = (opp_at & ~grp[k]) | in_atari[k]
        # the stone stays on the board of every live game (finished games show their last move)
        self.black = torch.where(is_b, own, opp)
        self.white = torch.where(is_b, opp, own)
        if self.track_atari:
            self.atari_b = torch.where(cont, torch.where(is_b, own_at, opp_at), self.atari_b)
            self.atari_w = torch.where(cont, torch.where(is_b, opp_at, own_at), self.atari_w)
        record_outcome(self, c, live, capture, suicide, cont)

    # ---- analysis for the opponents ----------------------------------------------------
    def feature_bits(self) -> dict:
        """Bitboards (G,) for the side to move: ``legal`` (empty), ``capture``, ``suicide``."""
        if not self.track_atari:
            raise UserError("these boards were played with track_atari=False; capture and suicide maps need it")
        is_b = self.to_move == BLACK
        own, opp = _sides(is_b, self.black, self.white)
        own_at, opp_at = _sides(is_b, self.atari_b, self.atari_w)
        empty = self.full & ~(own | opp)
        capture = self._nbrs(opp_at) & empty
        suicide = empty & ~self._nbrs(empty) & ~capture & ~self._nbrs(own & ~own_at)
        return {"legal": empty, "capture": capture, "suicide": suicide}

    def features(self, what: Iterable[str] = ("capture", "suicide")) -> dict:
        """As :meth:`.boards.Boards.features` for ``legal``, ``capture`` and ``suicide``
        (``(G, N²)`` bool maps); other maps raise :class:`UserError`."""
        extra = set(what) - {"legal", "capture", "suicide"}
        if extra:
            raise UserError(f"the bitboard engine has no {sorted(extra)} maps (accepted: legal, "
                            "capture, suicide); use dps.envs.atari_go.boards.Boards")
        return {k: self.to_points(v) for k, v in self.feature_bits().items()}

    result = Boards.result  # the same fields, the same dict


# ---- players ---------------------------------------------------------------------------
BIT_LEVELS = ("L0", "L1", "L2")


class BitPlayer:
    """An L0/L1/L2 ladder player on :class:`BitBoards` with its own random stream.

    * L0 (any empty point) plays the first empty point of a random order of the points
      per game (drawn lazily, as far as it is read). The set of empty points only shrinks,
      so given everything played so far the first empty point of the order is uniform
      over the empty points — the same law as a fresh uniform draw per move.
    * L1/L2 take the first non-empty class (L2: capture, then non-suicide, then any) and
      draw uniformly inside it afresh each move.
    """

    def __init__(self, level: str, generator: torch.Generator, boards: BitBoards):
        if level not in BIT_LEVELS:
            raise UserError(f"bitboard players are {', '.join(BIT_LEVELS)}, got {level!r}")
        self.level, self.gen = level, generator
        G, M, dev = boards.G, boards.M, boards.device
        self.bitpos = boards.bit
        if level == "L0":
            # (M, G): the k-th choice of game g; drawn lazily, Fisher–Yates position by
            # position, as far as the pointers have gone (games end long before N² moves)
            self.order = torch.arange(M, device=dev).repeat_interleave(G).view(M, G)
            self.drawn = 0
            self.ptr = torch.zeros(G, dtype=torch.long, device=dev)

    def _draw(self, upto: int) -> None:
        """Make positions ``0..upto`` of every game's order final."""
        M, G = self.order.shape
        stop = min(upto + 1, M - 1)  # position M-1 is final once 0..M-2 are
        if stop > self.drawn:
            _fisher_yates(self.order.view(-1), G, M, self.drawn, stop, self.gen)
            self.drawn = stop

    def select(self, index: torch.Tensor) -> None:
        """Keep the per-game state of the games ``index`` (after compaction)."""
        if self.level == "L0":
            self.order, self.ptr = self.order[:, index].contiguous(), self.ptr[index]

    def move(self, boards: BitBoards) -> torch.Tensor:
        if self.level == "L0":
            occ = boards.black | boards.white
            G, flat = boards.G, self.order.view(-1)
            cols = torch.arange(G, device=boards.device)
            self._draw(int(self.ptr.max()))
            p = flat.index_select(0, self.ptr * G + cols)
            taken = (boards.point_bits(p) & occ) != 0
            if _any(taken):
                # skip the points the other side took, on the games concerned only
                rows = taken.nonzero()[:, 0]
                last = boards.M - 1
                o = occ[rows]
                ptr = (self.ptr[rows] + 1).clamp(max=last)
                while True:
                    self._draw(int(ptr.max()))
                    q = flat.index_select(0, ptr * G + rows)
                    t = ((boards.point_bits(q) & o) != 0) & (ptr < last)
                    if not _any(t):
                        break
                    ptr = ptr + t.long()
                self.ptr = self.ptr.index_put((rows,), ptr)
                p = p.index_put((rows,), q)
            self.ptr = (self.ptr + 1).clamp(max=boards.M - 1)  # p is played next: look past it
            return p
        f = boards.feature_bits()
        ok = f["legal"] & ~f["suicide"]
        chosen = torch.where(ok != 0, ok, f["legal"])
        if self.level == "L2":
            chosen = torch.where(f["capture"] != 0, f["capture"], chosen)
        return uniform_point(chosen, self.bitpos, self.gen)

    def __repr__(self) -> str:
        return f"BitPlayer({self.level})"


def _fisher_yates(flat: torch.Tensor, G: int, M: int, start: int, stop: int,
                  generator: torch.Generator) -> None:
    """Fisher–Yates steps ``start..stop-1`` in place on ``flat``, a flattened (M, G) array of
    G columns: step i swaps position i of every column with a uniform position in i..M-1,
    which makes positions 0..i a uniform random ordered draw without replacement."""
    cols = torch.arange(G, device=flat.device)
    for i in range(start, stop):
        j = torch.randint(i, M, (G,), generator=generator, device=flat.device) * G + cols
        a = flat[i * G : (i + 1) * G].clone()
        flat[i * G : (i + 1) * G] = flat.index_select(0, j)
        flat.index_copy_(0, j, a)


def random_orders(G: int, M: int, generator: torch.Generator, device,
                  values: torch.Tensor | None = None) -> torch.Tensor:
    """``(M, G)`` long: an independent uniform permutation of ``0..M-1`` in each column
    (Fisher–Yates, one vectorised swap per position; cheaper than sorting random keys).
    ``values`` (M,): permute these instead of ``0..M-1`` (the same permutations for the same
    generator state: ``values[random_orders(...)]``)."""
    if values is None:
        values = torch.arange(M, device=device)
    perm = values.repeat_interleave(G)                               # flat (M, G)
    _fisher_yates(perm, G, M, 0, M - 1, generator)
    return perm.view(M, G)


def uniform_point(mask: torch.Tensor, bitpos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A uniformly drawn point of each bitboard in ``mask`` (G,) (0 where it is empty)."""
    bits = (mask.unsqueeze(-1) & bitpos) != 0                          # (G, M)
    csum = bits.to(torch.int16).cumsum(-1)
    count = csum[:, -1].to(torch.float64)
    u = torch.rand(mask.shape[0], generator=generator, device=mask.device, dtype=torch.float64)
    k = (u * count).floor().clamp(max=(count - 1).clamp(min=0)).to(torch.int16)
    return (csum > k.unsqueeze(-1)).to(torch.int8).argmax(-1)


#: games per block of :func:`play_random_games` (bounds its memory: ~30 (N², block) words)
RANDOM_GAMES_BLOCK = 16384


def play_random_games(N: int, games: int, generator: torch.Generator, device="cpu") -> dict:
    """L0 against L0: every ply of every game at once.

    Two L0 players sharing one uniform order per game play that order's points in turn
    (:func:`play_match_bits`), so a game is fixed by its order and ends at the first ply
    whose move captures or is suicide. Since no stone leaves the board before then, the
    position after ply k is the first k + 1 points of the order, split by parity; this
    evaluates the move of every ply k in every game in one batch, ``(N², G)`` words:

    * settled at one look (most plies): the stone has an empty neighbour and every opponent
      stone next to it has one — nothing can be captured or suicided;
    * the rest, a few plies at a time and only on games still live: each colour flood-filled
      from its stones next to an empty point; a stone not reached belongs to a group with no
      liberty (a capture if it is the opponent's next to the move, else a suicide).

    The first ending ply gives ``plies``, the winner and the reason. With the orders that
    :class:`BitPlayer` draws (same generator, every game kept) the games are those of the
    ply-by-ply loop, move for move (tested). Returns the arrays of
    :func:`.opponents.play_match` (``winner``, ``plies``, ``reason``)."""
    proto = BitBoards(N, 1, device)
    stones = random_orders(games, proto.M, generator, device, values=proto.bit)   # (M, G) bit of ply k
    out = [_random_games_block(proto, stones[:, i : i + RANDOM_GAMES_BLOCK])
           for i in range(0, games, RANDOM_GAMES_BLOCK)]
    return {k: torch.cat([o[k] for o in out]) for k in ("winner", "plies", "reason")}


def _random_games_block(b: BitBoards, m: torch.Tensor) -> dict:
    """:func:`play_random_games` on one block: ``m`` (M, G) the stone (bit) of every ply."""
    M, G = b.M, m.shape[1]
    dev = m.device
    m = m.contiguous()
    # own[k]: the mover's stones after ply k (its own earlier plies k-2, k-4, ...); the
    # opponent's are own[k-1]
    own = torch.empty_like(m)
    opp = torch.zeros_like(m)
    own[0], own[1] = m[0], m[1]
    for k in range(2, M):
        torch.bitwise_or(own[k - 2], m[k], out=own[k])
    opp[1:] = own[:-1]
    empty = b.full & ~(own | opp)
    near = b._nbrs(m)
    unsettled = ((near & empty) == 0) | ((near & opp & ~b._nbrs(empty)) != 0)
    # the unsettled plies, a few plies at a time, on the games that have not ended before them
    # (most unsettled plies come after the end, on crowded boards). Every game ends by ply
    # M - 1: on the full board the last stone has no liberty (always unsettled).
    first = torch.full((G,), M, dtype=torch.long, device=dev)
    cap_first = torch.zeros(G, dtype=torch.bool, device=dev)
    live = torch.ones(G, dtype=torch.bool, device=dev)
    step = max(1, M // 8)
    for lo in range(0, M, step):
        k, g = (unsettled[lo : lo + step] & live).nonzero().unbind(1)
        if k.numel() == 0:
            continue
        k = k + lo
        mk, ok, pk, ek = m[k, g], own[k, g], opp[k, g], empty[k, g]
        # the stones of each colour joined to a liberty: flood from the stones next to an
        # empty point (2 channels, and most stones are a step or two from a liberty)
        masks = torch.stack((ok, pk))                                  # (2, n) channel-major
        alive, _ = b._fill(masks & b._nbrs(ek), masks)
        capture = (b._nbrs(mk) & pk & ~alive[1]) != 0
        end = (capture | ((mk & ~alive[0]) != 0)).nonzero()[:, 0]
        if end.numel() == 0:
            continue
        ke, ge = k[end], g[end]
        first.scatter_reduce_(0, ge, ke, "amin")                       # the first ending ply per game
        at = (ke == first[ge]).nonzero()[:, 0]
        cap_first[ge[at]] = capture[end[at]]
        live[ge] = False
        if not _any(live):
            break
    mover = torch.where(first % 2 == 0, BLACK, WHITE).to(torch.int8)
    return {"winner": torch.where(cap_first, mover, 3 - mover).to(torch.int8), "plies": first + 1,
            "reason": torch.where(cap_first, CAPTURE, SUICIDE).to(torch.int8)}


def play_match_bits(black, white, N: int, games: int, generators, device="cpu",
                    compact: bool = True, all_plies: bool = True) -> dict:
    """``games`` games between two bitboard players (levels in :data:`BIT_LEVELS`) on N×N,
    N ≤ 7, with the given ``generators`` ``(black's, white's)``; returns the arrays of
    :func:`.opponents.play_match` (``winner``, ``plies``, ``reason``). L0 against L0 goes
    through :func:`play_random_games` (``all_plies=False``: the ply-by-ply loop)."""
    if black == white == "L0" and all_plies:
        return play_random_games(N, games, generators[0], device)
    b = BitBoards(N, games, device)
    b.track_atari = not (black == white == "L0")
    players = {BLACK: BitPlayer(black, generators[0], b)}
    # two L0 players may share one order per game: every move is then the next point of a
    # uniform random permutation, which is exactly the law of two independent L0 players
    # (each move uniform over the empty points given the past), with no points to skip
    players[WHITE] = players[BLACK] if black == white == "L0" else BitPlayer(white, generators[1], b)
    return play_out(b, players, compact, check=False)
