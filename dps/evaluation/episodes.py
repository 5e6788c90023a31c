"""Driving episodes on an env: population fitness, greedy evaluation, env-specific checks.

* :func:`run_episodes` — :func:`dps.rollout.rollout`, or the same computation spread over
  worker processes for CPU-stepped envs (:mod:`.workers`); same seed ⇒ same result.
* :class:`RolloutProblem` — fitness of parameter rows = mean return of their episodes.
* :func:`greedy_evaluation` — the ``eval`` dict of summary.json for one parameter vector:
  return, length and success statistics on fresh episodes, plus the env's own checks
  (:data:`CHECKS`: the pole-balancing generalisation test);
* :func:`solve_test` — the env's definition of a solved task for one controller
  (:data:`SOLVE_TESTS`: the pole-balancing benchmark's), which ``--test-champions`` applies;
* :func:`env_report` — the env's own report after training (:data:`REPORTS`: Atari-Go).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch

from ..envs.atari_go.env import AtariGoEnv
from ..envs.cartpole import CartPole
from ..policies.aligned import slot_aligned
from ..rollout import RolloutResult, rollout
from .atari_go import final_report as atari_go_report
from .cartpole import cartpole_checks, cartpole_solve_figures, cartpole_solve_test, has_protocol
from .workers import rollout_in_workers, start_workers, supports_workers


def run_episodes(policy, env, params: torch.Tensor, episodes: int, seed: int, workers: int = 1,
                 max_steps: Optional[int] = None) -> RolloutResult:
    """Greedy episodes of every row of ``params`` (see :func:`dps.rollout.rollout`); with
    ``workers > 1`` and an env that can be rebuilt in a worker, in worker processes. An env
    that can go to workers is always played by the slot-aligned policy
    (:mod:`dps.policies.aligned`), so the worker count never changes a number."""
    if not supports_workers(env):
        return rollout(policy, env, params, episodes, seed, max_steps=max_steps)
    policy = slot_aligned(policy)
    if workers > 1:
        return rollout_in_workers(policy, env, params, episodes, seed, workers, max_steps)
    return rollout(policy, env, params, episodes, seed, max_steps=max_steps)


class RolloutProblem:
    """Fitness of a population on a batched env with a given policy.

    :param policy: the shared policy
    :param env: a batched env (torch or gymnasium adapter)
    :param episodes: episodes per member (B)
    :param workers: processes for envs that step on the CPU (gymnasium); the worker
        processes start here, so that the first generation does not wait for them
    """

    def __init__(self, policy, env, episodes: int, workers: int = 1):
        self.policy, self.env, self.episodes, self.workers = policy, env, int(episodes), int(workers)
        start_workers(env, self.workers)

    def fitness(self, params: torch.Tensor, seed: int) -> tuple[torch.Tensor, RolloutResult]:
        """``(fitness (P,), RolloutResult)``: each row's mean return over its episodes."""
        res = run_episodes(self.policy, self.env, params, self.episodes, seed, self.workers)
        return res.fitness().to(params.dtype).cpu(), res


#: env class -> ``check(policy, env, params (D,), seed) -> dict`` added to a greedy evaluation
CHECKS: dict[type, Callable[..., dict]] = {CartPole: cartpole_checks}


def env_checks(policy, env, params: torch.Tensor, seed: int) -> dict:
    """The env's own tests of one parameter vector (:data:`CHECKS`), or ``{}``."""
    check = _for_env(CHECKS, env)
    return {} if check is None else check(policy, env, params, seed)


def greedy_evaluation(policy, env, params: torch.Tensor, episodes: int, seed: int, workers: int = 1) -> dict:
    """Greedy evaluation of one parameter vector on fresh episodes (summary.json's ``eval``)."""
    params = params.detach().reshape(-1)
    res = run_episodes(policy, env, params[None], episodes, seed, workers)
    out = {"episodes": res.episodes, "mean_return": float(res.returns.mean()),
           "std_return": float(res.returns.std(unbiased=False)),
           "mean_length": float(res.lengths.float().mean()),
           "success_rate": float(res.success.float().mean()) if res.success is not None else None,
           "seed": seed}
    out.update(env_checks(policy, env, params, seed))
    return out


class SolveTest(NamedTuple):
    """An env's definition of a solved task for one controller: ``test(policy, env, params
    (D,), seed) -> dict`` with ``"solved": bool`` and the figures ``figures(env)`` names (the
    same keys for every controller on one env, so that they can be metrics.csv columns), on
    the env instances ``applies(env)`` accepts."""

    test: Callable[..., dict]
    figures: Callable[..., tuple]
    applies: Callable[..., bool]


#: env class -> its :class:`SolveTest` (the cartpole's: its RK4 dynamics only)
SOLVE_TESTS: dict[type, SolveTest] = {
    CartPole: SolveTest(cartpole_solve_test, cartpole_solve_figures, has_protocol)}


def solve_test(env) -> Optional[SolveTest]:
    """The env's solve test (:data:`SOLVE_TESTS`), or None where it has none."""
    found = _for_env(SOLVE_TESTS, env)
    return found if found is not None and found.applies(env) else None


#: env class -> ``report(env, policy, params (D,), run_dir, seed) -> dict`` run after training
REPORTS: dict[type, Callable[..., dict]] = {AtariGoEnv: atari_go_report}


def env_report(policy, env, params: torch.Tensor, run_dir, seed: int) -> Optional[dict]:
    """The env's own report of a trained parameter vector (:data:`REPORTS`), written into
    ``run_dir`` (Atari-Go: win rates on every board size against the ladder), and its
    compact dict for summary.json; None for envs without one."""
    report = _for_env(REPORTS, env)
    return None if report is None else report(env, policy, params, run_dir, seed)


def _for_env(table: dict, env) -> Optional[Callable]:
    """The entry of ``table`` (env class -> function) for ``env``'s class, or None."""
    return next((fn for cls, fn in table.items() if isinstance(env, cls)), None)
