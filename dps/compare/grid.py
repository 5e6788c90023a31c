"""What a comparison grid is made of: learners, tasks, presets.

A *learner* is a dps algorithm with fixed options (``pgpe`` with the 2010 rule is one
learner, ``pgpe`` with ClipUp another). A *task* is an env spec with a budget in training
episodes, a success target and the greedy evaluation settings. A *cell* is one
(learner, task, seed) run, trained by :func:`dps.runner.train` exactly as
``python -m dps.run ALGO --env ENV --max-episodes BUDGET ...`` would.

Equal terms:

* every learner gets the same budget of **training episodes** on a task (the run stops
  after the generation / update that reaches it, so a run may overshoot by less than one
  generation; the episodes actually used are reported, and env steps too);
* every learner is evaluated the same way: the *centre* (the searcher's mean, or RPG's
  θ) acts greedily on ``center_episodes`` fresh episodes each time the episode count
  crosses a multiple of ``budget / evals``; the task counts as **solved** at the first
  such evaluation whose success rate reaches ``target``, and the run stops there;
* the policy: by default each learner runs on the same LSTM *class* with the per-env,
  per-algorithm default size and initialisation that dps measured for it
  (``TUNED`` in ``dps/runner/defaults.py``; e.g. PGPE's T-maze LSTM has 4 cells, RPG's 16
  cells with forget-gate bias 5). ``policy=`` on a task (or ``--policy`` on the command line) forces
  one policy spec for every learner.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import UserError, unknown


@dataclass(frozen=True)
class LearnerDef:
    """A dps algorithm with fixed options.

    :param name: label in tables and figures
    :param algo: the dps algorithm name (``python -m dps.run --list``)
    :param options: the algorithm's options (its ``Config`` fields), overriding dps's
        per-env defaults
    :param family: ``parameter`` or ``action`` (exploration space)
    :param continuous_only: only for tasks with continuous actions (SDE)
    """

    name: str
    algo: str
    options: dict = field(default_factory=dict)
    family: str = "parameter"
    continuous_only: bool = False
    description: str = ""

    def key(self) -> dict:
        return {"algo": self.algo, "options": dict(sorted(self.options.items()))}


@dataclass(frozen=True)
class TaskDef:
    """One env with its budget and success criterion.

    :param name: label (also the folder name part), e.g. ``tmaze-50``
    :param env: env spec for ``dps.run``
    :param group: series the key figure plots against ``length`` (``tmaze``, ``class-query``)
    :param length: dependency length (T-maze corridor, class-query lag), None otherwise
    :param budget: training episodes per run
    :param target: greedy success rate that counts as solved
    :param continuous: the env's actions are continuous (RPG+SDE applies)
    :param evals: evaluations of the centre over the budget (curve resolution)
    :param center_episodes: fresh episodes per centre evaluation
    :param eval_episodes: fresh episodes of the final greedy evaluation
    :param stop: stop a run once solved (False: run the whole budget, e.g. Atari-Go)
    :param policy: one policy spec for every learner (None: dps's per-algorithm default)
    """

    name: str
    env: str
    budget: int
    target: float = 0.95
    group: str | None = None
    length: int | None = None
    continuous: bool = False
    evals: int = 40
    center_episodes: int = 100
    eval_episodes: int = 100
    stop: bool = True
    policy: str | None = None

    def key(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "name"}


#: the learners of the comparison: parameter space and action space
LEARNERS: dict[str, LearnerDef] = {d.name: d for d in [
    LearnerDef("pgpe-paper", "pgpe",
               {"variant": "paper", "lr_mu": 0.2, "lr_sigma": 0.1, "sigma_init": 2.0, "init_scale": 0.0},
               description="PGPE, Sehnke et al. 2010 rule (reward-normalised, σ₀ = 2, μ₀ = 0)"),
    LearnerDef("pgpe-clipup", "pgpe", {"variant": "modern", "optimizer": "clipup"},
               description="PGPE, modern variant: centered ranks + ClipUp, σ step clipped (dps defaults)"),
    LearnerDef("pdes", "pdes", {}, description="ES with past descent directions, Meier et al. 2019"),
    LearnerDef("cmaes", "cmaes", {}, description="CMA-ES (pycma), its default population size"),
    LearnerDef("snes", "snes", {}, description="SNES (evotorch)"),
    LearnerDef("rpg", "rpg", {"baseline": "moving"}, family="action",
               description="recurrent policy gradients, moving-average baseline (the measured best)"),
    LearnerDef("rpg-sde", "rpg", {"baseline": "moving", "sde": True}, family="action", continuous_only=True,
               description="RPG with state-dependent exploration (continuous actions only)"),
]}


def _tmaze(n: int, budget: int) -> TaskDef:
    return TaskDef(f"tmaze-{n}", f"tmaze:length={n}", budget, group="tmaze", length=n, evals=25, center_episodes=50)


def _cq(n: int, budget: int) -> TaskDef:
    # a greedy class-query episode still sees random noise inputs, so its success is a coin flip
    # per episode: 200 centre episodes keep a 0.89 policy from passing the 0.95 target by luck
    # (measured on 50: a stop at 0.98 whose 100-episode final evaluation gave 0.89)
    return TaskDef(f"class-query-{n}", f"class-query:length={n}", budget, group="class-query", length=n,
                   evals=25, center_episodes=200, eval_episodes=1000)


#: every task of the full grid, by name
GRID_TASKS: dict[str, TaskDef] = {t.name: t for t in [
    *[_tmaze(n, 50_000) for n in (10, 20, 50, 100, 200, 500)],
    *[_cq(n, 50_000) for n in (20, 50, 100, 200)],
    # single pole without velocities (continuous force): deterministic standard start
    TaskDef("pole1-novel", "cartpole:velocities=false", 10_000, continuous=True, center_episodes=1,
            eval_episodes=1),
    # double pole without velocities (continuous force): solved here = the centre balances the
    # standard start for 1000 steps; the 625-start generalisation score is reported beside it
    TaskDef("pole2-novel", "cartpole:poles=2,velocities=false", 20_000, continuous=True, center_episodes=1,
            eval_episodes=1),
    TaskDef("gym-cartpole-novel", "gym:CartPole-v1,velocities=false", 20_000, center_episodes=20,
            eval_episodes=100, evals=20),
    # Atari-Go 5x5 vs L2: the whole budget is run; "solved" = the centre's win rate reaches 90 %.
    # The policy is pinned to the one the recorded grid ran (the atari-go default is larger now)
    TaskDef("atari-go-5x5", "atari-go:size=5,opponent=L2", 100_000, target=0.9, center_episodes=200,
            eval_episodes=1000, stop=False, evals=20, policy="mdlstm:hidden=4"),
]}


@dataclass(frozen=True)
class Preset:
    learners: tuple
    tasks: tuple
    seeds: tuple
    budgets: dict = field(default_factory=dict)   # task name -> budget override
    note: str = ""
    task_seeds: dict = field(default_factory=dict)  # task name -> its own seeds (instead of `seeds`)

    def seeds_for(self, task: str) -> tuple:
        return tuple(self.task_seeds.get(task, self.seeds))

    @property
    def all_seeds(self) -> tuple:
        return tuple(sorted(set(self.seeds).union(*map(set, self.task_seeds.values()))))


# the full grid's cheap tasks (every cell <= 5 min on 2 cores at seeds 0-4, results.csv of
# experiments/results/compare/full); T-maze 20 is not among them: an unsolved run there took 36 min
CHEAP_TASKS = ("class-query-20", "class-query-50", "class-query-100", "tmaze-10")

PRESETS: dict[str, Preset] = {
    # <= 15 min on 2 CPU cores (measured: README / REPORT.md)
    "quick": Preset(
        learners=("pgpe-paper", "pgpe-clipup", "pdes", "cmaes", "snes", "rpg", "rpg-sde"),
        tasks=("tmaze-10", "tmaze-20", "class-query-20", "class-query-50", "pole1-novel"),
        seeds=(0, 1),
        budgets={"tmaze-10": 10_000, "tmaze-20": 10_000, "class-query-20": 10_000, "class-query-50": 10_000,
                 "pole1-novel": 3_000},
        note="small grid for a first look and the smoke test: 2 seeds, 3k-10k episodes per run"),
    # tasks in run order within a seed, cheapest first (measured on the quick grid), so that a grid
    # cut short by --deadline has the cheap cells of a seed before its costliest (T-maze 100-500:
    # an unsolved run steps up to 4N + 20 per episode for the whole budget)
    "full": Preset(
        learners=tuple(LEARNERS),
        tasks=("class-query-20", "class-query-50", "class-query-100", "class-query-200", "tmaze-10", "tmaze-20",
               "tmaze-50", "pole1-novel", "atari-go-5x5", "pole2-novel", "gym-cartpole-novel", "tmaze-100",
               "tmaze-200", "tmaze-500"),
        seeds=(0, 1, 2, 3, 4),
        # "10 seeds where cheap": the tasks whose every cell took <= 5 min at seeds 0-4 (2 cores)
        task_seeds={t: tuple(range(10)) for t in CHEAP_TASKS},
        note="the whole grid: 5 seeds per cell (10 on the cheap tasks: "
             + ", ".join(CHEAP_TASKS) + "), budgets as in dps.compare.grid.GRID_TASKS"),
}


@dataclass(frozen=True)
class Cell:
    learner: LearnerDef
    task: TaskDef
    seed: int

    @property
    def name(self) -> str:
        return f"{self.learner.name}__{self.task.name}__s{self.seed}"

    def key(self) -> dict:
        """What defines the cell's run (stored in its folder; a resumed grid must match)."""
        return {"learner": self.learner.name, **self.learner.key(), "task": self.task.name, **self.task.key(),
                "seed": self.seed}


def _pick(names: list[str] | None, table: dict, kind: str, default: tuple) -> list:
    if not names:
        return [table[n] for n in default]
    out = []
    for n in names:
        if n not in table:
            raise unknown(kind, n, table)
        out.append(table[n])
    return out


def build_grid(preset: str = "quick", learners: list[str] | None = None, tasks: list[str] | None = None,
               seeds: list[int] | None = None, budget_scale: float = 1.0,
               policy: str | None = None) -> list[Cell]:
    """The cells of a preset, optionally restricted / rescaled. Seed-major order, so a grid
    cut short has every cell at a few seeds rather than a few cells at every seed."""
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    if not (budget_scale > 0):
        raise UserError(f"--budget-scale must be > 0, got {budget_scale!r}")
    p = PRESETS[preset]
    learner_defs = _pick(learners, LEARNERS, "learner", p.learners)
    task_defs = _pick(tasks, GRID_TASKS, "task", p.tasks)
    seed_list = None if not seeds else [int(s) for s in seeds]   # None: each task's preset seeds
    if seed_list is not None and any(s < 0 for s in seed_list):
        raise UserError(f"seeds must be >= 0, got {seed_list}")
    if policy is not None:  # names and options checked now, not in every cell
        from ..policies import POLICIES
        POLICIES.options(policy)
    resolved = []
    for t in task_defs:
        budget = max(1, round(p.budgets.get(t.name, t.budget) * budget_scale))
        resolved.append(dataclasses.replace(t, budget=budget, policy=policy or t.policy))
    task_seeds = {t.name: set(seed_list if seed_list is not None else p.seeds_for(t.name)) for t in resolved}
    return [Cell(lr, t, s) for s in sorted(set().union(*task_seeds.values())) for t in resolved
            for lr in learner_defs if s in task_seeds[t.name] and (t.continuous or not lr.continuous_only)]


def skipped_pairs(learners: list[LearnerDef], tasks: list[TaskDef]) -> list[tuple[str, str, str]]:
    """(learner, task, reason) pairs left out of a grid by design."""
    return [(lr.name, t.name, "discrete actions (SDE needs continuous actions)")
            for t in tasks for lr in learners if lr.continuous_only and not t.continuous]
