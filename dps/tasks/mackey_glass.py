"""Mackey-Glass chaotic time series, τ = 17 (Mackey & Glass, Science 1977), the benchmark of
Jaeger & Haas (Science 2004) and Evolino (Schmidhuber et al., Neural Computation 2007, §5.3)::

    dx/dt = β x(t−τ) / (1 + x(t−τ)^10) − γ x(t),   β = 0.2, γ = 0.1, τ = 17

Integration, step ``dt = 0.1`` (the delay is 170 steps exactly), history x(t) = 1.2 for t ≤ 0:

* ``integrator="rk4"`` (default): classical RK4; the delayed value at the half step is the mean
  of its two grid neighbours.
* ``integrator="euler"``: x(k+1) = x(k) + dt (β x(k−170) / (1 + x(k−170)^10) − γ x(k)), the
  discretisation Jaeger used to make the benchmark (GMD Report 148, 2001, eq. 23). It is a
  different chaotic map from the RK4 solution, not a coarser copy of it.

The series is sampled every 1 time unit (10 steps), the first ``transient = 500`` time units
are dropped, and the task uses ``y = x − 1`` (NRMSE is invariant to that shift; a model that
squashes its signal, as Jaeger & Haas do with tanh(x − 1), undoes the squashing in its outputs).

Training: the first ``train_len`` samples; inputs y_{t−1}, targets y_t (``train_len − 1``
teacher-forced steps); the readout is fitted after ``washout`` steps up to the last 84, on
which the closed-loop fitness is measured. Test: ``trials`` starting points s_j on the
continuation of the series (s_j = train_len + drive + stride j); each trial teacher-forces the
net, from its zero state, on the ``drive`` samples before s_j, then runs free for 84 steps;
``nrmse84 = sqrt(mean_j (ŷ_j(s_j+83) − y(s_j+83))² / σ²)`` with σ² the variance of the whole
generated series; ``test_mse`` is the mean squared error over all 84 free steps of all trials.

The defaults (1085 training samples, washout 100, drive 200, stride 20: overlapping test
windows) are the Evolino harness. :data:`JH2004` is the protocol of Jaeger & Haas 2004:
3000 teacher-forced steps with the first 1000 discarded, and 100 disjoint test blocks of
1000 driven + 84 free steps cut from one long run of the attractor (as Jaeger 2001, §6.3.1).
"""
from __future__ import annotations

import functools
import math
from typing import Annotated, Literal

import torch

from ..errors import UserError
from ..spec import Range, check_value, signature_options
from . import SequenceTask, TaskData

BETA, GAMMA, POWER, TAU = 0.2, 0.1, 10, 17.0
HORIZON = 84
#: longest series a task may ask for (samples): the integration grid is kept as Python floats
MAX_SAMPLES = 500_000

#: Jaeger & Haas (Science 2004) protocol, as task options (``mackey-glass:train_len=3001,...``)
JH2004 = {"train_len": 3001, "washout": 1000, "drive": 1000, "stride": 1000 + HORIZON, "trials": 100,
          "integrator": "euler"}
JH2004_SPEC = "mackey-glass:" + ",".join(f"{k}={v}" for k, v in JH2004.items())


def _f(x: float, x_tau: float) -> float:
    return BETA * x_tau / (1.0 + x_tau ** POWER) - GAMMA * x


@functools.lru_cache(maxsize=4)
def integrate(t_end: float, dt: float = 0.1, tau: float = TAU, x0: float = 1.2, method: str = "rk4") -> tuple:
    """Solution on the grid ``t = k dt``, k = 0 … t_end/dt (a tuple of floats), by ``method``
    ``"rk4"`` or ``"euler"`` (see the module docstring)."""
    if method not in ("rk4", "euler"):
        raise ValueError(f"mackey-glass: unknown integrator {method!r}; accepted: rk4, euler")
    d = int(round(tau / dt))
    if abs(d * dt - tau) > 1e-9:
        raise ValueError(f"mackey-glass: tau/dt must be an integer, got tau={tau}, dt={dt}")
    n = int(round(t_end / dt))
    x = [x0] * (d + 1)             # x(t) for t = −d dt … 0
    if method == "euler":
        for k in range(n):
            i = k + d
            x.append(x[i] + dt * _f(x[i], x[i - d]))
        return tuple(x[d:])
    for k in range(n):
        i = k + d                  # index of x(t_k) in the list
        xk, lag0, lag1 = x[i], x[i - d], x[i - d + 1]
        lagh = 0.5 * (lag0 + lag1)
        k1 = _f(xk, lag0)
        k2 = _f(xk + 0.5 * dt * k1, lagh)
        k3 = _f(xk + 0.5 * dt * k2, lagh)
        k4 = _f(xk + dt * k3, lag1)
        x.append(xk + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4))
    return tuple(x[d:])


