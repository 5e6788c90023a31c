"""Action spaces shared by environments (which declare them) and policy heads (which act
in them); neither imports the other.

* :class:`Discrete` — ``n`` actions, indices ``0..n-1``.
* :class:`Box` — a continuous vector of ``dim`` components, each in ``[low, high]``.
* :class:`MultiDiscrete` — ``k`` independent choices, component j among ``nvec[j]``
  (gymnasium's MultiDiscrete, and MultiBinary as all 2s).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Discrete:
    """``n`` actions, indices 0..n-1."""

    n: int

    @property
    def out_size(self) -> int:
        return self.n


@dataclass(frozen=True)
class Box:
    """A continuous action vector of ``dim`` components in ``[low, high]`` (per component)."""

    dim: int
    low: tuple[float, ...]
    high: tuple[float, ...]

    @staticmethod
    def uniform(dim: int, low: float, high: float) -> "Box":
        return Box(dim, (float(low),) * dim, (float(high),) * dim)

    @property
    def out_size(self) -> int:
        return self.dim


@dataclass(frozen=True)
class MultiDiscrete:
    """``k = len(nvec)`` choices, component j an index in ``0..nvec[j]-1``; the policy
    outputs one score per choice of every component (``sum(nvec)`` outputs)."""

    nvec: tuple[int, ...]

    @property
    def out_size(self) -> int:
        return int(sum(self.nvec))
