"""User-facing errors.

Every mistake a user can make (unknown name, malformed spec, bad option value, NaN
fitness, unwritable directory …) raises :class:`UserError` with one line that names the
offending value and what is accepted. The CLI prints that line and exits with status 2,
without a traceback; library callers get an ordinary exception (a ``ValueError``).

:class:`NonFiniteError` is the one a search raises when it diverges (its centre, σ or
other state would become NaN/inf, or a whole generation's fitness is non-finite); the
searcher's state is left at its last finite value (``dps/algorithms/base.py``).
"""
from __future__ import annotations

from typing import Iterable


class UserError(ValueError):
    """A mistake in user input; ``str(err)`` is the one-line message."""


class NonFiniteError(UserError):
    """A searcher's state (centre, σ, …) or a whole generation's fitness became NaN/inf.

    Raised by ``Searcher.tell`` (or ``ask``) before anything non-finite is kept, so
    ``state_dict()`` — and a run's last checkpoint — still holds the last finite state. The
    usual cause is a step size too large for the problem (learning rate, σ).
    """


def unknown(kind: str, value: object, accepted: Iterable[str]) -> UserError:
    """``unknown env 'foo'; accepted: a, b, c``."""
    names = ", ".join(sorted(accepted))
    return UserError(f"unknown {kind} {value!r}; accepted: {names}")
