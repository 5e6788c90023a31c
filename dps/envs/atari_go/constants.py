"""The bottom of the Atari-Go package: point values, colours, end reasons, board sizes.

Every other module of the package (the engines, the renderer, the opponents, the env)
imports these from here, so none of them has to import another one for a constant.
"""
from __future__ import annotations

from ...errors import UserError

#: point values of a board; BORDER is the off-board sentinel of :class:`.boards.Boards`
EMPTY, BLACK, WHITE, BORDER = 0, 1, 2, 3
#: why a game ended (0: it has not)
CAPTURE, SUICIDE = 1, 2
REASONS = {0: None, CAPTURE: "capture", SUICIDE: "suicide"}
COLORS = {BLACK: "black", WHITE: "white"}
MIN_SIZE, MAX_SIZE = 2, 19


def check_size(N) -> int:
    """``N`` as an int in 2..19, else one :class:`UserError` naming it."""
    if isinstance(N, bool) or not isinstance(N, int) or not MIN_SIZE <= N <= MAX_SIZE:
        raise UserError(f"board size must be an integer from {MIN_SIZE} to {MAX_SIZE}, got {N!r}")
    return N
