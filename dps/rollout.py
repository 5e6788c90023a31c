"""Population × episode lock-step evaluation.

::

    params (P, D) ─┐
                   ├─► env.reset(P, B) ─► obs ─► policy.step ─► head ─► env.step ─► …
    episodes = B ──┘        every slot (p, b) plays ONE episode from the initial state;
                            slots that are done are masked (their rewards ignored) and the
                            loop stops when all are done or at env.max_steps.

Returns per-episode ``returns (P, B)``, ``lengths (P, B)``, ``success (P, B)`` (or None if
the env has no success notion) and the number of env steps actually taken by live slots.
Same ``seed`` ⇒ same result (all randomness comes from one ``torch.Generator``).

This is the package's one episode loop. Greedy evaluation uses the head's greedy action;
an ``act(out, mask, generator)`` hook replaces that mapping; an :class:`Actor` replaces the
whole step from observation to action (stochastic policies: RPG's Categorical / Gaussian /
state-dependent exploration). ``record=True`` keeps a :class:`Trajectory` — observations,
the actor's recorded actions, legal-action masks, alive masks and rewards per step —
which is what the policy-gradient learners replay through the policy with autograd.

**NaN outputs.** A live slot whose policy output holds a NaN ends on that step with a NaN
return and ``success`` False (the env is stepped with whatever action the head gave, as
for any slot, and the slot is masked from then on): a policy that does not compute
numbers is never scored as a success, and its fitness is not a number (searchers rank
non-finite fitness last). An infinite output is still an ordering of the actions (argmax)
or a saturated Box action (tanh), so it acts; envs end a slot whose state becomes
non-finite. Rollouts without NaN outputs are unchanged.

**C kernels** (:mod:`dps.native`, CPU, on unless ``DPS_NATIVE=0`` or no C compiler is
found). An LSTM policy's step runs as one C call (:meth:`dps.policies.lstm.LSTMPolicy.step`)
whatever the env. An LSTM policy on the torch cart-pole (``fitness=steps``, float64
physics) with the default greedy head plays whole episodes in C: each group of 4 slots of
a member runs to its end, so slots that have ended cost nothing. Same function and
physics; the numbers differ from the torch loop by rounding (a few units in the last place
per gate; an episode whose pole is on the edge can end a step earlier or later; tested
in tests/test_native.py; docs/BENCHMARKS.md). Where the torch loop would draw numbers or
mark a broken slot (two outputs equal, a NaN output), the kernel hands over and the torch
loop plays the whole rollout from the same reset state, so those cases keep its numbers.

Two shortcuts keep the result bit-identical to the plain lock-step loop; both need an env
that implements :meth:`~dps.envs.base.BatchedEnv.select_rows` (which promises that its
``step`` draws nothing from the generator):

* **Lazy tie-breaking noise.** The default greedy action draws ``(P, B, n)`` uniform
  numbers every step but uses them only where outputs tie exactly. The rollout takes the
  argmax directly and draws (skipping the numbers the plain loop would have drawn so far)
  only on a step where some slot ties or is NaN.
* **Row compaction** (CPU, one intra-op thread): when at most half of the current members
  (rows) still have a live slot, the loop continues with those rows only (params, state,
  accumulators and env state are sliced). The kept row count stays ≡ P (mod 64) and the
  last ``P mod 64`` rows are always kept, so every element-wise kernel sees the same
  vectorised/scalar-tail split for every element as the full batch (``torch.sigmoid``'s
  tail differs in the last ulp otherwise); ``bmm`` is per member. With more threads,
  chunking depends on the tensor size, so compaction is off there. After a compacted
  rollout the env holds only the kept rows (its state is not part of the result).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .errors import UserError
from .native import lstm as native_lstm
from .policies.heads import DiscreteHead, break_ties, greedy_scores, make_head
from .seeding import make_generator

#: kept row counts are ≡ P (mod ROW_ALIGN): a multiple of every CPU kernel's unroll width
ROW_ALIGN = 64


@dataclass
class Trajectory:
    """Per-step records of a rollout, time-major; ``alive[t]`` = the slot's episode was
    running at step t (records of dead slots are left as the loop produced them)."""

    obs: torch.Tensor                  # (T, P, B, *observation_shape) observations before each step
    actions: torch.Tensor              # (T, P, B) long or (T, P, B, A): what the actor recorded
    alive: torch.Tensor                # (T, P, B) bool
    rewards: torch.Tensor              # (T, P, B), zero where not alive
    masks: Optional[torch.Tensor]      # (T, P, B, n) legal actions, or None


@dataclass
class RolloutResult:
    returns: torch.Tensor            # (P, B) float
    lengths: torch.Tensor            # (P, B) long
    success: Optional[torch.Tensor]  # (P, B) bool, or None
    env_steps: int
    #: per-step records when ``record=True``
    trajectory: Optional[Trajectory] = None

    @property
    def episodes(self) -> int:
        return int(self.returns.numel())

    def fitness(self) -> torch.Tensor:
        """Mean return over each member's episodes, ``(P,)``."""
        return self.returns.mean(1)


