"""Baselines for the supervised sequence tasks, on the same task protocol as Evolino.

* :class:`EchoStateNetwork` — after Jaeger (GMD Report 148, 2001), 100 units by default:
  a fixed random tanh reservoir ``x_t = tanh(W_in u_t + W x_{t−1})`` whose recurrent matrix
  is rescaled to a given spectral radius, and the same least-squares readout as Evolino
  (:func:`dps.tasks.readout.fit_readout` on ``[x_t, 1]``), fitted teacher forced on the
  whole training window after the washout.
* :class:`JaegerHaasESN` (``esn-jh2004``) — the Mackey-Glass ESN of Jaeger & Haas (Science
  2004): 1000 tanh units, ~1 % connectivity, spectral radius 0.8, a constant bias input 0.2,
  output feedback into the reservoir, the signal squashed by tanh, small uniform state noise
  while teacher forced, a pseudo-inverse readout on [state, input]; float64, sparse reservoir.
* :class:`GradientLSTM` — ``torch.nn.LSTM`` + linear output trained by BPTT with Adam on the
  teacher-forced one-step-ahead MSE (the gradient-trained LSTM "G-LSTM" of Schmidhuber et
  al. 2007, §5), then tested with the same closed-loop protocol.

All offer ``fit(task)``, ``drive`` and ``generate`` (see :mod:`dps.tasks`). ``EchoStateNetwork``
and ``GradientLSTM`` multiply the input by ``input_scale`` (fed-back values too);
``JaegerHaasESN`` feeds the (squashed) previous value back through its own weights.
"""
from __future__ import annotations

import time
import warnings
from typing import Annotated, Literal, Optional

import torch

from ..errors import UserError
from ..spec import Range, check_value, signature_options
from . import SequenceTask, TaskData
from .readout import fit_readout


def _split_strings(data: TaskData) -> list[tuple[int, int]]:
    """``[(start, end)]`` of the reset-separated sub-sequences (one if no resets)."""
    T = data.length
    if data.resets is None:
        return [(0, T)]
    starts = data.resets.nonzero().reshape(-1).tolist()
    if not starts or starts[0] != 0:
        starts = [0] + starts
    return list(zip(starts, starts[1:] + [T]))


class EchoStateNetwork:
    """Echo State Network with a pseudo-inverse readout.

    :param in_size: inputs
    :param out_size: outputs
    :param size: reservoir units N
    :param spectral_radius: the recurrent matrix is rescaled to this spectral radius ρ(W)
    :param connectivity: fraction of non-zero recurrent weights
    :param input_scale: inputs multiplied by this, then by ``W_in ~ U(−1, 1)``
    :param ridge: ridge term of the readout (0: pseudo-inverse)
    :param seed: reservoir seed
    """

    def __init__(self, in_size: int, out_size: int, size: int = 100, spectral_radius: float = 0.9,
                 connectivity: float = 0.1, input_scale: float = 0.5, ridge: float = 0.0, seed: int = 0):
        g = torch.Generator().manual_seed(int(seed))
        W = (torch.rand(size, size, generator=g, dtype=torch.float64) * 2 - 1)
        W = W * (torch.rand(size, size, generator=g, dtype=torch.float64) < connectivity)
        radius = float(torch.linalg.eigvals(W).abs().max())
        self.W = W * (spectral_radius / radius) if radius > 0 else W
        self.W_in = torch.rand(in_size, size, generator=g, dtype=torch.float64) * 2 - 1
        self.bias = (torch.rand(size, generator=g, dtype=torch.float64) * 2 - 1) * 0.2
        self.input_scale, self.ridge, self.size = input_scale, ridge, size
        self.W_out: Optional[torch.Tensor] = None
        self.b_out: Optional[torch.Tensor] = None

    def _states(self, inputs, x=None, resets=None):
        B, T, _ = inputs.shape
        x = torch.zeros(B, self.size, dtype=torch.float64) if x is None else x
        u = inputs.to(torch.float64) * self.input_scale @ self.W_in
        out = []
        for t in range(T):
            if resets is not None:
                x = x * (~resets[:, t]).to(x.dtype).unsqueeze(-1)
            x = torch.tanh(u[:, t] + x @ self.W + self.bias)
            out.append(x)
        return torch.stack(out, 1), x

    def fit(self, task: SequenceTask, end: Optional[int] = None) -> dict:
        """Teacher-forced readout fit on ``[washout, end)`` (default: the whole window)."""
        d = task.train_data()
        end = d.length if end is None else end
        resets = None if d.resets is None else d.resets.unsqueeze(0)
        X, x = self._states(d.inputs[:end].unsqueeze(0), None, None if resets is None else resets[:, :end])
        W, b = fit_readout(X[:, d.washout:], d.targets[d.washout:end], self.ridge)
        self.W_out, self.b_out = W[0], b[0]
        return {"evaluations": 1, "_state": x, "_X": X}

    def train_error(self, task: SequenceTask) -> float:
        """The task's training error with Evolino's split: readout fitted on
        ``[washout, fit_end)``, then (generative tasks) closed loop on ``[fit_end, T)``."""
        d = task.train_data()
        info = self.fit(task, d.fit_end)
        if task.generative:
            pred = self.generate(info["_state"], d.inputs[d.fit_end].reshape(1, -1), d.length - d.fit_end)
        else:
            pred = self._out(info["_X"])
        err = task.train_error(pred, d)
        return float(torch.nan_to_num(err, nan=1e30, posinf=1e30)[0])

    def _out(self, X):
        return X @ self.W_out + self.b_out

    def drive(self, inputs, resets=None):
        X, x = self._states(inputs, None, resets)
        return self._out(X), x

    def generate(self, state, first, steps):
        x, u, outs = state, first.to(torch.float64), []
        for _ in range(steps):
            x = torch.tanh((u * self.input_scale) @ self.W_in + x @ self.W + self.bias)
            u = self._out(x)
            outs.append(u)
        return torch.stack(outs, 1)


