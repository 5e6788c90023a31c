"""Running the cells of a grid: one :func:`dps.runner.train` per cell, spread over CPU
cores with joblib, resumable.

Each cell trains in ``OUT/cells/<learner>__<task>__s<seed>/`` (a normal dps run directory)
plus ``cell.json`` (the cell's definition). A grid started again skips the cells whose
``summary.json`` exists, resumes those with a checkpoint (bit-identically, like
``python -m dps.run --resume``) and starts the others. A cell whose definition changed
(another budget, other options) is refused rather than mixed with the old run.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from pathlib import Path

from ..checkpoint import write_atomic
from ..errors import UserError
from .grid import Cell

#: run far more generations than any budget needs: the episode budget ends the run
_MANY = 10 ** 9


def cell_dir(out: Path, cell: Cell) -> Path:
    return Path(out) / "cells" / cell.name


def cell_status(out: Path, cell: Cell) -> str:
    """``done`` | ``partial`` (checkpoint, no summary) | ``error`` | ``new``."""
    d = cell_dir(out, cell)
    if (d / "summary.json").exists():
        return "done"
    if (d / "error.txt").exists():
        return "error"
    if (d / "checkpoint.pt").exists():
        return "partial"
    return "new"


def cell_definition(cell: Cell) -> dict:
    """The cell's key plus the run settings dps resolves for it (per-env defaults: policy,
    population, episodes, algorithm options), so that a grid resumed after dps's defaults
    changed does not mix runs made under the old ones with new ones."""
    from ..runner import resolve
    cfg = resolve(run_config(cell, Path(".")))
    resolved = {k: getattr(cfg, k) for k in ("policy", "popsize", "episodes", "center_episodes", "stop_success",
                                              "eval_episodes", "max_episodes", "eval_every_episodes")}
    resolved["algo_options"] = dict(sorted(cfg.algo_options.items()))
    return {**cell.key(), "resolved": json.loads(json.dumps(resolved))}


def set_aside(out: Path, cell: Cell) -> Path:
    """Move a cell's run directory to ``OUT/stale/<cell>.<time>/`` (kept, not deleted)."""
    target = Path(out) / "stale" / f"{cell.name}.{time.strftime('%Y%m%d-%H%M%S')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(cell_dir(out, cell)), str(target))
    return target


def check_cell_definitions(out: Path, cells: list[Cell], rerun_stale: bool = False, log=print) -> None:
    """Refuse to resume a cell whose stored definition differs from the grid's, or with
    ``rerun_stale`` set it aside (:func:`set_aside`) so that it runs again."""
    for cell in cells:
        f = cell_dir(out, cell) / "cell.json"
        if f.exists():
            stored, now = json.loads(f.read_text()), cell_definition(cell)
            if stored != now and rerun_stale:
                log(f"  stale, set aside in {set_aside(out, cell)}")
            elif stored != now:
                diff = sorted(k for k in set(stored) | set(now) if stored.get(k) != now.get(k))
                if "resolved" in diff:
                    diff.remove("resolved")
                    diff += sorted(f"resolved.{k}" for k in set(stored.get("resolved", {})) | set(now["resolved"])
                                   if stored.get("resolved", {}).get(k) != now["resolved"].get(k))
                raise UserError(
                    f"cell {cell.name!r} in {str(Path(out))!r} was run with other settings ({', '.join(diff)} "
                    f"differ); use another --out, or --rerun-stale to set such cells aside and run them again")


