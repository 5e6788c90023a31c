"""Collecting a grid's run directories into tidy CSVs, figures and ``REPORT.md``.

Files written to ``OUT/``:

* ``results.csv`` — one row per cell (learner × task × seed): status, budget, episodes /
  env steps / wall seconds used, solved, episodes / env steps / seconds to solve, final
  greedy success and return (and the 625-start score for the double pole);
* ``curves.csv`` — one row per centre evaluation of every cell (learner, task, seed,
  episodes, env_steps, wall_seconds, success, return);
* ``curves_<task>.png`` — median and inter-quartile band over seeds of the centre's
  success rate against training episodes and against wall-clock seconds, per learner;
* ``success_vs_length.png`` — the key figure: final greedy success (median, IQR bars)
  and the fraction of seeds solved against the dependency length, T-maze and class-query;
* ``episodes_to_solve.png`` — per task, median episodes to solve (IQR bars) over the
  seeds that solved, with ``k/n`` solved written on each bar;
* ``REPORT.md`` — all of the above with the grid's commands, budgets, machine and wall
  time, an automatic per-task summary and, if ``OUT/READING.md`` exists, its text (the
  hand-written reading of the numbers, kept across regenerations).
"""
from __future__ import annotations

import csv
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Optional

from .execute import cell_definition, cell_dir, cell_status, cli_command
from .grid import GRID_TASKS, Cell

RESULT_COLUMNS = ["learner", "family", "algo", "task", "group", "length", "seed", "status", "budget",
                  "episodes", "env_steps", "wall_seconds", "solved", "episodes_to_solve", "env_steps_to_solve",
                  "seconds_to_solve", "final_success", "final_return", "best_center_success", "generalization",
                  "num_params", "policy", "target", "error"]
CURVE_COLUMNS = ["learner", "task", "seed", "episodes", "env_steps", "wall_seconds", "success", "return"]


def _num(v) -> Optional[float]:
    if v in (None, ""):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def read_cell(out: Path, cell: Cell) -> tuple[dict, list[dict]]:
    """``(result row, curve rows)`` of one cell from its run directory."""
    d = cell_dir(out, cell)
    lr, t = cell.learner, cell.task
    row = {"learner": lr.name, "family": lr.family, "algo": lr.algo, "task": t.name, "group": t.group or "",
           "length": t.length if t.length is not None else "", "seed": cell.seed, "budget": t.budget,
           "target": t.target, "status": cell_status(out, cell)}
    stored = d / "cell.json"
    if stored.exists() and json.loads(stored.read_text()) != cell_definition(cell):
        row["status"] = "stale"     # run under other settings or older dps defaults: not counted
    curve = []
    metrics = d / "metrics.csv"
    if metrics.exists():
        with open(metrics, newline="") as f:
            for r in csv.DictReader(f):
                s, ret = _num(r.get("center_success")), _num(r.get("center_return"))
                if s is None and ret is None:
                    continue
                curve.append({"learner": lr.name, "task": t.name, "seed": cell.seed,
                              "episodes": int(float(r["episodes"])), "env_steps": int(float(r["env_steps"])),
                              "wall_seconds": float(r["wall_seconds"]), "success": s, "return": ret})
    if curve:
        row["best_center_success"] = max((c["success"] for c in curve if c["success"] is not None), default="")
        hit = next((c for c in curve if c["success"] is not None and c["success"] >= t.target), None)
        row["solved"] = hit is not None
        if hit is not None:
            row.update(episodes_to_solve=hit["episodes"], env_steps_to_solve=hit["env_steps"],
                       seconds_to_solve=round(hit["wall_seconds"], 3))
        last = curve[-1]
        row.update(episodes=last["episodes"], env_steps=last["env_steps"], wall_seconds=round(last["wall_seconds"], 3))
    summary = d / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        ev = s.get("eval", {})
        row.update(episodes=s["episodes"], env_steps=s["env_steps"], wall_seconds=round(s["wall_seconds"], 3),
                   final_success=ev.get("success_rate"), final_return=ev.get("mean_return"),
                   generalization=ev.get("generalization", ""), num_params=s.get("num_params"),
                   policy=s.get("policy"))
        row.setdefault("solved", False)
    err = d / "error.txt"
    if err.exists():
        row["error"] = err.read_text().splitlines()[0][:300]
    return row, curve


def collect(out: Path, cells: list[Cell]) -> tuple[list[dict], list[dict]]:
    rows, curves = [], []
    for c in cells:
        r, cv = read_cell(out, c)
        rows.append(r)
        curves.extend(cv)
    return rows, curves


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k, "")) for k in columns})


