"""Episodes of CPU-stepped envs (gymnasium) spread over processes that keep their env.

Stepping worker processes once per time step would cost a round trip per step; instead
:func:`rollout_in_workers` cuts the P×B slots into one rectangle per process (member rows,
and episode columns when P < workers), runs each rectangle's whole lock-step
:func:`dps.rollout.rollout` in a process of its own, and concatenates the results. With
``workers`` W, this process plays the first rectangle and W − 1 worker processes the
others, each on its in-process copy of the env (rebuilt from ``env.worker_config()``).
Every process receives the slot seeds of its rectangle and reproduces the generator's
draws for greedy tie-breaking over the *full* ``(P, B, n)`` shape, and plays the
slot-aligned policy with one intra-op thread, so the returns are bit-identical to one
process for the same seed.

**The pool.** A generation of a searcher is often a few dozen short episodes, a few
milliseconds of work; starting processes, rebuilding the env and unpickling the policy for
every call cost more than that. So each env that goes to workers gets a
:class:`WorkerPool` of its own, started while a run is built (:func:`start_workers`) or on
first use, and kept for the env's life: every worker builds the env once, keeps the policy
it was last sent (the main process sends it again only when its pickle changes), and per
call receives only its parameter rows, slot seeds and rectangle, and returns returns,
lengths, success (and RPG's trajectory) as arrays. Workers run one thread each (torch and
BLAS) and ignore Ctrl-C, which the main process handles. The processes are forked on
Linux, so that they start in milliseconds and already hold what the main process imported
and registered when it built the env; elsewhere they are spawned, and import the run's
``--import`` modules (:data:`dps.registry.IMPORTED`) before they rebuild the env: an id
registered only in the main process is then unknown in a worker, and the error says so. A
daemonic process, which may not start processes, plays every rectangle itself.

**Shutdown.** The pool ends with its env: closing the env (the runner closes its envs at
the end of a run, also after an error or Ctrl-C) stops the workers, as does the env being
garbage-collected, the interpreter exiting, or :func:`close_workers`. A Ctrl-C or any other
exception in the main process while workers are busy terminates the pool (the next call
starts a new one); a worker polls its parent and exits when the parent has died, so no
worker outlives the process that started it.

**Errors.** An exception raised inside a worker is raised again in the main process with
its type and message, the worker's traceback chained as its cause (naming the env, the
slots and the seed); the pool stays usable. A worker process that dies (segfault, out of
memory) raises :class:`WorkerError`, which names the env and the slots, and the pool is
discarded.
"""
from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
import weakref
from typing import Optional

import numpy as np
import torch

from ..errors import UserError
from ..policies.heads import DiscreteHead, MultiDiscreteHead, make_head
from ..registry import IMPORTED, import_modules
from ..rollout import Actor, RolloutResult, Trajectory, _LazyGreedy, rollout
from ..seeding import make_generator

#: how worker processes start: a fork starts in milliseconds and inherits the main
#: process's imports and registrations; where fork is not the safe default, spawn
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

#: seconds a worker waits for work before it checks that its parent is still alive
PARENT_CHECK_SECONDS = 1.0

#: seconds :meth:`WorkerPool.close` waits for an idle worker to exit before it terminates it
CLOSE_TIMEOUT = 5.0

_PICKLE = pickle.HIGHEST_PROTOCOL
_TRAJECTORY_FIELDS = ("obs", "actions", "alive", "rewards", "masks")