class Actor:
    """The step from observation to action, for rollouts that do not act greedily.

    :meth:`begin` runs once per rollout after the env's reset and the policy's initial
    state (per-episode draws, e.g. SDE's exploration matrices); :meth:`__call__` maps
    ``(params, obs, state, mask, generator)`` to ``(action for the env, action to record,
    new state)``.
    """

    def begin(self, P: int, B: int, generator: torch.Generator) -> None:
        """Per-rollout draws (default: none)."""

    def __call__(self, params, obs, state, mask, generator):
        raise NotImplementedError

    def for_slots(self, full_shape: tuple, rect: tuple, generator: torch.Generator) -> "Actor":
        """A copy that acts for the slots ``rect = (r0, r1, c0, c1)`` of a ``full_shape =
        (P, B)`` rollout exactly as this actor would in the full rollout: it draws from
        ``generator`` (the full rollout's, after its slot seeds) for the full grid and keeps
        its slots' share. Worker processes play such copies (:mod:`dps.evaluation.workers`)."""
        raise NotImplementedError(f"{type(self).__name__} cannot act for a part of the slots")


@torch.no_grad()
def rollout(policy, env, params: torch.Tensor, episodes: int, seed: int,
            act: Optional[Callable] = None, actor: Optional[Actor] = None, record: bool = False,
            max_steps: Optional[int] = None, compact: Optional[bool] = None) -> RolloutResult:
    """Run ``episodes`` episodes for each row of ``params`` in lock-step.

    :param policy: a :class:`~dps.policies.base.Policy`
    :param env: a :class:`~dps.envs.base.BatchedEnv`
    :param params: ``(P, D)`` parameter rows (moved to the env's device)
    :param episodes: B, episodes per row
    :param seed: integer seed of this evaluation (env randomness and tie-breaking)
    :param act: ``act(out, mask, generator) -> action``; default: the head's greedy action
        with uniform random tie-breaking
    :param actor: an :class:`Actor` that replaces the policy step and ``act``
    :param record: keep the per-step :class:`Trajectory`
    :param max_steps: cap below the env's own ``max_steps``
    :param compact: row compaction (module docstring); None: on where it is bit-identical
        (env with ``select_rows``, default ``act``, no actor, no ``record``, CPU with one
        intra-op thread); False: off. True is treated like None (never forced where it
        could change the result).
    """
    if act is not None and actor is not None:
        raise UserError("rollout takes act or actor, not both")
    if params.dim() != 2 or params.shape[1] != policy.num_params:
        raise UserError(f"params must have shape (P, {policy.num_params}), got {tuple(params.shape)}")
    device = env.device
    params = params.to(device)
    P, B = params.shape[0], int(episodes)
    gen = make_generator(seed, device)
    head = make_head(env.action_space)
    no_step_draws = getattr(env, "supports_select_rows", False)
    lazy = None
    if act is None and actor is None and no_step_draws and isinstance(head, DiscreteHead) \
            and not env.has_action_mask and device.type == "cpu":
        lazy = _LazyGreedy(head, gen, (P, B, head.n))
    greedy = act is None
    if greedy:
        act = head.greedy
    compact = (compact is not False and no_step_draws and lazy is not None and not record
               and device.type == "cpu" and torch.get_num_threads() == 1 and P > ROW_ALIGN)
    rows = None  # original indices of the current rows once compacted
    full = None  # (returns, lengths, success) of all P rows once compacted
    obs = env.reset(P, B, gen)
    T = env.max_steps if max_steps is None else min(max_steps, env.max_steps)
    if greedy and actor is None and not record:
        fused = _native_episodes(policy, env, params, B, T)
        if fused is not None:
            returns, lengths, success = fused
            return RolloutResult(returns=returns, lengths=lengths, success=success if env.has_success else None,
                                 env_steps=int(lengths.sum()))
    state = policy.initial_state(P, B, device=device, dtype=params.dtype)
    if actor is not None:
        actor.begin(P, B, gen)
    returns = torch.zeros(P, B, device=device, dtype=params.dtype)
    lengths = torch.zeros(P, B, device=device, dtype=torch.long)
    alive = torch.ones(P, B, device=device, dtype=torch.bool)
    success = torch.zeros(P, B, device=device, dtype=torch.bool) if env.has_success else None
    nan = torch.tensor(float("nan"), device=device, dtype=params.dtype)
    rec = {"obs": [], "actions": [], "alive": [], "rewards": [], "masks": []}
    cpu = device.type == "cpu"
    sync_every = 1 if cpu or record else 8
    for t in range(T):
        mask = env.action_mask() if env.has_action_mask and lazy is None else None
        broken = None  # slots whose policy output is NaN
        if actor is not None:
            action, recorded, state = actor(params, obs, state, mask, gen)
        else:
            out, state = policy.step(params, obs, state)
            if lazy is not None:
                action, broken = lazy(out, rows)
                recorded = action
            else:
                action = recorded = act(out, mask, gen)
                # on the CPU one reduction decides whether any output is NaN (a NaN, or +inf
                # beside -inf, makes the sum NaN); on a GPU the mask avoids a sync per step
                if not cpu or bool(out.sum().isnan()):
                    broken = out.isnan().any(-1)
        if record:
            rec["obs"].append(obs)
            rec["actions"].append(recorded)
            rec["masks"].append(mask)
        obs, reward, done, info = env.step(action)
        live = alive.to(returns.dtype)
        step_reward = reward.to(returns.dtype) * live
        returns = returns + step_reward
        lengths = lengths + alive  # long + bool -> long
        if record:
            rec["rewards"].append(step_reward)
            rec["alive"].append(alive)
        if broken is not None:
            broken = broken & alive
            returns = torch.where(broken, nan, returns)
            done = done | broken
        ended = alive & done
        if success is not None:
            ended_ok = ended if broken is None else ended & ~broken
            success = success | (ended_ok & info["success"])
        alive = alive & ~done
        if compact:
            row_alive = alive.any(1)
            n_alive = int(row_alive.sum())
            if n_alive == 0:
                break
            keep = _keep_rows(row_alive, P) if 2 * n_alive <= row_alive.shape[0] else None
            if keep is not None:
                if full is None:
                    full = (returns.clone(), lengths.clone(), None if success is None else success.clone())
                    rows = torch.arange(P, device=device)
                else:  # rows dropped now keep their final values
                    _write_back(full, rows, returns, lengths, success)
                rows = rows.index_select(0, keep)
                env.select_rows(keep)
                params, obs = params.index_select(0, keep), obs.index_select(0, keep)
                state = tuple(s.index_select(0, keep) for s in state)
                returns, lengths, alive = (x.index_select(0, keep) for x in (returns, lengths, alive))
                if success is not None:
                    success = success.index_select(0, keep)
        elif t % sync_every == sync_every - 1 and not bool(alive.any()):
            break
    if full is not None:
        returns, lengths, success = _write_back(full, rows, returns, lengths, success)
    trajectory = None
    if record:
        trajectory = Trajectory(obs=torch.stack(rec["obs"]), actions=torch.stack(rec["actions"]),
                                alive=torch.stack(rec["alive"]), rewards=torch.stack(rec["rewards"]),
                                masks=torch.stack(rec["masks"]) if env.has_action_mask else None)
    return RolloutResult(returns=returns, lengths=lengths, success=success,
                         env_steps=int(lengths.sum()), trajectory=trajectory)


