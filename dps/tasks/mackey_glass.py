"""Mackey-Glass chaotic time series, τ = 17 (Mackey & Glass, Science 1977), the benchmark of
Jaeger & Haas (Science 2004) and Evolino (Schmidhuber et al., Neural Computation 2007, §5.3)::

    dx/dt = β x(t−τ) / (1 + x(t−τ)^10) − γ x(t),   β = 0.2, γ = 0.1, τ = 17

Integration (our own, documented): classical RK4 with step ``dt = 0.1`` (the delay is 170
steps exactly); the delayed value at the half step is the mean of its two grid neighbours.
History x(t) = 1.2 for t ≤ 0. The series is sampled every 1 time unit (10 steps), the first
``transient = 500`` time units are dropped, and the task uses ``y = x − 1`` (NRMSE is
invariant to that shift).

Training: 1085 samples; inputs y_{t−1}, targets y_t; washout 100, readout fit on
[100, 1000), closed-loop fitness on the last 84 steps. Test (Jaeger & Haas 2004): ``trials``
starting points s_j on the continuation of the series (s_j = 1085 + drive + 20 j); each
trial teacher-forces the net on the ``drive`` samples before s_j, then runs free for 84
steps; ``nrmse84 = sqrt(mean_j (ŷ_j(s_j+83) − y(s_j+83))² / σ²)`` with σ² the variance of
the series; ``test_mse`` is the mean squared error over all 84 free steps of all trials.
"""
from __future__ import annotations

import functools
import math
from typing import Annotated

import torch

from ..spec import Range
from . import SequenceTask, TaskData

BETA, GAMMA, POWER, TAU = 0.2, 0.1, 10, 17.0
HORIZON = 84


def _f(x: float, x_tau: float) -> float:
    return BETA * x_tau / (1.0 + x_tau ** POWER) - GAMMA * x


@functools.lru_cache(maxsize=4)
def integrate(t_end: float, dt: float = 0.1, tau: float = TAU, x0: float = 1.2) -> tuple:
    """RK4 solution on the grid ``t = k dt``, k = 0 … t_end/dt (a tuple of floats)."""
    d = int(round(tau / dt))
    if abs(d * dt - tau) > 1e-9:
        raise ValueError(f"mackey-glass: tau/dt must be an integer, got tau={tau}, dt={dt}")
    n = int(round(t_end / dt))
    hist = [x0] * (d + 1)          # x(t) for t = −d dt … 0
    x = hist
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


def mackey_glass_series(n: int, transient: int = 500, dt: float = 0.1) -> torch.Tensor:
    """``n`` samples x(transient), x(transient + 1), … (float64)."""
    every = int(round(1.0 / dt))
    grid = integrate(float(transient + n), dt)
    return torch.tensor(grid[transient * every::every][:n], dtype=torch.float64)


class MackeyGlass(SequenceTask):
    generative = True
    in_size = out_size = 1
    name = "mackey-glass"

    def __init__(self, trials: Annotated[int, Range(1, 10_000)] = 100, drive: Annotated[int, Range(1, 100_000)] = 200,
                 washout: Annotated[int, Range(0, 100_000)] = 100):
        """
        :param trials: test starting points for NRMSE₈₄
        :param drive: teacher-forced samples before each test trial's free run
        :param washout: training steps left out of the readout fit
        """
        self.trials, self.drive, self.washout = int(trials), int(drive), int(washout)
        self.train_len = 1085
        self.stride = 20
        total = self.train_len + self.drive + self.stride * (self.trials - 1) + HORIZON
        self.series = mackey_glass_series(total) - 1.0
        self.sigma2 = float(self.series.var())

    def train_data(self) -> TaskData:
        y = self.series[:self.train_len].unsqueeze(-1)
        return TaskData(inputs=y[:-1], targets=y[1:], washout=self.washout,
                        fit_end=self.train_len - 1 - HORIZON)

    def evaluate(self, model) -> tuple[dict, dict]:
        y = self.series
        starts = [self.train_len + self.drive + self.stride * j for j in range(self.trials)]
        drive = torch.stack([y[s - self.drive:s - 1] for s in starts]).unsqueeze(-1)   # inputs up to y_{s−2}
        outs, state = model.drive(drive, None)
        first = torch.stack([y[s - 1] for s in starts]).unsqueeze(-1)                   # last known y_{s−1}
        free = model.generate(state, first, HORIZON)[..., 0].to(torch.float64)          # ŷ_s … ŷ_{s+83}
        target = torch.stack([y[s:s + HORIZON] for s in starts])
        err = free - target
        nrmse = math.sqrt(float((err[:, -1] ** 2).mean()) / self.sigma2)
        mse = float((err ** 2).mean())
        s0, shown = starts[0], 100
        pred = torch.cat([outs[0, -shown:, 0].to(torch.float64), free[0]])   # ŷ for y[s0−100 : s0+84]
        curves = {"x": torch.arange(s0 - shown, s0 + HORIZON).numpy(), "target": y[s0 - shown:s0 + HORIZON].numpy(),
                  "prediction": pred.numpy(), "xlabel": "sample (trial 0; free running from the last 84)",
                  "title": f"Mackey-Glass: teacher forced, then free for 84 steps; NRMSE84 {nrmse:.3g}"}
        return {"test_mse": mse, "nrmse84": nrmse}, curves
