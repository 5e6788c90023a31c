"""The fixed opponent ladder, vectorised over games (docs/ATARI_GO.md, "Opponent ladder").

Each level is a priority list of move classes (maps over the board from
:meth:`~.boards.Boards.features`); a player takes the first non-empty class and picks
uniformly inside it with its own seeded ``torch.Generator``. A move is *safe* when it
neither captures nor is suicide and afterwards no own group on the board has exactly one
liberty:

====  =========================  ======================================================
L0    ``random``                 any empty point (suicides included)
L1    ``nonsuicide``             non-suicide moves; any if none
L2    ``killer`` / ``naive``     captures; else L1 (never defends, never avoids self-atari)
L3    ``careful``                captures; non-suicide moves after which the new stone's
                                 group has ≥ 2 liberties; else L1
L4    ``safe``                   captures; safe moves; else L1
L5    ``attack``                 captures; safe moves that leave an adjacent opponent
                                 group in atari; safe moves; else L1
L6    ``win-in-2``               captures; safe moves after which the opponent has no
                                 capture and no safe move (every reply loses at once or
                                 leaves a group to be captured); else as L5
====  =========================  ======================================================

Captures win the game at once (stones are never removed), so every class but L6's second
is a question about the current position that the pseudo-liberty identities of
:mod:`.boards` answer for all points of all games at once. L6 plays the candidate moves on
copies of the boards and asks the same questions for the opponent (:func:`win_in_two`).
"""
from __future__ import annotations

import torch

from ...errors import UserError, unknown
from .bitboard import BIT_LEVELS, MAX_BITS_N, play_match_bits
from .boards import Boards
from .constants import BLACK, WHITE, check_size
from .lockstep import play_out

LEVELS = ("L0", "L1", "L2", "L3", "L4", "L5", "L6")
ALIASES = {"random": "L0", "nonsuicide": "L1", "non-suicide": "L1", "killer": "L2",
           "naive": "L2", "careful": "L3", "safe": "L4", "attack": "L5", "win-in-2": "L6",
           "lookahead": "L6"}
_NEEDS = {"L0": (), "L1": ("suicide",), "L2": ("capture", "suicide"),
          "L3": ("capture", "suicide", "self_atari"), "L4": ("capture", "suicide", "safe"),
          "L5": ("capture", "suicide", "safe", "atari"), "L6": ("capture", "suicide", "safe", "atari")}
# children evaluated per batch by win_in_two: bounds the (children, N², 4) neighbour tensors
_CHILD_POINTS = 1 << 21


def opponent_name(name: str) -> str:
    """Canonical level name for ``name`` (``L2``, ``l2``, ``killer`` …)."""
    if not isinstance(name, str):
        raise unknown("opponent", name, LEVELS + tuple(ALIASES))
    key = name.strip()
    if key.upper() in LEVELS:
        return key.upper()
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    raise unknown("opponent", name, LEVELS + tuple(ALIASES))


def opponent_levels(name: str) -> tuple:
    """The levels of a mix ``"L2+L5+L6"`` (one level is a mix of one), canonical names."""
    if not isinstance(name, str):
        raise unknown("opponent", name, LEVELS + tuple(ALIASES))
    parts = name.split("+")
    if len(parts) > 1 and not all(p.strip() for p in parts):
        raise UserError(f"opponent mix {name!r} has an empty part; write levels joined by '+', e.g. L2+L5+L6")
    return tuple(opponent_name(part) for part in parts)


def _classes(level: str, f: dict) -> list:
    """The priority list of ``level`` from the maps ``f`` (L6's win-in-2 class in ``f["win2"]``)."""
    legal = f["legal"]
    if level == "L0":
        return [legal]
    ok = legal & ~f["suicide"]
    if level == "L1":
        return [ok, legal]
    if level == "L2":
        return [f["capture"], ok, legal]
    if level == "L3":
        return [f["capture"], ok & ~f["self_atari"], ok, legal]
    if level == "L4":
        return [f["capture"], f["safe"], ok, legal]
    l5 = [f["capture"], f["safe"] & f["atari"], f["safe"], ok, legal]
    return l5 if level == "L5" else [f["capture"], f["win2"]] + l5[1:]


