"""Superimposed sine waves (Schmidhuber, Wierstra, Gagliolo, Gomez, Neural Computation
2007, §5.2; Wierstra et al. GECCO 2005)::

    y(x) = Σ_{i=1..n} sin(λ_i x),   λ = (0.2, 0.311, 0.42, 0.51, 0.74)[:n],   x_t = 0.8 t

Protocol (Schmidhuber et al. 2007, §5.2; docs/EVOLINO.md): the training window is
x ∈ [0, 760) (t = 0 … 949) and the test window x ∈ [1600, 2160) (t = 2000 … 2699). The
net is *driven* (teacher forced, input = previous true value y_{t−1}, target y_t) over
the whole training window, then *runs free* from t = 950 on — its own output is the next
input — through the gap and over the test window; ``test_mse`` is the mean squared error
of that free run on the test window.
For evolution the training window is split: washout ``[0, washout)``, readout fit
``[washout, fit_end)``, closed-loop fitness on ``[fit_end, 949)``.
"""
from __future__ import annotations

from typing import Annotated

import torch

from ..errors import UserError
from ..spec import Range
from . import SequenceTask, TaskData

LAMBDAS = (0.2, 0.311, 0.42, 0.51, 0.74)
STEP = 0.8
TRAIN_END = 950     # x = 760
TEST_START = 2000   # x = 1600
TEST_END = 2700     # x = 2160


def sines(n: int, t: torch.Tensor) -> torch.Tensor:
    """``Σ_{i<n} sin(λ_i · 0.8 t)`` for integer steps ``t`` (float64)."""
    x = STEP * t.to(torch.float64)
    return sum(torch.sin(lam * x) for lam in LAMBDAS[:n])


class SuperimposedSines(SequenceTask):
    generative = True
    in_size = out_size = 1

    def __init__(self, n: Annotated[int, Range(1, 5)] = 2, washout: Annotated[int, Range(0, 499)] = 100,
                 fit_end: Annotated[int, Range(1, 949)] = 500):
        """
        :param n: number of superimposed sines, 1 … 5
        :param washout: training steps left out of the readout fit
        :param fit_end: teacher-forced steps of the training window used for the readout;
            the rest (up to step 949) is run closed loop for the fitness
        """
        if not 1 <= n <= len(LAMBDAS):
            raise UserError(f"sines: n must be in 1..{len(LAMBDAS)}, got {n}")
        if not 0 <= washout < fit_end < TRAIN_END - 1:
            raise UserError(f"sines: need 0 <= washout < fit_end < {TRAIN_END - 1}, got washout={washout}, "
                             f"fit_end={fit_end}")
        self.n, self.washout, self.fit_end = int(n), int(washout), int(fit_end)
        self.name = f"sines:n={n}"
        self.series = sines(self.n, torch.arange(TEST_END))

    def train_data(self) -> TaskData:
        y = self.series[:TRAIN_END].unsqueeze(-1)
        return TaskData(inputs=y[:-1], targets=y[1:], washout=self.washout, fit_end=self.fit_end)

    def evaluate(self, model) -> tuple[dict, dict]:
        y = self.series.unsqueeze(-1)
        _, state = model.drive(y[:TRAIN_END - 1].unsqueeze(0), None)
        free = model.generate(state, y[TRAIN_END - 1].unsqueeze(0), TEST_END - TRAIN_END)[0]
        pred = free[TEST_START - TRAIN_END:, 0].to(torch.float64)
        target = self.series[TEST_START:TEST_END]
        mse = float(((pred - target) ** 2).mean())
        x = STEP * torch.arange(TEST_START, TEST_END, dtype=torch.float64)
        curves = {"x": x.numpy(), "target": target.numpy(), "prediction": pred.numpy(),
                  "title": f"{self.n} superimposed sines, free running from x=760; test MSE {mse:.3g}"}
        return {"test_mse": mse}, curves