# ---------------------------------------------------------------------------------- statistics
def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3) with linear interpolation (numpy's default)."""
    xs = sorted(xs)
    if not xs:
        return (math.nan,) * 3

    def q(p):
        k = (len(xs) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
    return q(0.25), q(0.5), q(0.75)


def step_at(curve: list[dict], x: float, key: str, y: str) -> Optional[float]:
    """The value of a step curve at ``x``: the last evaluation at or before ``x``. After a
    run's last evaluation the value is carried forward (a run that stopped because it was
    solved stays solved; a run that ended at its budget keeps its last value)."""
    v = None
    for c in curve:
        if c[key] <= x:
            v = c[y]
        else:
            break
    return v


def _groups(rows: list[dict]) -> dict:
    g: dict = {}
    for r in rows:
        g.setdefault((r["task"], r["learner"]), []).append(r)
    return g


def _fmt_int(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{int(round(x)):,}"


def _fmt(x, digits=2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _iqr(q: tuple, fmt) -> str:
    """``median [q1–q3]``; just the median when the quartiles coincide; ``–`` when empty."""
    if math.isnan(q[1]):
        return "–"
    if q[0] == q[2]:
        return fmt(q[1])
    return f"{fmt(q[1])} [{fmt(q[0])}–{fmt(q[2])}]"


def summary_table(rows: list[dict], tasks: list, learners: list) -> list[dict]:
    """Per (task, learner): counts, medians and IQRs of the cells (the report's table)."""
    g = _groups(rows)
    out = []
    for t in tasks:
        for lr in learners:
            cells = g.get((t.name, lr.name))
            if not cells:
                continue
            finished = [r for r in cells if r["status"] == "done"]
            solved = [r for r in finished if r.get("solved")]
            eps = [float(r["episodes_to_solve"]) for r in solved]
            steps = [float(r["env_steps_to_solve"]) for r in solved]
            secs = [float(r["seconds_to_solve"]) for r in solved]
            final = [float(r["final_success"]) for r in finished if _num(r.get("final_success")) is not None]
            rets = [float(r["final_return"]) for r in finished if _num(r.get("final_return")) is not None]
            gen = [float(r["generalization"]) for r in finished if _num(r.get("generalization")) is not None]
            out.append({
                "task": t.name, "learner": lr.name, "runs": len(cells), "finished": len(finished),
                "errors": sum(r["status"] == "error" for r in cells), "solved": len(solved),
                "episodes_to_solve": quartiles(eps), "env_steps_to_solve": quartiles(steps),
                "seconds_to_solve": quartiles(secs), "final_success": quartiles(final),
                "final_return": quartiles(rets), "generalization": quartiles(gen) if gen else None,
                "wall_seconds": sum(float(r["wall_seconds"]) for r in cells if _num(r.get("wall_seconds"))),
            })
    return out


# ---------------------------------------------------------------------------------- figures
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


COLORS = {"pgpe-paper": "tab:cyan", "pgpe-clipup": "tab:blue", "pdes": "tab:green", "cmaes": "tab:purple",
          "snes": "tab:red", "rpg": "tab:orange", "rpg-sde": "tab:brown"}


def _band(curves_by_seed: list[list[dict]], key: str, xs: list[float]):
    lo, md, hi = [], [], []
    for x in xs:
        vals = [v for v in (step_at(c, x, key, "success") for c in curves_by_seed) if v is not None]
        q = quartiles(vals) if vals else (math.nan,) * 3
        lo.append(q[0]); md.append(q[1]); hi.append(q[2])
    return lo, md, hi


def plot_curves(out: Path, task, learners: list, curves: list[dict]) -> Optional[Path]:
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
    path = out / f"curves_{task.name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_success_vs_length(out: Path, rows: list[dict], tasks: list, learners: list) -> Optional[Path]:
    groups = [g for g in ("tmaze", "class-query") if any(t.group == g for t in tasks)]
    if not groups:
        return None
    plt = _plt()
    fig, axes = plt.subplots(2, len(groups), figsize=(5.5 * len(groups), 7.5), squeeze=False)
    g = _groups(rows)
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
                vals = [float(r["final_success"]) for r in cells if _num(r.get("final_success")) is not None]
                q = quartiles(vals)
                xs.append(n * shift); lo.append(q[1] - q[0]); md.append(q[1]); hi.append(q[2] - q[1])
                frac.append(sum(bool(r.get("solved")) for r in cells) / len(cells))
            if not xs:
                continue
            style = dict(color=COLORS.get(lr.name), marker="o", ms=4, lw=1.5,
                         ls="--" if lr.family == "action" else "-", label=lr.name)
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
    path = out / "success_vs_length.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_episodes_to_solve(out: Path, table: list[dict], tasks: list, learners: list) -> Optional[Path]:
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
    path = out / "episodes_to_solve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------- report
def machine() -> str:
    import os
    import torch
    return (f"{platform.platform()}, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
            f"Python {platform.python_version()}, torch {torch.__version__}, 1 torch thread per run")


def _auto_reading(table: list[dict], tasks: list) -> list[str]:
    lines = []
    for t in tasks:
        entries = [r for r in table if r["task"] == t.name and r["finished"]]
        if not entries:
            continue
        solvers = sorted((r for r in entries if r["solved"]),
                         key=lambda r: (-r["solved"] / r["finished"], r["episodes_to_solve"][1]))
        if not solvers:
            best = max(entries, key=lambda r: (r["final_success"][1] if not math.isnan(r["final_success"][1]) else -1))
            lines.append(f"* **{t.name}** (budget {t.budget:,}): solved by none of the {len(entries)} learner(s) with "
                         f"finished runs ({', '.join(r['learner'] for r in entries)}); highest median final success "
                         f"{_fmt(best['final_success'][1])} ({best['learner']}).")
            continue
        parts = [f"{r['learner']} {r['solved']}/{r['finished']} (median {_fmt_int(r['episodes_to_solve'][1])})"
                 for r in solvers]
        unsolved = [r["learner"] for r in entries if not r["solved"]]
        tail = f"; not solved by {', '.join(unsolved)}" if unsolved else ""
        lines.append(f"* **{t.name}** (budget {t.budget:,}): solved by " + ", ".join(parts) + tail + ".")
    return lines


LOG = "grid_log.json"


def append_log(out: Path, entry: dict) -> None:
    """Record one execution of the grid (command, start, wall seconds, cells run) in
    ``OUT/grid_log.json``, so a grid resumed over several sessions reports its total time."""
    path = Path(out) / LOG
    log = json.loads(path.read_text()) if path.exists() else []
    log.append(entry)
    path.write_text(json.dumps(log, indent=1) + "\n")


def read_log(out: Path) -> list[dict]:
    path = Path(out) / LOG
    return json.loads(path.read_text()) if path.exists() else []


def wall_time(log: list[dict]) -> float:
    """Seconds covered by the executions in the log (overlapping executions counted once)."""
    import calendar
    spans = sorted((calendar.timegm(time.strptime(e["started"], "%Y-%m-%d %H:%M:%S UTC")), float(e["seconds"]))
                   for e in log)
    total, end = 0.0, -math.inf
    for start, seconds in spans:
        stop = start + seconds
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def seeds_text(cells: list) -> str:
    """The seeds of a grid, per group of tasks when tasks have different seeds
    (``"0–4 (0–9 on tmaze-10, class-query-20)"``; two seeds or a gap: ``"0, 2"``)."""
    per_task: dict = {}
    for c in cells:
        per_task.setdefault(c.task.name, set()).add(c.seed)
    groups: dict = {}
    for task, seeds in per_task.items():
        groups.setdefault(tuple(sorted(seeds)), []).append(task)

    def fmt(seeds):
        run = seeds == tuple(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2
        return f"{seeds[0]}–{seeds[-1]}" if run else ", ".join(map(str, seeds))
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    if len(ordered) == 1:
        return fmt(ordered[0][0])
    return fmt(ordered[0][0]) + " (" + "; ".join(f"{fmt(s)} on {', '.join(ts)}" for s, ts in ordered[1:]) + ")"


def write_report(out: Path, cells: list[Cell], *, preset: str, command: str,
                 skipped: list[tuple[str, str, str]]) -> Path:
    """Collect every cell and write the CSVs, the figures and REPORT.md; returns its path."""
    out = Path(out)
    learners = list({c.learner.name: c.learner for c in cells}.values())
    order = {name: i for i, name in enumerate(GRID_TASKS)}
    tasks = sorted({c.task.name: c.task for c in cells}.values(), key=lambda t: order.get(t.name, len(order)))
    rows, curves = collect(out, cells)
    write_csv(out / "results.csv", rows, RESULT_COLUMNS)
    write_csv(out / "curves.csv", curves, CURVE_COLUMNS)
    table = summary_table(rows, tasks, learners)
    figs = [p for p in (plot_success_vs_length(out, rows, tasks, learners),
                        plot_episodes_to_solve(out, table, tasks, learners)) if p is not None]
    curve_figs = [p for p in (plot_curves(out, t, learners, curves) for t in tasks) if p is not None]
    seeds = seeds_text(cells)
    status = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    cpu_seconds = sum(float(r["wall_seconds"]) for r in rows if _num(r.get("wall_seconds")))
    L = [f"# Parameter vs. action exploration — `{preset}` grid", ""]
    L += ["Written by `python -m dps.compare` (`dps/compare/`); every number below comes from the run directories "
          f"under `cells/` of this folder, collected into `results.csv` (one row per run) and `curves.csv` (one row "
          "per centre evaluation).", ""]
    log = read_log(out)
    total = wall_time(log)
    L += ["## Setup", "",
          f"* this report: `{command}`",
          f"* seeds: {seeds}; cells: {len(cells)} "
          f"({', '.join(f'{v} {k}' for k, v in sorted(status.items()))})",
          f"* machine: {log[-1]['machine'] if log else machine()}",
          f"* wall time of the grid: {total / 60:.1f} min over {len(log)} execution(s) (`{LOG}`: "
          + "; ".join(f"{e['started']}, `{e['command']}`, {float(e['seconds']) / 60:.1f} min, {e['cells_run']} runs, "
                      f"{e['jobs']} jobs" for e in log)
          + f"); training time summed over runs: {cpu_seconds / 60:.1f} min (one core each)",
          "* equal terms: the same budget of training episodes per task for every learner (a run stops after the "
          "generation that reaches it); the centre (searcher mean / RPG's θ) is evaluated greedily on fresh "
          "episodes each time the episode count crosses budget/evals; **solved** = the first such evaluation "
          "reaching the target, and the run stops there (Atari-Go runs its whole budget); *final* = a greedy "
          "evaluation of the last centre on fresh episodes.",
          "* policies: each learner on dps's LSTM with its measured per-env default size (`policy` column of "
          "`results.csv`) unless the task below names one.", ""]
    L += ["| task | env | budget (episodes) | target | centre eval | final eval | policy |", "|---|---|---|---|---|---|---|"]
    for t in tasks:
        L.append(f"| {t.name} | `{t.env}` | {t.budget:,} | {t.target} | {t.center_episodes} eps × {t.evals} | "
                 f"{t.eval_episodes} eps | {t.policy or 'per learner'} |")
    L += ["", "| learner | algorithm, options | space |", "|---|---|---|"]
    for lr in learners:
        opts = ", ".join(f"{k}={v}" for k, v in lr.options.items()) or "dps defaults"
        L.append(f"| {lr.name} | `{lr.algo}` {opts} — {lr.description} | {lr.family} |")
    if skipped:
        L += ["", "Left out by design: " + "; ".join(f"{a} on {b} ({why})" for a, b, why in skipped) + "."]
    L += ["", "## Results", ""]
    if figs:
        for p in figs:
            L += [f"![{p.stem}]({p.name})", ""]
    L += ["Per task and learner: finished runs solved (`k/n`; `+m not finished` = cells not run yet, interrupted, "
          "stale or crashed — an `error` message is in `results.csv`), episodes / env steps / seconds to solve "
          "(median [IQR] over the runs that solved), final greedy success and return (median [IQR] over finished "
          "runs); `–` = nothing to report.", "",
          "| task | learner | solved | episodes to solve | env steps to solve | s to solve | final success | "
          "final return | train s (all seeds) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        e, s, w, f, ret = (r["episodes_to_solve"], r["env_steps_to_solve"], r["seconds_to_solve"],
                           r["final_success"], r["final_return"])
        solved = f"{r['solved']}/{r['finished']}"
        if r["finished"] < r["runs"]:
            solved += f" (+{r['runs'] - r['finished']} not finished" + (f", {r['errors']} error" if r["errors"] else "") + ")"
        gen = f"; 625-test {_fmt_int(r['generalization'][1])}" if r["generalization"] else ""
        L.append(f"| {r['task']} | {r['learner']} | {solved} | {_iqr(e, _fmt_int)} | {_fmt_int(s[1])} | "
                 f"{_fmt(w[1], 1)} | {_iqr(f, _fmt)} | {_fmt(ret[1], 3)}{gen} | {r['wall_seconds']:.0f} |")
    L += ["", "### Summary per task (generated)", ""] + _auto_reading(table, tasks)
    reading = out / "READING.md"
    if reading.exists():
        L += ["", "## Reading", "", reading.read_text().strip()]
    if curve_figs:
        L += ["", "## Learning curves", "", "Centre greedy success, median (line) and inter-quartile band over seeds; "
              "solid = parameter space, dashed = action space. After a run's last evaluation its value is carried "
              "forward.", ""]
        for p in curve_figs:
            L += [f"![{p.stem}]({p.name})", ""]
    errors = [r for r in rows if r["status"] == "error"]
    if errors:
        L += ["## Errors", ""] + [f"* {r['learner']} on {r['task']} seed {r['seed']}: `{r.get('error', '')}`"
                                  for r in errors] + [""]
    L += ["## Reproduce one cell", "", "Each cell is an ordinary dps run; e.g.", "", "```",
          cli_command(cells[0], out), "```", ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(L) + "\n")
    return path
