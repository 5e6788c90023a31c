"""What both batched engines share (:class:`.boards.Boards` and
:class:`.bitboard.BitBoards`): the start of a move, its bookkeeping, and the loop that
plays a batch of games to the end.

Both engines keep the same per-game fields (``G``, ``M``, ``N``, ``device``, ``done``,
``to_move``, ``plies``, ``winner``, ``reason``) and ``play``/``select`` methods, which is
all these functions use.
"""
from __future__ import annotations

import torch

from ...errors import UserError
from .constants import BLACK, CAPTURE, SUICIDE


def live_moves(b, move: torch.Tensor, active: torch.Tensor | None = None, check: bool = True):
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
    return {"winner": winner, "plies": plies, "reason": reason}


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

