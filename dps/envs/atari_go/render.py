"""ASCII boards and move text.

Coordinates: columns are letters ``a``, ``b``, … (no letter skipped, so 19×19 uses a..s);
rows are numbered 1..N from the *bottom* as on a Go diagram. Text ``c3`` is column c, row
3, i.e. the point ``(i, j) = (N − 3, 2)`` of the ``(row-from-top, column)`` tensor layout and
index ``i·N + j``. Black is ``X``, White ``O``, empty ``.``; the last move may be marked
with brackets.
"""
from __future__ import annotations

import re

import torch

from ...errors import UserError
from .constants import BLACK, EMPTY, WHITE, check_size

LETTERS = "abcdefghijklmnopqrs"
_MOVE = re.compile(r"^\s*([a-zA-Z])\s*(\d{1,2})\s*$")


def point_name(p: int, N: int) -> str:
    """Index ``p`` → text such as ``c3``."""
    i, j = divmod(int(p), N)
    return f"{LETTERS[j]}{N - i}"


def parse_move(text: str, N: int) -> int:
    """Text such as ``c3`` (case-insensitive) → point index; :class:`UserError` with the
    reason for anything else (garbage, off-board)."""
    check_size(N)
    m = _MOVE.match(text if isinstance(text, str) else "")
    if not m:
        raise UserError(f"cannot read move {text!r}; type a column letter a..{LETTERS[N - 1]} "
                        f"and a row number 1..{N}, e.g. {LETTERS[min(2, N - 1)]}{min(3, N)}")
    col = LETTERS.find(m.group(1).lower())
    row = int(m.group(2))
    if not 0 <= col < N or not 1 <= row <= N:
        raise UserError(f"move {text.strip()!r} is off the {N}x{N} board "
                        f"(columns a..{LETTERS[N - 1]}, rows 1..{N})")
    return (N - row) * N + col


def render(grid, last: int | None = None) -> str:
    """``grid`` (N, N) with 0 empty / 1 black / 2 white → multi-line text with
    coordinates; ``last`` (a point index) is shown as ``(X)``.

    Every stone sits at a fixed column, with one gap character on each side of it (the
    gap left of column a and the one right of the last column included), and the brackets
    of the last move replace its two gaps: marking a point never moves another character,
    so all board rows have the same width and stay under the column letters."""
    g = torch.as_tensor(grid).reshape(-1)
    N = round(g.numel() ** 0.5)
    sym = {EMPTY: ".", BLACK: "X", WHITE: "O"}
    header = "    " + " ".join(LETTERS[:N])
    lines = [header]
    width = len(str(N))
    last = None if last is None else int(last)
    for i in range(N):
        gaps = [" "] * (N + 1)                   # gaps[j] is just left of column j
        if last is not None and 0 <= last - i * N < N:
            j = last - i * N
            gaps[j], gaps[j + 1] = "(", ")"
        cells = "".join(gaps[j] + sym.get(int(g[i * N + j]), "?") for j in range(N)) + gaps[N]
        # the right-hand row number is padded so 1-digit and 2-digit rows are equally wide
        lines.append(f"{N - i:>2} {cells} {N - i:<{width}}")
    lines.append(header)
    return "\n".join(lines)
