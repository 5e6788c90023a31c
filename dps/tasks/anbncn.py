"""aⁿbⁿcⁿ next-symbol prediction (Gers & Schmidhuber, IEEE TNN 2001; Evolino: Schmidhuber
et al., Neural Computation 2007, §5.1).

A string is ``S aⁿ bⁿ cⁿ T``. Input at each step: the one-hot current symbol over
(S, a, b, c); target: the set of possible next symbols, multi-hot over (a, b, c, T)::

    input    S    a … a      b … b  b_n   c … c  c_n
    target   a   {a, b}       b      c     c      T

Every target after the first ``b`` (and the ``a`` after ``S``) is *deterministic* (one
possible symbol). A prediction is correct when every output is on the right side of 0.5
(Gers & Schmidhuber 2001). A string is solved when all its deterministic predictions are
correct; ``max_n`` ("largest n generalised") is the largest N such that every string with
n = 1 … N is solved. Training: strings n = 1 … ``train_max`` concatenated, the state reset
at each ``S``. Training error (minimised): number of wrong deterministic predictions
+ mean squared error (the count dominates, the MSE breaks ties).
"""
from __future__ import annotations

from typing import Annotated

import torch

from ..errors import UserError
from ..spec import Range
from . import SequenceTask, TaskData

IN_SYMBOLS = "Sabc"
OUT_SYMBOLS = "abcT"


def string(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(inputs (3n+1, 4), targets (3n+1, 4), deterministic (3n+1,) bool)`` for one string."""
    seq = "S" + "a" * n + "b" * n + "c" * n
    nxt = ["a"] + ["ab"] * n + ["b"] * (n - 1) + ["c"] + ["c"] * (n - 1) + ["T"]
    x = torch.zeros(len(seq), 4, dtype=torch.float64)
    y = torch.zeros(len(seq), 4, dtype=torch.float64)
    for t, (s, ns) in enumerate(zip(seq, nxt)):
        x[t, IN_SYMBOLS.index(s)] = 1.0
        for q in ns:
            y[t, OUT_SYMBOLS.index(q)] = 1.0
    det = torch.tensor([len(ns) == 1 for ns in nxt])
    return x, y, det


def wrong(pred: torch.Tensor, target: torch.Tensor, det: torch.Tensor) -> torch.Tensor:
    """Per step, True where a deterministic prediction has an output on the wrong side of 0.5."""
    bad = ((pred > 0.5) != (target > 0.5)).any(-1)
    return bad & det


class AnBnCn(SequenceTask):
    generative = False
    in_size = out_size = 4

    def __init__(self, train_max: Annotated[int, Range(1, 1000)] = 10,
                 test_max: Annotated[int, Range(1, 10_000)] = 100):
        """
        :param train_max: training strings n = 1 … train_max
        :param test_max: strings n = 1 … test_max are tested for generalisation
        """
        if not 1 <= train_max <= test_max:
            raise UserError(f"anbncn: need 1 <= train_max <= test_max, got {train_max}, {test_max}")
        self.train_max, self.test_max = int(train_max), int(test_max)
        self.name = f"anbncn:train_max={train_max}"
        parts = [string(n) for n in range(1, self.train_max + 1)]
        self.inputs = torch.cat([p[0] for p in parts])
        self.targets = torch.cat([p[1] for p in parts])
        self.det = torch.cat([p[2] for p in parts])
        self.resets = torch.cat([torch.arange(len(p[0])) == 0 for p in parts])

    def train_data(self) -> TaskData:
        T = self.inputs.shape[0]
        return TaskData(inputs=self.inputs, targets=self.targets, washout=0, fit_end=T, resets=self.resets)

    def train_error(self, pred: torch.Tensor, data: TaskData) -> torch.Tensor:
        target = data.targets.to(pred.dtype)
        mse = ((pred - target) ** 2).mean(dim=(1, 2))
        return wrong(pred, target, self.det).sum(-1).to(pred.dtype) + mse

    def evaluate(self, model) -> tuple[dict, dict]:
        N = self.test_max
        L = 3 * N + 1
        x = torch.zeros(N, L, 4, dtype=torch.float64)
        y = torch.zeros(N, L, 4, dtype=torch.float64)
        det = torch.zeros(N, L, dtype=torch.bool)
        valid = torch.zeros(N, L, dtype=torch.bool)
        for n in range(1, N + 1):
            xi, yi, di = string(n)
            x[n - 1, :len(xi)], y[n - 1, :len(xi)], det[n - 1, :len(xi)] = xi, yi, di
            valid[n - 1, :len(xi)] = True
        out, _ = model.drive(x, None)
        out = out.to(torch.float64)
        solved = ~wrong(out, y, det).any(-1)                      # (N,)
        max_n = N if bool(solved.all()) else int((~solved).nonzero()[0])
        mse = float((((out - y) ** 2).sum(-1) * valid).sum() / (valid.sum() * 4))
        show = min(max_n + 1, N)
        Ls = 3 * show + 1
        curves = {"x": torch.arange(Ls).numpy(), "target": y[show - 1, :Ls].numpy(),
                  "prediction": out[show - 1, :Ls].numpy(), "labels": list(OUT_SYMBOLS), "xlabel": "step",
                  "title": f"aⁿbⁿcⁿ, n = {show}: next-symbol outputs (largest n generalised: {max_n})"}
        return {"test_mse": mse, "max_n": max_n, "solved_fraction": float(solved.float().mean())}, curves
