"""User-facing errors.

Every mistake a user can make (unknown name, malformed spec, bad option value, NaN
fitness, unwritable directory …) raises :class:`UserError` with one line that names the
offending value and what is accepted. The CLI prints that line and exits with status 2,
without a traceback; library callers get an ordinary exception (a ``ValueError``).
"""
from __future__ import annotations

from typing import Iterable


class UserError(ValueError):
    """A mistake in user input; ``str(err)`` is the one-line message."""


def unknown(kind: str, value: object, accepted: Iterable[str]) -> UserError:
    """``unknown env 'foo'; accepted: a, b, c``."""
    names = ", ".join(sorted(accepted))
    return UserError(f"unknown {kind} {value!r}; accepted: {names}")
