"""Distributed fitness evaluation through evotorch's Ray actors.

:class:`RayProblem` is an ``evotorch.Problem`` (objective sense ``"max"``) whose
``_evaluate_batch`` runs :func:`dps.rollout.rollout` on a dps env + policy. Only *spec
strings* and integer seeds cross process boundaries: each actor builds its own env and
policy from ``env_spec`` / ``policy_spec`` (once per process, cached), and the generation
seed reaches every actor through evotorch's sync hook (``_make_sync_data_for_actors`` →
``_use_sync_data_from_main``) before each evaluation. With ``num_actors=N`` evotorch splits
the population into N pieces and evaluates them on N Ray actors.

Seeding. Every member of a generation plays the *same* ``episodes`` episodes, those of
``rollout(policy, env, row, episodes, seed)`` for a single row (common random numbers), so
a member's fitness depends on its parameters and the generation seed only — never on which
actor evaluated it or how the population was split. :func:`evaluate_members` is the same
computation in-process (the reference the Ray path is tested against).

Runner use::

    evaluate = make_ray_evaluator("cartpole:poles=2", "lstm:hidden=8", episodes=4, actors=8)
    fitness = evaluate(params, seed)          # params (P, D) -> fitness (P,)
    evaluate.close()

Ray cluster. By default a local Ray is started (or joined, if this process already called
``ray.init``). To use an existing cluster either pass ``ray_address="ray://head:10001"``
(Ray client) / ``"head:6379"`` (from a cluster node), or export ``RAY_ADDRESS=...`` before
starting — ``ray.init()`` reads it; or call ``ray.init(address=...)`` yourself first. dps
must be importable on every node (same version), and with ≥ 2 actors evaluation runs on
the CPU (evotorch's rule for remote actors).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..rollout import rollout

_BUILT: dict = {}


def build(env_spec: str, policy_spec: str, max_steps: Optional[int] = None):
    """``(env, policy)`` built from spec strings, cached per process."""
    key = (env_spec, policy_spec, max_steps)
    if key not in _BUILT:
        from ..envs.registry import make_env
        from ..policies import make_policy

        env = make_env(env_spec, device="cpu")
        policy = make_policy(policy_spec, env.observation_shape, env.action_space.out_size)
        _BUILT[key] = (env, policy)
    return _BUILT[key]


@torch.no_grad()
def evaluate_members(env, policy, params: torch.Tensor, episodes: int, seed: int,
                     max_steps: Optional[int] = None) -> tuple[torch.Tensor, int]:
    """Fitness ``(P,)`` with every row playing the episodes of ``seed`` (common random
    numbers), and the number of env steps taken."""
    fitness = torch.empty(params.shape[0], dtype=torch.float64)
    steps = 0
    for i in range(params.shape[0]):
        res = rollout(policy, env, params[i:i + 1], episodes, seed, max_steps=max_steps)
        fitness[i] = res.fitness()[0].double()
        steps += res.env_steps
    return fitness, steps


def _problem_class():
    from evotorch import Problem

    class RayProblem(Problem):
        """``evotorch.Problem`` evaluating dps policies on a dps env (see module docstring).

        :param env_spec: e.g. ``"cartpole:poles=2,velocities=false"``
        :param policy_spec: e.g. ``"lstm:hidden=8"``
        :param episodes: episodes per member (B)
        :param num_actors: Ray actors (None / 0: evaluate in this process)
        :param max_steps: optional cap below the env's own time limit

        No ``seed`` goes to evotorch's constructor: the Problem's own generator is unused
        here (all randomness comes from the generation seed), and evotorch 0.6.1's actors
        call a ``Problem.seed`` method that does not exist when one is given.
        """

        def __init__(self, env_spec: str, policy_spec: str, episodes: int = 1,
                     num_actors: Optional[int] = None, max_steps: Optional[int] = None):
            self.env_spec, self.policy_spec = str(env_spec), str(policy_spec)
            self.episodes, self.max_steps = int(episodes), max_steps
            self.generation_seed = 0          # set by the caller before each evaluate()
            self.env_steps = 0                # env steps of the last evaluate(), summed over actors
            _, policy = build(self.env_spec, self.policy_spec, self.max_steps)
            super().__init__("max", solution_length=policy.num_params, initial_bounds=(-0.1, 0.1),
                             dtype=torch.float32, eval_dtype=torch.float64,
                             num_actors=num_actors or 0)

        # -- evaluation (runs in the actors when num_actors >= 1) ----------------
        def _evaluate_batch(self, batch):
            env, policy = build(self.env_spec, self.policy_spec, self.max_steps)
            fitness, steps = evaluate_members(env, policy, batch.values.detach().cpu(), self.episodes,
                                              self.generation_seed, self.max_steps)
            self.env_steps = steps if self.is_main else self.env_steps + steps
            batch.set_evals(fitness)

        # -- evotorch sync hooks: the generation seed out, the step counts back --
        def _make_sync_data_for_actors(self):
            return {"generation_seed": int(self.generation_seed)}

        def _use_sync_data_from_main(self, received):
            self.generation_seed = int(received["generation_seed"])
            self.env_steps = 0

        def _make_sync_data_for_main(self):
            return int(self.env_steps)

        def _use_sync_data_from_actors(self, received):
            self.env_steps = int(sum(received))

    return RayProblem


def __getattr__(name):
    # ``dps.evaluation.distributed.RayProblem`` without importing evotorch at ``import dps``
    if name == "RayProblem":
        cls = _problem_class()
        globals()["RayProblem"] = cls
        return cls
    raise AttributeError(name)


class RayEvaluator:
    """``evaluate(params (P, D), seed) -> fitness (P,)`` through a :class:`RayProblem`
    on evotorch's Ray actors; ``env_steps`` holds the last call's step count."""

    def __init__(self, problem):
        self.problem = problem
        self.env_steps = 0

    def __call__(self, params: torch.Tensor, seed: int) -> torch.Tensor:
        from evotorch import SolutionBatch

        params = torch.as_tensor(params)
        if params.dim() != 2 or params.shape[1] != self.problem.solution_length:
            from ..errors import UserError

            raise UserError(f"params must have shape (P, {self.problem.solution_length}), "
                            f"got {tuple(params.shape)}")
        self.problem.generation_seed = int(seed)
        batch = SolutionBatch(self.problem, popsize=params.shape[0], empty=True)
        batch.set_values(params.detach().to(torch.float32).cpu())
        self.problem.evaluate(batch)
        self.env_steps = self.problem.env_steps
        return batch.evals[:, 0].clone()

    def close(self) -> None:
        """Stop the actors (the Ray runtime itself stays up)."""
        self.problem.kill_actors()


def make_ray_evaluator(env_spec: str, policy_spec: str, episodes: int, actors: int,
                       ray_address: Optional[str] = None, max_steps: Optional[int] = None) -> RayEvaluator:
    """Evaluate populations on ``actors`` Ray actors (see the module docstring).

    :param ray_address: an existing cluster (``"ray://head:10001"``, ``"head:6379"``,
        ``"auto"``); None: ``RAY_ADDRESS`` if set, else a local Ray (or the one this
        process already initialised)
    """
    import ray

    if not ray.is_initialized():
        if ray_address is not None:
            ray.init(address=ray_address)
        else:
            ray.init()          # joins RAY_ADDRESS when it is set
    problem = _problem_class()(env_spec, policy_spec, episodes=episodes, num_actors=int(actors),
                               max_steps=max_steps)
    return RayEvaluator(problem)