def run_config(cell: Cell, out: Path):
    from ..runner import RunConfig
    t = cell.task
    return RunConfig(algo=cell.learner.algo, env=t.env, policy=t.policy, generations=_MANY, seed=cell.seed,
                     device="cpu", out=str(cell_dir(out, cell)), eval_episodes=t.eval_episodes, eval_every=_MANY,
                     eval_every_episodes=max(1, t.budget // t.evals), center_episodes=t.center_episodes,
                     stop_success=t.target if t.stop else None, max_episodes=t.budget,
                     algo_options=dict(cell.learner.options), **_pinned(cell))


def _pinned(cell: Cell) -> dict:
    """Run settings that turn off what the env's defaults add around the learner: a centre
    chosen on held-out envs (``--select-on``), a curriculum (``--curriculum``) and the
    double pole's champion test (``--test-champions``: RPG has no population to test). A grid
    compares learners on the task as given, by the centre each one reaches."""
    from ..envs.registry import ENVS
    from ..runner.defaults import tuned
    t = cell.task
    defaults = tuned(cell.learner.algo, ENVS.spec(t.env).name, ENVS.options(t.env))[0]
    out = {}
    if defaults.get("select_on"):
        out["select_on"] = ["none"]
    if defaults.get("curriculum"):
        out["curriculum"] = "none"
    if defaults.get("test_champions"):
        out["test_champions"] = False
    return out


def cli_command(cell: Cell, out: Path) -> str:
    """The ``python -m dps.run`` command equivalent to the cell (for the report)."""
    import shlex
    t = cell.task
    parts = ["python", "-m", "dps.run", cell.learner.algo, "--env", t.env]
    if t.policy:
        parts += ["--policy", t.policy]
    parts += ["--seed", str(cell.seed), "--max-episodes", str(t.budget), "--eval-every-episodes",
              str(max(1, t.budget // t.evals)), "--eval-episodes", str(t.eval_episodes)]
    if t.stop:
        parts += ["--stop-success", str(t.target)]
    for key, value in _pinned(cell).items():
        parts += [f"--{key.replace('_', '-')}", str(value).lower() if isinstance(value, bool) else "none"]
    for k, v in cell.learner.options.items():
        parts += [f"--{k.replace('_', '-')}", str(v).lower() if isinstance(v, bool) else str(v)]
    parts += ["--out", str(cell_dir(out, cell))]
    return " ".join(shlex.quote(p) for p in parts)


def run_cell(cell: Cell, out: str | Path, deadline: float | None = None, threads: int = 1) -> dict:
    """Train one cell to the end (or resume it). Returns ``{"cell", "status", "seconds"}``.

    Exceptions inside the run are caught: the cell gets ``error.txt`` (and keeps its
    checkpoint), so one failing learner does not stop the grid. ``deadline`` (a
    ``time.time()`` value): a cell not started by then is left for a later call.
    """
    import torch
    torch.set_num_threads(threads)
    from ..runner import Interrupted, train
    out = Path(out)
    d = cell_dir(out, cell)
    status = cell_status(out, cell)
    if status == "done":
        return {"cell": cell.name, "status": "done", "seconds": 0.0}
    if deadline is not None and time.time() > deadline:
        return {"cell": cell.name, "status": "not run (deadline)", "seconds": 0.0}
    lock = _take_lock(d)
    if lock is None:
        return {"cell": cell.name, "status": "running elsewhere", "seconds": 0.0}
    t0 = time.perf_counter()
    if status == "error":
        (d / "error.txt").unlink()
    try:
        if status in ("partial", "error") and (d / "checkpoint.pt").exists() and (d / "config.json").exists():
            from ..runner import RunConfig
            train(RunConfig(algo=""), resume=str(d), quiet=True, report=False)
        else:
            if d.exists():
                shutil.rmtree(d)
            train(run_config(cell, out), quiet=True, report=False,
                  extra_files={"cell.json": cell_definition(cell)})
        result = "ran"
    except (KeyboardInterrupt, Interrupted):
        raise KeyboardInterrupt from None   # Ctrl-C / SIGTERM stops the grid, not just this cell
    except BaseException as exc:  # noqa: BLE001 -- recorded in the cell, the grid goes on
        cause = getattr(exc, "cause", None) or exc
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(d / "error.txt", f"{type(cause).__name__}: {cause}\n\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)))
        result = "error"
    finally:
        lock.unlink(missing_ok=True)
    return {"cell": cell.name, "status": result, "seconds": time.perf_counter() - t0}


def _take_lock(d: Path) -> Path | None:
    """``d.lock`` beside the cell's folder, holding this process's pid: two grid processes on
    one folder never run the same cell. A lock whose process is gone is taken over."""
    lock = d.parent / f"{d.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text() or 0)
                os.kill(pid, 0)          # still running (this machine): leave the cell to it
                return None
            except (ValueError, ProcessLookupError, FileNotFoundError):
                lock.unlink(missing_ok=True)
                continue
            except PermissionError:
                return None
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return lock
    return None


def run_grid(cells: list[Cell], out: str | Path, jobs: int = 1, deadline_minutes: float | None = None,
             log=print, results: list | None = None, rerun_stale: bool = False) -> list[dict]:
    """Run every cell not yet done, ``jobs`` at a time (joblib processes); cells run under
    other settings are refused, or set aside and rerun with ``rerun_stale``. Returns one
    ``run_cell`` result per cell run; ``results``, if given, is filled as cells finish
    (so an interrupted caller still knows what ran)."""
    out = Path(out)
    check_cell_definitions(out, cells, rerun_stale, log)
    todo = [c for c in cells if cell_status(out, c) != "done"]
    log(f"{len(cells)} cells, {len(cells) - len(todo)} already done, {len(todo)} to run with {jobs} job(s)")
    results = [] if results is None else results
    if not todo:
        return results
    deadline = time.time() + 60 * deadline_minutes if deadline_minutes else None
    if jobs == 1:
        for c in todo:
            results.append(run_cell(c, out, deadline))
            log(_line(results[-1]))
        return results
    from joblib import Parallel, delayed
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for r in Parallel(n_jobs=jobs, backend="loky", return_as="generator")(
                delayed(run_cell)(c, out, deadline) for c in todo):
            results.append(r)
            log(_line(r))
        return results
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _line(r: dict) -> str:
    return f"  {r['status']:<20} {r['cell']}  ({r['seconds']:.1f} s)"
