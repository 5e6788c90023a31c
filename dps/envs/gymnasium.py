"""Real gymnasium environments behind the batched interface (``gym:CartPole-v1``).

:class:`GymEnv` holds P×B ``gymnasium.make(id)`` instances, one per slot ``(p, b)``, and
presents them as a :class:`~dps.envs.base.BatchedEnv`: observations ``(P, B, obs)``
(float32, the flattened observation), ``reward``, ``done = terminated or truncated``.
Stepping happens on the CPU, one slot after the other (gymnasium envs are Python objects);
slots that are already done are not stepped again (their last observation is returned
and their reward is 0, which the rollout masks anyway).

Seeding. ``reset(P, B, generator)`` draws one integer per slot from ``generator``
(``torch.randint`` of shape ``(P, B)``, row-major) and resets slot ``(p, b)`` with
``env.reset(seed=that integer)``. The episodes therefore depend only on the generator's
state and the slot index, never on how slots are grouped.

Worker processes are not this module's business: :mod:`dps.evaluation.workers` rebuilds
the env in each worker from :meth:`GymEnv.worker_config` and hands it the slot seeds of
its rectangle (``_preset_seeds``), so the episodes do not depend on how slots are split.

Ids. ``gym:CartPole-v1`` names an id in gymnasium's registry. An id from a package that
registers its envs on import is written in gymnasium's own ``module:EnvId`` form
(``gym:popgym:popgym-RepeatPreviousEasy-v0``): the module is imported here, and again in
every worker process because the id travels with :meth:`GymEnv.worker_config`; the CLI's
``--import MODULE`` (:func:`dps.registry.import_modules`) does the same for any module.
An unknown id lists close matches.

Options:

* ``hide``: indices of flattened observation components removed (``hide=1+3``).
* ``velocities=false``: named shortcut for ids whose velocity components are known
  (:data:`VELOCITY_INDICES`): CartPole-v0/v1 hide 1+3 (cart velocity, pole angular
  velocity); Pendulum-v1 hides 2 (angular velocity); Acrobot-v1 hides 4+5 (both angular
  velocities); MountainCar-v0 / MountainCarContinuous-v0 hide 1 (car velocity).
* ``max_steps``: the episode limit; default the env's own ``TimeLimit``
  (``spec.max_episode_steps``). Given explicitly, it replaces the ``TimeLimit``. An env
  registered without one (POPGym's end their episodes themselves) gets
  :data:`DEFAULT_MAX_STEPS` and one warning line saying so: an episode loop needs a bound.

Success (``has_success``): gymnasium has no general notion, so it is reported only for
ids in :data:`SUCCESS`: CartPole-v0/v1 succeed when the pole is still up at the time limit
(truncated, not terminated); Acrobot-v1 and MountainCar(-Continuous) succeed when they
reach their goal (terminated). Every other id has ``has_success = False``.

Actions: Discrete (its ``start`` added back), Box with finite bounds (clipped into them),
MultiDiscrete and MultiBinary (flat components for the head, :class:`~dps.spaces.MultiDiscrete`;
the env receives its own shape, dtype and ``start`` offsets). Observations of any space that
``gymnasium.spaces.flatten`` handles (Discrete one-hot, MultiDiscrete, MultiBinary, Tuple,
Dict) are flattened.

Non-finite numbers. A slot whose action is NaN/±inf (a Box action, or a float action
tensor for a Discrete space) is not stepped — gymnasium would clip NaN to NaN and carry it
into the state — and a slot whose observation (after ``reset`` or a step) is not finite
is not stepped again. Either is a **failure on that step**: ``done``, no success, its
observation replaced by zeros, and its reward **NaN**. NaN is the worst outcome here
because gymnasium declares no reward range (Pendulum-v1's rewards are ≤ 0, so a reward
of 0 would be its *best*); a NaN return is what every searcher ranks below all finite
ones (``dps/algorithms/base.py``), as the rollout engine does for a policy whose outputs
are NaN. (A non-finite observation from ``reset`` ends the slot on its first step.)
"""
from __future__ import annotations

import difflib
import logging
from typing import Annotated, Optional