def _native_episodes(policy, env, params: torch.Tensor, B: int, T: int):
    """The whole rollout by a C episode kernel (module docstring), or None where there is
    none for this policy and env, or where the torch loop must decide (an output tie or
    NaN: the kernel stops, and the loop then runs from the same reset state)."""
    espec = env.native_spec() if hasattr(env, "native_spec") else None
    pspec = policy.native_spec(params) if espec is not None and hasattr(policy, "native_spec") else None
    if pspec is None or espec["kind"] != "cartpole":
        return None
    return native_lstm.lstm_cartpole(params.contiguous(), pspec, espec, env.native_start(), B, T)


class _LazyGreedy:
    """The default greedy head with its tie-breaking draws deferred (module docstring)."""

    def __init__(self, head: DiscreteHead, gen: torch.Generator, full_shape, rect: Optional[tuple] = None):
        """``rect = (r0, r1, c0, c1)``: the outputs are those of these slots of the
        ``full_shape`` grid (a worker's share), whose draws are the full grid's."""
        self.head, self.gen, self.full_shape, self.rect = head, gen, tuple(full_shape), rect
        self.pending = 0  # numbers the plain loop would have drawn so far and we have not

    def __call__(self, out: torch.Tensor, rows: Optional[torch.Tensor]):
        """``(action, broken)``: ``broken`` marks slots with a NaN output, or is None when
        no output is NaN (a NaN never compares greater, so it only occurs on steps that are
        not clear)."""
        n_full = 1
        for d in self.full_shape:
            n_full *= d
        if out.shape[-1] == 2:
            o0, o1 = out.unbind(-1)
            a = o1 > o0
            clear = bool((a | (o0 > o1)).all())
            action = a.long()
        else:
            # the top two per slot: a strict gap means a unique maximum (a tie or a NaN does not
            # compare greater); fewer ops than max + a count of the maxima
            top, idx = out.topk(2, -1)
            first, second = top.unbind(-1)
            clear = bool((first > second).all())
            action = idx[..., 0]
        if clear:  # every slot has a strict maximum, so no output is NaN
            self.pending += n_full
            return action, None
        # a tie (or NaN) somewhere: reproduce the plain loop's draw for this step
        u = torch.rand(self.pending + n_full, generator=self.gen, device=out.device, dtype=out.dtype)
        self.pending = 0
        noise = u[u.numel() - n_full:].view(self.full_shape)
        if self.rect is not None:
            r0, r1, c0, c1 = self.rect
            noise = noise[r0:r1, c0:c1]
        if rows is not None:
            noise = noise.index_select(0, rows)
        return break_ties(greedy_scores(out), noise), out.isnan().any(-1)


