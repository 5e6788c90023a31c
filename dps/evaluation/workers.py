"""Episodes of CPU-stepped envs (gymnasium) in joblib worker processes.

Stepping worker processes once per time step would cost a round trip per step; instead
:func:`rollout_in_workers` cuts the P×B slots into rectangles (member rows, and episode
columns when P < workers), runs each rectangle's whole lock-step :func:`dps.rollout.rollout`
in a joblib (loky) worker with an in-process copy of the env (rebuilt from
``env.worker_config()``), and concatenates the results. The worker receives the slot seeds
of its rectangle and reproduces the generator's draws for greedy tie-breaking over the
*full* ``(P, B, n)`` shape, so the returns are bit-identical to one process for the same
seed. Only picklable things cross the process boundary: the policy (plain Python), CPU
parameter rows, integer seeds, the env's keyword arguments, and the names of the modules
imported with ``--import`` (:data:`dps.registry.IMPORTED`), which a worker imports before it
rebuilds the env: an id registered only in the main process is unknown in a fresh worker,
and the error says so.

A worker process that dies (segfault, out of memory) raises :class:`WorkerError`, which
names the env and the slots; exceptions raised inside a worker propagate as they are.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..errors import UserError
from ..policies.heads import DiscreteHead, MultiDiscreteHead, make_head
from ..registry import IMPORTED, import_modules
from ..rollout import Actor, RolloutResult, Trajectory, rollout
from ..seeding import make_generator


class WorkerError(RuntimeError):
    """A worker process running rollouts died (the rollout is lost, not retried)."""


def supports_workers(env) -> bool:
    """Whether ``env`` can be rebuilt in a worker (it offers ``worker_config`` and
    ``draw_seeds``)."""
    return hasattr(env, "worker_config") and hasattr(env, "draw_seeds")


def rectangles(P: int, B: int, workers: int) -> list[tuple[int, int, int, int]]:
    """Cut the P×B grid into about ``workers`` rectangles ``(r0, r1, c0, c1)``."""
    rows = min(P, workers)
    cols = min(B, -(-workers // rows))
    rb = np.linspace(0, P, rows + 1).round().astype(int)
    cb = np.linspace(0, B, cols + 1).round().astype(int)
    return [(int(rb[i]), int(rb[i + 1]), int(cb[j]), int(cb[j + 1]))
            for i in range(rows) for j in range(cols)]


def rollout_in_workers(policy, env, params: torch.Tensor, episodes: int, seed: int, workers: int,
                       max_steps: Optional[int] = None, actor: Optional[Actor] = None,
                       record: bool = False) -> RolloutResult:
    """:func:`dps.rollout.rollout` of ``env`` spread over ``workers`` processes; same
    ``seed`` ⇒ the same result as one process (module docstring).

    With an ``actor`` (RPG's sampler), every rectangle — the whole grid when ``workers`` is
    1, in this process — plays the actor's :meth:`~dps.rollout.Actor.for_slots` copy, which
    replays the generator's draws for the full grid; ``record=True`` returns the merged
    :class:`~dps.rollout.Trajectory` with every step after a slot's episode ended set to
    zeros (observation and action), where the parts, which stop at their own last step,
    would otherwise differ. Such steps carry weight 0 in every estimator."""
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    if params.dim() != 2 or params.shape[1] != policy.num_params:
        raise UserError(f"params must have shape (P, {policy.num_params}), got {tuple(params.shape)}")
    if record and env.has_action_mask:
        raise UserError("recording rollouts in worker processes needs an env without legal-action masks")
    params = params.detach().to("cpu")
    P, B = params.shape[0], int(episodes)
    seeds = env.draw_seeds(P, B, make_generator(seed, "cpu"))
    chunks = rectangles(P, B, workers)
    args = [(policy, params[r0:r1].clone(), (P, B), (r0, r1, c0, c1), seeds[r0:r1, c0:c1].copy(), int(seed),
             max_steps, actor, record) for r0, r1, c0, c1 in chunks]
    if workers == 1:  # the same rectangles' code in this process (its thread settings kept)
        parts = [_rect_rollout(env, *a) for a in args]
    else:
        config = (type(env), tuple(sorted(env.worker_config().items())), tuple(IMPORTED))
        try:
            parts = Parallel(n_jobs=min(workers, len(args)), backend="loky")(
                delayed(_worker_rollout)(config, *a) for a in args)
        except (TerminatedWorkerError, BrokenProcessPool) as exc:
            name = env.describe() if hasattr(env, "describe") else type(env).__name__
            raise WorkerError(f"a worker process running {name} rollouts ({P}x{B} slots over {workers} "
                              f"workers, seed {seed}) died: {exc}") from exc
    returns = torch.zeros(P, B, dtype=params.dtype)
    lengths = torch.zeros(P, B, dtype=torch.long)
    success = torch.zeros(P, B, dtype=torch.bool) if env.has_success else None
    steps = 0
    for (r0, r1, c0, c1), res in zip(chunks, parts):
        returns[r0:r1, c0:c1] = res.returns
        lengths[r0:r1, c0:c1] = res.lengths
        if success is not None:
            success[r0:r1, c0:c1] = res.success
        steps += res.env_steps
    trajectory = _merge([res.trajectory for res in parts], chunks, P, B) if record else None
    return RolloutResult(returns=returns, lengths=lengths, success=success, env_steps=steps, trajectory=trajectory)


def _merge(parts: list[Trajectory], chunks, P: int, B: int) -> Trajectory:
    """The rectangles' trajectories as one ``(T, P, B, ...)`` trajectory, T the longest;
    observations and actions of steps where a slot is not alive are zero (docstring of
    :func:`rollout_in_workers`)."""
    T = max(tr.alive.shape[0] for tr in parts)
    first = parts[0]

    def empty(x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros((T, P, B, *x.shape[3:]))

    out = Trajectory(obs=empty(first.obs), actions=empty(first.actions), alive=empty(first.alive),
                     rewards=empty(first.rewards), masks=None)
    for (r0, r1, c0, c1), tr in zip(chunks, parts):
        t = tr.alive.shape[0]
        for name in ("obs", "actions", "alive", "rewards"):
            getattr(out, name)[:t, r0:r1, c0:c1] = getattr(tr, name)
    dead = ~out.alive
    out.obs[dead] = 0
    out.actions[dead] = 0
    return out


#: per-process cache of in-process envs (loky workers are reused between calls)
_WORKER_ENVS: dict = {}


def _worker_env(cls, kwargs, imports):
    """The env rebuilt in a worker process, after importing the run's ``--import`` modules."""
    import_modules(imports)
    try:
        return cls(**dict(kwargs))
    except UserError as exc:
        # the main process built this env, so what differs here is the process: an id or
        # name registered by code that ran only there (a script, a notebook cell)
        raise UserError(f"{exc} — in a worker process, although the main process built this env: "
                        "whatever registers it must be importable, so that each worker imports it too; "
                        "put the registration in a module and pass --import MODULE (or use gym:MODULE:ID)") from None


def _worker_rollout(config, *args):
    """One rectangle's lock-step rollout, run in a worker process (one intra-op thread)."""
    torch.set_num_threads(1)
    env = _WORKER_ENVS.get(config)
    if env is None:
        env = _WORKER_ENVS[config] = _worker_env(*config)
    return _rect_rollout(env, *args)


def _rect_rollout(env, policy, params, full_shape, rect, seeds, seed, max_steps, actor, record) -> RolloutResult:
    """The rollout of the slots in ``rect`` of the full ``(P, B)`` grid, with the full
    grid's slot seeds and generator draws."""
    P, B = full_shape
    r0, r1, c0, c1 = rect
    # the full rollout's generator: the slot seeds were drawn from it for (P, B) first
    gen = make_generator(seed, "cpu")
    env.draw_seeds(P, B, gen)
    act = None
    if actor is not None:
        actor = actor.for_slots(full_shape, rect, gen)
    else:
        head = make_head(env.action_space)
        if isinstance(head, (DiscreteHead, MultiDiscreteHead)):
            # each step of the full rollout draws greedy tie-breaking noise of shape (P, B, n):
            # embed our slots, draw for all, slice ours
            def act(out, mask, _generator):
                full = out.new_zeros(P, B, out.shape[-1])
                full[r0:r1, c0:c1] = out
                return head.greedy(full, None, gen)[r0:r1, c0:c1]

    env._preset_seeds = seeds
    res = rollout(policy, env, params, c1 - c0, seed, act=act, actor=actor, record=record, max_steps=max_steps)
    # only tensors cross the process boundary (the actor's state stays in the worker)
    return res