def _open_points(boards: Boards) -> torch.Tensor:
    """``(G, N²+1)`` int: 1 at empty points with ≥ 2 empty neighbours (0 at the sentinel)."""
    M = boards.M
    empty = boards.board == 0
    empty[:, M] = False
    n_empty = empty[:, boards.nbr[:M]].sum(-1)                # (G, M)
    out = torch.zeros(boards.G, M + 1, dtype=torch.long, device=boards.device)
    out[:, :M] = (empty[:, :M] & (n_empty >= 2)).long()
    return out


def win_in_two(boards: Boards, f: dict) -> torch.Tensor:
    """``(G, N²)`` bool: safe moves after which the opponent has no capture and no safe
    move (L6's second class; empty in games where a capture exists). ``f``: the side to
    move's maps with ``capture``, ``safe`` and ``atari``.

    Exact, with a filter that only skips moves that cannot qualify: if a safe move puts no
    opponent group in atari, no opponent group is in atari afterwards (none was, or there
    would be a capture ahead of this class), so any empty point that keeps ≥ 2 empty
    neighbours is a safe reply; such a point exists unless every open point (≥ 2 empty
    neighbours) is the move itself or one of its neighbours. Only the other candidates are
    played on copies of the boards, in batches of bounded size.
    """
    G, M = boards.G, boards.M
    # where a capture exists L6 takes it (the first class): the map is left empty there
    safe = f["safe"] & ~boards.done[:, None] & ~f["capture"].any(-1, keepdim=True)
    opened = _open_points(boards)
    near = opened[:, boards.nbr[:M]].sum(-1) + opened[:, :M]   # open points in the move's closed neighbourhood
    cand = safe & (f["atari"] | (opened.sum(-1, keepdim=True) == near))
    win = torch.zeros(G, M, dtype=torch.bool, device=boards.device)
    g, p = cand.nonzero(as_tuple=True)
    step = max(1, _CHILD_POINTS // (4 * M))
    for k in range(0, g.numel(), step):
        gk, pk = g[k:k + step], p[k:k + step]
        child = boards.select(gk)
        child.play(pk)
        r = child.features(("capture", "safe"))
        win[gk, pk] = ~child.done & ~(r["capture"].any(-1) | r["safe"].any(-1))
    return win


def pick(classes: list, generator: torch.Generator) -> torch.Tensor:
    """Uniform choice inside the first non-empty class of each game: ``(G,)`` long."""
    masks = torch.stack(classes)                          # (K, G, M)
    nonempty = masks.any(-1)                              # (K, G)
    k = nonempty.to(torch.int8).argmax(0)                 # first non-empty class
    chosen = masks.gather(0, k.reshape(1, -1, 1).expand(1, *masks.shape[1:]))[0]
    noise = torch.rand(chosen.shape, generator=generator, device=chosen.device)
    return torch.where(chosen, noise, torch.full_like(noise, -1.0)).argmax(-1)


class Opponent:
    """A ladder level with its own random stream.

    :param level: ``L0``..``L6`` or an alias (see the module docstring)
    :param seed: seed of the player's ``torch.Generator``
    """

    def __init__(self, level: str = "L2", seed: int = 0, device="cpu"):
        self.level = opponent_name(level)
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)

    def __repr__(self) -> str:
        return f"Opponent({self.level})"

    def classes(self, boards: Boards) -> list:
        if self.level == "L0":
            return _classes("L0", {"legal": boards.legal()})
        f = boards.features(_NEEDS[self.level])
        if self.level == "L6":
            f["win2"] = win_in_two(boards, f)
        return _classes(self.level, f)

    def select(self, index: torch.Tensor) -> None:
        """Nothing to keep per game (a level draws afresh each move); for :func:`.lockstep.play_out`."""

    def move(self, boards: Boards) -> torch.Tensor:
        """One move ``(G,)`` for the side to move in every game (arbitrary in finished
        games)."""
        return pick(self.classes(boards), self.generator)


