"""Four-sweep 2-D MDRNN / MDLSTM board player with weights shared over positions.

References: Graves, Fernández & Schmidhuber, *Multi-dimensional recurrent neural networks*
(ICANN 2007); Schaul & Schmidhuber, *A scalable neural network architecture for board
games* (CIG 2008) and *Scalable neural networks for board games* (ICANN 2009); Grüttner,
Sehnke, Schaul & Schmidhuber, *Multi-dimensional deep memory Atari-Go players for
parameter exploring policy gradients* (ICANN 2010). The parameter counts follow PyBrain's
``CaptureGameNetwork`` with ``simpleborders`` (read as a specification).

Input ``obs (P, B, 2, N, N)`` (channel 0 opponent stones, channel 1 own stones; a flat
``(P, B, 2·N·N)`` is accepted too); output ``(P, B, N·N)``: one score per point, row-major
``i·N + j``. No memory between moves: ``initial_state`` is ``()``.

Sweeps
------
Four sweeps q, one from each corner, with directions ``(δ_i, δ_j) ∈ {±1}²``. At point
``p = (i, j)`` the hidden block of sweep q has two predecessors: ``u = (i − δ_i, j)`` along
dimension 0 ("up") and ``l = (i, j − δ_j)`` along dimension 1 ("left"). A predecessor sends a
*message*; a predecessor off the board is replaced by the learned border message. All
weights are shared over positions, the four sweeps and the two dimensions.

tanh cell (h units; message ``m_d = W_rec^T h_d ∈ R^h``, border message ``β ∈ R^h``)::

    h_p = tanh(W_in^T x_p + m_u + m_l)

MDLSTM cell (h cells, one forget gate per dimension, no peepholes). A predecessor d sends
``m_d = (W_rec^T h_d, s_d) ∈ R^{5h} × R^h``; the first part splits into blocks
``(r^i, r^f_own, r^f_other, r^o, r^g)``; the border message is a learned
``β = (β^i, β^f_own, β^f_other, β^o, β^g, β^s) ∈ R^{6h}``. With ``a = W_in^T x_p``
split into ``(a^i, a^f, a^o, a^g)``::

    i   = σ(a^i + r^i_u + r^i_l)
    g   = tanh(a^g + r^g_u + r^g_l)
    o   = σ(a^o + r^o_u + r^o_l)
    f_u = σ(a^f + b_f + r^f_own,u + r^f_other,l)      forget gate of dimension 0
    f_l = σ(a^f + b_f + r^f_own,l + r^f_other,u)      forget gate of dimension 1
    s_p = i·g + f_u·s_u + f_l·s_l
    h_p = o·tanh(s_p)

Each forget gate sees its *own* predecessor through the ``own`` weights and the other one
through the ``other`` weights, so the cell is symmetric under swapping its two
predecessors (``u ↔ l`` swaps ``f_u ↔ f_l``). That symmetry, together with the sweep set
being closed under the symmetries of the square and all weights being shared, makes the
player **equivariant under all 8 symmetries of the board** (rotate/flip the position and
the score map rotates/flips the same way). PyBrain ties its two forget-gate weight blocks
to the absolute dimensions 0 and 1 instead; a diagonal reflection swaps the dimensions
of the sweep starting at the corner it fixes, so that network is only equivariant under
the four axis reflections / 180° rotation. Any 8-fold equivariant cell must be symmetric
in its two predecessors, hence the own/other reading here.

Output::

    score_p = Σ_q  W_out^T h_p^{(q)}                  W_out: (h, 1)

(PyBrain squashes this sum with a sigmoid; that is monotone, so greedy play is the same,
and the raw sum is the natural logit for a Categorical head.)

Layout and parameter count (independent of N)
---------------------------------------------
=========  ============  ===========  ==============
block      tanh          MDLSTM       role
=========  ============  ===========  ==============
W_in       (2, h)        (2, 4h)      input → (i, f, o, g); one f block, both forget gates see the same point
b_f        —             (h,)         forget-gate bias
W_rec      (h, h)        (h, 5h)      predecessor → (i, f_own, f_other, o, g)
border     (h,)          (6h,)        learned message of a missing predecessor (5h pre-activations + h cell state)
W_out      (h, 1)        (h, 1)       output weight, shared by the four sweeps
total      h² + 4h       5h² + 16h
=========  ============  ===========  ==============

PyBrain's decomposition of the same totals: tanh ``2h (in) + h² (rec) + h (border) +
h (out)``; MDLSTM ``10h (in → i, f_0, f_1, g, o) + 5h² (rec) + 5h (border) + h (out)``
(21 for h = 1). Ours moves the second forget-gate input block (2h, redundant once the two
forget gates are symmetric) to the border cell state (h; PyBrain's border state is 0) and
a forget-gate bias (h; PyBrain has no gate biases, so interior empty points had none).

Evaluation (wavefront)
----------------------
The four sweeps are one top-left sweep over the four flipped boards (``S = 4·B`` boards
per member). Points on an anti-diagonal ``i + j = k`` depend only on diagonal ``k − 1``,
so the sweep is ``2N − 1`` steps; each step evaluates every point of the diagonal, every
board and every member at once: tensors are ``(P, L, S, ·)``. The up / left predecessors
of diagonal k are two shifted slices of diagonal ``k − 1``'s hidden outputs (and cell
states), padded at both ends; the inputs ``[x_p, 1, h_u, h_l]`` of all the diagonal's
points go through one ``bmm`` with the member's stacked weights ``[W_in; b; W_rec;
W_rec with own/other forget blocks swapped]`` (so the messages ``W_rec^T h_d`` are never
materialised), and the border pre-activations ``β`` are added at the (at most two) points
of a diagonal whose predecessor is off the board, where the padded hidden output is 0 and
the padded cell state is ``β^s``. One sigmoid evaluates all MDLSTM gates, the cell input
through ``tanh(z) = 2σ(2z) − 1``.
"""
from __future__ import annotations