import numpy as np
import torch

from ..errors import UserError
from ..registry import import_module
from ..spec import Range
from .base import BatchedEnv, Box, Discrete, MultiDiscrete

#: id -> flattened observation indices that are velocities (``velocities=false`` hides them)
VELOCITY_INDICES: dict[str, tuple[int, ...]] = {
    "CartPole-v0": (1, 3),
    "CartPole-v1": (1, 3),
    "Pendulum-v1": (2,),
    "Acrobot-v1": (4, 5),
    "MountainCar-v0": (1,),
    "MountainCarContinuous-v0": (1,),
}

#: id -> what counts as success: "survive" (truncated by the time limit, not terminated)
#: or "goal" (terminated)
SUCCESS: dict[str, str] = {
    "CartPole-v0": "survive",
    "CartPole-v1": "survive",
    "Acrobot-v1": "goal",
    "MountainCar-v0": "goal",
    "MountainCarContinuous-v0": "goal",
}


#: the episode limit of an id registered without a TimeLimit (module docstring)
DEFAULT_MAX_STEPS = 1000

log = logging.getLogger("dps")


def _gym():
    try:
        import gymnasium
    except ImportError as exc:  # pragma: no cover - gymnasium is a dependency
        raise UserError("the gym env needs the 'gymnasium' package (pip install gymnasium)") from exc
    return gymnasium


def split_id(env_id: str) -> tuple[Optional[str], str]:
    """``"module:EnvId"`` → ``("module", "EnvId")``; a plain id → ``(None, id)``."""
    module, sep, name = env_id.rpartition(":")
    return (module or None, name) if sep else (None, env_id)


def _check_id(env_id: str) -> str:
    """Import the module of a ``module:EnvId`` id and check that the id is registered;
    returns the registry id (without the module)."""
    gym = _gym()
    module, name = split_id(env_id)
    if module is not None:
        import_module(module, f"gymnasium id {env_id!r}")
    if name in gym.registry:
        return name
    names = list(gym.registry)
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    package = "" if module is not None else (
        "; an id from a package that registers on import is written gym:PACKAGE:ID (or pass --import PACKAGE)")
    raise UserError(f"unknown gymnasium id {name!r}{hint}{package} (gymnasium.pprint_registry() lists all)")


