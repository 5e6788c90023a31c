"""Fully recurrent tanh network (Elman) over a population of flat parameter vectors.

The small recurrent nets of the neuroevolution literature (ESP, CoSyNE, CMA-NeuroES on the
double pole without velocities) are of this kind: every hidden unit sees the input and
every unit's previous output::

    h_t = tanh([x_t, h_{t-1}] W + b)             W: (n_obs + H, H), b: (H,)
    out = h_t W_out + b_out                        (``skip``: [h_t, x_t] W_out + b_out)

``x_t`` is the flattened observation times ``input_scale``. Flat layout: ``W``, ``b``,
``W_out``, ``b_out``. State: ``(h,)``, ``(P, B, H)``; reset convention as in
:mod:`dps.policies.base`. With few parameters (3 inputs, 3 units: 25) this is the natural
memory policy for evolution strategies with a full covariance (CMA-ES); the LSTM is the
policy for long time lags.
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from ..errors import UserError
from ..spec import Range
from .base import InputScale, Layout, Policy, batched_linear, flat_obs, reset_where


class RNNPolicy(Policy):
    def __init__(self, obs_shape, out_size: int, hidden: Annotated[int, Range(1, 4096)] = 4,
                 input_scale: tuple[float, ...] = (1.0,), skip: bool = False):
        """
        :param hidden: recurrent tanh units
        :param input_scale: observations are multiplied by this first, one number or one per
            input (as for the LSTM)
        :param skip: the readout also sees the (scaled) observation
        """
        if hidden < 1:
            raise UserError(f"RNN needs hidden >= 1, got hidden={hidden}")
        self.obs_shape = tuple(obs_shape) if not isinstance(obs_shape, int) else (obs_shape,)
        self.obs_size = int(torch.tensor(self.obs_shape).prod()) if self.obs_shape else 1
        self.out_size = int(out_size)
        self._in = InputScale(input_scale, self.obs_size)
        self.hidden, self.input_scale, self.skip = int(hidden), self._in.value, bool(skip)
        lay = Layout()
        lay.add("W", self.obs_size + self.hidden, self.hidden)
        lay.add("b", self.hidden)
        self.feature_size = self.hidden + (self.obs_size if self.skip else 0)
        lay.add("W_out", self.feature_size, self.out_size)
        lay.add("b_out", self.out_size)
        self.layout = lay.blocks
        self.num_params = lay.size

    def describe(self) -> str:
        sk = ", input→readout skip" if self.skip else ""
        return f"RNN({self.obs_size}→{self.hidden} tanh{sk}→{self.out_size}, {self.num_params} params)"

    def initial_state(self, P, B, device=None, dtype=torch.float32):
        return (torch.zeros(P, B, self.hidden, device=device, dtype=dtype),)

    def features(self, params: torch.Tensor, obs: torch.Tensor, state,
                 episode_start: Optional[torch.Tensor] = None):
        x = self._in(flat_obs(obs, params.dtype))
        h = reset_where(state[0], episode_start)
        h = torch.tanh(batched_linear(torch.cat([x, h], -1), self.block(params, "W"), self.block(params, "b")))
        feats = torch.cat([h, x], -1) if self.skip else h
        return feats, (h,)

    def readout(self, params: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return batched_linear(feats, self.block(params, "W_out"), self.block(params, "b_out"))

    def step(self, params, obs, state, episode_start=None):
        feats, state = self.features(params, obs, state, episode_start)
        return self.readout(params, feats), state
