"""``python -m dps.compare [--preset quick|full] [options]`` — run (or resume) a comparison
grid of learners × tasks × seeds with equal episode budgets, then write ``results.csv``,
``curves.csv``, the figures and ``REPORT.md`` to ``--out``.

::

    python -m dps.compare --preset quick                    # <= 15 min on 2 CPU cores, into runs/compare/quick
    python -m dps.compare --preset full --jobs 2            # the whole grid; resumes where it stopped
    python -m dps.compare --preset full --tasks tmaze-10,tmaze-500 --learners pgpe-clipup,rpg --seeds 0,1
    python -m dps.compare --preset full --report-only       # re-collect the runs done so far
    python -m dps.compare --list                            # learners, tasks, presets

Without ``--out`` a grid goes to ``runs/compare/<preset>`` in the current directory (like
``python -m dps.run``'s ``runs/``), never into the repository's committed results: those
are written only when ``--out`` names them.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from ..errors import UserError
from ..runner import writable_dir
from .execute import cell_dir, run_grid
from .grid import GRID_TASKS, LEARNERS, PRESETS, build_grid, skipped_pairs
from .log import append_log, machine
from .report import write_report

#: relative to the current directory, like dps.run's runs/: a grid written into the committed
#: results (experiments/results/compare/) must name that folder with --out
DEFAULT_OUT = "runs/compare"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{message} (see: python -m dps.compare --help)")


def _names(text):
    return [s for s in text.split(",") if s] if text else None


def _seeds(text):
    try:
        return [int(s) for s in text.split(",") if s != ""] if text else None
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers (e.g. 0,1,2), got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dps.compare", description=__doc__.strip().split("\n\n")[0].replace("``", ""),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="quick", help=f"grid preset: {', '.join(PRESETS)} (default quick)")
    p.add_argument("--out", help=f"output folder (default {DEFAULT_OUT}/<preset>)")
    p.add_argument("--learners", help="comma-separated learners (default: the preset's; see --list)")
    p.add_argument("--tasks", help="comma-separated tasks (default: the preset's; see --list)")
    p.add_argument("--seeds", help="comma-separated seeds (default: the preset's)")
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply every task's episode budget")
    p.add_argument("--policy", help="one policy spec for every learner and task (default: per learner)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs in parallel (default: CPU cores)")
    p.add_argument("--deadline", type=float, metavar="MIN",
                   help="start no new run after MIN minutes (the rest resumes next time)")
    p.add_argument("--rerun-stale", action="store_true",
                   help="set aside (OUT/stale/) and rerun cells made under other settings or older dps defaults")
    p.add_argument("--report-only", action="store_true",
                   help="only collect the runs done so far (refused on a folder without runs)")
    p.add_argument("--list", action="store_true", help="print learners, tasks and presets")
    return p


def _list() -> None:
    print("learners:")
    for lr in LEARNERS.values():
        opts = ", ".join(f"{k}={v}" for k, v in lr.options.items()) or "dps defaults"
        print(f"  {lr.name:<12} {lr.family:<9} {lr.algo} ({opts}) — {lr.description}")
    print("tasks:")
    for t in GRID_TASKS.values():
        print(f"  {t.name:<19} {t.env:<36} budget {t.budget:>7,} episodes, target {t.target}"
              + (", continuous actions" if t.continuous else ""))
    print("presets:")
    for name, pr in PRESETS.items():
        more = {len(v) for v in pr.task_seeds.values()}
        extra = f" ({'/'.join(map(str, sorted(more)))} on {len(pr.task_seeds)} tasks)" if more else ""
        print(f"  {name:<6} {len(pr.learners)} learners × {len(pr.tasks)} tasks × {len(pr.seeds)} seeds{extra}"
              f" — {pr.note}")


def report_cells(cells: list, out: Path, a) -> list:
    """The cells a report covers: the selected ones plus every other cell of the preset
    (same budget scale and policy) already in ``out``, so a restricted call such as
    ``--learners rpg --tasks tmaze-10`` does not drop the rest of the folder's grid."""
    selected = {c.name for c in cells}
    seeds = sorted(set(PRESETS[a.preset].all_seeds) | {c.seed for c in cells})
    everything = build_grid(a.preset, None, None, seeds, a.budget_scale, a.policy)
    ordered = [c for c in everything if c.name in selected or cell_dir(out, c).exists()]
    shown = {c.name for c in ordered}
    # selected cells outside the preset's own task list / learners (named with --tasks / --learners)
    return ordered + [c for c in cells if c.name not in shown]


def _require_runs(out: Path, cells: list, argv: list, default_out: bool) -> None:
    """Refuse ``--report-only`` on a folder holding none of the grid's run directories: its
    report would say no cell had run and overwrite the REPORT.md / results.csv there (a
    fresh clone's committed result folders hold no cells/, which git does not keep)."""
    if any(cell_dir(out, c).exists() for c in cells):
        return
    rerun = [x for x in argv if x != "--report-only"] + (["--out", str(out)] if default_out else [])
    raise UserError(f"{str(out)!r} holds no runs of this grid (no run directory under {str(out / 'cells')!r}), "
                    "so --report-only has nothing to collect and leaves the folder as it is; run the grid to "
                    "regenerate them: " + " ".join(shlex.quote(x) for x in ["python", "-m", "dps.compare", *rerun]))


def _terminate(signum, frame):
    raise KeyboardInterrupt   # `kill PID` ends the grid like Ctrl-C: logged, checkpoints kept


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        a = parser().parse_args(argv)
        if a.list:
            _list()
            return 0
        if a.jobs < 1:
            raise UserError(f"--jobs must be >= 1, got {a.jobs}")
        if a.deadline is not None and not a.deadline > 0:
            raise UserError(f"--deadline must be > 0 minutes, got {a.deadline}")
        cells = build_grid(a.preset, _names(a.learners), _names(a.tasks), _seeds(a.seeds), a.budget_scale, a.policy)
        if not cells:
            raise UserError("the selection leaves no cell to run (rpg-sde runs only on continuous-action tasks)")
        out = Path(a.out or f"{DEFAULT_OUT}/{a.preset}")
        if a.report_only:
            _require_runs(out, report_cells(cells, out, a), argv, a.out is None)
        out = writable_dir(out)
        command = " ".join(shlex.quote(x) for x in ["python", "-m", "dps.compare", *argv])
        if not a.report_only:
            t0, started = time.time(), time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            results: list = []
            try:
                results = run_grid(cells, out, jobs=a.jobs, deadline_minutes=a.deadline, results=results,
                                   rerun_stale=a.rerun_stale, log=lambda *x: print(*x, flush=True))
            finally:  # an interrupted execution's time counts too
                append_log(out, {"command": command, "started": started, "seconds": round(time.time() - t0, 1),
                                 "jobs": a.jobs, "cells_run": sum(r["status"] == "ran" for r in results),
                                 "errors": sum(r["status"] == "error" for r in results), "machine": machine()})
        shown = report_cells(cells, out, a)
        learners = list({c.learner.name: c.learner for c in shown}.values())
        tasks = list({c.task.name: c.task for c in shown}.values())
        report = write_report(out, shown, preset=a.preset, command=command, skipped=skipped_pairs(learners, tasks))
        print(f"report: {report}")
        return 0
    except UserError as exc:
        print(f"dps: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndps: interrupted; finished runs and checkpoints are kept — run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