class GymEnv(BatchedEnv):
    def __init__(self, id: str, hide: tuple[int, ...] = (), velocities: bool = True,
                 max_steps: Optional[Annotated[int, Range(1, 10_000_000)]] = None, device="cpu"):
        """
        :param id: a registered gymnasium id, e.g. ``CartPole-v1``
        :param hide: flattened observation indices to remove, e.g. ``hide=1+3``
        :param velocities: False hides the known velocity components (see module doc)
        :param max_steps: episode limit; default the env's own TimeLimit
        """
        super().__init__(device)
        if torch.device(device).type != "cpu":
            raise UserError(f"the gym env steps on the CPU only; got device {str(device)!r}")
        self._registry_id = _check_id(id)
        if max_steps is not None and max_steps < 1:
            raise UserError(f"max_steps must be >= 1, got {max_steps}")
        self.id = id
        self.velocities = bool(velocities)
        self._max_steps_option = max_steps
        hidden = set(int(i) for i in hide)
        if not velocities:
            if self._registry_id not in VELOCITY_INDICES:
                raise UserError(
                    f"velocities=false is not known for gymnasium id {id!r}; it is supported for "
                    f"{', '.join(VELOCITY_INDICES)} (for other ids use hide=I+J)")
            hidden |= set(VELOCITY_INDICES[self._registry_id])
        self._envs: list = []
        probe = self._make()
        self._envs.append(probe)
        gym = _gym()
        self._obs_space = probe.observation_space
        if isinstance(self._obs_space, gym.spaces.Box):
            self._flatten = None
        else:
            try:
                gym.spaces.flatdim(self._obs_space)
            except (NotImplementedError, ValueError):  # Sequence and Graph spaces have no fixed size
                raise UserError(
                    f"gymnasium id {id!r} has an observation space {self._obs_space} that cannot be "
                    "flattened") from None
            self._flatten = gym.spaces.flatten
        full = int(gym.spaces.flatdim(self._obs_space))
        bad = sorted(i for i in hidden if not 0 <= i < full)
        if bad:
            raise UserError(
                f"bad hide index {bad} for gymnasium id {id!r}: its observation has {full} "
                f"components, accepted indices 0..{full - 1}")
        self.hide = tuple(sorted(hidden))
        self._keep = np.array([i for i in range(full) if i not in hidden], dtype=np.int64)
        if len(self._keep) == 0:
            raise UserError(f"hide={'+'.join(map(str, self.hide))} removes every observation component of {id!r}")
        self.observation_shape = (len(self._keep),)
        self.action_space, self._discrete_start = self._convert_action_space(probe.action_space)
        limit = max_steps if max_steps is not None else (probe.spec.max_episode_steps if probe.spec else None)
        if limit is None:
            # no TimeLimit of its own: the default bound, made a TimeLimit like an explicit one
            limit = self._max_steps_option = DEFAULT_MAX_STEPS
            self._envs = [self._make()]
            probe.close()
            log.warning(f"dps: gymnasium id {id!r} has no time limit of its own; episodes are cut at "
                        f"max_steps={DEFAULT_MAX_STEPS} (set it in the env spec: gym:{id},max_steps=N)")
        self.max_steps = int(limit)
        self._success = SUCCESS.get(self._registry_id)
        self.has_success = self._success is not None
        self._n = 0
        self._done = np.zeros(0, dtype=bool)
        self._obs = np.zeros((0, self.observation_size), dtype=np.float32)
        self._shape = (0, 0)
        self._doomed = np.zeros(0, dtype=bool)   # slots whose reset observation was not finite
        #: slot seeds used by the next reset instead of drawing them (set by the workers)
        self._preset_seeds: Optional[np.ndarray] = None

    # ---- construction helpers -----------------------------------------------------------
    def _make(self):
        gym = _gym()
        kwargs = {"disable_env_checker": True}
        if self._max_steps_option is not None:
            kwargs["max_episode_steps"] = int(self._max_steps_option)
        try:
            return gym.make(self._registry_id, **kwargs)
        except gym.error.DependencyNotInstalled as exc:
            raise UserError(f"gymnasium id {self.id!r} needs an extra package: {exc}") from None

    def _convert_action_space(self, space):
        gym = _gym()
        if isinstance(space, gym.spaces.Discrete):
            return Discrete(int(space.n)), int(space.start)
        if isinstance(space, gym.spaces.Box):
            low, high = space.low.reshape(-1), space.high.reshape(-1)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise UserError(
                    f"gymnasium id {self.id!r} has an unbounded Box action space {space}; "
                    "the tanh head needs finite bounds")
            self._action_shape = space.shape
            self._action_dtype = space.dtype
            self._action_low, self._action_high = low.astype(np.float64), high.astype(np.float64)
            return Box(int(low.size), tuple(float(x) for x in low), tuple(float(x) for x in high)), 0
        if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
            # flat components for the head; the env gets its own shape, dtype and start back
            if isinstance(space, gym.spaces.MultiBinary):
                nvec, start = np.full(int(np.prod(space.shape)), 2), np.zeros(int(np.prod(space.shape)))
            else:
                nvec, start = space.nvec.reshape(-1), space.start.reshape(-1)
            self._action_shape, self._action_dtype = space.shape, space.dtype
            self._multi_start = start.astype(np.int64)
            return MultiDiscrete(tuple(int(n) for n in nvec)), 0
        raise UserError(
            f"gymnasium id {self.id!r} has action space {space}; supported: Discrete, Box, MultiDiscrete "
            "and MultiBinary")

    def _observe(self, raw) -> np.ndarray:
        flat = self._flatten(self._obs_space, raw) if self._flatten is not None else raw
        return np.asarray(flat, dtype=np.float32).reshape(-1)[self._keep]

    def describe(self) -> str:
        hid = f", hide={'+'.join(map(str, self.hide))}" if self.hide else ""
        return f"gym:{self.id}{hid} (obs {self.observation_size}, {self.action_space}, max_steps {self.max_steps})"

    # ---- the BatchedEnv contract --------------------------------------------------------
    @staticmethod
    def draw_seeds(P: int, B: int, generator: torch.Generator) -> np.ndarray:
        """One integer seed per slot, ``(P, B)``, drawn from ``generator`` (row-major)."""
        return torch.randint(0, 2**31 - 1, (P, B), generator=generator).numpy().astype(np.int64)

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        if self._preset_seeds is not None:
            seeds, self._preset_seeds = self._preset_seeds, None
            if seeds.shape != (P, B):
                raise ValueError(f"preset seeds have shape {seeds.shape}, reset asked for {(P, B)}")
        else:
            seeds = self.draw_seeds(P, B, generator)
        n = P * B
        while len(self._envs) < n:
            self._envs.append(self._make())
        obs = np.empty((n, self.observation_size), dtype=np.float32)
        for i, s in enumerate(seeds.reshape(-1).tolist()):
            raw, _ = self._envs[i].reset(seed=int(s))
            obs[i] = self._observe(raw)
        self._n, self._shape = n, (P, B)
        # a non-finite start: the slot fails on its first step (module docstring)
        self._doomed = ~np.isfinite(obs).all(1)
        obs[self._doomed] = 0.0
        self._obs = obs
        self._done = np.zeros(n, dtype=bool)
        return torch.from_numpy(obs.copy()).reshape(P, B, -1)

    def step(self, action: torch.Tensor):
        P, B = self._shape
        n = self._n
        reward = np.zeros(n, dtype=np.float32)
        done = self._done.copy()
        success = np.zeros(n, dtype=bool)
        if isinstance(self.action_space, Discrete):
            a = action.detach().reshape(n)
            fail = ~torch.isfinite(a).numpy() if a.is_floating_point() else np.zeros(n, dtype=bool)
            acts = (a.to(torch.long) + self._discrete_start).tolist()
        elif isinstance(self.action_space, MultiDiscrete):
            a = action.detach().reshape(n, -1)
            fail = ~torch.isfinite(a).all(1).numpy() if a.is_floating_point() else np.zeros(n, dtype=bool)
            ints = a.nan_to_num(0).to(torch.long).numpy() if a.is_floating_point() else a.numpy()
            acts = (ints + self._multi_start).astype(self._action_dtype).reshape(n, *self._action_shape)
        else:
            flat = action.detach().reshape(n, -1).to(torch.float64).numpy()
            fail = ~np.isfinite(flat).all(1)
            acts = np.clip(flat, self._action_low, self._action_high)
            acts = acts.astype(self._action_dtype).reshape(n, *self._action_shape)
        # non-finite action or start: fail without stepping (module docstring)
        fail = (fail | self._doomed) & ~self._done
        self._doomed[:] = False
        obs = self._obs
        envs = self._envs
        goal = self._success == "goal"
        for i in np.flatnonzero(~(self._done | fail)).tolist():
            raw, r, terminated, truncated, _ = envs[i].step(acts[i])
            obs[i] = self._observe(raw)
            reward[i] = r
            if terminated or truncated:
                done[i] = True
                success[i] = terminated if goal else not terminated
        fail |= ~self._done & ~np.isfinite(obs).all(1)    # a non-finite observation
        if fail.any():
            done[fail], success[fail], reward[fail], obs[fail] = True, False, np.nan, 0.0
        self._done = done
        info = {"success": torch.from_numpy(success).reshape(P, B)} if self.has_success else {}
        return (torch.from_numpy(obs.copy()).reshape(P, B, -1),
                torch.from_numpy(reward).reshape(P, B),
                torch.from_numpy(done.copy()).reshape(P, B),
                info)

    def close(self) -> None:
        for e in self._envs:
            e.close()
        self._envs = []

    def worker_config(self) -> dict:
        """Keyword arguments that rebuild this env in another process (the worker pool of
        :mod:`dps.evaluation.workers`)."""
        return {"id": self.id, "hide": self.hide, "max_steps": self._max_steps_option}