from typing import Annotated, Optional

import torch

from ..errors import UserError
from ..spec import Range
from .base import Layout, Policy

CELLS = ("lstm", "tanh")


class MDLSTMPolicy(Policy):
    def __init__(self, obs_shape, out_size: int, hidden: Annotated[int, Range(1, 256)] = 4, cell: str = "lstm"):
        """
        :param obs_shape: ``(2, N, N)``: opponent and own stones on an N×N board
        :param out_size: ``N·N``, one score per point
        :param hidden: units (tanh) or cells (MDLSTM) per sweep and point
        :param cell: ``lstm`` (MDLSTM, one forget gate per dimension) or ``tanh`` (MDRNN)
        """
        if cell not in CELLS:
            raise UserError(f"unknown mdlstm cell {cell!r}; accepted: {', '.join(CELLS)}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise UserError(f"mdlstm hidden must be an integer >= 1, got {hidden!r}")
        shape = (obs_shape,) if isinstance(obs_shape, int) else tuple(obs_shape)
        if len(shape) != 3 or shape[0] != 2 or shape[1] != shape[2] or shape[1] < 1:
            raise UserError(f"mdlstm needs a board observation of shape (2, N, N), got {shape}")
        N = shape[1]
        if int(out_size) != N * N:
            raise UserError(f"mdlstm on a {N}×{N} board scores N·N = {N * N} points, got out_size={out_size}")
        self.obs_shape = shape
        self.out_size = N * N
        self.N, self.hidden, self.cell = N, hidden, cell
        h = hidden
        lstm = cell == "lstm"
        self.msg_size = 6 * h if lstm else h  # message of one predecessor
        self.rec_size = 5 * h if lstm else h  # its pre-activation part (W_rec^T h)
        lay = Layout()
        lay.add("W_in", 2, 4 * h if lstm else h)
        if lstm:
            lay.add("b_f", h)
        lay.add("W_rec", h, self.rec_size)
        lay.add("border", self.msg_size)
        lay.add("W_out", h, 1)
        self.layout = lay.blocks
        self.num_params = lay.size
        # anti-diagonals: points (i, k - i) for i in [lo_k, hi_k]
        self._diags = []
        order = []
        for k in range(2 * N - 1):
            lo, hi = max(0, k - N + 1), min(k, N - 1)
            ii = torch.arange(lo, hi + 1)
            self._diags.append((lo, hi, ii, k - ii))
            order.append(ii * N + (k - ii))
        #: row-major point r is entry ``_unskew[r]`` of the diagonal-ordered points
        self._unskew = torch.argsort(torch.cat(order))

    def describe(self) -> str:
        kind = "MDLSTM" if self.cell == "lstm" else "MDRNN-tanh"
        return f"{kind}(4 sweeps × {self.hidden}, {self.N}×{self.N}, {self.num_params} params)"

    def initial_state(self, P, B, device=None, dtype=torch.float32):
        return ()

    def init_params(self, generator: Optional[torch.Generator] = None, scale: float = 1.0,
                    dtype=torch.float32) -> torch.Tensor:
        """Weights uniform in ``±scale/√fan_in``, border message uniform in ``±scale/2``,
        forget-gate bias +1 (keeps memory along the sweep); zeros when ``scale = 0``."""
        out = super().init_params(generator, scale, dtype)
        if scale == 0:
            return out
        sl, _ = self.layout["border"]
        out[sl] = (torch.rand(sl.stop - sl.start, generator=generator, dtype=dtype) - 0.5) * scale
        if self.cell == "lstm":
            sl, _ = self.layout["b_f"]
            out[sl] = 1.0
        return out

    # -- forward ------------------------------------------------------------------------
    def _weights(self, params: torch.Tensor):
        """Per-member weights arranged for the wavefront.

        Returns ``W (P, K, G)``, the rows acting on ``[x_p (2), 1 (MDLSTM only: bias), h_u,
        h_l]`` (``h_l``'s rows are ``W_rec`` with its own/other forget blocks swapped),
        the border pre-activations ``beta_u``/``beta_l (P, G)`` that replace a missing up /
        left predecessor, and the border cell state ``s_b (P, h)`` (``None`` for tanh).
        MDLSTM pre-activations are ordered ``(i, f_u, f_l, o, 2·g)``: the cell-input
        columns are doubled so that one sigmoid gives all of them, ``tanh(z) = 2σ(2z) − 1``."""
        h = self.hidden
        W_in, W_rec = self.block(params, "W_in"), self.block(params, "W_rec")
        border = self.block(params, "border")
        if self.cell == "tanh":
            return torch.cat([W_in, W_rec, W_rec], 1), border, border, None
        wi, wf, wo, wg = W_in.split(h, -1)
        b_f = self.block(params, "b_f").unsqueeze(1)
        zero = torch.zeros_like(b_f)
        W_x = torch.cat([torch.cat([wi, wf, wf, wo, wg], -1),
                         torch.cat([zero, b_f, b_f, zero, zero], -1)], 1)

        def swap(t):  # (i, f_own, f_other, o, g) -> (i, f_other, f_own, o, g)
            return torch.cat([t[..., :h], t[..., 2 * h:3 * h], t[..., h:2 * h], t[..., 3 * h:]], -1)

        g2 = torch.ones(5 * h, dtype=params.dtype, device=params.device)
        g2[4 * h:] = 2.0
        beta, s_b = border[:, :5 * h], border[:, 5 * h:]
        W = torch.cat([W_x, W_rec, swap(W_rec)], 1) * g2
        return W, beta * g2, swap(beta) * g2, s_b

    def sweep_scores(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The top-left sweep: ``x (P, N, N, S, 2)`` → per-point scores ``(P, N·N, S)``
        (row-major), ``S`` boards per member.

        Per diagonal: gather ``[x_p, (1), h_u, h_l]`` for all its points (the up / left
        predecessors are two shifted slices of diagonal ``k − 1``'s hidden outputs, padded
        with 0 at both ends), one ``bmm`` with the stacked weights gives all
        pre-activations, and the border pre-activations are added at the (at most two)
        points whose predecessor is off the board."""
        P, N, _, S, _ = x.shape
        h, lstm = self.hidden, self.cell == "lstm"
        dev = x.device
        W, beta_u, beta_l, s_b = self._weights(params)
        K, G = W.shape[1:]
        I, J = torch.cat([d[2] for d in self._diags]).to(dev), torch.cat([d[3] for d in self._diags]).to(dev)
        xd = x[:, I, J]  # (P, N·N, S, 2), points in diagonal order
        if lstm:
            xd = torch.cat([xd, torch.ones_like(xd[..., :1])], -1)
        W_out = self.block(params, "W_out")
        # a missing predecessor is padded with hidden output 0 (its pre-activation
        # contribution beta is added instead) and, for the MDLSTM, cell state s_b
        zero_h = x.new_zeros(P, 1, S, h)
        s_pad = None if s_b is None else s_b.reshape(P, 1, 1, h).expand(P, 1, S, h)
        H, C = zero_h[:, :0], zero_h[:, :0]
        lo_prev, offset = 0, 0
        scores = []
        for k, (lo, hi, _, _) in enumerate(self._diags):
            L = hi - lo + 1
            u = lo - lo_prev  # up predecessor (i - 1, j) of point i is padded entry i - lo_prev
            Hpad = torch.cat([zero_h, H, zero_h], 1)
            inp = torch.cat([xd[:, offset: offset + L], Hpad[:, u: u + L], Hpad[:, u + 1: u + 1 + L]], -1)
            z = torch.bmm(inp.reshape(P, L * S, K), W).reshape(P, L, S, G)
            if k < N:  # (0, k) has no up predecessor, (k, 0) no left one
                z[:, 0] += beta_u.unsqueeze(1)
                z[:, L - 1] += beta_l.unsqueeze(1)
            if s_pad is None:
                H = torch.tanh(z)
            else:
                Cpad = torch.cat([s_pad, C, s_pad], 1)
                i, f_u, f_l, o, g2 = torch.sigmoid(z).split(h, -1)
                C = torch.addcmul(-i, i, g2, value=2.0)  # i·g with g = 2σ(2z_g) − 1
                C = torch.addcmul(C, f_u, Cpad[:, u: u + L])
                C = torch.addcmul(C, f_l, Cpad[:, u + 1: u + 1 + L])
                H = o * torch.tanh(C)
            scores.append(torch.bmm(H.reshape(P, L * S, h), W_out).reshape(P, L, S))
            lo_prev, offset = lo, offset + L
        return torch.cat(scores, 1)[:, self._unskew.to(dev)]

    def step(self, params: torch.Tensor, obs: torch.Tensor, state=(), episode_start=None):
        """``(scores (P, B, N·N), ())``; the sum over the four corner sweeps."""
        N = self.N
        P, B = obs.shape[:2]
        if params.dim() != 2 or params.shape[1] != self.num_params:
            raise UserError(f"mdlstm expects params of shape (P, {self.num_params}), got {tuple(params.shape)}")
        if params.shape[0] != P or obs[0, 0].numel() != 2 * N * N:
            raise UserError(f"mdlstm with {P if params.shape[0] == P else params.shape[0]} members "
                            f"expects obs of shape ({params.shape[0]}, B, 2, {N}, {N}), got {tuple(obs.shape)}")
        obs = obs.reshape(P, B, 2, N, N).to(params.dtype)
        # sweep q starts at corner (flip_i, flip_j) ∈ {(0,0), (1,0), (0,1), (1,1)}
        x = torch.stack([obs, obs.flip(-2), obs.flip(-1), obs.flip(-2, -1)], 2)  # (P, B, 4, 2, N, N)
        x = x.permute(0, 4, 5, 2, 1, 3).reshape(P, N, N, 4 * B, 2)
        sc = self.sweep_scores(params, x).reshape(P, N, N, 4, B)
        out = sc[..., 0, :] + sc[..., 1, :].flip(1) + sc[..., 2, :].flip(2) + sc[..., 3, :].flip(1, 2)
        return out.permute(0, 3, 1, 2).reshape(P, B, N * N), ()