class JaegerHaasESN:
    """Echo State Network as Jaeger & Haas (Science 2004) built it for Mackey-Glass::

        x(n+1) = tanh(W x(n) + w_in u + w_fb d(n) + ν(n)),   y(n) = w_out · [x(n); u]

    W is N × N with each weight non-zero with probability ``connectivity``, drawn from U(−1, 1)
    and rescaled to ``spectral_radius``; w_in ~ U(−1, 1) × ``input_scale`` carries the constant
    input u = ``bias_input``; w_fb ~ U(−1, 1) × ``feedback_scale`` feeds the output back. With
    ``squash`` the net works on d = tanh(value) (the paper's tanh(x − 1) of the task's
    y = x − 1) and returns arctanh of its output. Training runs teacher forced (d(n) is the
    true previous value) from the zero state with noise ν ~ U(−noise, noise) on every unit's
    input (``noise_on="state"``) or on the fed-back teacher (``"feedback"``), drops the task's
    washout and solves w_out = pinv(M) D for the remaining states M = [x(n), u]. Testing and
    closed-loop generation are noise-free. Everything is float64 and fixed by ``seed``.

    :param in_size: inputs (the fed-back values; must equal ``out_size``)
    :param out_size: outputs
    :param size: reservoir units N
    :param spectral_radius: ρ(W) after rescaling
    :param connectivity: probability of a non-zero recurrent weight
    :param bias_input: the constant input u
    :param input_scale: w_in ~ U(−input_scale, input_scale)
    :param feedback_scale: w_fb ~ U(−feedback_scale, feedback_scale)
    :param noise: half-width of the uniform training noise (0: none)
    :param noise_on: ``state`` (each unit's input) or ``feedback`` (the fed-back teacher)
    :param squash: work on tanh(value) and answer arctanh(output)
    :param seed: reservoir and noise seed
    """

    name = "esn-jh2004"

    def __init__(self, in_size: int, out_size: int, size: Annotated[int, Range(1, 20_000)] = 1000,
                 spectral_radius: Annotated[float, Range(0.0, 10.0)] = 0.8,
                 connectivity: Annotated[float, Range(0.0, 1.0)] = 0.01,
                 bias_input: Annotated[float, Range(-10.0, 10.0)] = 0.2,
                 input_scale: Annotated[float, Range(0.0, 100.0)] = 1.0,
                 feedback_scale: Annotated[float, Range(0.0, 100.0)] = 1.0,
                 noise: Annotated[float, Range(0.0, 1.0)] = 1e-8,
                 noise_on: Literal["state", "feedback"] = "state", squash: bool = True, seed: int = 0):
        values = dict(size=size, spectral_radius=spectral_radius, connectivity=connectivity, bias_input=bias_input,
                      input_scale=input_scale, feedback_scale=feedback_scale, noise=noise, noise_on=noise_on,
                      squash=squash, seed=seed)
        for key, p in signature_options(JaegerHaasESN).items():
            if key in values:
                check_value(values[key], p.annotation, f"baseline {self.name} option {key}")
        if in_size != out_size:
            raise UserError(f"baseline {self.name}: the inputs are the fed-back outputs, so in_size must equal "
                            f"out_size (got {in_size} and {out_size})")
        N, f64 = int(size), torch.float64
        g = torch.Generator().manual_seed(int(seed))
        W = torch.rand(N, N, generator=g, dtype=f64) * 2 - 1
        W = W * (torch.rand(N, N, generator=g, dtype=f64) < connectivity)
        radius = float(torch.linalg.eigvals(W).abs().max())
        if radius == 0.0:
            raise UserError(f"baseline {self.name}: the random reservoir has spectral radius 0 (size {N}, "
                            f"connectivity {connectivity}); raise size or connectivity")
        #: recurrent matrix (column convention: W @ x), dense copy kept for inspection and tests
        self.W = W * (spectral_radius / radius)
        with warnings.catch_warnings():   # torch flags CSR tensors as beta; the product used here is plain
            warnings.simplefilter("ignore")
            self._W_sparse = self.W.to_sparse_csr()
        self.w_in = (torch.rand(N, generator=g, dtype=f64) * 2 - 1) * input_scale
        self.w_fb = (torch.rand(out_size, N, generator=g, dtype=f64) * 2 - 1) * feedback_scale
        self.size, self.bias_input, self.noise, self.noise_on = N, float(bias_input), float(noise), noise_on
        self.squash, self.seed = bool(squash), int(seed)
        self.w_out: Optional[torch.Tensor] = None      # (N + 1, out): rows for x, then for u

    def _to_net(self, values):
        return torch.tanh(values) if self.squash else values

    def _from_net(self, outputs):
        if not self.squash:
            return outputs
        # a diverging free run can leave (−1, 1); clamping keeps arctanh finite
        eps = torch.finfo(torch.float64).eps
        return torch.atanh(outputs.clamp(-1 + eps, 1 - eps))

    def _step(self, x, fed_back, noise=None):
        """One update for a batch: ``x (B, N)``, ``fed_back (B, out)`` in the net's domain."""
        pre = (self._W_sparse @ x.T).T + self.bias_input * self.w_in + fed_back @ self.w_fb
        if noise is not None:
            pre = pre + noise
        return torch.tanh(pre)

    def _readout(self, x):
        return x @ self.w_out[:-1] + self.bias_input * self.w_out[-1]

    def _teacher_forced(self, fed_back, resets=None, generator=None, keep="states"):
        """Teacher forced from the zero state with ``fed_back (B, T, out)`` (net domain):
        ``(per-step states (B, T, N) or outputs (B, T, out), last state)``. ``keep="outputs"``
        reads out as it goes, so a batch of long test runs never holds every state."""
        B, T, _ = fed_back.shape
        x = torch.zeros(B, self.size, dtype=torch.float64)
        width = self.size if keep == "states" else self.w_out.shape[1]
        kept = torch.empty(B, T, width, dtype=torch.float64)
        for t in range(T):
            if resets is not None:
                x = x * (~resets[:, t]).to(x.dtype).unsqueeze(-1)
            d, nu = fed_back[:, t], None
            if generator is not None and self.noise_on == "feedback":
                d = d + (torch.rand(d.shape, generator=generator, dtype=torch.float64) * 2 - 1) * self.noise
            elif generator is not None:
                nu = (torch.rand(B, self.size, generator=generator, dtype=torch.float64) * 2 - 1) * self.noise
            x = self._step(x, d, nu)
            kept[:, t] = x if keep == "states" else self._readout(x)
        return kept, x

    def fit(self, task: SequenceTask) -> dict:
        """Teacher-forced run over the training window (with the training noise), readout
        fitted by pseudo-inverse on the states after the task's washout."""
        if not task.generative:
            raise UserError(f"baseline {self.name} feeds its output back and needs a generative task; "
                            f"{task.name} is driven")
        d = task.train_data()
        if d.resets is not None:
            raise UserError(f"baseline {self.name}: training sequences with resets are not supported")
        g = torch.Generator().manual_seed(self.seed + 1) if self.noise > 0 else None
        X, x = self._teacher_forced(self._to_net(d.inputs.to(torch.float64)).unsqueeze(0), generator=g)
        u = torch.full((d.length - d.washout, 1), self.bias_input, dtype=torch.float64)
        M = torch.cat([X[0, d.washout:], u], 1)
        D = self._to_net(d.targets[d.washout:].to(torch.float64))
        self.w_out = torch.linalg.pinv(M) @ D
        train_mse = float(((M @ self.w_out - D) ** 2).mean())
        return {"evaluations": 1, "train_mse": train_mse, "_state": x}

    def drive(self, inputs, resets=None):
        outs, x = self._teacher_forced(self._to_net(inputs.to(torch.float64)), resets=resets, keep="outputs")
        return self._from_net(outs), x

    def generate(self, state, first, steps):
        x, fed_back, outs = state, self._to_net(first.to(torch.float64)), []
        for _ in range(steps):
            x = self._step(x, fed_back)
            fed_back = self._readout(x)            # fed back in the net's (squashed) domain
            outs.append(fed_back)
        return self._from_net(torch.stack(outs, 1))


