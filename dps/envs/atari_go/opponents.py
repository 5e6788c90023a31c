"""The fixed opponent ladder, vectorised over games.

Each level is a priority list of move classes (maps over the board from
:meth:`~.boards.Boards.features`); a player takes the first non-empty class and picks
uniformly inside it with its own seeded ``torch.Generator``:

====  =========================  ======================================================
L0    ``random``                 any empty point (suicides included)
L1    ``nonsuicide``             non-suicide moves; any if none
L2    ``killer`` / ``naive``     captures; else L1 (never defends, never avoids self-atari)
L3    ``careful``                captures; non-suicide non-self-atari moves; else L1
L4    ``safe``                   captures; rescues (a move touching an own group in atari
                                 that leaves the merged group ≥ 2 liberties); else L3
L5    ``attack``                 captures; rescues; moves that put an opponent group in
                                 atari without self-atari; else L3
L6    ``lookahead``              captures; then, among moves after which the opponent has
                                 no capture (2-ply search with the batched engine), the L5
                                 order; else L5
====  =========================  ======================================================

Captures win the game at once (stones are never removed), so "rescue" and "atari" moves
are evaluated on the current position only; the pseudo-liberty identities of
:mod:`.boards` answer them for all points of all games at once.
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
           "naive": "L2", "careful": "L3", "safe": "L4", "attack": "L5", "lookahead": "L6"}
_NEEDS = {"L0": (), "L1": ("suicide",), "L2": ("capture", "suicide"),
          "L3": ("capture", "suicide", "self_atari"),
          "L4": ("capture", "suicide", "self_atari", "rescue"),
          "L5": ("capture", "suicide", "self_atari", "rescue", "atari")}


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


def _classes(level: str, f: dict) -> list:
    legal = f["legal"]
    if level == "L0":
        return [legal]
    ok = legal & ~f["suicide"]
    if level == "L1":
        return [ok, legal]
    if level == "L2":
        return [f["capture"], ok, legal]
    quiet = ok & ~f["self_atari"]
    if level == "L3":
        return [f["capture"], quiet, ok, legal]
    if level == "L4":
        return [f["capture"], f["rescue"], quiet, ok, legal]
    return [f["capture"], f["rescue"], f["atari"] & quiet, quiet, ok, legal]


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
        if self.level == "L6":
            return self._lookahead_classes(boards)
        f = boards.features(_NEEDS[self.level]) if self.level != "L0" else {"legal": boards.legal()}
        return _classes(self.level, f)

    def select(self, index: torch.Tensor) -> None:
        """Nothing to keep per game (a level draws afresh each move); for :func:`.lockstep.play_out`."""

    def move(self, boards: Boards) -> torch.Tensor:
        """One move ``(G,)`` for the side to move in every game (arbitrary in finished
        games)."""
        return pick(self.classes(boards), self.generator)

    def _lookahead_classes(self, boards: Boards) -> list:
        f = boards.features(_NEEDS["L5"])
        G, M = boards.G, boards.M
        legal = f["legal"]
        cand = legal & ~f["capture"] & ~boards.done[:, None]
        g, p = cand.nonzero(as_tuple=True)
        safe = torch.zeros(G, M, dtype=torch.bool, device=boards.device)
        if g.numel():
            child = boards.select(g)
            child.play(p)
            reply = child.features(("capture",))["capture"].any(-1)
            safe[g, p] = ~child.done & ~reply
        base = _classes("L5", f)
        return [f["capture"]] + [c & safe for c in base[1:]] + base[1:]


def make_opponent(name: str | Opponent, seed: int = 0, device="cpu") -> Opponent:
    return name if isinstance(name, Opponent) else Opponent(name, seed, device)


ENGINES = ("auto", "bits", "boards")


def match_engine(black, white, N: int, engine: str = "auto") -> str:
    """The engine :func:`play_match` uses: ``bits`` (:mod:`.bitboard`) when N ≤ 7 and both
    players are L0–L2, else ``boards`` (:class:`.boards.Boards`); ``engine`` forces one."""
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    levels = [p.level if isinstance(p, Opponent) else opponent_name(p) for p in (black, white)]
    fits = N <= MAX_BITS_N and all(lv in BIT_LEVELS for lv in levels)
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
