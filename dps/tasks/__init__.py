"""Supervised sequence tasks for Evolino and its baselines, behind one registry.

A task owns its data and its test protocol; a *model* (Evolino's LSTM with a fitted
readout, an ESN, a gradient-trained LSTM) only has to offer two operations on raw
(unscaled) values — each model applies its own input scaling::

    drive(inputs (B, T, in), resets (B, T) | None) -> (outputs (B, T, out), state)
        teacher forcing: the true previous value / symbol is the input at every step
    generate(state, first_input (B, in), steps) -> outputs (B, steps, out)
        closed loop (free running): each output is the next step's input

Tasks::

    sines:n=2..5        superimposed sines (Schmidhuber et al. 2007, §5.2), generative
    mackey-glass        Mackey-Glass τ = 17, NRMSE at 84 steps (Jaeger & Haas 2004), generative
    anbncn              aⁿbⁿcⁿ next-symbol prediction (Gers & Schmidhuber 2001), driven

``make_task("sines:n=3")`` builds one through the :data:`TASKS` registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..checkpoint import write_figure
from ..registry import Registry
from ..spec import Spec


@dataclass
class TaskData:
    """One training sequence (raw values, float64).

    :param inputs: ``(T, in)`` the input at each step (teacher forced)
    :param targets: ``(T, out)`` the desired output at each step
    :param washout: steps ``[0, washout)`` are left out of the readout fit
    :param fit_end: the readout is fitted on the teacher-forced steps ``[washout, fit_end)``;
        for generative tasks steps ``[fit_end, T)`` are run closed loop and scored
    :param resets: ``(T,)`` bool, True where a new string starts (state reset), or None
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    washout: int
    fit_end: int
    resets: Optional[torch.Tensor] = None

    @property
    def length(self) -> int:
        return int(self.inputs.shape[0])


class SequenceTask:
    """Base class: ``in_size``, ``out_size``, ``generative``, ``train_data()``,
    ``train_error(pred, data)``, ``evaluate(model) -> (metrics, curves)``."""

    name: str = "task"
    in_size: int = 1
    out_size: int = 1
    #: closed-loop task: the output is fed back as the next input (in_size == out_size)
    generative: bool = True

    def train_data(self) -> TaskData:
        raise NotImplementedError

    def train_error(self, pred: torch.Tensor, data: TaskData) -> torch.Tensor:
        """Error to minimise, ``(P,)``, of ``pred (P, T_scored, out)``: for generative tasks
        the closed-loop prediction of ``targets[fit_end:]``; MSE by default."""
        target = data.targets[data.fit_end:].to(pred.dtype)
        return ((pred - target) ** 2).mean(dim=(1, 2))

    def evaluate(self, model) -> tuple[dict, dict]:
        """``(metrics, curves)``; ``curves`` = ``{"x", "target", "prediction", "title"}``
        (1-D arrays or ``(T, k)``) for :func:`save_prediction_plot`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


def save_prediction_plot(curves: dict, path) -> None:
    """Prediction vs target on the test window (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = torch.as_tensor(curves["target"]).reshape(len(curves["x"]), -1)
    pred = torch.as_tensor(curves["prediction"]).reshape(len(curves["x"]), -1)
    k = target.shape[1]
    fig, axes = plt.subplots(k, 1, figsize=(10, 2.2 + 1.4 * k), sharex=True, squeeze=False)
    labels = curves.get("labels") or [f"output {i}" for i in range(k)]
    for i in range(k):
        ax = axes[i, 0]
        ax.plot(curves["x"], target[:, i].numpy(), label="target", lw=1.2)
        ax.plot(curves["x"], pred[:, i].numpy(), "--", label="prediction", lw=1.0)
        ax.set_ylabel(labels[i])
    axes[0, 0].legend(loc="upper right")
    axes[0, 0].set_title(curves.get("title", ""))
    axes[-1, 0].set_xlabel(curves.get("xlabel", "x"))
    fig.tight_layout()
    write_figure(fig, path, 110)


TASKS = Registry("task")
TASKS.add("sines", "dps.tasks.sines:SuperimposedSines",
          "n superimposed sines, λ = 0.2, 0.311, 0.42, 0.51, 0.74; free-running test MSE")
TASKS.add("mackey-glass", "dps.tasks.mackey_glass:MackeyGlass",
          "Mackey-Glass τ = 17 (RK4 or Euler), NRMSE 84 steps ahead")
TASKS.add("anbncn", "dps.tasks.anbncn:AnBnCn", "aⁿbⁿcⁿ next-symbol prediction, train n ≤ 10, largest n generalised")


def make_task(spec: "str | Spec") -> SequenceTask:
    """Build a task from a spec such as ``"sines:n=3"`` (clear error on a bad one)."""
    return TASKS.build(spec)


__all__ = ["TASKS", "SequenceTask", "TaskData", "make_task", "save_prediction_plot"]
