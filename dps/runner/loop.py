"""The training loop: generations of the learner, the centre's periodic greedy evaluation,
rows to the sinks (:mod:`.sinks`), then the final evaluation and summary.json.

Run directory::

    config.json     the resolved configuration, written before generation 0
    metrics.csv     one row per generation (cumulative episodes / env_steps / wall_seconds)
    checkpoint.pt   everything needed to continue bit-identically (weights-only torch file)
    curve.png       learning curve (and the centre's success rate)
    summary.json    totals, when the centre first met the success criterion, greedy evaluation
                    (of the centre kept by --select-on where it is given: .selection; of the
                    member that passed --test-champions: .champions; on the curriculum's
                    last stage where there is one: .curriculum)
    report.md/json  the env's own report where it has one (Atari-Go: every board and opponent)

Interrupts (Ctrl-C) and crashes leave the checkpoint of the last completed generation;
``--resume DIR`` continues from it (rows of metrics.csv written after it are dropped).
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from ..checkpoint import load_checkpoint, write_json_atomic
from ..errors import UserError
from ..evaluation import env_report, greedy_evaluation, run_episodes
from ..seeding import CENTER_EVAL, EVAL, derive_seed
from .build import Run, clear_run_dir, new_run_dir, read_config, writable_dir
from .config import RunConfig, resolve, resume_config
from .sinks import CheckpointSink, MetricsCSV, ProgressBar, TensorBoard, plot_curve


class Interrupted(Exception):
    def __init__(self, run_dir: Path, generation: int):
        super().__init__(f"interrupted after generation {generation}; checkpoint kept in {run_dir}. "
                         f"Continue with: python -m dps.run --resume {run_dir}")
        self.run_dir, self.generation = run_dir, generation


class RunFailed(Exception):
    def __init__(self, run_dir: Path, generation: int, cause: BaseException):
        super().__init__(f"run failed during generation {generation} ({type(cause).__name__}: {cause}); "
                         f"the checkpoint of generation {generation} is kept in {run_dir}. "
                         f"Continue with: python -m dps.run --resume {run_dir}")
        self.run_dir, self.generation, self.cause = run_dir, generation, cause


def _open(cfg: RunConfig, resume: Optional[str], changes: Optional[dict], overwrite: bool) -> Run:
    """A fresh run in a new directory, or the run in ``resume`` at its checkpoint with the
    allowed ``changes``. Everything is built and checked before a directory is created,
    so a mistake leaves nothing behind."""
    if resume is not None:
        run_dir = Path(resume)
        saved = read_config(run_dir)
        if changes is None:
            changes = {} if cfg.generations is None else {"generations": cfg.generations}
        run = Run(resume_config(saved, changes, str(run_dir)), run_dir)
        if run.checkpoint_path.exists():
            run.load()
            if run.cfg.generations < run.generation:
                raise UserError(f"--generations {run.cfg.generations} is below the {run.generation} generations "
                                f"{run_dir} has already run")
        return run
    cfg = resolve(cfg)
    target = Path(cfg.out) if cfg.out else None
    try:
        occupied = target is not None and target.exists() and (not target.is_dir() or any(target.iterdir()))
        is_run = occupied and (target / "config.json").is_file()
    except OSError as exc:  # a name too long, a folder that cannot be listed
        raise UserError(f"--out {cfg.out!r} cannot be used: {exc.strerror or exc}") from None
    if occupied:
        if not overwrite:
            raise UserError(f"--out {str(target)!r} already exists and is not empty; continue that run with "
                            f"--resume {target}, clear it with --overwrite, or choose another --out")
        if not is_run:
            raise UserError(f"--overwrite refuses to clear {str(target)!r}: it is not a dps run directory "
                            "(no config.json)")
    run = Run(cfg, target or Path("runs"))
    if target is None:
        run.dir = new_run_dir(cfg)
    else:
        if occupied:  # --overwrite of a run directory (checked above); a new --out needs no clearing
            clear_run_dir(target)
        run.dir = writable_dir(target)
    return run


def _write_config(run: Run) -> None:
    write_json_atomic({"run": dataclasses.asdict(run.cfg),
                       "resolved": {"policy": run.policy.describe() if run.policy is not None else None,
                                    "num_params": int(run.learner.center.numel()),
                                    "device": str(run.device),
                                    "algorithm_config": dataclasses.asdict(run.algo_config)
                                    if run.algo_config is not None else None}},
                      run.dir / "config.json")


def _generation(run: Run) -> dict:
    """One generation of the learner, the centre's evaluation when it is due; the row."""
    cfg = run.cfg
    t0 = time.perf_counter()
    stats = run.learner.step()
    g = run.generation
    _check_finite(run, g)
    episodes_before = run.totals["episodes"]
    run.totals["episodes"] += int(stats.pop("episodes"))
    run.totals["env_steps"] += int(stats.pop("env_steps"))
    center_return = center_success = None
    every = cfg.eval_every_episodes
    due = (g + 1) % cfg.eval_every == 0 or g + 1 == cfg.generations or _budget_spent(run) is not None or (
        every is not None and run.totals["episodes"] // every > episodes_before // every)
    if run.env is not None and due:
        res = run_episodes(run.learner.policy, run.env, run.learner.center.detach()[None], cfg.center_episodes,
                           derive_seed(cfg.seed, CENTER_EVAL, g), cfg.workers)
        center_return = float(res.returns.mean())
        if res.success is not None:
            center_success = float(res.success.float().mean())
    stage, at_target = run.stage, run.at_target  # success counts only on the target env
    if at_target and cfg.stop_success is not None and center_success is not None and \
            center_success >= cfg.stop_success:
        run.stopped_early = True
    tested = run.champions.check(run, g) if run.champions is not None and at_target else None
    if tested is not None and tested["solved"]:
        run.stopped_early = True
    select_score = None
    if run.selection is not None and (run.selection.due(g) or g + 1 == cfg.generations or run.stopped_early
                                      or _budget_spent(run) is not None):
        select_score = run.selection.score(run.learner.center, g)
    run.totals["wall_seconds"] += time.perf_counter() - t0
    row = {"generation": g, **run.totals, "best": stats.pop("best"), "mean": stats.pop("mean"),
           "center_return": center_return, "center_success": center_success}
    if run.selection is not None:
        row["select_score"] = select_score
    if run.champions is not None:  # every row has the env's columns: metrics.csv keeps one header
        row.update({f"champion_{k}": None if tested is None else tested.get(k) for k in run.champions.columns})
    if run.curriculum is not None:
        row["curriculum"] = stage
    row.update({k: v for k, v in stats.items() if isinstance(v, (int, float, bool)) or v is None})
    run.generation = g + 1
    if not at_target and center_success is not None and center_success >= run.curriculum.success:
        run.set_stage(run.curriculum.next(stage), g + 1)
    target = cfg.stop_success if cfg.stop_success is not None else 1.0
    if at_target and center_success is not None and center_success >= target and run.first_success is None:
        run.first_success = {"generation": g, "episodes": run.totals["episodes"],
                             "env_steps": run.totals["env_steps"], "wall_seconds": run.totals["wall_seconds"],
                             "success_rate": center_success}
    run.last_row = row
    return row


def _check_finite(run: Run, when: Optional[int] = None) -> None:
    """A centre with a NaN or inf parameter is refused: such a policy still acts (on NaN
    scores) and its episodes may be counted as successes, but its numbers mean nothing.
    ``when``: the generation that produced it (the run stops there, its last finite
    checkpoint kept); None: a saved centre about to be evaluated."""
    center = run.learner.center.detach() if when is not None else run.returned_center()
    if bool(torch.isfinite(center).all()):
        return
    if when is None:
        raise UserError(f"the saved centre in {run.dir} has non-finite (nan/inf) parameters; it is not evaluated")
    options = ", ".join(f"{k}={v}" for k, v in sorted(run.cfg.algo_options.items())) or "defaults"
    kept = f"the checkpoint of generation {when - 1} is kept in {run.dir}" if when else "no generation finished"
    raise UserError(f"the centre's parameters became non-finite (nan/inf) in generation {when} ({run.cfg.algo} "
                    f"with {options}); the run stops ({kept}). Lower the step sizes (learning rate, initial sigma)")


def _stop_reason(run: Run) -> Optional[str]:
    """Why the run ended before ``cfg.generations`` generations (None if it did not)."""
    if run.stopped_early and run.champions is not None and run.champions.solver is not None:
        return (f"stopped after generation {run.generation - 1}: its best member solved the task by the env's "
                f"test ({_describe(run.champions.solver['result'])})")
    if run.stopped_early:
        return (f"stopped after generation {run.generation - 1}: the centre's greedy success rate reached "
                f"{run.cfg.stop_success}")
    spent = _budget_spent(run)
    if spent and run.generation < run.cfg.generations:
        total, flag = spent
        return (f"stopped after generation {run.generation - 1}: {run.totals[total]} training "
                f"{total.replace('_', ' ')} reached the budget --{flag.replace('_', '-')} {getattr(run.cfg, flag)}")
    return None


def _describe(result: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in result.items() if k != "solved")


#: budget flag -> the running total it bounds
_BUDGETS = {"max_episodes": "episodes", "max_env_steps": "env_steps"}


def _budget_spent(run: Run) -> Optional[tuple[str, str]]:
    """``(total, flag)`` of the first training budget that is spent, or None."""
    for flag, total in _BUDGETS.items():
        limit = getattr(run.cfg, flag)
        if limit is not None and run.totals[total] >= limit:
            return total, flag
    return None


def train(cfg: RunConfig, resume: Optional[str] = None, quiet: bool = False, final_eval: bool = True,
          report: bool = True, changes: Optional[dict] = None, overwrite: bool = False,
          extra_files: Optional[dict] = None) -> Path:
    """Run (or resume) a training run; returns the run directory.

    The run ends after ``cfg.generations`` generations, after the generation in which the
    episode count reaches ``cfg.max_episodes`` (or the env-step count ``cfg.max_env_steps``),
    when the centre's periodic success rate reaches ``cfg.stop_success``, or when a generation's
    best member passes the env's solve test (``cfg.test_champions``). ``report=False``
    skips the env's own report (Atari-Go's multi-board report) after the final evaluation.

    :param resume: continue the run in this directory; ``changes`` are the settings given
        with it ({field: value}; only :data:`~.config.CHANGEABLE_ON_RESUME` may differ from
        its config.json; default: ``cfg.generations`` when set)
    :param overwrite: clear an existing run directory ``cfg.out`` first (else it is refused)
    :param extra_files: ``{file name: JSON object}`` written (atomically) into a new run
        directory beside config.json, e.g. the comparison grid's cell definition
    """
    run = _open(cfg, resume, changes, overwrite)
    cfg = run.cfg
    if not quiet:
        print(f"run directory: {run.dir}", file=sys.stderr)
    _write_config(run)
    if resume is None:
        for name, obj in (extra_files or {}).items():
            write_json_atomic(obj, run.dir / name)
    sinks = [MetricsCSV(run.dir / "metrics.csv", run.generation, run.last_row), CheckpointSink()]
    progress = None
    if not quiet:
        progress = ProgressBar(cfg.generations, run.generation)
        sinks.append(progress)
    if cfg.tensorboard:
        sinks.append(TensorBoard(run.dir))
    try:
        _loop(run, sinks, progress)
        plot_curve(run.dir / "metrics.csv", run.dir / "curve.png", title=f"{cfg.algo} on {cfg.env or cfg.task}")
        if final_eval:
            _finish(run, report)
    except KeyboardInterrupt:  # every finished generation is checkpointed: a resume redoes the rest
        raise Interrupted(run.dir, run.generation) from None
    finally:
        run.close()
    return run.dir


def _loop(run: Run, sinks: list, progress) -> None:
    """Generations until the run is done; every row to every sink."""
    cfg = run.cfg
    try:
        while run.generation < cfg.generations and not run.stopped_early and not _budget_spent(run):
            row = _generation(run)
            for sink in sinks:
                sink.write(run, row)
        reason = _stop_reason(run)
        if progress is not None and reason:
            progress.note(reason)
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as exc:  # a crashed worker, an env bug …: the checkpoint stays
        raise RunFailed(run.dir, run.generation, exc) from exc
    finally:
        for sink in sinks:
            sink.close()


def _finish(run: Run, report: bool) -> None:
    """The final greedy evaluation, the env's report and summary.json (written last, so a
    run without summary.json is one whose resume still has this to do)."""
    cfg = run.cfg
    summary = {"generations": run.generation, **run.totals, "stopped_early": run.stopped_early,
               "stop_reason": _stop_reason(run),
               "first_success": run.first_success, "algorithm": cfg.algo, "env": cfg.env, "task": cfg.task,
               "policy": cfg.policy, "seed": cfg.seed, "num_params": int(run.learner.center.numel())}
    t0 = time.perf_counter()
    summary["eval"] = _final_evaluation(run, cfg.eval_episodes, derive_seed(cfg.seed, EVAL))
    summary["eval_seconds"] = time.perf_counter() - t0
    if run.selection is not None:
        summary["selection"] = run.selection.summary()
    if run.champions is not None:
        summary["champions"] = run.champions.summary()
    if run.curriculum is not None:
        summary["curriculum"] = {**run.curriculum.describe(), "reached": run.stage, "stages": run.stages}
    if report and run.env is not None:
        rep = env_report(run.learner.policy, run.target_env(), run.returned_center(), run.dir,
                         derive_seed(cfg.seed, EVAL, 1))
        if rep is not None:
            summary["report"] = rep
    write_json_atomic(summary, run.dir / "summary.json")


def _final_evaluation(run: Run, episodes: int, seed: int) -> dict:
    learner = run.learner
    _check_finite(run)
    if run.env is None:  # supervised tasks: the learner's own test protocol
        return learner.final_evaluation(run.dir)
    return greedy_evaluation(learner.policy, run.target_env(), run.returned_center(), episodes, seed,
                             run.cfg.workers)


def load_run(run_dir: "str | Path"):
    """``(policy_spec, params (D,), config dict)`` of a saved run (for play / custom use):
    the parameters the run returns (the solver of ``--test-champions``, the centre kept by
    ``--select-on``, else the last centre)."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    ck = load_checkpoint(run_dir / "checkpoint.pt")
    returned = next((ck[k] for k in ("solver_params", "selected_center") if torch.is_tensor(ck.get(k))), ck["center"])
    return ck["policy"], returned, dataclasses.asdict(cfg)


def evaluate_run(run_dir: "str | Path", episodes: Optional[int] = None, seed: Optional[int] = None) -> dict:
    """Re-evaluate the saved centre of a run (the same ``eval`` dict as summary.json)."""
    run_dir = Path(run_dir)
    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
        raise UserError(f"--episodes must be a positive integer, got {episodes!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise UserError(f"--seed must be a non-negative integer, got {seed!r}")
    run = Run(read_config(run_dir), run_dir)
    run.load()
    try:
        s = derive_seed(run.cfg.seed, EVAL) if seed is None else int(seed)
        return _final_evaluation(run, run.cfg.eval_episodes if episodes is None else episodes, s)
    finally:
        run.close()