class GradientLSTM(torch.nn.Module):
    """LSTM trained by BPTT (Adam) on the teacher-forced one-step MSE (float32, gradient
    norm clipped at 1, the washout steps left out of the loss).

    :param in_size: inputs
    :param out_size: outputs
    :param hidden: LSTM cells
    :param lr: Adam learning rate
    :param epochs: full-sequence gradient steps
    :param input_scale: inputs multiplied by this
    :param seed: initialisation seed
    """

    def __init__(self, in_size: int, out_size: int, hidden: int = 10, lr: float = 1e-2, epochs: int = 300,
                 input_scale: float = 1.0, seed: int = 0):
        super().__init__()
        torch.manual_seed(int(seed))
        # float32: torch's fused CPU LSTM kernels are ~10× faster than in float64
        self.lstm = torch.nn.LSTM(in_size, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, out_size)
        self.lr, self.epochs, self.input_scale = lr, int(epochs), input_scale

    def _batch(self, d: TaskData):
        """Training sub-sequences padded into one batch ``(x, y, mask)``."""
        spans = _split_strings(d)
        L = max(e - s for s, e in spans)
        x = torch.zeros(len(spans), L, d.inputs.shape[1], dtype=torch.float64)
        y = torch.zeros(len(spans), L, d.targets.shape[1], dtype=torch.float64)
        m = torch.zeros(len(spans), L, dtype=torch.bool)
        for i, (s, e) in enumerate(spans):
            x[i, :e - s], y[i, :e - s] = d.inputs[s:e], d.targets[s:e]
            m[i, :e - s] = True
        m[:, :d.washout] = False
        return x, y, m

    def fit(self, task: SequenceTask) -> dict:
        x, y, m = (t.float() if t.is_floating_point() else t for t in self._batch(task.train_data()))
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        w = m.unsqueeze(-1).float()
        for _ in range(self.epochs):
            opt.zero_grad()
            h, _ = self.lstm(x * self.input_scale)
            loss = (((self.head(h) - y) ** 2) * w).sum() / (w.sum() * y.shape[-1])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
            opt.step()
        return {"evaluations": self.epochs, "train_loss": float(loss.detach())}

    @torch.no_grad()
    def drive(self, inputs, resets=None):
        if resets is not None:
            raise ValueError("GradientLSTM.drive: resets are not supported; batch the strings instead")
        h, state = self.lstm(inputs.float() * self.input_scale)
        return self.head(h).double(), state

    @torch.no_grad()
    def generate(self, state, first, steps):
        u, outs = first.float().unsqueeze(1), []
        for _ in range(steps):
            h, state = self.lstm(u * self.input_scale, state)
            u = self.head(h)
            outs.append(u[:, 0])
        return torch.stack(outs, 1).double()


