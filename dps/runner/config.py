"""The typed run configuration: one dataclass whose fields are the command line's flags
and config.json's ``run`` object (two views of the same thing), resolved once against the
tuned defaults (:mod:`.defaults`) and validated in one place (:func:`check`).
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from .. import native
from ..algorithms import ALGORITHMS
from ..algorithms.base import config_from_dict
from ..envs.registry import ENVS
from ..errors import UserError
from ..policies import POLICIES
from ..registry import import_modules
from ..spec import check_value, parse_spec
from ..tasks import TASKS
from .curriculum import Curriculum
from .curriculum import active as active_curriculum
from .defaults import tuned


def _flag(help: str, low=None, high=None, default=None):
    """A field that is also a command-line flag; ``low``/``high`` bound numbers (inclusive)."""
    return field(default=default, metadata={"help": help, "low": low, "high": high})


def flag_name(f: dataclasses.Field) -> str:
    """The command-line flag of a :class:`RunConfig` field (``--eval-every``; ``imports`` is
    ``--import``, repeatable)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


#: an upper bound where a larger value would only exhaust memory or time
_HUGE = 10 ** 9


@dataclass
class RunConfig:
    """Everything that defines a run (config.json's ``run``; the CLI's flags)."""

    algo: str = field(default="", metadata={"help": "algorithm name (see --list)"})
    env: Optional[str] = _flag("environment spec NAME[:key=value,...] (see --list)")
    task: Optional[str] = _flag("supervised sequence task spec (evolino), e.g. sines:n=3")
    policy: Optional[str] = _flag("policy spec, e.g. lstm:hidden=16 (default: per env)")
    generations: Optional[int] = _flag("generations / updates to run (default: per env)", 1, _HUGE)
    popsize: Optional[int] = _flag("population size (default: per env)", 1, 10 ** 7)
    episodes: Optional[int] = _flag("episodes per member per generation (default: per env)", 1, 10 ** 7)
    seed: int = _flag("root seed; every generation's seeds are derived from it", 0, 2 ** 63 - 1, default=0)
    device: str = _flag("auto | cpu | cuda | cuda:N", default="auto")
    workers: int = _flag("worker processes for envs stepped on the CPU (gym:)", 1, 256, default=1)
    out: Optional[str] = _flag("run directory (default runs/ALGO_ENV_sSEED_TIME)")
    eval_episodes: Optional[int] = _flag("greedy evaluation episodes at the end (default 100)", 1, 10 ** 7)
    eval_every: Optional[int] = _flag("evaluate the centre every N generations (default G/50)", 1, _HUGE)
    center_episodes: Optional[int] = _flag("episodes of each periodic centre evaluation (default: per env)",
                                           1, 10 ** 7)
    stop_success: Optional[float] = _flag("stop once the centre's greedy success rate reaches this "
                                          "(default: per env; tmaze 1.0)", 0.0, 1.0)
    max_episodes: Optional[int] = _flag("budget in training episodes: stop after the generation that reaches it",
                                        1, 10 ** 15)
    max_env_steps: Optional[int] = _flag("budget in training env steps: stop after the generation that reaches it "
                                         "(compares envs whose episodes differ in length)", 1, 10 ** 15)
    eval_every_episodes: Optional[int] = _flag("also evaluate the centre each time the episode count crosses a "
                                               "multiple of this", 1, 10 ** 15)
    tensorboard: bool = _flag("also write TensorBoard event files to RUN_DIR/tensorboard", default=False)
    select_on: Optional[list] = field(default=None, metadata={
        "flag": "--select-on", "metavar": "SPEC",
        "help": "held-out env spec (repeatable; 'none': keep the last centre): the run returns the latest centre "
                "whose lowest score over the training env and every held-out one is within one standard error of "
                "the best so far (default: per env)"})
    select_every: Optional[int] = _flag("score the centre for --select-on every N generations (default: per env)",
                                        1, _HUGE)
    select_episodes: Optional[int] = _flag("episodes per env of each --select-on scoring (default: per env)",
                                           1, 10 ** 7)
    test_champions: Optional[bool] = _flag("true: test each generation's best member by the env's definition of "
                                           "solved (the double pole: 100,000 steps from the standard start and, "
                                           "without velocities, 200 of the 625 grid starts); the first that passes "
                                           "ends the run and is the policy it returns (default: per env; true on the "
                                           "double pole)")
    curriculum: Optional[str] = field(default=None, metadata={
        "none_is_a_value": True,
        "help": "grow one numeric env option: KEY=START..END, e.g. length=10..1000; the next stage starts when the "
                "centre's periodic success rate reaches --curriculum-success ('none': no curriculum; default: "
                "per env)"})
    curriculum_factor: Optional[float] = _flag("multiply the curriculum's option by this at each stage (default 2)",
                                               1.0, 1e6)
    curriculum_success: Optional[float] = _flag("the centre's greedy success rate that ends a curriculum stage "
                                                "(default 0.95)", 0.0, 1.0)
    imports: list = field(default_factory=list, metadata={
        "flag": "--import", "metavar": "MODULE",
        "help": "import this Python module first (repeatable): a package that registers gymnasium ids or dps "
                "entries on import, in this process and every worker"})
    algo_options: dict = field(default_factory=dict, metadata={"help": "the algorithm's own options"})

    @classmethod
    def flags(cls) -> list[dataclasses.Field]:
        """The fields that are command-line flags (all but ``algo`` and ``algo_options``)."""
        return [f for f in dataclasses.fields(cls) if f.name not in ("algo", "algo_options")]

    @classmethod
    def from_dict(cls, values: dict, what: str = "config.json") -> "RunConfig":
        """A checked, resolved config from a dict (config.json's ``run``): unknown keys, values
        of the wrong type or range, unknown names, specs that do not bind and settings left
        unresolved are one clear error."""
        if not isinstance(values, dict):
            raise UserError(f"{what}: 'run' must be an object, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(values) - names)
        if extra:
            raise UserError(f"{what}: unknown setting(s) {', '.join(extra)}; accepted: {', '.join(sorted(names))}")
        cfg = cls(**values)
        check(cfg, what)
        import_user_modules(cfg, what)
        check_names(cfg, what)
        unset = [f"--{k.replace('_', '-')}" for k in RESOLVED + ("policy",) * (cfg.env is not None)
                 if getattr(cfg, k) is None]  # an env run's policy is resolved; a task's learner has its own
        if unset:
            raise UserError(f"{what}: {', '.join(unset)} not set (a resolved run sets them)")
        return cfg


def is_list(annotation: Any) -> bool:
    """A repeatable flag's field: ``list`` or ``Optional[list]`` (of strings)."""
    return annotation is list or list in typing.get_args(annotation)


def _type_ok(value: Any, annotation: Any) -> bool:
    inner = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if value is None:
        return type(None) in typing.get_args(annotation)
    target = inner[0]
    if target is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if target is bool:
        return isinstance(value, bool)
    if target is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if target is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, target)


