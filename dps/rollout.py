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
from .policies.heads import DiscreteHead, make_head
from .seeding import make_generator

#: kept row counts are ≡ P (mod ROW_ALIGN): a multiple of every CPU kernel's unroll width
ROW_ALIGN = 64


@dataclass
class RolloutResult:
    returns: torch.Tensor            # (P, B) float
    lengths: torch.Tensor            # (P, B) long
    success: Optional[torch.Tensor]  # (P, B) bool, or None
    env_steps: int
    #: per-step records when ``record=True``: rewards/alive (T, P, B)
    rewards: Optional[torch.Tensor] = None
    alive: Optional[torch.Tensor] = None

    @property
    def episodes(self) -> int:
        return int(self.returns.numel())

    def fitness(self) -> torch.Tensor:
        """Mean return over each member's episodes, ``(P,)``."""
        return self.returns.mean(1)


@torch.no_grad()
def _no_grad_rollout(*args, **kwargs):
    return _rollout(*args, **kwargs)


def rollout(policy, env, params: torch.Tensor, episodes: int, seed: int,
            act: Optional[Callable] = None, record: bool = False,
            max_steps: Optional[int] = None, grad: bool = False,
            compact: Optional[bool] = None) -> RolloutResult:
    """Run ``episodes`` episodes for each row of ``params`` in lock-step.

    :param policy: a :class:`~dps.policies.base.Policy`
    :param env: a :class:`~dps.envs.base.BatchedEnv`
    :param params: ``(P, D)`` parameter rows (moved to the env's device)
    :param episodes: B, episodes per row
    :param seed: integer seed of this evaluation (env randomness and tie-breaking)
    :param act: ``act(out, mask, generator) -> action``; default: the head's greedy action
        with uniform random tie-breaking
    :param record: keep per-step rewards and alive masks ``(T, P, B)``
    :param max_steps: cap below the env's own ``max_steps``
    :param grad: keep the autograd graph (for callers that differentiate through ``act``)
    :param compact: row compaction (module docstring); None: on where it is bit-identical
        (env with ``select_rows``, default ``act``, no ``record``/``grad``, CPU with one
        intra-op thread); False: off. True is treated like None (never forced where it
        could change the result).
    """
    fn = _rollout if grad else _no_grad_rollout
    return fn(policy, env, params, episodes, seed, act, record, max_steps, compact)


class _LazyGreedy:
    """The default greedy head with its tie-breaking draws deferred (module docstring)."""

    def __init__(self, head: DiscreteHead, gen: torch.Generator, full_shape):
        self.head, self.gen, self.full_shape = head, gen, tuple(full_shape)
        self.pending = 0  # numbers the plain loop would have drawn so far and we have not

    def __call__(self, out: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
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
        if clear:
            self.pending += n_full
            return action
        # a tie (or NaN) somewhere: reproduce the plain loop's draw for this step
        u = torch.rand(self.pending + n_full, generator=self.gen, device=out.device, dtype=out.dtype)
        self.pending = 0
        noise = u[u.numel() - n_full:].view(self.full_shape)
        if rows is not None:
            noise = noise.index_select(0, rows)
        best = out.max(-1, keepdim=True).values
        ties = out >= best
        return torch.where(ties, noise, torch.full_like(noise, -1.0)).argmax(-1)


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


def _rollout(policy, env, params, episodes, seed, act, record, max_steps, compact=None):
    if params.dim() != 2 or params.shape[1] != policy.num_params:
        raise UserError(f"params must have shape (P, {policy.num_params}), got {tuple(params.shape)}")
    device = env.device
    params = params.to(device)
    P, B = params.shape[0], int(episodes)
    gen = make_generator(seed, device)
    head = make_head(env.action_space)
    no_step_draws = getattr(env, "supports_select_rows", False)
    lazy = None
    if act is None and no_step_draws and isinstance(head, DiscreteHead) and not env.has_action_mask \
            and device.type == "cpu":
        lazy = _LazyGreedy(head, gen, (P, B, head.n))
    if act is None:
        act = head.greedy
    compact = (compact is not False and no_step_draws and lazy is not None and not record
               and not torch.is_grad_enabled() and device.type == "cpu"
               and torch.get_num_threads() == 1 and P > ROW_ALIGN)
    rows = None  # original indices of the current rows once compacted
    full = None  # (returns, lengths, success) of all P rows once compacted
    obs = env.reset(P, B, gen)
    state = policy.initial_state(P, B, device=device, dtype=params.dtype)
    returns = torch.zeros(P, B, device=device, dtype=params.dtype)
    lengths = torch.zeros(P, B, device=device, dtype=torch.long)
    alive = torch.ones(P, B, device=device, dtype=torch.bool)
    success = torch.zeros(P, B, device=device, dtype=torch.bool) if env.has_success else None
    rec_r, rec_alive = [], []
    T = env.max_steps if max_steps is None else min(max_steps, env.max_steps)
    sync_every = 1 if device.type == "cpu" else 8
    for t in range(T):
        out, state = policy.step(params, obs, state)
        if lazy is not None:
            action = lazy(out, rows)
        else:
            mask = env.action_mask() if env.has_action_mask else None
            action = act(out, mask, gen)
        obs, reward, done, info = env.step(action)
        live = alive.to(returns.dtype)
        returns = returns + reward.to(returns.dtype) * live
        lengths = lengths + alive  # long + bool -> long
        if record:
            rec_r.append(reward.to(returns.dtype) * live)
            rec_alive.append(alive)
        ended = alive & done
        if success is not None:
            success = success | (ended & info["success"])
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
    return RolloutResult(
        returns=returns, lengths=lengths, success=success,
        env_steps=int(lengths.sum()),
        rewards=torch.stack(rec_r) if record else None,
        alive=torch.stack(rec_alive) if record else None,
    )
