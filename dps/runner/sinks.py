"""Where a run's per-generation rows go. The loop (:mod:`.loop`) only produces rows; each
sink subscribes to them:

* :class:`MetricsCSV` — ``metrics.csv``, one row per generation, flushed every row (a crash
  leaves every finished row; a resumed run first drops the rows after its checkpoint);
* :class:`CheckpointSink` — ``checkpoint.pt`` every generation, atomically;
* :class:`ProgressBar` — tqdm on the terminal;
* :class:`TensorBoard` — event files for live curves (``--tensorboard``; needs the
  ``tensorboard`` package, ``pip install dps[tensorboard]``);

and, once the loop ends, :func:`plot_curve` draws ``curve.png`` from metrics.csv.
"""
from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path
from typing import Optional

from ..checkpoint import write_csv, write_figure
from ..errors import UserError

BASE_COLUMNS = ["generation", "episodes", "env_steps", "wall_seconds", "best", "mean",
                "center_return", "center_success"]


class Sink:
    """Receives each generation's row; :meth:`close` runs once, also after an interrupt."""

    def write(self, run, row: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release files and terminals."""


def _fmt(v):
    if isinstance(v, float):  # every digit: the shortest text that reads back as the same float
        return repr(v)
    return "" if v is None else v


def read_metrics(path: Path, upto: int) -> tuple[list[str], list[dict]]:
    """``(header, rows)`` of a metrics.csv, keeping the rows of generations ``< upto``. A last
    line torn by a crash mid-write (a row that does not parse) is dropped."""
    if not path.exists():
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = []
        for r in reader:
            try:
                g = int(r.get("generation") or "")
            except ValueError:
                continue
            if None in r or any(v is None for v in r.values()):
                continue  # fewer or more fields than the header: a torn line
            if g < upto:
                rows.append(r)
    return header, rows


def _header(row: dict) -> list[str]:
    return BASE_COLUMNS + sorted(k for k in row if k not in BASE_COLUMNS)


class MetricsCSV(Sink):
    """metrics.csv (module docstring). On a resume (``generation`` > 0) the file is repaired
    at once: the rows of generations ``< generation`` are kept, a torn or later row is
    dropped, and the row of generation ``generation - 1`` is restored from ``last_row`` (the
    checkpoint's copy) where a crash tore or lost it; the file is rewritten atomically, then
    appended to. Each row is synced to disk before the checkpoint of its generation is
    written, so a crash can lose at most the row the checkpoint restores."""

    def __init__(self, path: Path, generation: int, last_row: Optional[dict] = None):
        self.path = path
        self.header, self.rows = read_metrics(path, generation)
        if self.header[:len(BASE_COLUMNS)] != BASE_COLUMNS:  # a header torn by a crash
            self.header, self.rows = [], []
        if last_row is not None and int(last_row["generation"]) == generation - 1 and not (
                self.rows and int(self.rows[-1]["generation"]) == generation - 1):
            self.header = self.header or _header(last_row)
            self.rows.append({k: _fmt(v) for k, v in last_row.items()})
        self.file = None
        if self.header and path.exists():
            self._rewrite()

    def _rewrite(self) -> None:
        write_csv(self.path, self.rows, self.header, extrasaction="ignore")

    def write(self, run, row: dict) -> None:
        if self.file is None:
            if not self.header:
                self.header = _header(row)
                self._rewrite()
            elif not self.path.exists():
                self._rewrite()
            self.file = open(self.path, "a", newline="")
            self.writer = csv.DictWriter(self.file, fieldnames=self.header, extrasaction="ignore")
        self.writer.writerow({k: _fmt(v) for k, v in row.items()})
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()


class CheckpointSink(Sink):
    def write(self, run, row: dict) -> None:
        run.save()


class ProgressBar(Sink):
    def __init__(self, total: int, initial: int):
        from tqdm import tqdm
        self.bar = tqdm(total=total, initial=initial, unit="gen", dynamic_ncols=True, leave=True)

    def write(self, run, row: dict) -> None:
        post = {"ep": row["episodes"], "best": f"{row['best']:.4g}", "mean": f"{row['mean']:.4g}"}
        if row.get("center_return") is not None:
            post["center"] = f"{row['center_return']:.4g}"
        if row.get("center_success") is not None:
            post["succ"] = f"{row['center_success']:.2f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def note(self, text: str) -> None:
        """A line under the bar (why the run stopped), on the bar's stream (stderr): stdout
        keeps only the final summary."""
        self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


class TensorBoard(Sink):
    """Every numeric column against training episodes, under ``RUN_DIR/tensorboard``."""

    def __init__(self, run_dir: Path):
        self.writer = self.check()(log_dir=str(run_dir / "tensorboard"))

    @staticmethod
    def check():
        """``SummaryWriter``, or one clear error when the tensorboard package is missing."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard "
                            "(or pip install -e '.[tensorboard]')") from None
        return SummaryWriter

    def write(self, run, row: dict) -> None:
        step = int(row["episodes"])
        for k, v in row.items():
            if k not in ("generation", "episodes") and isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and v is not None and math.isfinite(v):
                self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _column(rows: list[dict], name: str) -> list[float]:
    out = []
    for r in rows:
        try:
            out.append(float(r[name]) if r.get(name) not in (None, "") else math.nan)
        except ValueError:
            out.append(math.nan)
    return out


def _spans_decades(values: list[float]) -> bool:
    """Whether finite values span more than three orders of magnitude (then a symlog
    axis shows the curve instead of one outlier)."""
    mags = [abs(v) for v in values if math.isfinite(v) and v != 0]
    return bool(mags) and max(mags) / max(min(mags), 1e-300) > 1e3 and max(mags) > 1e3


def plot_curve(metrics_path: Path, png: Path, title: str = "") -> Optional[Path]:
    """``curve.png``: returns (best, mean, greedy centre with a marker at each evaluation)
    against training episodes, beside the centre's success rate where the env has one;
    symlog axes where a column spans orders of magnitude. Written atomically."""
    if not metrics_path.exists():
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, rows = read_metrics(metrics_path, 1 << 62)
    if not rows:
        return None
    x = _column(rows, "episodes")
    best, mean, center = _column(rows, "best"), _column(rows, "mean"), _column(rows, "center_return")
    success = _column(rows, "center_success")
    has_success = any(math.isfinite(v) for v in success)
    fig, axes = plt.subplots(1, 2 if has_success else 1, figsize=(11 if has_success else 7, 4.2), squeeze=False)
    ax = axes[0, 0]
    ax.plot(x, best, label="best of generation", lw=1, alpha=0.7)
    ax.plot(x, mean, label="population mean", lw=1, alpha=0.7)
    cx = [(a, b) for a, b in zip(x, center) if math.isfinite(b)]
    if cx:
        ax.plot(*zip(*cx), "o-", ms=3, label="centre (greedy evaluation)", lw=1.5)
    values = best + mean + center
    if _spans_decades(values):
        # linear only below the smallest magnitude, so values near 0 (small errors) stay apart
        ax.set_yscale("symlog", linthresh=min(abs(v) for v in values if math.isfinite(v) and v != 0))
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if has_success:
        ax2 = axes[0, 1]
        sx = [(a, b) for a, b in zip(x, success) if math.isfinite(b)]
        ax2.plot(*zip(*sx), "o-", ms=3, color="C2", lw=1.5)
        ax2.set_ylim(-0.03, 1.03)
        ax2.set_xlabel("training episodes")
        ax2.set_ylabel("centre's greedy success rate")
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return write_figure(fig, png, 110)
