"""A built run: env, policy and learner from a resolved :class:`~.config.RunConfig`, its
run directory and its checkpoint.

The policy is built once, for the env the learner will see: a learner class may wrap the
env first (``wrap_env(env, config)``: RPG's previous-action / previous-reward inputs), and
training, the periodic centre evaluation and the final evaluation all use that env and
that policy.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
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
from ..rollout import refuse_if_too_big
from ..seeding import INIT, derive_seed
from .champions import ChampionTest
from .config import CHANGEABLE_ON_RESUME, RunConfig, algo_config, resolve_device, run_name
from .curriculum import Curriculum
from .curriculum import active as active_curriculum
from .selection import Selection


class Run:
    """A built run (fresh, or loaded with :meth:`load`)."""

    def __init__(self, cfg: RunConfig, run_dir: Path):
        self.cfg, self.dir = cfg, run_dir
        self.device = resolve_device(cfg.device)
        entry = ALGORITHMS[cfg.algo]
        cls = entry.load()
        self.algo_config = algo_config(cfg)
        if cfg.tensorboard:
            from .sinks import TensorBoard
            TensorBoard.check()
        self.env = self.policy = None
        #: a curriculum over one env option (``--curriculum``), its current value and stages
        self.curriculum = (Curriculum.parse(cfg.curriculum, cfg.env, cfg.curriculum_factor, cfg.curriculum_success)
                           if active_curriculum(cfg.curriculum) is not None else None)
        self.stage, self.stages, self._target = None, [], None
        if cfg.env is not None:
            first = cfg.env if self.curriculum is None else self.curriculum.spec_at(self.curriculum.start)
            self.env, self.policy = self.env_and_policy(first)
            check_memory(self.policy, self.env, cfg, entry.kind)
            if self.curriculum is not None:
                self._check_target(entry.kind)
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
        if self.curriculum is not None:
            if getattr(self.learner, "set_env", None) is None:
                self.close()
                raise UserError(f"--curriculum: algorithm {cfg.algo!r} cannot change its env during a run")
            self.stage = self.curriculum.start
            self.stages = [{"value": self.stage, "generation": 0, "episodes": 0}]
        self.generation = 0
        self.stopped_early = False
        self.totals = {"episodes": 0, "env_steps": 0, "wall_seconds": 0.0}
        #: when the centre first met the success criterion: generation, episodes, seconds
        self.first_success = None
        #: the metrics row of the last finished generation, kept in the checkpoint so that a
        #: resume restores it where a crash tore or lost it in metrics.csv (sinks.MetricsCSV)
        self.last_row = None
        #: the centre the run returns when it is scored on held-out envs (--select-on)
        self.selection = Selection(self) if cfg.select_on else None
        #: the member the run returns when its env defines solving (--test-champions)
        self.champions = None
        if cfg.test_champions:
            try:
                self.champions = ChampionTest(self)
            except UserError:
                self.close()
                raise

    def env_and_policy(self, spec: str):
        """``(env, policy)`` for an env spec as the learner sees it: the env wrapped by the
        learner class (``wrap_env``), the run's policy spec built for its observation."""
        cls = ALGORITHMS[self.cfg.algo].load()
        env = make_env(spec, device=self.device)
        if hasattr(cls, "wrap_env"):
            env = cls.wrap_env(env, self.algo_config)
        return env, make_policy(self.cfg.policy, env.observation_shape, env.action_space.out_size)

    def _check_target(self, kind: str) -> None:
        """The curriculum's last stage gives the policy the same interface as its first, and
        fits in memory (an RPG run records its longest episodes there)."""
        env, policy = self.env_and_policy(self.curriculum.spec_at(self.curriculum.end))
        try:
            if (tuple(env.observation_shape), env.action_space.out_size, policy.num_params) != (
                    tuple(self.env.observation_shape), self.env.action_space.out_size, self.policy.num_params):
                raise UserError(f"--curriculum {self.cfg.curriculum!r}: the option changes the env's observation "
                                f"or action sizes ({tuple(self.env.observation_shape)} → "
                                f"{tuple(env.observation_shape)}); a curriculum keeps one policy")
            check_memory(policy, env, self.cfg, kind)
        finally:
            env.close()

    def set_stage(self, value, generation: "int | None" = None) -> None:
        """Train on the curriculum's env at ``value`` from the next generation on (recorded as
        a new stage when ``generation`` is given; a resume restores without recording)."""
        env, _ = self.env_and_policy(self.curriculum.spec_at(value))
        old, self.env, self.stage = self.env, env, value
        self.learner.set_env(env)
        old.close()
        if generation is not None:
            self.stages.append({"value": value, "generation": generation, "episodes": self.totals["episodes"]})

    @property
    def at_target(self) -> bool:
        """The run trains on its target env (no curriculum, or the curriculum's last stage)."""
        return self.curriculum is None or self.stage == self.curriculum.end

    def target_env(self):
        """The env the run is judged on: the env itself, or the curriculum's last stage."""
        if self.at_target:
            return self.env
        if self._target is None:
            self._target, _ = self.env_and_policy(self.curriculum.spec_at(self.curriculum.end))
        return self._target

    def returned_center(self) -> torch.Tensor:
        """The parameters the run returns: the member that passed ``--test-champions``, the
        centre ``--select-on`` kept once one has been scored, else the learner's current centre."""
        if self.champions is not None and self.champions.params is not None:
            return self.champions.params
        if self.selection is not None and self.selection.center is not None:
            return self.selection.center
        return self.learner.center.detach()

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
            "last_row": json.dumps(self.last_row, default=float),
            "learner": self.learner.state_dict(),
            "center": self.learner.center.detach().cpu().clone(),
            **(self.selection.state_dict() if self.selection is not None else {}),
            **(self.champions.state_dict() if self.champions is not None else {}),
            **({"curriculum": json.dumps({"stage": self.stage, "stages": self.stages})}
               if self.curriculum is not None else {}),
            "policy": self.cfg.policy,
            "config": json.dumps(dataclasses.asdict(self.cfg)),
        }, self.checkpoint_path)

    def load(self) -> None:
        ck = load_checkpoint(self.checkpoint_path)
        self._check_matches(ck)
        if self.curriculum is not None:  # before the learner's state: set_env resets what the state restores
            state = json.loads(ck.get("curriculum") or "null") or {}
            self.stages = state.get("stages", self.stages)
            stage = state.get("stage", self.curriculum.start)
            if stage != self.stage:
                self.set_stage(stage)
        self.learner.load_state_dict(ck["learner"])
        self.generation = int(ck["generation"])
        self.totals = dict(ck["totals"])
        self.stopped_early = bool(ck.get("stopped_early", False))
        self.first_success = json.loads(ck.get("first_success", "null"))
        self.last_row = json.loads(ck.get("last_row", "null"))
        if self.selection is not None:
            self.selection.load_state_dict(ck)
        if self.champions is not None:
            self.champions.load_state_dict(ck)

    def _check_matches(self, ck: dict) -> None:
        """The checkpoint belongs to this configuration: a config.json edited by hand (another
        policy, env or seed) would otherwise load a centre of another shape, or continue a
        different run under the old one's name."""
        try:
            saved = json.loads(ck.get("config", "null"))
        except (TypeError, ValueError):
            saved = None
        if isinstance(saved, dict):
            now = dataclasses.asdict(self.cfg)
            ignored = CHANGEABLE_ON_RESUME + ("out",)  # out: the folder may have been moved
            diff = [f"--{k.replace('_', '-')} {now[k]!r} (the checkpoint's: {saved[k]!r})" for k in now
                    if k not in ignored and k in saved and saved[k] != now[k]]
            if diff:
                raise UserError(f"{str(self.dir / 'config.json')!r} does not match {str(self.checkpoint_path)!r}: "
                                f"{'; '.join(diff)}; restore config.json or start a new run")
        center = ck.get("center")
        held = center.numel() if torch.is_tensor(center) else 0
        if held != self.learner.center.numel():
            raise UserError(f"{str(self.checkpoint_path)!r} holds {held} parameters, but the run's policy has "
                            f"{self.learner.center.numel()}")

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
        if getattr(self, "selection", None) is not None:
            self.selection.close()
        if getattr(self, "_target", None) is not None:
            self._target.close()


