"""The pole-balancing benchmark's own tests of a controller (Gomez et al. 2008, §8).

* ``generalization``: how many of the 625 grid start states
  (:func:`dps.envs.cartpole.grid_start_states`) the controller balances for 1000 steps;
* for the double pole, ``success_rate`` = 1.0 if the standard start is balanced for
  ``solve_steps`` (100,000) steps, else 0.0.

Together these are the definition of solving the double pole without velocities. Both
take one parameter vector per rollout, so a controller's score does not depend on which
other controllers would have shared its batch.
"""
from __future__ import annotations

import torch

from ..envs.cartpole import CartPole
from ..rollout import rollout


def cartpole_checks(policy, env: CartPole, params: torch.Tensor, seed: int) -> dict:
    """The tests above for one parameter vector on ``env``'s variant (RK4 integrator only;
    the gym integrator's task has no such protocol, so ``{}``)."""
    if env.integrator != "rk4":
        return {}
    row = params.reshape(1, -1)
    common = dict(poles=env.poles, velocities=env.velocities, fitness="steps",
                  discrete=env.discrete, device=env.device, dtype=env.dtype)
    grid_env = CartPole(max_steps=1000, start="grid", **common)
    res = rollout(policy, grid_env, row, episodes=625, seed=seed)
    out = {"generalization": int(res.success.sum())}
    if env.poles == 2:
        long_env = CartPole(max_steps=env.solve_steps, start="standard", **common)
        res = rollout(policy, long_env, row, episodes=1, seed=seed)
        out["success_rate"] = float(res.success.float().mean())
    return out
