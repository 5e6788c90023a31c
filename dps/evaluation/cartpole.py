"""The pole-balancing benchmark's own tests of a controller (Gomez et al. 2008, §8).

* ``generalization``: how many of the 625 grid start states
  (:func:`dps.envs.cartpole.grid_start_states`) the controller balances for 1000 steps;
* for the double pole, ``success_rate`` = 1.0 if the standard start is balanced for
  ``solve_steps`` (100,000) steps, else 0.0.

Together these are the definition of solving the double pole without velocities
(:func:`cartpole_solve_test`, the test ``--test-champions`` applies to each generation's best
member). Both take one parameter vector per rollout, so a controller's score does not depend
on which other controllers would have shared its batch.
"""
from __future__ import annotations

import torch

from ..envs.cartpole import CartPole
from ..rollout import rollout

#: start states of the 625-start grid a controller of the double pole without velocities must
#: balance for 1000 steps to count as solved (Gomez et al. 2008, §8; docs/POLE.md, "Protocol")
GENERALIZATION_MIN = 200


def _common(env: CartPole) -> dict:
    return dict(poles=env.poles, velocities=env.velocities, fitness="steps",
                discrete=env.discrete, device=env.device, dtype=env.dtype)


def grid_scores(policy, env: CartPole, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(K,) how many of the 625 grid starts each row of ``params (K, D)`` balances for 1000
    steps on ``env``'s variant, in one rollout of K × 625 episodes. The tests below pass one
    row at a time (a score that cannot depend on its batch); ``experiments/reproduce_pole.py``
    batches many controllers of the C kernel's policies, whose slots are independent."""
    grid_env = CartPole(max_steps=1000, start="grid", **_common(env))
    return rollout(policy, grid_env, params.reshape(params.shape[0], -1), episodes=625, seed=seed).success.sum(1)


def balance_steps(policy, env: CartPole, params: torch.Tensor, seed: int) -> torch.Tensor:
    """(K,) steps each row of ``params (K, D)`` balances the standard start for, up to
    ``env.solve_steps`` (100,000 = passed), in one rollout."""
    long_env = CartPole(max_steps=env.solve_steps, start="standard", **_common(env))
    res = rollout(policy, long_env, params.reshape(params.shape[0], -1), episodes=1, seed=seed)
    return torch.where(res.success[:, 0], torch.full_like(res.lengths[:, 0], env.solve_steps), res.lengths[:, 0])


def has_protocol(env: CartPole) -> bool:
    """The benchmark's tests apply to the RK4 dynamics only: the gym integrator's task has no
    such protocol."""
    return env.integrator == "rk4"


def cartpole_checks(policy, env: CartPole, params: torch.Tensor, seed: int) -> dict:
    """The tests above for one parameter vector on ``env``'s variant (``{}`` where
    :func:`has_protocol` says there are none)."""
    if not has_protocol(env):
        return {}
    row = params.reshape(1, -1)
    out = {"generalization": int(grid_scores(policy, env, row, seed)[0])}
    if env.poles == 2:
        out["success_rate"] = float(int(balance_steps(policy, env, row, seed)[0]) >= env.solve_steps)
    return out


def cartpole_solve_figures(env: CartPole) -> tuple[str, ...]:
    """The figures :func:`cartpole_solve_test` reports besides ``solved`` on ``env``'s variant."""
    return ("steps",) if env.velocities else ("generalization", "steps")


def cartpole_solve_test(policy, env: CartPole, params: torch.Tensor, seed: int) -> dict:
    """Whether one controller solves ``env``'s task as the benchmark defines it (Gomez et al.
    2008, §8): it balances the standard start for ``solve_steps`` (100,000) steps and, without
    velocities, also at least :data:`GENERALIZATION_MIN` of the 625 grid starts for 1000 steps.

    ``{"solved", "steps"}`` (steps balanced, up to 100,000) plus ``"generalization"`` without
    velocities. The grid comes first there, as in the published protocol: a controller below
    200 is not run for 100,000 steps (``steps`` is then None)."""
    row = params.detach().reshape(1, -1)
    out: dict = {}
    if not env.velocities:
        out["generalization"] = int(grid_scores(policy, env, row, seed)[0])
        if out["generalization"] < GENERALIZATION_MIN:
            return {"solved": False, "steps": None, **out}
    steps = int(balance_steps(policy, env, row, seed)[0])
    return {"solved": steps >= env.solve_steps, "steps": steps, **out}