class WorkerError(RuntimeError):
    """A worker process running rollouts died (the rollout is lost, not retried)."""


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, chained as its cause."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


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
    if params.dim() != 2 or params.shape[1] != policy.num_params:
        raise UserError(f"params must have shape (P, {policy.num_params}), got {tuple(params.shape)}")
    if record and env.has_action_mask:
        raise UserError("recording rollouts in worker processes needs an env without legal-action masks")
    params = params.detach().to("cpu")
    P, B = params.shape[0], int(episodes)
    seeds = env.draw_seeds(P, B, make_generator(seed, "cpu"))
    chunks = rectangles(P, B, workers)
    jobs = [(params[r0:r1], (P, B), (r0, r1, c0, c1), seeds[r0:r1, c0:c1], int(seed), max_steps, actor, record)
            for r0, r1, c0, c1 in chunks]
    if len(jobs) == 1:  # workers=1, or a single slot: in this process (its thread settings kept)
        parts = [_rect_rollout(env, policy, *jobs[0])]
    elif multiprocessing.current_process().daemon:  # may not start processes: the same rectangles here
        parts = [_one_thread(_rect_rollout, env, policy, *job) for job in jobs]
    else:  # this process plays the first rectangle while the workers play the others
        parts = _pool_for(env).run(policy, jobs[1:], f"{P}x{B} slots over {workers} processes, seed {seed}",
                                   here=lambda: _one_thread(_rect_rollout, env, policy, *jobs[0]))
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
        if isinstance(head, DiscreteHead) and not env.has_action_mask:
            # each step of the full rollout draws greedy tie-breaking noise of shape (P, B, n);
            # our slots' numbers are drawn only on a step where one of them ties or is NaN,
            # skipping the numbers drawn meanwhile (the rollout's lazy draws, dps/rollout.py),
            # so no process pays for the full grid's noise on every step
            lazy = _LazyGreedy(head, gen, (P, B, head.n), rect)

            def act(out, mask, _generator):
                return lazy(out, None)[0]
        elif isinstance(head, (DiscreteHead, MultiDiscreteHead)):
            # embed our slots, draw for all, slice ours
            def act(out, mask, _generator):
                full = out.new_zeros(P, B, out.shape[-1])
                full[r0:r1, c0:c1] = out
                return head.greedy(full, None, gen)[r0:r1, c0:c1]

    env._preset_seeds = seeds
    return rollout(policy, env, params, c1 - c0, seed, act=act, actor=actor, record=record, max_steps=max_steps)


def _one_thread(fn, *args):
    """``fn(*args)`` with one torch intra-op thread, as in a worker: the slot-aligned policy
    gives a slot the same numbers in every process only with one thread (dps.policies.aligned)."""
    threads = torch.get_num_threads()
    if threads == 1:
        return fn(*args)
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(threads)


# ---- the pool (main process) -----------------------------------------------------------------
#: env -> its pool; an entry goes with its env
_POOLS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _pool_for(env) -> "WorkerPool":
    """The live pool of ``env``, started (empty: workers start on demand) if it has none."""
    pool = _POOLS.get(env)
    if pool is None or pool.closed:
        config = (type(env), tuple(sorted(env.worker_config().items())), tuple(IMPORTED))
        pool = _POOLS[env] = WorkerPool(config, env.describe() if hasattr(env, "describe") else type(env).__name__)
        weakref.finalize(env, pool.close)
        _close_with(env)
    return pool


def _close_with(env) -> None:
    """Make ``env.close()`` also close the env's pool (once per env object): the runner
    closes its envs at the end of a run and after an error or Ctrl-C, so the workers end
    with the run without the runner knowing about them."""
    if "close" in vars(env):
        return
    ref, close = weakref.ref(env), type(env).close

    def close_env_and_workers(*args, **kwargs):
        obj = ref()
        if obj is None:
            return None
        close_workers(obj)
        return close(obj, *args, **kwargs)

    close_env_and_workers.__doc__ = close.__doc__
    env.close = close_env_and_workers


def start_workers(env, workers: int) -> None:
    """Start the ``workers - 1`` worker processes of ``env`` now rather than in its first
    rollout (a run starts them while it is built, so that its first generation does not
    wait for them); nothing for an env that cannot go to workers."""
    if workers > 1 and supports_workers(env) and not multiprocessing.current_process().daemon:
        _pool_for(env)._grow(workers - 1)