#: the settings :func:`resolve` always fills in (config.json must have them)
RESOLVED = ("generations", "popsize", "episodes", "eval_episodes", "eval_every", "center_episodes")


def check(cfg: RunConfig, what: str = "") -> None:
    """Every field's type and range (finite numbers only), and the algorithm's options
    against its ``Config`` fields' types; one error naming the value (prefixed by ``what``,
    e.g. the config.json it came from)."""
    prefix = f"{what}: " if what else ""
    native.enabled()  # the DPS_NATIVE switch, before anything is created (dps/native/__init__.py)
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        value = getattr(cfg, f.name)
        flag = flag_name(f)
        if not _type_ok(value, hints[f.name]):
            raise UserError(f"{prefix}{flag} has the wrong type: {value!r}")
        low, high = f.metadata.get("low"), f.metadata.get("high")
        if isinstance(value, str) and "\0" in value:  # no path or spec holds one; os calls would raise
            raise UserError(f"{prefix}{flag} {value!r} contains a NUL character")
        if isinstance(value, list) and any("\0" in v for v in value):
            raise UserError(f"{prefix}{flag} {value!r} contains a NUL character")
        if value is None or isinstance(value, (bool, str, dict, list)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{prefix}{flag} must be a finite number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            kind = "an integer" if isinstance(value, int) else "a number"
            raise UserError(f"{prefix}{flag} must be {kind} in [{low}, {high}], got {value!r}")
    if cfg.algo in ALGORITHMS and cfg.algo_options:
        # config.json's options are typed JSON values, not strings through the CLI's converter:
        # check them the same way (a NaN or a string as a learning rate is refused here)
        options = {o.name: o for o in ALGORITHMS[cfg.algo].options()}
        for k, v in cfg.algo_options.items():
            if k not in options:
                raise UserError(f"{prefix}unknown option {k!r} for algorithm {cfg.algo!r}; accepted: "
                                f"{', '.join(options)}")
            try:
                check_value(v, options[k].annotation, f"--{k.replace('_', '-')}")
            except UserError as exc:
                raise UserError(f"{prefix}{exc}") from None


def import_user_modules(cfg: RunConfig, what: str = "") -> None:
    """Import the run's ``--import`` modules (they may register the names it uses)."""
    try:
        import_modules(cfg.imports)
    except UserError as exc:
        raise UserError(f"{what}: {exc}" if what else str(exc)) from None


def check_names(cfg: RunConfig, what: str = "") -> None:
    """The algorithm is registered, exactly one of env and task is given (a task only for
    evolino), and the env, task and policy specs bind to their entries' options."""
    prefix = f"{what}: " if what else ""
    try:
        entry = ALGORITHMS[cfg.algo]
    except UserError as exc:
        raise UserError(f"{prefix}{exc}") from None
    if (cfg.env is None) == (cfg.task is None):
        if cfg.env is None:
            raise UserError(f"{prefix}missing --env SPEC (or --task SPEC for evolino); see python -m dps.run --list")
        raise UserError(f"{prefix}give either --env or --task, not both")
    if cfg.task is not None and entry.name != "evolino":
        raise UserError(f"{prefix}--task is only for evolino; algorithm {cfg.algo!r} needs --env")
    held_out = [s for s in cfg.select_on or [] if s != "none"]
    if held_out and cfg.env is None:
        raise UserError(f"{prefix}--select-on scores a policy on envs; a --task run has none")
    curriculum = active_curriculum(cfg.curriculum)
    if curriculum is not None and cfg.env is None:
        raise UserError(f"{prefix}--curriculum grows an env option; a --task run has no env")
    if curriculum is not None and held_out:
        raise UserError(f"{prefix}--curriculum and --select-on cannot be combined: a centre's score on the training "
                        "env would change with the stage")
    if "none" in (cfg.select_on or []) and len(cfg.select_on) > 1:
        raise UserError(f"{prefix}--select-on none keeps the last centre; it cannot be combined with env specs "
                        f"({', '.join(held_out)})")
    try:
        if cfg.env is not None:
            ENVS.options(cfg.env)
        else:
            TASKS.options(cfg.task)
        if cfg.policy is not None:
            POLICIES.options(cfg.policy)
        for spec in held_out:
            ENVS.options(spec)
        if curriculum is not None:
            Curriculum.parse(curriculum, cfg.env, cfg.curriculum_factor or 2.0, cfg.curriculum_success or 0.95)
    except UserError as exc:
        raise UserError(f"{prefix}{exc}") from None


#: settings that may differ from config.json when a run is resumed: they do not change what
#: the run computes (more generations continue it; workers and TensorBoard only change how)
CHANGEABLE_ON_RESUME = ("generations", "workers", "tensorboard")


def resume_config(saved: RunConfig, changes: dict, where: str) -> RunConfig:
    """``saved`` with the ``changes`` given on resume; a change to anything outside
    :data:`CHANGEABLE_ON_RESUME` is refused, listing every such setting."""
    changes = dict(changes)
    algo, options = changes.pop("algo", saved.algo), changes.pop("algo_options", {})
    conflicts = []
    if algo and algo != saved.algo:
        conflicts.append(f"algorithm {algo!r} (the run's: {saved.algo!r})")
    current = algo_config(saved) if options else None
    for k, v in options.items():
        if getattr(current, k, None) != v:
            conflicts.append(f"--{k.replace('_', '-')} {v!r} (the run's: {getattr(current, k, None)!r})")
    for k, v in changes.items():
        if k not in CHANGEABLE_ON_RESUME and getattr(saved, k) != v:
            conflicts.append(f"--{k.replace('_', '-')} {v!r} (the run's: {getattr(saved, k)!r})")
    if conflicts:
        raise UserError(f"--resume {where}: {'; '.join(conflicts)} differ from its config.json; only "
                        f"{', '.join('--' + k for k in CHANGEABLE_ON_RESUME)} may change on resume")
    out = dataclasses.replace(saved, **{k: v for k, v in changes.items() if k in CHANGEABLE_ON_RESUME})
    check(out, f"--resume {where}")
    return out


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"bad device {name!r}; accepted: auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def resolve(cfg: RunConfig) -> RunConfig:
    """Fill unset fields from the tuned defaults (:mod:`.defaults`); validate names and values."""
    check(cfg)  # a NUL in a spec, a wrong type: before any name is looked up
    import_user_modules(cfg)
    check_names(cfg)
    if cfg.env is not None:
        defaults, algo_opts = tuned(cfg.algo, ENVS.spec(cfg.env).name, ENVS.options(cfg.env))
    else:
        defaults, algo_opts = tuned(cfg.algo, "*", {})
        defaults["policy"] = None  # the learner's own default (Evolino: LSTM with peepholes)
    out = dataclasses.replace(cfg)
    for k in ("policy", "popsize", "episodes", "generations", "eval_episodes", "stop_success"):
        if getattr(out, k) is None:
            setattr(out, k, defaults.get(k))
    if out.eval_every is None:
        out.eval_every = defaults.get("eval_every", max(1, int(out.generations) // 50))
    if out.center_episodes is None:
        out.center_episodes = defaults.get("center_episodes", out.episodes)
    if out.select_on is None:
        out.select_on = list(defaults.get("select_on", []))
    out.select_on = [s for s in out.select_on if s != "none"]
    if out.select_on:
        if out.select_every is None:
            out.select_every = defaults.get("select_every", out.eval_every)
        if out.select_episodes is None:
            out.select_episodes = defaults.get("select_episodes", out.center_episodes)
    elif cfg.select_every is not None or cfg.select_episodes is not None:
        raise UserError("--select-every and --select-episodes set how --select-on scores the centre; this run "
                        "keeps its last centre (give --select-on SPEC)")
    else:
        out.select_every = out.select_episodes = None
    if out.test_champions is None:
        # the user's --select-on wins over a default champion test: both choose the returned policy
        out.test_champions = bool(defaults.get("test_champions", False)) and not out.select_on
    elif out.test_champions and out.select_on:
        raise UserError("--test-champions true and --select-on both choose the policy the run returns; give one")
    if out.curriculum is None:
        out.curriculum = defaults.get("curriculum")
        if out.curriculum is not None and out.select_on:  # the user's --select-on wins over a default curriculum
            out.curriculum = None
    if active_curriculum(out.curriculum) is not None:
        out.curriculum_factor = 2.0 if out.curriculum_factor is None else out.curriculum_factor
        out.curriculum_success = 0.95 if out.curriculum_success is None else out.curriculum_success
    elif cfg.curriculum_factor is not None or cfg.curriculum_success is not None:
        raise UserError("--curriculum-factor and --curriculum-success set how --curriculum grows the env; this run "
                        "has no curriculum (give --curriculum KEY=START..END)")
    out.algo_options = {**algo_opts, **cfg.algo_options}
    check(out)
    return out


def algo_config(cfg: RunConfig):
    """The algorithm's ``Config`` instance from the run's options, ``popsize`` and ``episodes``."""
    Config = getattr(ALGORITHMS[cfg.algo].load(), "Config", None)
    if Config is None:
        return None
    values = dict(cfg.algo_options)
    names = {f.name for f in dataclasses.fields(Config)}
    if "popsize" in names and cfg.popsize is not None and "popsize" not in values:
        values["popsize"] = int(cfg.popsize)
    if "episodes" in names and "episodes" not in values:
        values["episodes"] = int(cfg.episodes)
    return config_from_dict(Config, values)


def run_name(cfg: RunConfig) -> str:
    """``ALGO_ENVNAME`` for default run directory names."""
    return f"{cfg.algo}_{parse_spec(cfg.env or cfg.task, 'env').name}"
