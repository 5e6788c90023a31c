"""The batched environment interface.

A :class:`BatchedEnv` holds P × B independent episodes as tensors with leading dims
``(P, B)`` on one device (P population members, B episodes each). Pure torch, so the same
code runs on a CPU and on CUDA.

Contract (the rollout engine relies on exactly this):

* ``reset(P, B, generator) -> obs``: starts P×B fresh episodes; all randomness of the
  episodes (start states, goal arms, opponents' moves …) is drawn from ``generator`` (a
  ``torch.Generator`` on the env's device, or on the CPU for CPU-stepped envs), so the same
  generator state gives the same episodes.
* ``step(action) -> (obs, reward, done, info)``: ``action`` is ``(P, B)`` long for
  discrete spaces, ``(P, B, dim)`` float for boxes. ``reward`` is ``(P, B)`` float, ``done``
  ``(P, B)`` bool: True on the transition that ends the episode (terminal state *or* the
  env's own time limit ``max_steps``). ``info`` is a dict of ``(P, B)`` tensors; the key
  ``"success"`` (bool), when the env defines success, is read on the step where ``done``
  first becomes True.
* Slots that are already done keep being stepped (lock-step) with arbitrary actions; the
  env must not fail on them, and what it returns there is ignored (masked) by the rollout.
* ``observation_shape``: per-slot observation shape, e.g. ``(3,)`` or ``(2, N, N)``;
  ``observation_size`` is its product. ``action_space``: :class:`Discrete`, :class:`Box` or
  :class:`MultiDiscrete`.
* Optional: ``action_mask() -> (P, B, n)`` bool of legal discrete actions (Atari-Go);
  ``has_success`` says whether ``info["success"]`` is provided.
* Optional: ``select_rows(index)`` (with ``supports_select_rows = True``): keep only the
  members (rows) ``index`` (a sorted ``(P',)`` long tensor of current row indices) of every
  per-slot state tensor, so that the next ``step`` takes ``(P', B)`` actions. An env that
  supports it also **promises that ``step`` draws nothing from the reset generator** (all
  randomness is drawn in ``reset``), so that the rollout may drop finished members and
  defer its own draws without changing any result (see :mod:`dps.rollout`). Envs that
  draw per-slot numbers each step (class-query's noise, Atari-Go's opponents) leave it out.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..spaces import Box, Discrete, MultiDiscrete


class BatchedEnv:
    """Base class; see the module docstring for the contract."""

    #: per-slot observation shape
    observation_shape: tuple[int, ...] = ()
    action_space: "Discrete | Box | MultiDiscrete"
    #: the env's own time limit (it reports ``done`` at this step at the latest)
    max_steps: int = 1000
    #: whether ``info["success"]`` is reported
    has_success: bool = False
    #: whether :meth:`action_mask` is meaningful
    has_action_mask: bool = False
    #: default discount for action-space learners
    gamma: float = 0.99

    def __init__(self, device: "str | torch.device" = "cpu"):
        self.device = torch.device(device)

    @property
    def observation_size(self) -> int:
        return int(math.prod(self.observation_shape))

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def step(self, action: torch.Tensor):
        raise NotImplementedError

    def action_mask(self) -> Optional[torch.Tensor]:
        return None

    #: whether :meth:`select_rows` is implemented (and ``step`` draws no random numbers)
    supports_select_rows: bool = False

    def select_rows(self, index: torch.Tensor) -> None:
        """Optional: keep only rows ``index`` of the per-slot state (module docstring)."""
        raise NotImplementedError(f"{type(self).__name__} does not support select_rows")

    def close(self) -> None:
        """Release resources (worker processes); a no-op for pure-torch envs."""


__all__ = ["BatchedEnv", "Box", "Discrete", "MultiDiscrete"]
