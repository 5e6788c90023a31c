"""The training loop: build env + policy + learner from names, run generations with a
progress bar, write the run directory, checkpoint atomically, resume, evaluate, plot.

Run directory::

    config.json     resolved configuration, written before generation 0
    metrics.csv     one row per generation (cumulative episodes / env_steps / wall_seconds)
    checkpoint.pt   everything needed to continue bit-identically (weights-only torch file)
    curve.png       learning curve
    summary.json    totals + greedy evaluation of the final centre

Interrupts (Ctrl-C) and crashes leave the checkpoint of the last completed generation;
``--resume DIR`` continues from it (rows of metrics.csv written after it are dropped).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from .algorithms import get_algorithm
from .algorithms.base import config_from_dict
from .checkpoint import FORMAT_VERSION, load_checkpoint, save_atomic, write_json_atomic
from .envs.registry import env_options, get_env_entry, make_env
from .errors import UserError
from .policies import make_policy
from .algorithms.learner import RunContext, SearchLearner
from .evaluation import RolloutProblem, greedy_evaluation, run_episodes
from .seeding import CENTER_EVAL, EVAL, INIT, derive_seed
from .spec import parse_spec

BASE_COLUMNS = ["generation", "episodes", "env_steps", "wall_seconds", "best", "mean",
                "center_return", "center_success"]

GLOBAL_DEFAULTS = dict(policy="lstm:hidden=8", popsize=20, episodes=8, generations=100,
                       eval_episodes=100)


@dataclass
class RunConfig:
    """Everything that defines a run (written to config.json)."""

    algo: str
    env: Optional[str] = None
    task: Optional[str] = None
    policy: Optional[str] = None
    generations: Optional[int] = None
    popsize: Optional[int] = None
    episodes: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    workers: int = 1
    out: Optional[str] = None
    eval_episodes: Optional[int] = None
    eval_every: Optional[int] = None
    center_episodes: Optional[int] = None
    #: stop early once the centre's periodic greedy success rate reaches this value
    stop_success: Optional[float] = None
    #: budget in training episodes: stop after the generation that reaches it (None = no budget)
    max_episodes: Optional[int] = None
    #: also evaluate the centre whenever the episode count crosses a multiple of this
    eval_every_episodes: Optional[int] = None
    algo_options: dict = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"bad device {name!r}; accepted: auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def resolve(cfg: RunConfig) -> RunConfig:
    """Fill unset fields from the env's (and algorithm's) defaults; validate names."""
    entry = get_algorithm(cfg.algo)
    if (cfg.env is None) == (cfg.task is None):
        if cfg.env is None:
            raise UserError("missing --env SPEC (or --task SPEC for evolino); see python -m dps.run --list")
        raise UserError("give either --env or --task, not both")
    defaults = dict(GLOBAL_DEFAULTS)
    algo_opts: dict = {}
    if cfg.env is not None:
        spec = parse_spec(cfg.env, "env")
        env_entry = get_env_entry(spec.name)
        opts = env_options(spec)
        defaults.update(env_entry.defaults)
        if env_entry.scale_defaults is not None:
            defaults.update(env_entry.scale_defaults(opts))
        per_algo = dict(env_entry.algo_defaults.get(cfg.algo, {}))
        for k in list(per_algo):
            if k in GLOBAL_DEFAULTS or k in ("eval_every", "center_episodes", "stop_success"):
                defaults[k] = per_algo.pop(k)
        algo_opts = per_algo
        if spec.name == "atari-go" and "games" in opts:
            defaults["episodes"] = opts["games"]
    elif entry.kind != "learner" or cfg.algo != "evolino":
        raise UserError(f"--task is only for evolino; algorithm {cfg.algo!r} needs --env")
    out = dataclasses.replace(cfg)
    if cfg.task is not None:
        defaults["policy"] = None  # the learner's own default (Evolino: LSTM with peepholes)
    for k in ("policy", "popsize", "episodes", "generations", "eval_episodes", "stop_success"):
        if getattr(out, k) is None:
            setattr(out, k, defaults.get(k))
    if out.eval_every is None:
        out.eval_every = defaults.get("eval_every", max(1, out.generations // 50))
    if out.center_episodes is None:
        out.center_episodes = defaults.get("center_episodes", out.episodes)
    out.algo_options = {**algo_opts, **cfg.algo_options}
    for k, v in (("generations", out.generations), ("episodes", out.episodes), ("workers", out.workers),
                 ("eval_episodes", out.eval_episodes), ("eval_every", out.eval_every)):
        if v is None or int(v) < 1:
            raise UserError(f"--{k.replace('_', '-')} must be a positive integer, got {v!r}")
    for k in ("max_episodes", "eval_every_episodes"):
        v = getattr(out, k)
        if v is not None and int(v) < 1:
            raise UserError(f"--{k.replace('_', '-')} must be a positive integer, got {v!r}")
    if out.popsize is not None and int(out.popsize) < 1:
        raise UserError(f"--popsize must be a positive integer, got {out.popsize!r}")
    return out


def algo_config(entry, cfg: RunConfig):
    cls = entry.load()
    Config = getattr(cls, "Config", None)
    values = dict(cfg.algo_options)
    if Config is None:
        return None
    names = {f.name for f in dataclasses.fields(Config)}
    if "popsize" in names and cfg.popsize is not None and "popsize" not in values:
        values["popsize"] = int(cfg.popsize)
    if "episodes" in names and "episodes" not in values:
        values["episodes"] = int(cfg.episodes)
    return config_from_dict(Config, values)


class Run:
    """A built run: env, policy, learner (fresh or loaded)."""

    def __init__(self, cfg: RunConfig, run_dir: Path):
        self.cfg, self.dir = cfg, run_dir
        self.device = resolve_device(cfg.device)
        entry = get_algorithm(cfg.algo)
        self.algo_config = algo_config(entry, cfg)
        self.env = None
        self.policy = None
        if cfg.env is not None:
            self.env = make_env(cfg.env, device=self.device)
            self.policy = make_policy(cfg.policy, self.env.observation_shape, self.env.action_space.out_size)
        cls = entry.load()
        if entry.kind == "searcher":
            g = torch.Generator().manual_seed(derive_seed(cfg.seed, INIT))
            scale = getattr(self.algo_config, "init_scale", 1.0)
            center = self.policy.init_params(g, scale=scale)
            searcher = cls(center=center, config=self.algo_config, seed=derive_seed(cfg.seed, 0))
            self.learner = SearchLearner(searcher, RolloutProblem(self.policy, self.env, cfg.episodes, cfg.workers), cfg.seed)
        else:
            ctx = RunContext(env=self.env, env_spec=cfg.env, policy=self.policy, config=self.algo_config,
                             seed=cfg.seed, device=self.device, popsize=cfg.popsize, episodes=cfg.episodes,
                             workers=cfg.workers, extras={"task": cfg.task, "policy_spec": cfg.policy})
            self.learner = cls.from_run(ctx)
            self.policy = self.learner.policy
        # a learner may wrap the env (RPG's previous-action/-reward inputs): evaluate on its env
        self.eval_env = getattr(self.learner, "env", None) or self.env
        self.generation = 0
        self.stopped_early = False
        self.totals = {"episodes": 0, "env_steps": 0, "wall_seconds": 0.0}

    # ---- checkpoint ---------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def save(self) -> None:
        save_atomic({
            "format": FORMAT_VERSION,
            "generation": self.generation,
            "totals": dict(self.totals),
            "stopped_early": self.stopped_early,
            "learner": self.learner.state_dict(),
            "center": self.learner.center.detach().cpu().clone(),
            "policy": self.cfg.policy,
            "config": json.dumps(dataclasses.asdict(self.cfg)),
        }, self.checkpoint_path)

    def load(self) -> None:
        ck = load_checkpoint(self.checkpoint_path)
        self.learner.load_state_dict(ck["learner"])
        self.generation = int(ck["generation"])
        self.totals = dict(ck["totals"])
        self.stopped_early = bool(ck.get("stopped_early", False))

    # ---- evaluation ---------------------------------------------------------------
    def evaluate_center(self, episodes: int, seed: int) -> dict:
        """Greedy evaluation of the current centre on fresh episodes."""
        learner = self.learner
        if hasattr(learner, "final_evaluation") and self.env is None:
            return learner.final_evaluation(self.dir)
        return greedy_evaluation(learner.policy, self.eval_env, learner.center, episodes, seed, self.cfg.workers)


def make_run_dir(cfg: RunConfig) -> Path:
    if cfg.out:
        d = Path(cfg.out)
    else:
        name = parse_spec(cfg.env or cfg.task, "env").name
        d = Path("runs") / f"{cfg.algo}_{name}_s{cfg.seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    return writable_dir(d)


def writable_dir(d: Path) -> Path:
    """Create ``d`` if needed and check that files can be written there (one clear error if not)."""
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"output directory {str(d)!r} is not writable: {exc.strerror or exc}") from None
    return d


def _read_metrics(path: Path, upto: int) -> tuple[list[str], list[dict]]:
    if not path.exists():
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if int(r["generation"]) < upto]
        return list(reader.fieldnames or []), rows


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


class _Progress:
    def __init__(self, total: int, initial: int, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, unit="gen", dynamic_ncols=True, leave=True)

    def update(self, row: dict) -> None:
        if self.bar is None:
            return
        post = {"ep": row["episodes"], "best": f"{row['best']:.4g}", "mean": f"{row['mean']:.4g}"}
        if row.get("center_return") not in (None, ""):
            post["center"] = f"{row['center_return']:.4g}"
        if row.get("center_success") not in (None, ""):
            post["succ"] = f"{row['center_success']:.2f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train(cfg: RunConfig, resume: Optional[str] = None, quiet: bool = False,
          final_eval: bool = True, report: bool = True) -> Path:
    """Run (or resume) a training run; returns the run directory.

    The run ends after ``cfg.generations`` generations, after the generation in which the
    episode count reaches ``cfg.max_episodes``, or when the centre's periodic success rate
    reaches ``cfg.stop_success``. ``report=False`` skips an env's ``final_report`` (e.g.
    Atari-Go's multi-board report) after the final evaluation.
    """
    if resume is not None:
        run_dir = Path(resume)
        cfg_path = run_dir / "config.json"
        if not cfg_path.exists():
            raise UserError(f"--resume {resume!r}: no config.json there (not a dps run directory)")
        saved = RunConfig(**json.loads(cfg_path.read_text())["run"])
        if cfg.generations is not None:
            saved.generations = cfg.generations
        cfg = saved
        run = Run(cfg, run_dir)
        if run.checkpoint_path.exists():
            run.load()
    else:
        cfg = resolve(cfg)
        run_dir = make_run_dir(cfg)
        run = Run(cfg, run_dir)
    write_json_atomic({"run": dataclasses.asdict(cfg),
                       "resolved": {"policy": run.policy.describe() if run.policy is not None else None,
                                    "num_params": int(run.learner.center.numel()),
                                    "device": str(run.device),
                                    "algorithm_config": dataclasses.asdict(run.algo_config)
                                    if run.algo_config is not None else None}},
                      run_dir / "config.json")
    metrics_path = run_dir / "metrics.csv"
    header, rows = _read_metrics(metrics_path, run.generation)
    progress = _Progress(cfg.generations, run.generation, quiet)
    writer_file = None
    budget = cfg.max_episodes

    def budget_spent() -> bool:
        return budget is not None and run.totals["episodes"] >= budget

    try:
        while run.generation < cfg.generations and not run.stopped_early and not budget_spent():
            t0 = time.perf_counter()
            stats = run.learner.step()
            g = run.generation
            row = {"generation": g}
            episodes_before = run.totals["episodes"]
            run.totals["episodes"] += int(stats.pop("episodes"))
            run.totals["env_steps"] += int(stats.pop("env_steps"))
            center_return = center_success = None
            every = cfg.eval_every_episodes
            due = (g + 1) % cfg.eval_every == 0 or g + 1 == cfg.generations or budget_spent() or (
                every is not None and run.totals["episodes"] // every > episodes_before // every)
            if run.env is not None and due:
                res = run_episodes(run.learner.policy, run.eval_env, run.learner.center.detach()[None],
                                   cfg.center_episodes, derive_seed(cfg.seed, CENTER_EVAL, g), cfg.workers)
                center_return = float(res.returns.mean())
                if res.success is not None:
                    center_success = float(res.success.float().mean())
            run.totals["wall_seconds"] += time.perf_counter() - t0
            row.update(run.totals)
            row.update({"best": stats.pop("best"), "mean": stats.pop("mean"),
                        "center_return": center_return, "center_success": center_success})
            row.update({k: v for k, v in stats.items() if isinstance(v, (int, float, bool)) or v is None})
            if writer_file is None:
                if not header:
                    header = BASE_COLUMNS + sorted(k for k in row if k not in BASE_COLUMNS)
                writer_file = open(metrics_path, "w", newline="")
                writer = csv.DictWriter(writer_file, fieldnames=header, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            writer.writerow({k: _fmt(v) for k, v in row.items()})
            writer_file.flush()
            run.generation = g + 1
            if cfg.stop_success is not None and center_success is not None \
                    and center_success >= cfg.stop_success:
                run.stopped_early = True
            run.save()
            progress.update(row)
            if run.stopped_early:
                break
    except KeyboardInterrupt:
        progress.close()
        if writer_file:
            writer_file.close()
        raise Interrupted(run_dir, run.generation) from None
    except UserError:
        raise
    except Exception as exc:  # a crashed worker, an env bug …: the checkpoint stays
        raise RunFailed(run_dir, run.generation, exc) from exc
    finally:
        progress.close()
        if writer_file and not writer_file.closed:
            writer_file.close()
    plot_curve(metrics_path, run_dir / "curve.png", title=f"{cfg.algo} on {cfg.env or cfg.task}")
    if final_eval:
        summary = {"generations": run.generation, **run.totals, "stopped_early": run.stopped_early,
                   "algorithm": cfg.algo, "env": cfg.env, "task": cfg.task, "policy": cfg.policy,
                   "seed": cfg.seed, "num_params": int(run.learner.center.numel())}
        t0 = time.perf_counter()
        summary["eval"] = run.evaluate_center(cfg.eval_episodes, derive_seed(cfg.seed, EVAL))
        summary["eval_seconds"] = time.perf_counter() - t0
        if report and run.env is not None and hasattr(run.eval_env, "final_report"):
            summary["report"] = run.eval_env.final_report(run.learner.policy, run.learner.center.detach(),
                                                     run_dir, derive_seed(cfg.seed, EVAL, 1))
        write_json_atomic(summary, run_dir / "summary.json")
    if run.env is not None:
        run.env.close()
    return run_dir


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


def load_run(run_dir: "str | Path"):
    """``(policy_spec, params (D,), config dict)`` of a saved run (for play / custom use)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise UserError(f"{str(run_dir)!r} is not a dps run directory (no config.json)")
    config = json.loads(cfg_path.read_text())["run"]
    ck = load_checkpoint(run_dir / "checkpoint.pt")
    return ck["policy"], ck["center"], config


