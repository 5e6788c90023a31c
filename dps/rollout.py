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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .errors import UserError
from .policies.heads import make_head


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


def make_generator(seed: int, device) -> torch.Generator:
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)
    return g


@torch.no_grad()
def _no_grad_rollout(*args, **kwargs):
    return _rollout(*args, **kwargs)


def rollout(policy, env, params: torch.Tensor, episodes: int, seed: int,
            act: Optional[Callable] = None, record: bool = False,
            max_steps: Optional[int] = None, grad: bool = False) -> RolloutResult:
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
    """
    if act is None and not record and not grad and hasattr(env, "parallel_rollout") \
            and getattr(env, "workers", 1) > 1:
        # CPU-stepped envs (gymnasium) run whole chunks of slots in worker processes
        return env.parallel_rollout(policy, params, episodes, seed, max_steps)
    fn = _rollout if grad else _no_grad_rollout
    return fn(policy, env, params, episodes, seed, act, record, max_steps)


def _rollout(policy, env, params, episodes, seed, act, record, max_steps):
    if params.dim() != 2 or params.shape[1] != policy.num_params:
        raise UserError(f"params must have shape (P, {policy.num_params}), got {tuple(params.shape)}")
    device = env.device
    params = params.to(device)
    P, B = params.shape[0], int(episodes)
    gen = make_generator(seed, device)
    head = make_head(env.action_space)
    if act is None:
        act = head.greedy
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
        mask = env.action_mask() if env.has_action_mask else None
        action = act(out, mask, gen)
        obs, reward, done, info = env.step(action)
        live = alive.to(returns.dtype)
        returns = returns + reward.to(returns.dtype) * live
        lengths = lengths + alive.long()
        if record:
            rec_r.append(reward.to(returns.dtype) * live)
            rec_alive.append(alive)
        ended = alive & done
        if success is not None:
            success = success | (ended & info["success"])
        alive = alive & ~done
        if t % sync_every == sync_every - 1 and not bool(alive.any()):
            break
    return RolloutResult(
        returns=returns, lengths=lengths, success=success,
        env_steps=int(lengths.sum()),
        rewards=torch.stack(rec_r) if record else None,
        alive=torch.stack(rec_alive) if record else None,
    )
