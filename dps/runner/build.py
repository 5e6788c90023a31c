"""A built run: env, policy and learner from a resolved :class:`~.config.RunConfig`, its
run directory and its checkpoint.

The policy is built once, for the env the learner will see: a learner class may wrap the
env first (``wrap_env(env, config)``: RPG's previous-action / previous-reward inputs), and
training, the periodic centre evaluation and the final evaluation all use that env and
that policy.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import torch

from ..algorithms import ALGORITHMS
from ..algorithms.learner import RunContext, SearchLearner
from ..checkpoint import FORMAT_VERSION, load_checkpoint, save_atomic
from ..envs.registry import make_env
from ..errors import UserError
from ..evaluation import RolloutProblem
from ..policies import make_policy
from ..seeding import INIT, derive_seed
from .config import RunConfig, algo_config, resolve_device, run_name


class Run:
    """A built run (fresh, or loaded with :meth:`load`)."""

    def __init__(self, cfg: RunConfig, run_dir: Path):
        self.cfg, self.dir = cfg, run_dir
        self.device = resolve_device(cfg.device)
        entry = ALGORITHMS[cfg.algo]
        cls = entry.load()
        self.algo_config = algo_config(cfg)
        self.env = self.policy = None
        if cfg.env is not None:
            self.env = make_env(cfg.env, device=self.device)
            if hasattr(cls, "wrap_env"):
                self.env = cls.wrap_env(self.env, self.algo_config)
            self.policy = make_policy(cfg.policy, self.env.observation_shape, self.env.action_space.out_size)
        if entry.kind == "searcher":
            g = torch.Generator().manual_seed(derive_seed(cfg.seed, INIT))
            scale = getattr(self.algo_config, "init_scale", 1.0)
            center = self.policy.init_params(g, scale=scale)
            searcher = cls(center=center, config=self.algo_config, seed=derive_seed(cfg.seed, 0))
            problem = RolloutProblem(self.policy, self.env, cfg.episodes, cfg.workers)
            self.learner = SearchLearner(searcher, problem, cfg.seed)
        else:
            ctx = RunContext(env=self.env, policy=self.policy, config=self.algo_config, seed=cfg.seed,
                             device=self.device, popsize=cfg.popsize, episodes=cfg.episodes, workers=cfg.workers,
                             task=cfg.task, policy_spec=cfg.policy)
            self.learner = cls.from_run(ctx)
            self.policy = self.learner.policy
        self.generation = 0
        self.stopped_early = False
        self.totals = {"episodes": 0, "env_steps": 0, "wall_seconds": 0.0}
        #: when the centre first met the success criterion: generation, episodes, seconds
        self.first_success = None

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def save(self) -> None:
        save_atomic({
            "format": FORMAT_VERSION,
            "generation": self.generation,
            "totals": dict(self.totals),
            "stopped_early": self.stopped_early,
            "first_success": json.dumps(self.first_success),
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
        self.first_success = json.loads(ck.get("first_success", "null"))

    def close(self) -> None:
        if self.env is not None:
            self.env.close()


def default_run_dir(cfg: RunConfig) -> Path:
    """``runs/ALGO_ENV_sSEED_YYYYmmdd-HHMMSS-ffffff-PID``: unique for runs started at the
    same moment by different processes."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() // 1000 % 1_000_000:06d}-{os.getpid()}"
    return Path("runs") / f"{run_name(cfg)}_s{cfg.seed}_{stamp}"


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


def read_config(run_dir: Path) -> RunConfig:
    """The checked :class:`RunConfig` of a run directory's config.json."""
    path = run_dir / "config.json"
    if not path.exists():
        raise UserError(f"{str(run_dir)!r} is not a dps run directory (no config.json)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{str(path)!r} cannot be read: {exc}") from None
    if not isinstance(data, dict) or "run" not in data:
        raise UserError(f"{str(path)!r} has no 'run' object")
    return RunConfig.from_dict(data["run"], str(path))
