"""Everything that *drives* episodes on an env, above the one episode engine
(:mod:`dps.rollout`): population fitness, greedy evaluation, the env's own checks (the
pole-balancing generalisation test and its definition of solved), worker processes for
CPU-stepped envs, Ray actors (:mod:`.distributed`) and the Atari-Go report
(:mod:`.atari_go`). Envs know nothing of this layer.
"""
from .episodes import (
    CHECKS,
    REPORTS,
    SOLVE_TESTS,
    RolloutProblem,
    env_checks,
    env_report,
    greedy_evaluation,
    run_episodes,
    solve_test,
)
from .workers import WorkerError, close_workers, rollout_in_workers

__all__ = ["CHECKS", "REPORTS", "SOLVE_TESTS", "RolloutProblem", "WorkerError", "close_workers", "env_checks",
           "env_report", "greedy_evaluation", "rollout_in_workers", "run_episodes", "solve_test"]
