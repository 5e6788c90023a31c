"""The same numbers for a slot whatever else is batched with it.

A policy evaluates all slots of a rollout in one batch. On the CPU, two kernels make a
slot's float results depend on the batch: a matrix product (``bmm``) takes different code
paths for different row counts M — a row's result differed for M in 1..12 against
M = 300 in measurements, for the same row and weights — and element-wise kernels
(``sigmoid``, ``log``) compute the vectorised part of a tensor with other instructions
than its last ``numel mod 2·lanes`` elements (results differ in the last bit). Slots split
over worker processes would then play slightly different policies than in one process.

:class:`SlotAligned` wraps a policy so that every call sees the episode axis padded with
dummy slots to a multiple of :data:`SLOT_ALIGN` (64, a multiple of every CPU kernel's
unroll width): with M ≡ 0 (mod 64) a row's product was the same for every M and offset
tried (float32 and float64), and every tensor a step computes has a whole number of
vector blocks, so no element takes the scalar tail. The dummy slots see zero
observations; their outputs and state are never read. With more than one intra-op thread,
torch splits large tensors at sizes that are not aligned, so the promise holds with one
thread per process (the CLI's default; worker processes always use one).

Rollouts of envs stepped on the CPU that can be split over workers use it in the main
process and in every worker (:mod:`dps.evaluation`), so ``--workers`` never changes a
number. Batched torch envs never leave the process and run unpadded.

A policy whose step runs in dps's C kernel (:meth:`~dps.policies.lstm.LSTMPolicy.native_spec`)
computes every slot on its own, with the same instructions whatever the batch, so it needs
no padding: its state is kept unpadded and its steps run on the real slots only (with 4
episodes a member, padding would have multiplied the work by 16). Should a step of such a
policy fall back to torch (autograd), its inputs are padded for that call as above.
"""
from __future__ import annotations

from typing import Optional

import torch

#: the episode axis is padded to a multiple of this
SLOT_ALIGN = 64


def _pad(x: Optional[torch.Tensor], B: int, value=0) -> Optional[torch.Tensor]:
    """``x (P, b, ...)`` padded along the episode axis to ``B`` slots with ``value``."""
    if x is None or x.shape[1] == B:
        return x
    pad = x.new_full((x.shape[0], B - x.shape[1], *x.shape[2:]), value)
    return torch.cat([x, pad], 1)


def _pad_state(state, Bp: int):
    """An unpadded recurrent state (a C-kernel policy's) padded with zero slots for one
    torch step; a padded state as it is."""
    return tuple(_pad(s, Bp) for s in state)


def _like(new, old):
    """``new`` cut back to the slots of ``old`` (unpadded states stay unpadded)."""
    return tuple(n[:, :o.shape[1]] if n.shape[1] != o.shape[1] else n for n, o in zip(new, old))


def aligned(B: int) -> int:
    return -(-B // SLOT_ALIGN) * SLOT_ALIGN


class SlotAligned:
    """``policy`` evaluated on an episode axis padded to a multiple of :data:`SLOT_ALIGN`
    (module docstring); outputs and features are returned for the real slots only, the
    recurrent state is kept padded."""

    def __init__(self, policy):
        self.policy = policy

    def __getattr__(self, name):  # num_params, layout, out_size, init_params, describe ...
        return getattr(self.policy, name)

    def __getstate__(self):
        return {"policy": self.policy}

    def __setstate__(self, state):
        self.policy = state["policy"]

    def _native(self, params: torch.Tensor) -> bool:
        """Whether ``policy.step`` runs in the C kernel for ``params`` (module docstring)."""
        spec = getattr(self.policy, "native_spec", None)
        return spec is not None and spec(params) is not None

    def initial_state(self, P: int, B: int, device=None, dtype=torch.float32):
        probe = torch.empty(0, self.policy.num_params, device=device, dtype=dtype)
        return self.policy.initial_state(P, B if self._native(probe) else aligned(B), device=device, dtype=dtype)

    def step(self, params, obs, state, episode_start=None):
        B = obs.shape[1]
        Bp = aligned(B)
        if state[0].shape[1] == B and self._native(params):
            return self.policy.step(params, obs, state, episode_start)
        out, new = self.policy.step(params, _pad(obs, Bp), _pad_state(state, Bp), _pad(episode_start, Bp, False))
        return out[:, :B], _like(new, state)

    def features(self, params, obs, state, episode_start=None):
        B = obs.shape[1]
        Bp = aligned(B)
        feats, new = self.policy.features(params, _pad(obs, Bp), _pad_state(state, Bp),
                                          _pad(episode_start, Bp, False))
        return feats[:, :B], _like(new, state)

    def readout(self, params, feats):
        B = feats.shape[1]
        return self.policy.readout(params, _pad(feats, aligned(B)))[:, :B]


def slot_aligned(policy) -> SlotAligned:
    """``policy`` wrapped once (an aligned policy is returned as it is)."""
    return policy if isinstance(policy, SlotAligned) else SlotAligned(policy)