#: the ESN grid searched by :func:`select_esn` (chosen on the training window only)
ESN_GRID = [dict(input_scale=i, spectral_radius=r, ridge=l)
            for i in (0.05, 0.5) for r in (0.8, 0.95) for l in (1e-9, 1e-6)]


def select_esn(in_size: int, out_size: int, task: SequenceTask, seed: int = 0, size: int = 100) -> "EchoStateNetwork":
    """The ESN of :data:`ESN_GRID` with the lowest training error (same split and closed-loop
    fitness as Evolino; the test window is never looked at), refitted on the whole window."""
    best = min(ESN_GRID, key=lambda kw: EchoStateNetwork(in_size, out_size, size, seed=seed, **kw).train_error(task))
    esn = EchoStateNetwork(in_size, out_size, size, seed=seed, **best)
    esn.selected = best
    return esn


BASELINES = {"esn": EchoStateNetwork, "esn-jh2004": JaegerHaasESN, "bptt-lstm": GradientLSTM}


def run_baseline(name: str, task: SequenceTask, seed: int = 0, **options) -> dict:
    """Fit baseline ``name`` on ``task`` and test it (``esn`` picks its setting from
    :data:`ESN_GRID` on the training window unless ``select=False``):
    ``{**metrics, "evaluations", "wall_s", "curves"}``."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; accepted: {', '.join(BASELINES)}")
    t0 = time.perf_counter()
    if name == "esn" and options.pop("select", True):
        model = select_esn(task.in_size, task.out_size, task, seed, **options)
        extra = {"selected": model.selected, "evaluations": len(ESN_GRID) + 1}
    else:
        model, extra = BASELINES[name](task.in_size, task.out_size, seed=seed, **options), {}
    info = {k: v for k, v in model.fit(task).items() if not k.startswith("_")}
    metrics, curves = task.evaluate(model)
    return {**metrics, **info, **extra, "wall_s": time.perf_counter() - t0, "curves": curves}
