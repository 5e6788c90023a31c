"""Heads: turn a policy's ``out (P, B, k)`` into actions.

* :class:`DiscreteHead` — greedy ``argmax`` (optionally over a legal-action mask, with
  uniform random tie-breaking when a generator is given) or a Categorical sample via the
  Gumbel-max trick (so a ``torch.Generator`` controls it), with log-probabilities and
  entropy for policy gradients.
* :class:`MultiDiscreteHead` — one categorical per component over its slice of ``out``:
  greedy = argmax per component, sampling, log-probability and entropy summed over the
  components (they are independent given the state). With a generator, each step draws
  one uniform number per output, as the Discrete head does, so the count of draws does not
  depend on ties.
* :class:`BoxHead` — greedy ``low + (tanh(out) + 1)/2 · (high − low)``; stochastic actions
  are Gaussian on the pre-squash value ``u ~ N(out, σ²)`` then squashed the same way. The
  log-likelihood of ``u`` is returned: the squash's Jacobian does not depend on the policy
  parameters, so it leaves the likelihood-ratio gradient unchanged.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..spaces import Box, Discrete, MultiDiscrete

NEG_INF = -1e30


def greedy_scores(out: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """What the greedy action maximises: ``out`` with NaN and −∞ entries raised to the lowest
    legal score (so a NaN output still picks a legal action: the rollout ends such a slot
    as a failure, but its env must not be handed an illegal move) and illegal actions at
    −∞. Finite outputs are unchanged."""
    # on the CPU one reduction shows that no output is NaN or infinite (then nothing changes)
    finite = out.device.type == "cpu" and bool(out.sum().isfinite())
    scores = out if finite else out.nan_to_num(nan=NEG_INF).clamp_min(NEG_INF)
    return scores if mask is None else scores.masked_fill(~mask, -math.inf)


def break_ties(scores: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The argmax of ``scores (..., n)`` (from :func:`greedy_scores`) with ties broken
    uniformly by ``noise`` (uniform numbers of the same shape): the maximal entry with the
    largest noise."""
    best = scores.max(-1, keepdim=True).values
    return torch.where(scores >= best, noise, torch.full_like(noise, -1.0)).argmax(-1)


class DiscreteHead:
    def __init__(self, n: int):
        self.n = int(n)
        self.out_size = self.n

    def _masked(self, out: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        return out if mask is None else out.masked_fill(~mask, NEG_INF)

    def greedy(self, out: torch.Tensor, mask: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Argmax over (legal) actions; ties broken uniformly at random when a generator
        is given, else the lowest index."""
        scores = greedy_scores(out, mask)
        if generator is None:
            return scores.argmax(-1)
        return break_ties(scores, torch.rand(scores.shape, generator=generator, device=scores.device,
                                             dtype=scores.dtype))

    def logits(self, out, mask=None):
        return torch.log_softmax(self._masked(out, mask), -1)

    def sample(self, out: torch.Tensor, mask: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None):
        """``(action, log_prob)`` with ``action ~ Categorical(softmax(out))``."""
        logp = self.logits(out, mask)
        u = torch.rand(logp.shape, generator=generator, device=out.device, dtype=out.dtype)
        gumbel = -torch.log((-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20))
        action = (logp.detach() + gumbel).argmax(-1)
        return action, logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, out, action, mask=None):
        return self.logits(out, mask).gather(-1, action.unsqueeze(-1)).squeeze(-1)

    def entropy(self, out, mask=None):
        logp = self.logits(out, mask)
        return -(logp.exp() * logp).sum(-1)


class MultiDiscreteHead:
    def __init__(self, nvec):
        self.nvec = tuple(int(n) for n in nvec)
        self.out_size = sum(self.nvec)
        self.k = len(self.nvec)

    def _split(self, x: torch.Tensor):
        return x.split(self.nvec, -1)

    def greedy(self, out: torch.Tensor, mask: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``(..., k)`` argmax per component; ties broken uniformly when a generator is
        given (one draw of ``out``'s shape), else the lowest index."""
        if mask is not None:
            raise ValueError("a MultiDiscrete action space has no legal-action mask")
        scores = self._split(greedy_scores(out))
        if generator is None:
            return torch.stack([s.argmax(-1) for s in scores], -1)
        noise = self._split(torch.rand(out.shape, generator=generator, device=out.device, dtype=out.dtype))
        return torch.stack([break_ties(s, u) for s, u in zip(scores, noise)], -1)

    def logits(self, out: torch.Tensor, mask=None) -> list[torch.Tensor]:
        return [torch.log_softmax(o, -1) for o in self._split(out)]

    def sample(self, out: torch.Tensor, mask: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None):
        """``(action (..., k), log_prob summed over components)`` by Gumbel-max per component
        from one uniform draw of ``out``'s shape."""
        if mask is not None:
            raise ValueError("a MultiDiscrete action space has no legal-action mask")
        u = torch.rand(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        gumbel = self._split(-torch.log((-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20)))
        logps = self.logits(out)
        action = torch.stack([(lp.detach() + g).argmax(-1) for lp, g in zip(logps, gumbel)], -1)
        return action, self._gather(logps, action)

    @staticmethod
    def _gather(logps, action):
        return sum(lp.gather(-1, action[..., j:j + 1]).squeeze(-1) for j, lp in enumerate(logps))

    def log_prob(self, out, action, mask=None):
        return self._gather(self.logits(out), action)

    def entropy(self, out, mask=None):
        return sum(-(lp.exp() * lp).sum(-1) for lp in self.logits(out))


class BoxHead:
    def __init__(self, space: Box):
        self.dim = space.dim
        self.out_size = space.dim
        self.low = torch.tensor(space.low)
        self.high = torch.tensor(space.high)

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        low = self.low.to(u.device, u.dtype)
        high = self.high.to(u.device, u.dtype)
        return low + (torch.tanh(u) + 1) * 0.5 * (high - low)

    def greedy(self, out, mask=None, generator=None):
        return self.squash(out)

    def sample(self, out: torch.Tensor, log_std: torch.Tensor, generator=None):
        """``(action, u, log_prob(u))`` for ``u ~ N(out, exp(log_std)²)``."""
        std = log_std.exp()
        u = out + std * torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        return self.squash(u), u, self.log_prob_u(out, log_std, u)

    @staticmethod
    def log_prob_u(out, log_std, u):
        z = (u - out) / log_std.exp()
        return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def make_head(space):
    if isinstance(space, Discrete):
        return DiscreteHead(space.n)
    if isinstance(space, Box):
        return BoxHead(space)
    if isinstance(space, MultiDiscrete):
        return MultiDiscreteHead(space.nvec)
    raise TypeError(f"unsupported action space {space!r}")
