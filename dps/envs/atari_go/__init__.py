"""Atari-Go (capture Go): batched rules, a plain reference, the opponent ladder, the env."""
from .rules import BLACK, WHITE, Boards, Game, check_size

__all__ = ["Boards", "Game", "BLACK", "WHITE", "check_size"]