def evaluate_run(run_dir: "str | Path", episodes: Optional[int] = None, seed: Optional[int] = None) -> dict:
    """Re-evaluate the saved centre of a run (the same ``eval`` dict as summary.json)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise UserError(f"{str(run_dir)!r} is not a dps run directory (no config.json)")
    cfg = RunConfig(**json.loads(cfg_path.read_text())["run"])
    run = Run(cfg, run_dir)
    run.load()
    s = derive_seed(cfg.seed, EVAL) if seed is None else int(seed)
    out = run.evaluate_center(episodes or cfg.eval_episodes, s)
    if run.env is not None:
        run.env.close()
    return out


def plot_curve(metrics_path: Path, png: Path, title: str = "") -> None:
    if not metrics_path.exists():
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(metrics_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return

    def col(name):
        return [float(r[name]) if r.get(name) not in (None, "") else math.nan for r in rows]

    x = col("episodes")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(x, col("best"), label="best of generation", lw=1, alpha=0.7)
    ax.plot(x, col("mean"), label="population mean", lw=1, alpha=0.7)
    cx, cy = zip(*[(a, b) for a, b in zip(x, col("center_return")) if not math.isnan(b)]) if any(
        not math.isnan(v) for v in col("center_return")) else ((), ())
    if cx:
        ax.plot(cx, cy, label="centre (greedy)", lw=2)
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