def pool_of(env) -> Optional["WorkerPool"]:
    """The live pool of ``env``, or None (it has not used workers, or its pool was closed)."""
    pool = _POOLS.get(env)
    return None if pool is None or pool.closed else pool


def close_workers(env=None) -> None:
    """Stop the worker processes of ``env`` (of every env when None); a later rollout in
    workers starts new ones."""
    pools = [_POOLS.pop(env, None)] if env is not None else [_POOLS.pop(e, None) for e in list(_POOLS.keys())]
    for pool in pools:
        if pool is not None:
            pool.close()


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class WorkerPool:
    """Worker processes that play rollouts of one env (module docstring). ``config`` =
    ``(env class, worker_config items, modules to import)``; ``name`` names the env in
    errors. Workers start on demand (:meth:`run` with more jobs than workers)."""

    def __init__(self, config: tuple, name: str):
        self.config, self.name = config, name
        self._procs: list = []
        self._conns: list = []
        self._policies: list = []  # digest of the policy each worker holds (None: none)
        self._owner = os.getpid()
        self.closed = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _grow(self, n: int) -> None:
        ctx = multiprocessing.get_context(START_METHOD)
        while len(self._procs) < n:
            mine, theirs = ctx.Pipe()
            # a forked worker inherits the other workers' main-process ends: it closes them
            inherited = list(self._conns) + [mine] if START_METHOD == "fork" else []
            proc = ctx.Process(target=_serve, args=(theirs, self.config, os.getpid(), inherited),
                               name=f"dps-worker-{len(self._procs)}", daemon=True)
            proc.start()
            theirs.close()  # so that a dead worker's pipe reads as closed here
            self._procs.append(proc)
            self._conns.append(mine)
            self._policies.append(None)

    def run(self, policy, jobs: list, what: str, here=None) -> list[RolloutResult]:
        """The results of ``here()`` (run in this process while the workers play, if given)
        and of ``jobs`` (one per worker, in order; ``_rect_rollout``'s arguments after the
        env and the policy) played with ``policy``; ``what`` describes the call in errors."""
        if self.closed:
            raise RuntimeError("this worker pool is closed")
        blob = pickle.dumps(policy, _PICKLE)
        digest = _digest(blob)
        # pickled before anything is sent: a job that does not pickle fails here, harmlessly
        jobs_pickled = [pickle.dumps((job[0].numpy(), *job[1:]), _PICKLE) for job in jobs]
        local, failed_here = [], None
        try:
            self._grow(len(jobs))
            for i, job in enumerate(jobs_pickled):
                known = self._policies[i] == digest
                self._conns[i].send_bytes(pickle.dumps((digest, None if known else blob, job), _PICKLE))
                self._policies[i] = digest
            if here is not None:
                try:
                    local.append(here())
                except Exception as exc:  # raised once the workers' replies are in: the pool stays in step
                    failed_here = exc
            replies = [self._receive(i, job, what) for i, job in enumerate(jobs)]
        except BaseException:
            # a worker died, or Ctrl-C / an error here while workers were busy: their state
            # is unknown, so the pool goes (the next call starts a new one)
            self.terminate()
            raise
        if failed_here is not None:
            raise failed_here
        failed = None
        for i, reply in enumerate(replies):
            if reply[0] == "error":
                self._policies[i] = None  # the worker forgets its policy after an error
                failed = failed or (i, reply)
        if failed is not None:
            i, (_, exc, text, summary) = failed
            r0, r1, c0, c1 = jobs[i][2]
            where = (f"in worker process {self._procs[i].pid} running {self.name} rollouts (members {r0}:{r1}, "
                     f"episodes {c0}:{c1} of {what})")
            if exc is None:
                raise WorkerError(f"{summary} — raised {where}; its traceback:\n{text}")
            exc.__cause__ = _RemoteTraceback(f"\n{where}:\n{text}")
            raise exc
        return local + [_unpack(reply[1]) for reply in replies]

    def _receive(self, i: int, job, what: str):
        try:
            return pickle.loads(self._conns[i].recv_bytes())
        except (EOFError, OSError):
            proc = self._procs[i]
            proc.join(1.0)
            r0, r1, c0, c1 = job[2]
            raise WorkerError(f"a worker process running {self.name} rollouts (members {r0}:{r1}, episodes "
                              f"{c0}:{c1} of {what}) died (exit code {proc.exitcode})") from None

    def close(self) -> None:
        """Ask idle workers to exit, and terminate those that do not."""
        if self.closed or os.getpid() != self._owner:  # a forked worker's copy is not its to close
            return
        self.closed = True
        for conn in self._conns:
            try:
                conn.send_bytes(pickle.dumps(None))
            except OSError:
                pass
        for proc in self._procs:
            proc.join(CLOSE_TIMEOUT)
        self.terminate()

    def terminate(self) -> None:
        """Stop every worker now (busy or not)."""
        if os.getpid() != self._owner:
            return
        self.closed = True
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(CLOSE_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns, self._policies = [], [], []


def _pack(res: RolloutResult) -> tuple:
    """A rollout's result as numpy arrays (pickled far faster than tensors)."""
    def arr(x):
        return None if x is None else x.numpy()

    tr = res.trajectory
    return (arr(res.returns), arr(res.lengths), arr(res.success), int(res.env_steps),
            None if tr is None else tuple(arr(getattr(tr, f)) for f in _TRAJECTORY_FIELDS))


def _unpack(packed: tuple) -> RolloutResult:
    def ten(x):
        return None if x is None else torch.from_numpy(x)

    returns, lengths, success, steps, tr = packed
    trajectory = None if tr is None else Trajectory(**{f: ten(x) for f, x in zip(_TRAJECTORY_FIELDS, tr)})
    return RolloutResult(returns=ten(returns), lengths=ten(lengths), success=ten(success), env_steps=steps,
                         trajectory=trajectory)


# ---- the worker process ----------------------------------------------------------------------
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


def _serve(conn, config, parent: int, inherited: list) -> None:
    """A worker's life: build the env, then play jobs until told to stop, until the main
    process's end of the pipe closes, or until the parent is gone."""
    for other in inherited:
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    gc.freeze()  # what the main process built stays out of collections: no copy-on-write of its pages
    torch.set_num_threads(1)
    from threadpoolctl import ThreadpoolController
    for pool in ThreadpoolController().lib_controllers:
        # only where needed: setting OpenBLAS's count after a fork starts a thread, even to 1
        if pool.num_threads != 1:
            pool.set_num_threads(1)
    env = policy = digest = failed = None
    try:  # now, so that the first job does not wait for it; a failure is the first job's error
        env = _worker_env(*config)
    except Exception as exc:
        failed = exc
    while True:
        try:
            while not conn.poll(PARENT_CHECK_SECONDS):
                if os.getppid() != parent:
                    return
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            want, blob, job = message
            params, full_shape, rect, seeds, seed, max_steps, actor, record = pickle.loads(job)
            if blob is not None:
                policy, digest = pickle.loads(blob), want
            if digest != want:
                raise RuntimeError("the worker does not hold the policy the main process expects it to hold")
            if env is None:
                raise failed
            res = _rect_rollout(env, policy, torch.from_numpy(params), full_shape, rect, seeds, seed, max_steps,
                                actor, record)
            reply = pickle.dumps(("ok", _pack(res)), _PICKLE)
        except Exception as exc:
            policy = digest = None
            reply = _error_reply(exc)
        conn.send_bytes(reply)


def _error_reply(exc: BaseException) -> bytes:
    """The exception for the main process, or its summary where it does not pickle both ways."""
    text, summary = traceback.format_exc(), f"{type(exc).__name__}: {exc}"
    try:
        reply = pickle.dumps(("error", exc, text, summary), _PICKLE)
        pickle.loads(reply)
        return reply
    except Exception:
        return pickle.dumps(("error", None, text, summary), _PICKLE)
