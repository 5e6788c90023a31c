"""Atari-Go (capture Go), bottom to top: :mod:`.constants` (point values, colours, size
check), :mod:`.render` (ASCII boards, move text), :mod:`.lockstep` (what the two batched
engines share), :mod:`.boards` (the general engine), :mod:`.bitboard` (bitboards, N ≤ 7),
:mod:`.game` (one checked game), :mod:`.solver` (exact values), :mod:`.reference` (the
plain one-game oracle), :mod:`.opponents` (the ladder L0–L6) and :mod:`.env`
(:class:`AtariGoEnv`). The report that drives games with a policy lives in the evaluation
layer (:mod:`dps.evaluation.atari_go`)."""
from .boards import Boards
from .constants import BLACK, EMPTY, WHITE, check_size
from .game import Game
from .solver import solve

__all__ = ["BLACK", "EMPTY", "WHITE", "Boards", "Game", "check_size", "solve"]
