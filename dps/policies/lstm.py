"""Batched LSTM policy over a population of flat parameter vectors.

Per layer l (input size n_l, H cells), gates in the order i, f, g, o (Gers et al. 2002
with optional peepholes p_i, p_f, p_o)::

    z      = [x, h_{t-1}] W + b                     W: (n_l + H, 4H), b: (4H,)
    i      = σ(z_i + p_i ⊙ c_{t-1})
    f      = σ(z_f + p_f ⊙ c_{t-1})
    g      = tanh(z_g)
    c_t    = f ⊙ c_{t-1} + i ⊙ g
    o      = σ(z_o + p_o ⊙ c_t)
    h_t    = o ⊙ tanh(c_t)

Readout: ``out = h_t^{(L)} W_out + b_out``. Flat layout (row of ``params``): for each layer
``W{l}``, ``b{l}``, [``peep{l}`` (3H)], then ``W_out``, ``b_out`` — see ``layout``.

``skip=True`` (opt-in; default off) adds an input→readout skip path: the features are
``[h_t^{(L)}, x_t]`` (x_t = the flattened observation times ``input_scale``, the first
layer's input), so ``out = [h_t, x_t] W_out + b_out`` with ``W_out: (H + n_obs, out)``.
A reactive behaviour (e.g. "corridor ⇒ east" in the T-maze) then needs no cells, which
stay free for the memory (docs/RPG.md). With ``skip=False`` the layout and every
computation are exactly the plain LSTM's.
State: ``(h, c)`` each ``(P, B, L, H)`` … stored as a tuple of per-layer tensors.
Reset convention: see :mod:`dps.policies.base`.

``fast_tanh=True`` (opt-in; default off) computes every tanh as ``2σ(2x) − 1``: the g
block's ``2z_g`` is folded into the one sigmoid over all four gate blocks (doubling is
exact), and ``tanh(c_t)`` becomes a sigmoid. Same function, different rounding (absolute
difference per tanh up to ~2·10⁻⁷ in float32, ~10⁻¹⁶ in float64); 1.4–1.5× faster CartPole rollouts
at P×B = 256×16 on the CPU (docs/BENCHMARKS.md), where
torch's float tanh is a scalar loop (~5 ns per element vs < 1 ns for the vectorised
sigmoid). Results (returns, actions) can therefore differ from the default in rare
near-tie cases; it is not used unless asked for.
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from .. import native
from ..errors import UserError
from ..native import lstm as native_lstm
from ..spec import Range
from .base import InputScale, Layout, Policy, batched_linear, flat_obs, reset_where

#: the C step is used up to this many cells per layer: 1.1–2.6× the torch step there, 0.6–1.1×
#: from 128 cells on, where torch's matrix products win (docs/BENCHMARKS.md)
NATIVE_MAX_HIDDEN = 64


def _fast_tanh(x: torch.Tensor) -> torch.Tensor:
    """``tanh(x) = 2σ(2x) − 1`` (vectorised sigmoid; see the module docstring)."""
    return torch.sigmoid(x * 2.0) * 2.0 - 1.0


def _cell(z: torch.Tensor, c: torch.Tensor, H: int, fast_tanh: bool):
    """``(h, c)`` of a cell without peepholes from its fresh gate pre-activations ``z``
    (``(..., 4H)``, modified in place with ``fast_tanh``) and the previous ``c``; the
    arithmetic of :meth:`LSTMPolicy.features` and of :meth:`LSTMPolicy.row_step`."""
    if fast_tanh:
        # σ over [z_i, z_f, 2 z_g, z_o] (z is this step's fresh product: the in-place
        # doubling is exact and autograd-safe); g = 2σ(2 z_g) − 1
        z[..., 2 * H:3 * H].mul_(2.0)
        s = torch.sigmoid(z)
        i, f, o = s[..., :H], s[..., H:2 * H], s[..., 3 * H:]
        # c = f c + i (2σ(2 z_g) − 1);  h = o (2σ(2c) − 1), with fused multiply-adds
        c = torch.addcmul(torch.addcmul(-i, f, c), i, s[..., 2 * H:3 * H], value=2.0)
        return torch.addcmul(-o, o, torch.sigmoid(c * 2.0), value=2.0), c
    # one sigmoid over all four contiguous blocks (fewer kernels); g uses tanh
    s = torch.sigmoid(z)
    i, f, o = s[..., :H], s[..., H:2 * H], s[..., 3 * H:]
    c = f * c + i * torch.tanh(z[..., 2 * H:3 * H])
    return o * torch.tanh(c), c


class LSTMPolicy(Policy):
    def __init__(self, obs_shape, out_size: int, hidden: Annotated[int, Range(1, 4096)] = 16,
                 layers: Annotated[int, Range(1, 16)] = 1,
                 peepholes: bool = False, forget_bias: float = 1.0, input_scale: tuple[float, ...] = (1.0,),
                 fast_tanh: bool = False, skip: bool = False, input_bias: float = 0.0,
                 chrono: Annotated[int, Range(0, 10 ** 9)] = 0):
        """
        :param obs_shape: per-slot observation shape (flattened on input)
        :param out_size: number of outputs (the head's size)
        :param hidden: cells per layer
        :param layers: stacked LSTM layers
        :param peepholes: add peephole connections from the cell state to the gates
        :param forget_bias: added to the forget-gate bias in :meth:`init_params`
        :param input_scale: observations are multiplied by this before the first layer (a
            reparameterisation: small raw inputs, e.g. angles in radians whose step-to-step
            differences carry the velocity, need input weights far larger than the search's
            exploration scale otherwise): one number, or one per (flattened) input, written
            ``0.5+1.5+1.5`` in a spec (:class:`~dps.policies.base.InputScale`)
        :param fast_tanh: compute tanh as ``2σ(2x) − 1`` (faster on the CPU, not
            bit-identical to the default; module docstring)
        :param skip: input→readout skip path: the readout (and ``features``) see
            ``[h_t, x_t]`` instead of ``h_t`` (module docstring)
        :param input_bias: added to the input-gate bias in :meth:`init_params` (negative =
            gates start nearly closed, so a long constant input stream does not drive the
            cells into saturation — Hochreiter & Schmidhuber's remedy for "internal state
            drift", 1997)
        :param chrono: chrono initialisation for dependencies of up to about this many steps
            (Tallec & Ollivier, *Can recurrent neural networks warp time?*, ICLR 2018): each
            cell's forget-gate bias is log(u), u ~ U(1, chrono − 1), and its input-gate bias
            −log(u), so the cells start with forgetting times spread from 1 to ``chrono``
            steps; 0 (default): off. It sets those two biases, so it is refused together
            with ``forget_bias`` or ``input_bias`` other than their defaults.
        """
        if hidden < 1 or layers < 1:
            raise UserError(f"LSTM needs hidden >= 1 and layers >= 1, got hidden={hidden}, layers={layers}")
        if chrono and chrono < 3:
            raise UserError(f"lstm option chrono must be 0 (off) or at least 3, got {chrono}")
        if chrono and (forget_bias != 1.0 or input_bias != 0.0):
            raise UserError(f"lstm option chrono={chrono} sets the forget- and input-gate biases; it cannot be "
                            f"combined with forget_bias={forget_bias} or input_bias={input_bias}")
        self.chrono = int(chrono)
        self.obs_shape = tuple(obs_shape) if not isinstance(obs_shape, int) else (obs_shape,)
        self.obs_size = int(torch.tensor(self.obs_shape).prod()) if self.obs_shape else 1
        self.out_size = int(out_size)
        self.hidden, self.layers, self.peepholes = hidden, layers, peepholes
        self.forget_bias = forget_bias
        self.input_bias = float(input_bias)
        self._in = InputScale(input_scale, self.obs_size)
        self.input_scale = self._in.value
        self.fast_tanh = bool(fast_tanh)
        self.skip = bool(skip)
        lay = Layout()
        n_in = self.obs_size
        for l in range(layers):
            lay.add(f"W{l}", n_in + hidden, 4 * hidden)
            lay.add(f"b{l}", 4 * hidden)
            if peepholes:
                lay.add(f"peep{l}", 3 * hidden)
            n_in = hidden
        self.feature_size = hidden + (self.obs_size if self.skip else 0)
        lay.add("W_out", self.feature_size, self.out_size)
        lay.add("b_out", self.out_size)
        self.layout = lay.blocks
        self.num_params = lay.size

    def describe(self) -> str:
        pe = ", peepholes" if self.peepholes else ""
        pe += ", fast tanh" if self.fast_tanh else ""
        pe += ", input→readout skip" if self.skip else ""
        pe += f", chrono init ≤ {self.chrono} steps" if self.chrono else ""
        pe += "" if self._in.uniform == 1.0 else f", inputs × {self.input_scale}"
        return f"LSTM({self.obs_size}→{self.layers}×{self.hidden}{pe}→{self.out_size}, {self.num_params} params)"

    def initial_state(self, P, B, device=None, dtype=torch.float32):
        z = torch.zeros(P, B, self.hidden, device=device, dtype=dtype)
        return tuple(z for _ in range(2 * self.layers))

    def init_params(self, generator=None, scale=1.0, dtype=torch.float32):
        out = super().init_params(generator, scale, dtype)
        if scale != 0:
            H = self.hidden
            for l in range(self.layers):
                sl, _ = self.layout[f"b{l}"]
                if self.chrono:  # gate order in a bias block: input, forget, cell, output
                    u = 1.0 + (self.chrono - 2) * torch.rand(H, generator=generator, dtype=torch.float64)
                    out[sl.start + H: sl.start + 2 * H] = torch.log(u).to(dtype)
                    out[sl.start: sl.start + H] = -torch.log(u).to(dtype)
                    continue
                out[sl.start + H: sl.start + 2 * H] += self.forget_bias
                if self.input_bias != 0.0:
                    out[sl.start: sl.start + H] += self.input_bias
        return out

    def features(self, params: torch.Tensor, obs: torch.Tensor, state,
                 episode_start: Optional[torch.Tensor] = None):
        """Last layer's ``h_t (P, B, H)`` — ``[h_t, x_t] (P, B, H + n_obs)`` with ``skip`` —
        and the new state."""
        x = self._in(flat_obs(obs, params.dtype))
        H = self.hidden
        x_in = x
        new_state = []
        for l in range(self.layers):
            h = reset_where(state[2 * l], episode_start)
            c = reset_where(state[2 * l + 1], episode_start)
            W = self.block(params, f"W{l}")
            b = self.block(params, f"b{l}")
            z = batched_linear(torch.cat([x, h], -1), W, b)
            tanh = _fast_tanh if self.fast_tanh else torch.tanh
            if self.peepholes:
                zi, zf, zg, zo = z.split(H, -1)
                pi, pf, po = self.block(params, f"peep{l}").unsqueeze(1).split(H, -1)
                i, f = torch.sigmoid(zi + pi * c), torch.sigmoid(zf + pf * c)
                c = f * c + i * tanh(zg)
                h = torch.sigmoid(zo + po * c) * tanh(c)
            else:
                h, c = _cell(z, c, H, self.fast_tanh)
            new_state += [h, c]
            x = h
        if self.skip:
            x = torch.cat([x, x_in], -1)
        return x, tuple(new_state)

    def readout(self, params: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return batched_linear(feats, self.block(params, "W_out"), self.block(params, "b_out"))

    def step(self, params, obs, state, episode_start=None):
        fast = self._native_step(params, obs, state, episode_start)
        if fast is not None:
            return fast
        feats, state = self.features(params, obs, state, episode_start)
        return self.readout(params, feats), state

    def __getstate__(self):
        # the C kernel's block offsets are rebuilt on demand; a pickled policy (worker
        # processes, checkpoints) carries only its definition
        state = dict(self.__dict__)
        state.pop("_native_spec", None)
        return state

    def native_spec(self, params: torch.Tensor) -> Optional[dict]:
        """What the C kernels (:mod:`dps.native.lstm`) need to run this policy on ``params``,
        or None where the torch path runs: autograd, a GPU, a dtype other than float32/64,
        more than :data:`NATIVE_MAX_HIDDEN` cells, a subclass that changes the step, kernels
        off (``DPS_NATIVE=0``). Same function;
        rounding differs from the torch path by a few units in the last place per gate
        (docs/BENCHMARKS.md)."""
        if (params.device.type != "cpu" or params.dtype not in (torch.float32, torch.float64)
                or self.hidden > NATIVE_MAX_HIDDEN or (torch.is_grad_enabled() and params.requires_grad)
                or type(self).features is not LSTMPolicy.features or type(self).step is not LSTMPolicy.step
                or type(self).readout is not LSTMPolicy.readout or not native.enabled()):
            return None
        spec = self.__dict__.get("_native_spec")
        if spec is None:
            offs = []
            for l in range(self.layers):
                offs += [self.layout[f"W{l}"][0].start, self.layout[f"b{l}"][0].start,
                         self.layout[f"peep{l}"][0].start if self.peepholes else -1]
            offs += [self.layout["W_out"][0].start, self.layout["b_out"][0].start]
            spec = self.__dict__["_native_spec"] = dict(
                offsets=torch.tensor(offs, dtype=torch.int64), hidden=self.hidden, layers=self.layers,
                skip=self.skip, n_out=self.out_size,
                input_scale={t: self._in.factors("cpu", t) for t in (torch.float32, torch.float64)})
        return spec

    def _native_step(self, params, obs, state, episode_start):
        """The step by the C kernel, or None (:meth:`native_spec`)."""
        spec = self.native_spec(params)
        if spec is None or (torch.is_grad_enabled() and (obs.requires_grad or any(s.requires_grad for s in state))):
            return None
        x = flat_obs(obs, params.dtype).contiguous()
        if episode_start is not None:
            state = tuple(reset_where(s, episode_start) for s in state)
        state = tuple(s.to(params.dtype).contiguous() for s in state)
        return native_lstm.lstm_step(params.contiguous(), x, state, spec["offsets"], self.hidden, self.skip,
                                     self.out_size, spec["input_scale"][params.dtype])

    def sequence(self, params: torch.Tensor, obs: torch.Tensor) -> Optional[torch.Tensor]:
        """The whole sequence through ``torch.lstm`` (one ATen call, its own backward):
        the same gates in the same order (i, f, g, o) as :meth:`features`, with the input
        and recurrent halves of each ``W{l}`` as ``w_ih`` / ``w_hh``. Measured 26× faster
        than the step loop for forward + backward at T = 420, B = 32, 16 cells. Not with
        peepholes (torch's LSTM has none); ``fast_tanh`` is the same function, so it takes
        this path too."""
        overridden = type(self).features is not LSTMPolicy.features or type(self).step is not LSTMPolicy.step
        if self.peepholes or params.shape[0] != 1 or overridden:
            return None
        T, B = obs.shape[:2]
        x = self._in(flat_obs(obs, params.dtype))
        H, weights, n_in = self.hidden, [], self.obs_size
        for l in range(self.layers):
            W, b = self.block(params, f"W{l}")[0], self.block(params, f"b{l}")[0]
            weights += [W[:n_in].t(), W[n_in:].t(), b, torch.zeros_like(b)]
            n_in = H
        h0 = torch.zeros(self.layers, B, H, device=x.device, dtype=x.dtype)
        h, _, _ = torch.lstm(x, (h0, h0), weights, True, self.layers, 0.0, False, False, False)
        feats = torch.cat([h, x], -1) if self.skip else h
        return self.readout(params, feats.reshape(1, T * B, -1)).view(T, B, self.out_size)

    def row_step(self, params: torch.Tensor):
        """``step(obs, state) -> (out, state)`` for one parameter row ``params (1, D)``
        without autograd, computing what :meth:`step` computes (the C kernel where
        :meth:`native_spec` allows it, else :meth:`features` and :meth:`readout`'s torch
        arithmetic: the same ops in the same order, on 2-D ``(B, ·)`` views; the same
        numbers on the CPU, tested), with the checks, weight-block slicing and 3-D wrappers
        of :meth:`step` done once per rollout instead of at every step: at B = 256 they
        cost about as much as the torch arithmetic. RPG's sampling rollout calls it once
        per step. None where that arithmetic is not :meth:`features`' own (a subclass that
        changes the step, peepholes) or for several rows or a ``params`` that requires
        grad."""
        overridden = (type(self).features is not LSTMPolicy.features or type(self).step is not LSTMPolicy.step
                      or type(self).readout is not LSTMPolicy.readout)
        if self.peepholes or params.shape[0] != 1 or params.requires_grad or overridden:
            return None
        H, L, scale, skip, fast = self.hidden, self.layers, self._in, self.skip, self.fast_tanh
        Ws = [(self.block(params, f"W{l}")[0], self.block(params, f"b{l}")[0]) for l in range(L)]
        W_out, b_out = self.block(params, "W_out")[0], self.block(params, "b_out")[0]
        dtype = params.dtype

        def torch_step(obs: torch.Tensor, state):
            B = obs.shape[1]
            x = obs.reshape(B, -1)
            if x.dtype != dtype:
                x = x.to(dtype)
            x = scale(x)
            x_in, new = x, []
            for l, (W, b) in enumerate(Ws):
                h, c = state[2 * l][0], state[2 * l + 1][0]
                h, c = _cell(torch.addmm(b, torch.cat([x, h], -1), W), c, H, fast)
                new += [h.unsqueeze(0), c.unsqueeze(0)]
                x = h
            if skip:
                x = torch.cat([x, x_in], -1)
            return torch.addmm(b_out, x, W_out).unsqueeze(0), tuple(new)

        spec = self.native_spec(params)
        if spec is None:
            return torch_step
        flat, offsets, n_out = params.contiguous(), spec["offsets"], self.out_size

        def native_step(obs: torch.Tensor, state):
            x = obs.reshape(1, obs.shape[1], -1)
            if x.dtype != dtype:
                x = x.to(dtype)
            state = tuple(s if s.dtype == dtype and s.is_contiguous() else s.to(dtype).contiguous() for s in state)
            res = native_lstm.lstm_step(flat, x.contiguous(), state, offsets, H, skip, n_out,
                                        spec["input_scale"][dtype])
            return res if res is not None else torch_step(obs, state)

        return native_step