def mackey_glass_series(n: int, transient: int = 500, dt: float = 0.1, method: str = "rk4") -> torch.Tensor:
    """``n`` samples x(transient), x(transient + 1), … (float64)."""
    every = int(round(1.0 / dt))
    grid = integrate(float(transient + n), dt, method=method)
    return torch.tensor(grid[transient * every::every][:n], dtype=torch.float64)


class MackeyGlass(SequenceTask):
    generative = True
    in_size = out_size = 1
    name = "mackey-glass"
    #: closed-loop segments in an Evolino fitness (``segments=0``): on this chaotic series a net
    #: selected on the last 84 training steps alone diverges elsewhere (docs/EVOLINO.md)
    fitness_segments = 10

    def __init__(self, trials: Annotated[int, Range(1, 10_000)] = 100, drive: Annotated[int, Range(2, 100_000)] = 200,
                 washout: Annotated[int, Range(0, 100_000)] = 100,
                 train_len: Annotated[int, Range(HORIZON + 3, 100_000)] = 1085,
                 stride: Annotated[int, Range(1, 100_000)] = 20, integrator: Literal["rk4", "euler"] = "rk4"):
        """
        :param trials: test starting points for NRMSE₈₄
        :param drive: teacher-forced samples before each test trial's free run
        :param washout: training steps left out of the readout fit
        :param train_len: training samples (``train_len − 1`` teacher-forced steps)
        :param stride: samples between test starting points (``≥ drive + 84``: disjoint trials)
        :param integrator: ``rk4`` or ``euler`` (Jaeger's discretisation of the benchmark)
        """
        values = dict(trials=trials, drive=drive, washout=washout, train_len=train_len, stride=stride,
                      integrator=integrator)
        for key, p in signature_options(MackeyGlass).items():
            check_value(values[key], p.annotation, f"task {self.name} option {key}")
        self.trials, self.drive, self.washout = int(trials), int(drive), int(washout)
        self.train_len, self.stride, self.integrator = int(train_len), int(stride), integrator
        fit_end = self.train_len - 1 - HORIZON
        if self.washout >= fit_end:
            raise UserError(f"task {self.name}: washout {self.washout} leaves no step to fit; accepted: "
                            f"washout < train_len - 85 = {fit_end}")
        total = self.train_len + self.drive + self.stride * (self.trials - 1) + HORIZON
        if total > MAX_SAMPLES:
            raise UserError(f"task {self.name}: train_len + drive + stride (trials - 1) + 84 = {total} samples; "
                            f"accepted: at most {MAX_SAMPLES}")
        self.series = mackey_glass_series(total, method=integrator) - 1.0
        self.sigma2 = float(self.series.var())

    def train_data(self) -> TaskData:
        y = self.series[:self.train_len].unsqueeze(-1)
        return TaskData(inputs=y[:-1], targets=y[1:], washout=self.washout,
                        fit_end=self.train_len - 1 - HORIZON)

    def test_starts(self) -> list[int]:
        """Index s_j of each trial's first free-running prediction."""
        return [self.train_len + self.drive + self.stride * j for j in range(self.trials)]

    def evaluate(self, model) -> tuple[dict, dict]:
        y = self.series
        starts = self.test_starts()
        drive = torch.stack([y[s - self.drive:s - 1] for s in starts]).unsqueeze(-1)   # inputs up to y_{s−2}
        outs, state = model.drive(drive, None)
        first = torch.stack([y[s - 1] for s in starts]).unsqueeze(-1)                   # last known y_{s−1}
        free = model.generate(state, first, HORIZON)[..., 0].to(torch.float64)          # ŷ_s … ŷ_{s+83}
        target = torch.stack([y[s:s + HORIZON] for s in starts])
        err = free - target
        nrmse = math.sqrt(float((err[:, -1] ** 2).mean()) / self.sigma2)
        mse = float((err ** 2).mean())
        s0, shown = starts[0], min(100, self.drive - 1)
        pred = torch.cat([outs[0, -shown:, 0].to(torch.float64), free[0]])   # ŷ for y[s0−shown : s0+84]
        curves = {"x": torch.arange(s0 - shown, s0 + HORIZON).numpy(), "target": y[s0 - shown:s0 + HORIZON].numpy(),
                  "prediction": pred.numpy(), "xlabel": "sample (trial 0; free running from the last 84)",
                  "title": f"Mackey-Glass: teacher forced, then free for 84 steps; NRMSE84 {nrmse:.3g}"}
        return {"test_mse": mse, "nrmse84": nrmse}, curves