def check_memory(policy, env, cfg: RunConfig, kind: str) -> None:
    """Refuse, naming the figures, a population × episodes × policy that would not fit in
    memory (:func:`dps.rollout.memory_estimate`), before anything of that size exists."""
    if kind == "searcher":
        P, B, steps = int(cfg.popsize), int(cfg.episodes), 0
    else:  # an action-space learner records its episodes for the gradient
        P, B, steps = 1, int(cfg.episodes), int(env.max_steps)
    refuse_if_too_big(policy, env, P, B, steps, "this run", "--popsize, --episodes or the policy's size")


def new_run_dir(cfg: RunConfig, root: Path = Path("runs")) -> Path:
    """Create and return ``runs/ALGO_ENV-HASH_sSEED_YYYYmmdd-HHMMSS-ffffff``: HASH is a short
    hash of the resolved configuration (runs that differ only in env options get different
    names), the time has microseconds, and the directory is created with ``exist_ok=False``
    (a counter is appended if it exists), so runs started at the same moment never share one."""
    digest = hashlib.sha1(json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str).encode()).hexdigest()[:6]
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() // 1000 % 1_000_000:06d}"
    base = root / f"{run_name(cfg)}-{digest}_s{cfg.seed}_{stamp}"
    for i in range(1000):
        d = base if i == 0 else base.with_name(f"{base.name}-{i}")
        try:
            d.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"cannot create run directory {str(d)!r}: {exc.strerror or exc}") from None
        return writable_dir(d)
    raise UserError(f"cannot create a new run directory beside {str(base)!r}")


def clear_run_dir(d: Path) -> None:
    """Remove a dps run directory's contents (``--overwrite``): its files and the folders a
    run writes (tensorboard/), nothing else."""
    for child in d.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


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
    path = Path(run_dir) / "config.json"
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{str(run_dir)!r} is not a dps run directory (no config.json)") from None
    except (OSError, ValueError) as exc:  # a NUL in the path, a name too long, not UTF-8 …
        raise UserError(f"{str(path)!r} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "run" not in data:
        raise UserError(f"{str(path)!r} has no 'run' object")
    return RunConfig.from_dict(data["run"], str(path))
