"""The grid's figures: learning curves per task, success against dependency length and
episodes to solve (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import math
from pathlib import Path

from ..checkpoint import write_figure
from .collect import number
from .tables import by_task_learner, quartiles, step_at


def _plt():
    # imported on first use: a grid that only runs cells never pays for matplotlib
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> Path:
    """Save ``fig`` as PNG through :func:`write_figure` (a report's figures are replaced whole)
    and close it."""
    return write_figure(fig, path, 100)


COLORS = {"pgpe-paper": "tab:cyan", "pgpe-clipup": "tab:blue", "pdes": "tab:green", "cmaes": "tab:purple",
          "snes": "tab:red", "rpg": "tab:orange", "rpg-sde": "tab:brown"}


def _band(curves_by_seed: list[list[dict]], key: str, xs: list[float]):
    """(q1, median, q3) over seeds of the step curves' success at each of ``xs``."""
    lo, md, hi = [], [], []
    for x in xs:
        vals = [v for v in (step_at(c, x, key, "success") for c in curves_by_seed) if v is not None]
        q = quartiles(vals) if vals else (math.nan,) * 3
        lo.append(q[0])
        md.append(q[1])
        hi.append(q[2])
    return lo, md, hi


def plot_curves(out: Path, task, learners: list, curves: list[dict]) -> Path | None:
    """``curves_<task>.png``: centre success against episodes and wall-clock; None without evaluations."""
    mine = [c for c in curves if c["task"] == task.name and c["success"] is not None]
    if not mine:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax, label in (("episodes", axes[0], "training episodes"), ("wall_seconds", axes[1], "wall-clock s")):
        for lr in learners:
            by_seed: dict = {}
            for c in mine:
                if c["learner"] == lr.name:
                    by_seed.setdefault(c["seed"], []).append(c)
            if not by_seed:
                continue
            seqs = [sorted(v, key=lambda c: c[key]) for v in by_seed.values()]
            xmax = max(s[-1][key] for s in seqs) if key == "wall_seconds" else task.budget
            xs = [xmax * i / 100 for i in range(101)]
            lo, md, hi = _band(seqs, key, xs)
            color = COLORS.get(lr.name)
            ax.plot(xs, md, label=f"{lr.name} ({len(seqs)})", color=color, lw=1.8,
                    ls="--" if lr.family == "action" else "-")
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, lw=0)
        ax.set_xlabel(label)
        ax.set_ylabel("centre greedy success")
        ax.set_ylim(-0.03, 1.03)
        ax.axhline(task.target, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{task.name}: median and IQR over seeds")
    axes[1].set_title("against wall-clock (per run, 1 core)")
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _save(fig, out / f"curves_{task.name}.png")


def plot_success_vs_length(out: Path, rows: list[dict], tasks: list, learners: list) -> Path | None:
    """``success_vs_length.png`` for the T-maze / class-query series; None without either."""
    groups = [g for g in ("tmaze", "class-query") if any(t.group == g for t in tasks)]
    if not groups:
        return None
    plt = _plt()
    fig, axes = plt.subplots(2, len(groups), figsize=(5.5 * len(groups), 7.5), squeeze=False)
    g = by_task_learner(rows)
    for j, grp in enumerate(groups):
        lens = sorted({t.length for t in tasks if t.group == grp})
        for i, lr in enumerate(learners):
            # a small multiplicative offset per learner keeps coinciding points apart on the log axis
            shift = 1 + 0.025 * (i - (len(learners) - 1) / 2)
            xs, md, lo, hi, frac = [], [], [], [], []
            for n in lens:
                cells = [r for r in g.get((f"{grp}-{n}", lr.name), []) if r["status"] == "done"]
                if not cells:
                    continue
                vals = [float(r["final_success"]) for r in cells if number(r.get("final_success")) is not None]
                q = quartiles(vals)
                xs.append(n * shift)
                lo.append(q[1] - q[0])
                md.append(q[1])
                hi.append(q[2] - q[1])
                frac.append(sum(bool(r.get("solved")) for r in cells) / len(cells))
            if not xs:
                continue
            style = {"color": COLORS.get(lr.name), "marker": "o", "ms": 4, "lw": 1.5,
                     "ls": "--" if lr.family == "action" else "-", "label": lr.name}
            axes[0][j].errorbar(xs, md, yerr=[lo, hi], capsize=2, **style)
            axes[1][j].plot(xs, frac, **style)
        for i, ylab in enumerate(("final greedy success (median, IQR)", "fraction of seeds solved")):
            ax = axes[i][j]
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(lens)
            ax.set_xticklabels([str(n) for n in lens])
            ax.set_ylim(-0.03, 1.05)
            ax.set_xlabel(f"{grp} dependency length")
            ax.set_ylabel(ylab)
            ax.grid(alpha=0.3)
        axes[0][j].set_title(f"{grp}: success against dependency length")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _save(fig, out / "success_vs_length.png")


def plot_episodes_to_solve(out: Path, table: list[dict], tasks: list, learners: list) -> Path | None:
    """``episodes_to_solve.png``: one panel per task of the summary table; None when it is empty."""
    shown = [t for t in tasks if any(r["task"] == t.name for r in table)]
    if not shown:
        return None
    plt = _plt()
    cols = min(3, len(shown))
    rws = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rws, cols, figsize=(4.6 * cols, 3.4 * rws), squeeze=False)
    for k, t in enumerate(shown):
        ax = axes[k // cols][k % cols]
        entries = [r for r in table if r["task"] == t.name]
        names = [r["learner"] for r in entries]
        med = [r["episodes_to_solve"][1] if r["solved"] else 0.0 for r in entries]
        err = [[r["episodes_to_solve"][1] - r["episodes_to_solve"][0] if r["solved"] else 0 for r in entries],
               [r["episodes_to_solve"][2] - r["episodes_to_solve"][1] if r["solved"] else 0 for r in entries]]
        ax.bar(range(len(names)), med, yerr=err, capsize=3, color=[COLORS.get(n, "grey") for n in names])
        for i, r in enumerate(entries):
            ax.text(i, (med[i] if r["solved"] else 0) + t.budget * 0.02, f"{r['solved']}/{r['finished']}",
                    ha="center", va="bottom", fontsize=7)
        ax.axhline(t.budget, color="grey", lw=0.8, ls=":")
        ax.set_ylim(0, t.budget * 1.15)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=40, ha="right", fontsize=7)
        ax.set_title(f"{t.name} (budget {t.budget:,})", fontsize=9)
        ax.set_ylabel("episodes to solve", fontsize=8)
    for k in range(len(shown), rws * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    return _save(fig, out / "episodes_to_solve.png")