def _keep_rows(row_alive: torch.Tensor, P0: int) -> Optional[torch.Tensor]:
    """Local indices of the rows to keep (sorted), or None when compaction would not at
    least halve the batch. Keeps every row with a live slot, the last ``P0 mod ROW_ALIGN``
    rows (the tail rows of the full batch, always the last rows of the current one), and
    pads with dead rows to a count ≡ P0 (mod ROW_ALIGN)."""
    cur = row_alive.shape[0]
    keep = row_alive.clone()
    m = P0 % ROW_ALIGN
    if m:
        keep[cur - m:] = True
    n = int(keep.sum())
    target = n + (P0 - n) % ROW_ALIGN
    if 2 * target > cur:
        return None
    extra = target - n
    if extra:
        keep[(~keep).nonzero().squeeze(1)[:extra]] = True
    return keep.nonzero().squeeze(1)


def _write_back(full, rows, returns, lengths, success):
    out = (full[0].index_copy_(0, rows, returns), full[1].index_copy_(0, rows, lengths))
    return out + (None if success is None else full[2].index_copy_(0, rows, success),)


def memory_estimate(policy, env, P: int, B: int, record_steps: int = 0) -> int:
    """Bytes a rollout of P members × B episodes will hold at least (parameter rows, the
    policy's recurrent state, observations, outputs and the loop's per-slot tensors, plus a
    recorded trajectory of ``record_steps`` steps), estimated before anything is allocated
    so that an impossible population is refused with the figure instead of failing later."""
    item = 4  # float32
    per_slot_state = sum(int(s.numel()) for s in policy.initial_state(1, 1))
    obs = env.observation_size
    out = env.action_space.out_size
    per_slot = 3 * per_slot_state + 3 * obs + 2 * out + 8
    total = 3 * P * policy.num_params + P * B * per_slot + record_steps * P * B * (obs + out + 3)
    return int(total * item)


def refuse_if_too_big(policy, env, P: int, B: int, record_steps: int, what: str, lower: str) -> None:
    """A :class:`UserError` naming the figures when ``P`` members × ``B`` episodes (and
    ``record_steps`` recorded steps) of ``policy`` on ``env`` would take more than 80 % of
    the memory available (:func:`memory_estimate`), before anything of that size exists.
    ``what`` opens the message (what needs the memory), ``lower`` says what to lower."""
    need = memory_estimate(policy, env, P, B, record_steps)
    have = available_memory()
    if have and need > 0.8 * have:
        raise UserError(f"{what} needs about {need / 2**30:.1f} GiB ({P} members x {B} episodes, "
                        f"{policy.num_params} parameters per member"
                        f"{f', {record_steps} recorded steps' if record_steps else ''}), more than the "
                        f"{have / 2**30:.1f} GiB available; lower {lower}")


def available_memory() -> int:
    """Bytes of memory available to this process (Linux ``MemAvailable``; else the free
    physical pages), or 0 when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
