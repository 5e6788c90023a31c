"""The learner contract the runner drives.

* :class:`Learner` — what the runner drives: ``step() -> metrics`` (must contain
  ``episodes``, ``env_steps``, ``best``, ``mean``), ``center`` (the current policy's flat
  vector), ``policy``, ``state_dict()`` / ``load_state_dict()``. Ask/tell searchers are
  wrapped by :class:`SearchLearner`; RPG and Evolino implement it directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from ..evaluation import RolloutProblem
from ..seeding import TRAIN, derive_seed


class Learner:
    """The runner's contract (see the module docstring)."""

    policy: Any

    @property
    def center(self) -> torch.Tensor:
        raise NotImplementedError

    def step(self) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, sd: dict) -> None:
        raise NotImplementedError

    #: a learner that can train on another env of the same interface mid-run (a curriculum
    #: stage) defines ``set_env(env)``; the runner refuses a curriculum for one that does not
    set_env = None

    #: a learner with a population: ``{"params" (D,), "success" (bool)}`` of the last
    #: generation's best member by fitness, None before the first (``--test-champions``
    #: refuses a learner without populations, whose class keeps this False)
    has_champion = False
    champion: Optional[dict] = None


class SearchLearner(Learner):
    """Ask → batched rollouts → tell, one generation per ``step``."""

    has_champion = True

    def __init__(self, searcher, problem: RolloutProblem, seed: int):
        self.searcher, self.problem, self.seed = searcher, problem, int(seed)
        self.policy = problem.policy
        self.champion = None

    @property
    def center(self):
        return self.searcher.center

    def step(self) -> dict:
        params = self.searcher.ask()
        fitness, res = self.problem.fitness(params, derive_seed(self.seed, TRAIN, self.searcher.generation))
        k = int(torch.argmax(fitness))  # the first of tied bests, as reproduce_pole.py's champion
        ok = True if res.success is None else bool(res.success[k].all())
        self.champion = {"params": params[k].detach().clone(), "success": ok}
        stats = self.searcher.tell(fitness)
        out = {"episodes": res.episodes, "env_steps": res.env_steps, **stats}
        if res.success is not None:
            out["success"] = float(res.success.float().mean())
        return out

    def set_env(self, env) -> None:
        """Evaluate the next generations on ``env`` (same observation and action spaces); the
        searcher learns that its fitness function changed."""
        self.problem.env = env
        self.searcher.objective_changed()

    def state_dict(self):
        return {"searcher": self.searcher.state_dict()}

    def load_state_dict(self, sd):
        self.searcher.load_state_dict(sd["searcher"])


@dataclass
class RunContext:
    """What the runner hands to ``Learner.from_run`` (RPG, Evolino, …): the env (already
    wrapped by the learner class's ``wrap_env`` where it has one) and the policy built for
    it, or, for supervised tasks, the task spec and the policy spec."""

    env: Any
    policy: Any
    config: Any              # the algorithm's Config instance
    seed: int
    device: torch.device
    popsize: Optional[int] = None
    episodes: int = 1
    workers: int = 1
    task: Optional[str] = None
    policy_spec: Optional[str] = None
