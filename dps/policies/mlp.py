"""Feed-forward policies: MLP (tanh hidden layers) and linear (no hidden layer).

They have no recurrent state (``initial_state`` is ``()``), so they are the memoryless
controls on memory tasks. Layout: ``W0, b0, W1, b1, …, W_out, b_out``.
"""
from __future__ import annotations

from typing import Annotated

import torch

from ..errors import UserError
from ..spec import Range
from .base import Layout, Policy, batched_linear, flat_obs


class MLPPolicy(Policy):
    def __init__(self, obs_shape, out_size: int, hidden: tuple[Annotated[int, Range(1, 65536)], ...] = (32,)):
        """
        :param hidden: hidden layer sizes, e.g. ``mlp:hidden=32+32``; empty = linear
        """
        if isinstance(hidden, int):
            hidden = (hidden,)
        if any(h < 1 for h in hidden):
            raise UserError(f"MLP hidden sizes must be >= 1, got {hidden}")
        self.obs_shape = tuple(obs_shape) if not isinstance(obs_shape, int) else (obs_shape,)
        self.obs_size = int(torch.tensor(self.obs_shape).prod()) if self.obs_shape else 1
        self.out_size = int(out_size)
        self.hidden = tuple(hidden)
        lay = Layout()
        n_in = self.obs_size
        for l, h in enumerate(self.hidden):
            lay.add(f"W{l}", n_in, h)
            lay.add(f"b{l}", h)
            n_in = h
        lay.add("W_out", n_in, self.out_size)
        lay.add("b_out", self.out_size)
        self.layout = lay.blocks
        self.num_params = lay.size
        self.feature_size = n_in

    def describe(self) -> str:
        arch = "→".join(map(str, (self.obs_size, *self.hidden, self.out_size)))
        return f"{'MLP' if self.hidden else 'Linear'}({arch}, {self.num_params} params)"

    def features(self, params, obs, state=(), episode_start=None):
        x = flat_obs(obs, params.dtype)
        for l in range(len(self.hidden)):
            x = torch.tanh(batched_linear(x, self.block(params, f"W{l}"), self.block(params, f"b{l}")))
        return x, ()

    def readout(self, params, feats):
        return batched_linear(feats, self.block(params, "W_out"), self.block(params, "b_out"))

    def step(self, params, obs, state=(), episode_start=None):
        feats, _ = self.features(params, obs)
        return self.readout(params, feats), ()


class LinearPolicy(MLPPolicy):
    def __init__(self, obs_shape, out_size: int):
        super().__init__(obs_shape, out_size, hidden=())