class OpponentMix:
    """Several ladder levels in one batch: game g plays ``levels[assign[g]]``, each level
    with its own random stream (seeded from ``seed``). A level sees only its own games, so
    L6's look-ahead costs in proportion to its share of the batch.
    """

    def __init__(self, levels: tuple, assign: torch.Tensor, seed: int = 0, device="cpu"):
        self.players = [Opponent(lv, seed + 7919 * k, device) for k, lv in enumerate(levels)]
        self.level = "+".join(p.level for p in self.players)
        self.assign = assign.to(device)

    def __repr__(self) -> str:
        return f"OpponentMix({self.level})"

    def select(self, index: torch.Tensor) -> None:
        """Keep the level assignment of the games ``index``; for :func:`.lockstep.play_out`."""
        self.assign = self.assign[index]

    def move(self, boards: Boards) -> torch.Tensor:
        out = torch.zeros(boards.G, dtype=torch.long, device=boards.device)
        for k, player in enumerate(self.players):
            idx = (self.assign == k).nonzero()[:, 0]
            if idx.numel():
                out[idx] = player.move(boards.select(idx))
        return out


def make_opponent(name: str | Opponent, seed: int = 0, device="cpu") -> Opponent:
    return name if isinstance(name, Opponent) else Opponent(name, seed, device)


ENGINES = ("auto", "bits", "boards")


def match_engine(black, white, N: int, engine: str = "auto") -> str:
    """The engine :func:`play_match` uses: ``bits`` (:mod:`.bitboard`) when N ≤ 7 and both
    players are L0–L2, else ``boards`` (:class:`.boards.Boards`); ``engine`` forces one."""
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    levels = [p.level if isinstance(p, (Opponent, OpponentMix)) else "+".join(opponent_levels(p))
              for p in (black, white)]
    fits = N <= MAX_BITS_N and all(lv in BIT_LEVELS for mix in levels for lv in mix.split("+"))
    if engine == "bits" and not fits:
        raise UserError(f"engine 'bits' plays {', '.join(BIT_LEVELS)} on boards up to "
                        f"{MAX_BITS_N}x{MAX_BITS_N}; got {levels[0]} vs {levels[1]} on {N}x{N}")
    return "bits" if engine == "bits" or (engine == "auto" and fits) else "boards"


def play_match(black: str | Opponent, white: str | Opponent, N: int, games: int,
               seed: int = 0, device="cpu", compact: bool = True, engine: str = "auto") -> dict:
    """``games`` games of ``black`` against ``white`` on N×N, all in lock-step.

    Finished games are dropped from the batch (``compact``) so that long games do not
    keep short ones' slots busy. ``engine``: see :func:`match_engine` (both engines play
    the same rules and the same players, with different random draws). Returns ``winner``
    (games,) int8 (1 black, 2 white), ``plies`` (games,) long, ``reason`` (games,) int8 and
    the scalars ``black_win_rate``, ``mean_plies``.
    """
    check_size(N)
    if games < 1:
        raise UserError(f"games must be >= 1, got {games}")
    players = {BLACK: make_opponent(black, seed * 2 + 1, device),
               WHITE: make_opponent(white, seed * 2 + 2, device)}
    if match_engine(players[BLACK], players[WHITE], N, engine) == "bits":
        out = play_match_bits(players[BLACK].level, players[WHITE].level, N, games,
                              (players[BLACK].generator, players[WHITE].generator), device, compact)
    else:
        out = play_out(Boards(N, games, device), players, compact)
    return dict(out, black_win_rate=float((out["winner"] == BLACK).float().mean()),
                mean_plies=float(out["plies"].float().mean()))


def win_rate(a: str, b: str, N: int, games: int, seed: int = 0, device="cpu",
             engine: str = "auto") -> dict:
    """Win rate of ``a`` against ``b`` with colours alternating (``a`` Black in half the
    games, White in the other half), with its standard error."""
    half = games // 2
    m1 = play_match(a, b, N, half, seed, device, engine=engine)
    m2 = play_match(b, a, N, games - half, seed + 7919, device, engine=engine)
    wins = int((m1["winner"] == BLACK).sum()) + int((m2["winner"] == WHITE).sum())
    p = wins / games
    return {"win_rate": p, "stderr": (p * (1 - p) / games) ** 0.5, "games": games,
            "as_black": float((m1["winner"] == BLACK).float().mean()),
            "as_white": float((m2["winner"] == WHITE).float().mean()),
            "mean_plies": float(torch.cat((m1["plies"], m2["plies"])).float().mean())}
