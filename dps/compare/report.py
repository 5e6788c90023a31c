"""The grid's report: :func:`write_report` collects the run directories
(:mod:`dps.compare.collect`), summarises them (:mod:`dps.compare.tables`), draws the figures
(:mod:`dps.compare.plots`) and writes, to ``OUT/``:

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

import math
from pathlib import Path

from ..checkpoint import write_atomic, write_csv
from .collect import CURVE_COLUMNS, RESULT_COLUMNS, collect, number
from .execute import cli_command
from .grid import GRID_TASKS, Cell
from .log import LOG, machine, read_log, wall_time
from .plots import plot_curves, plot_episodes_to_solve, plot_success_vs_length
from .tables import summary_table


def _fmt_int(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{round(x):,}"


def _fmt(x, digits=2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _iqr(q: tuple, fmt) -> str:
    """``median [q1–q3]``; just the median when the quartiles coincide; ``–`` when empty."""
    if math.isnan(q[1]):
        return "–"
    if q[0] == q[2]:
        return fmt(q[1])
    return f"{fmt(q[1])} [{fmt(q[0])}–{fmt(q[2])}]"


def _auto_reading(table: list[dict], tasks: list) -> list[str]:
    """One line per task: who solved it, how often and how fast, or the best final success."""
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
    # other keys of a row stay out of the CSV; a missing or None value is an empty field
    write_csv(out / "results.csv", rows, RESULT_COLUMNS, extrasaction="ignore")
    write_csv(out / "curves.csv", curves, CURVE_COLUMNS, extrasaction="ignore")
    table = summary_table(rows, tasks, learners)
    figs = [p for p in (plot_success_vs_length(out, rows, tasks, learners),
                        plot_episodes_to_solve(out, table, tasks, learners)) if p is not None]
    curve_figs = [p for p in (plot_curves(out, t, learners, curves) for t in tasks) if p is not None]
    seeds = seeds_text(cells)
    status = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    cpu_seconds = sum(float(r["wall_seconds"]) for r in rows if number(r.get("wall_seconds")))
    L = [f"# Parameter vs. action exploration — `{preset}` grid", ""]
    L += [("Written by `python -m dps.compare` (`dps/compare/`); every number below comes from the run directories "
           "under `cells/` of this folder, collected into `results.csv` (one row per run) and `curves.csv` (one row "
           "per centre evaluation)."), ""]
    log = read_log(out)
    total = wall_time(log)
    L += ["## Setup", "",
          f"* this report: `{command}`",
          (f"* seeds: {seeds}; cells: {len(cells)} "
           f"({', '.join(f'{v} {k}' for k, v in sorted(status.items()))})"),
          f"* machine: {log[-1]['machine'] if log else machine()}",
          f"* wall time of the grid: {total / 60:.1f} min over {len(log)} execution(s) (`{LOG}`: "
          + "; ".join(f"{e['started']}, `{e['command']}`, {float(e['seconds']) / 60:.1f} min, {e['cells_run']} runs, "
                      f"{e['jobs']} jobs" for e in log)
          + f"); training time summed over runs: {cpu_seconds / 60:.1f} min (one core each)",
          ("* equal terms: the same budget of training episodes per task for every learner (a run stops after the "
           "generation that reaches it); the centre (searcher mean / RPG's θ) is evaluated greedily on fresh "
           "episodes each time the episode count crosses budget/evals; **solved** = the first such evaluation "
           "reaching the target, and the run stops there (Atari-Go runs its whole budget); *final* = a greedy "
           "evaluation of the last centre on fresh episodes."),
          ("* policies: each learner on dps's LSTM with its measured per-env default size (`policy` column of "
           "`results.csv`) unless the task below names one."), ""]
    L += ["| task | env | budget (episodes) | target | centre eval | final eval | policy |",
          "|---|---|---|---|---|---|---|"]
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
    L += [("Per task and learner: finished runs solved (`k/n`; `+m not finished` = cells not run yet, interrupted, "
           "stale or crashed — an `error` message is in `results.csv`), episodes / env steps / seconds to solve "
           "(median [IQR] over the runs that solved), final greedy success and return (median [IQR] over finished "
           "runs); `–` = nothing to report."), "",
          ("| task | learner | solved | episodes to solve | env steps to solve | s to solve | final success | "
           "final return | train s (all seeds) |"),
          "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        e, s, w, f, ret = (r["episodes_to_solve"], r["env_steps_to_solve"], r["seconds_to_solve"],
                           r["final_success"], r["final_return"])
        solved = f"{r['solved']}/{r['finished']}"
        if r["finished"] < r["runs"]:
            solved += (f" (+{r['runs'] - r['finished']} not finished"
                       + (f", {r['errors']} error" if r["errors"] else "") + ")")
        gen = f"; 625-test {_fmt_int(r['generalization'][1])}" if r["generalization"] else ""
        L.append(f"| {r['task']} | {r['learner']} | {solved} | {_iqr(e, _fmt_int)} | {_fmt_int(s[1])} | "
                 f"{_fmt(w[1], 1)} | {_iqr(f, _fmt)} | {_fmt(ret[1], 3)}{gen} | {r['wall_seconds']:.0f} |")
    L += ["", "### Summary per task (generated)", ""] + _auto_reading(table, tasks)
    reading = out / "READING.md"
    if reading.exists():
        L += ["", "## Reading", "", reading.read_text().strip()]
    if curve_figs:
        L += ["", "## Learning curves", "", ("Centre greedy success, median (line) and inter-quartile band over seeds; "
               "solid = parameter space, dashed = action space. After a run's last evaluation its value is carried "
               "forward."), ""]
        for p in curve_figs:
            L += [f"![{p.stem}]({p.name})", ""]
    errors = [r for r in rows if r["status"] == "error"]
    if errors:
        L += ["## Errors", ""] + [f"* {r['learner']} on {r['task']} seed {r['seed']}: `{r.get('error', '')}`"
                                  for r in errors] + [""]
    L += ["## Reproduce one cell", "", "Each cell is an ordinary dps run; e.g.", "", "```",
          cli_command(cells[0], out), "```", ""]
    return write_atomic(out / "REPORT.md", "\n".join(L) + "\n")
