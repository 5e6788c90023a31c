"""The environments by name (one :class:`~dps.registry.Registry`); their tuned run
settings live with the runner (:mod:`dps.runner.defaults`), not here."""
from __future__ import annotations

import torch

from ..registry import Registry
from ..spec import Spec

ENVS = Registry("env")
ENVS.add("tmaze", "dps.envs.tmaze:TMaze",
         "Bakker's T-maze: the goal arm is shown only at the start cell (memory over `length` steps)")
ENVS.add("cartpole", "dps.envs.cartpole:CartPole",
         "single (poles=1) or Wieland double pole (poles=2), RK4, optionally without velocities")
ENVS.add("class-query", "dps.envs.memory:ClassQuery",
         "noise + class query: a ±1 class at t=0, noise, query at t=T-1 (memory over `length` steps)")
ENVS.add("catch", "dps.envs.catch:Catch", "a ball falls; move the paddle left/stay/right; +1 caught, -1 missed")
ENVS.add("gym", "dps.envs.gymnasium:GymEnv",
         "any gymnasium environment id, stepped on the CPU (gym:CartPole-v1,velocities=false)")
ENVS.add("atari-go", "dps.envs.atari_go.env:AtariGoEnv",
         "capture Go (Atari-Go) against a fixed opponent ladder level, K games per member")


def make_env(spec: "str | Spec", device: "str | torch.device" = "cpu"):
    """Build an env from a spec such as ``"tmaze:length=50"``."""
    return ENVS.build(spec, device=device)
