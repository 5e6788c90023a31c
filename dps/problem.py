"""Fitness problems and the learner contract the runner drives.

* :class:`RolloutProblem` — fitness of parameter rows = mean return of ``episodes``
  rollouts each (or the env's own score), evaluated in one batched rollout.
* :class:`Learner` — what the runner drives: ``step() -> metrics`` (must contain
  ``episodes``, ``env_steps``, ``best``, ``mean``), ``center`` (the current policy's flat
  vector), ``policy``, ``state_dict()`` / ``load_state_dict()``. Ask/tell searchers are
  wrapped by :class:`SearchLearner`; RPG and Evolino implement it directly.
* :func:`derive_seed` — per-generation / per-evaluation integer seeds from the root seed,
  so a resumed run re-derives exactly the same seeds (seeds are data, not generators).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from .rollout import RolloutResult, rollout

_MASK64 = (1 << 64) - 1


def derive_seed(root: int, *keys: int) -> int:
    """SplitMix64 over ``root`` and ``keys``: a well-mixed 48-bit integer seed."""
    x = int(root) & _MASK64
    for k in keys:
        x = (x ^ (int(k) & _MASK64)) & _MASK64
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        x = z ^ (z >> 31)
    return x & 0xFFFF_FFFF_FFFF


# stream tags for derive_seed
TRAIN, EVAL, CENTER_EVAL, INIT = 1, 2, 3, 4


class RolloutProblem:
    """Fitness of a population on a batched env with a given policy.

    :param policy: the shared policy
    :param env: a batched env (torch or gymnasium adapter)
    :param episodes: episodes per member (B)
    """

    def __init__(self, policy, env, episodes: int):
        self.policy, self.env, self.episodes = policy, env, int(episodes)

    def evaluate(self, params: torch.Tensor, seed: int, episodes: Optional[int] = None):
        """``(fitness (P,), RolloutResult)``."""
        res = rollout(self.policy, self.env, params, episodes or self.episodes, seed)
        return res.fitness().to(params.dtype).cpu(), res


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


class SearchLearner(Learner):
    """Ask → batched rollouts → tell, one generation per ``step``."""

    def __init__(self, searcher, problem: RolloutProblem, seed: int):
        self.searcher, self.problem, self.seed = searcher, problem, int(seed)
        self.policy = problem.policy

    @property
    def center(self):
        return self.searcher.center

    def step(self) -> dict:
        params = self.searcher.ask()
        fitness, res = self.problem.evaluate(params, derive_seed(self.seed, TRAIN, self.searcher.generation))
        stats = self.searcher.tell(fitness)
        out = {"episodes": res.episodes, "env_steps": res.env_steps, **stats}
        if res.success is not None:
            out["success"] = float(res.success.float().mean())
        return out

    def state_dict(self):
        return {"searcher": self.searcher.state_dict()}

    def load_state_dict(self, sd):
        self.searcher.load_state_dict(sd["searcher"])


@dataclass
class RunContext:
    """What the runner hands to ``Learner.from_run`` (RPG, Evolino, …)."""

    env: Any
    env_spec: str
    policy: Any
    config: Any              # the algorithm's Config instance
    seed: int
    device: torch.device
    popsize: Optional[int] = None
    episodes: int = 1
    workers: int = 1
    extras: dict = field(default_factory=dict)
