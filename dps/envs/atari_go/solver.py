"""The exact value of small boards by exhaustive search with the batched engine."""
from __future__ import annotations

import torch

from ...errors import UserError
from .boards import Boards
from .constants import check_size


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
