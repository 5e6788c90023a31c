"""Antithetic evolution strategies over flat vectors: OpenES, Guided ES, Past-Descent ES.

All three evaluate symmetric pairs laid out by :class:`~dps.algorithms.base.Antithetic`::

    rows 0 .. N-1   : mu + eps_k          (N = popsize / 2 pairs)
    rows N .. 2N-1  : mu - eps_k

and differ only in how ``eps`` is drawn and how the pairs' fitness is combined into an
ascent direction ``g`` (kept in ``self.grad`` after each ``tell``). The centre then moves by
one step of the injected centre optimiser (SGD / Adam / ClipUp, :mod:`.base`):
``mu ← mu + step(g − weight_decay · mu)``.

* :class:`OpenES` — Salimans, Ho, Chen, Sidor, Sutskever, *Evolution Strategies as a
  Scalable Alternative to Reinforcement Learning*, arXiv 1703.03864 (2017), Algorithm 1 with
  mirrored sampling and centered ranks.
* :class:`GuidedES` — Maheswaranathan, Metz, Tucker, Choi, Sohl-Dickstein, *Guided
  evolutionary strategies*, ICML 2019, Algorithm 1: the search covariance is stretched
  along a subspace spanned by caller-supplied surrogate gradients.
* :class:`PastDescentES` — Meier, Mujika, Gauy, Steger, *Improving Gradient Estimation in
  Evolutionary Strategies With Past Descent Directions*, arXiv 1910.05268 (2019): the
  previous estimate is the surrogate; orthonormal directions; the estimate is the
  projection of the gradient onto their span.

All noise is drawn from ``self.generator`` (the searcher's own seeded stream).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from ..errors import UserError
from .base import (
    Antithetic,
    Fraction,
    Rate,
    Searcher,
    Sigma,
    Size,
    make_optimizer,
    make_shaping,
    opt,
    optimizer_quantities,
)


def _qr(A: torch.Tensor):
    """Reduced QR in float64 through numpy's LAPACK (``Q (m, k)``, ``R (k, k)``).

    torch's CPU ``linalg.qr`` on small matrices was measured 10–100× slower on a loaded
    2-core machine (thread oversubscription); numpy's is not, and the result is the same.
    """
    Q, R = np.linalg.qr(A.detach().cpu().double().numpy())
    return torch.from_numpy(Q), torch.from_numpy(R)


@dataclass
class ESConfig:
    """Options shared by the antithetic ES family (one CLI flag each)."""

    popsize: Size = opt(50, "population size, even (popsize/2 antithetic pairs)")
    sigma: Sigma = opt(0.1, "perturbation scale sigma")
    lr: Rate = opt(0.01, "centre learning rate (step size of the centre optimiser)")
    optimizer: str = opt("adam", "centre optimiser: adam | clipup | sgd")
    momentum: Fraction = opt(0.9, "momentum of the sgd / clipup centre optimiser")
    max_speed: Optional[Sigma] = opt(None, "ClipUp max speed (None = 2·lr)")
    weight_decay: Rate = opt(0.0, "L2 coefficient: g ← g − weight_decay·mu (Salimans et al. 2017)")
    shaping: str = opt("centered", "fitness shaping: centered | raw | normalized")
    float64: bool = opt(False, "keep mu and the noise in float64")


class _AntitheticES(Searcher):
    """Template of the ES family: ``_directions()`` draws ``eps`` (N, D) for the next
    population; ``_estimate(f_plus, f_minus)`` returns the ascent direction ``g`` (D,)."""

    Config = ESConfig
    nonfinite_hint = "a smaller lr or sigma"

    def __init__(self, center: torch.Tensor, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        c = self.config
        if int(c.popsize) < 2 or int(c.popsize) % 2:
            raise UserError(f"popsize must be an even number >= 2 for antithetic sampling, got {c.popsize}")
        if not float(c.sigma) > 0:
            raise UserError(f"sigma must be > 0, got {c.sigma}")
        self.mu = center.detach().reshape(-1).to(self.dtype).clone()   # centre of the search distribution
        self.shaping = make_shaping(c.shaping)
        kw = {"momentum": float(c.momentum)}
        if c.max_speed is not None:
            kw["max_speed"] = float(c.max_speed)
        self.optimizer = make_optimizer(c.optimizer, float(c.lr), **kw)
        self.eps: Optional[torch.Tensor] = None       # (N, D) perturbations of the pending population
        self.grad: Optional[torch.Tensor] = None      # last ascent-direction estimate g

    @property
    def center(self) -> torch.Tensor:
        return self.mu

    @property
    def num_pairs(self) -> int:
        return int(self.config.popsize) // 2

    # -- subclass hooks ------------------------------------------------------------
    def _directions(self) -> torch.Tensor:
        raise NotImplementedError

    def _estimate(self, f_plus: torch.Tensor, f_minus: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- ask / tell ----------------------------------------------------------------
    def _ask(self):
        self.eps = self._directions()
        return Antithetic.population(self.mu, self.eps)

    def _tell(self, fitness):
        f_plus, f_minus = Antithetic.split(fitness.to(self.dtype))
        g = self._estimate(f_plus, f_minus)
        self.grad = g
        if self.config.weight_decay:
            g = g - float(self.config.weight_decay) * self.mu
        step = self.optimizer.step(g)
        self.mu = self.mu + step
        self.eps = None
        return {"grad_norm": float(self.grad.norm()), "step_norm": float(step.norm()),
                "sigma": float(self.config.sigma)}

    def _finite_quantities(self):
        yield "the centre", self.mu
        yield from optimizer_quantities(self.optimizer)

    def _state(self):
        return {"mu": self.mu, "eps": self.eps, "grad": self.grad,
                "optimizer": self.optimizer.state_dict(), "pending": self._asked}

    def _load_state(self, sd):
        self.mu = sd["mu"]
        self.eps = sd["eps"]
        self.grad = sd["grad"]
        self.optimizer.load_state_dict(sd["optimizer"])
        self._asked = sd["pending"]


class OpenES(_AntitheticES):
    """Antithetic ES of Salimans et al. (2017), Algorithm 1 with mirrored sampling.

    ``eps_k = sigma · z_k``, ``z_k ~ N(0, I)``; population ``mu ± eps_k``; utilities
    ``u = shaping(f)`` (centered ranks by default) and the gradient estimate

        g = 1 / (P sigma) · Σ_{i=1..P} u_i z_i = 1 / (P sigma) · Σ_k (u⁺_k − u⁻_k) z_k,

    P = popsize (the mirrored member of pair k has noise −z_k). With ``shaping="raw"``
    ``E[g]`` is the gradient of the Gaussian-smoothed fitness.
    """

    def _directions(self):
        return float(self.config.sigma) * self.randn(self.num_pairs, self.dim)

    def _estimate(self, f_plus, f_minus):
        u = self.shaping(torch.cat([f_plus, f_minus]))
        u_plus, u_minus = Antithetic.split(u)
        sigma = float(self.config.sigma)
        z = self.eps / sigma
        P = 2 * self.num_pairs
        return (u_plus - u_minus) @ z / (P * sigma)


@dataclass
class GuidedESConfig(ESConfig):
    alpha: Fraction = opt(0.5, "share of the isotropic (full-space) part of the search covariance")
    beta: float = opt(1.0, "gradient scale beta (Maheswaranathan et al. 2019, Alg. 1)")
    shaping: str = opt("raw", "fitness shaping: raw (as in the paper) | centered | normalized")
    optimizer: str = opt("sgd", "centre optimiser: sgd (as in the paper) | adam | clipup")
    lr: Rate = opt(0.2, "centre learning rate")
    momentum: Fraction = opt(0.0, "momentum of sgd / clipup")


class GuidedES(_AntitheticES):
    """Guided ES (Maheswaranathan et al., ICML 2019, Algorithm 1).

    With ``Q`` (D, k) an orthonormal basis of the k surrogate gradients given through
    :meth:`set_surrogate` (or :meth:`set_surrogate_fn`), each pair's perturbation is

        eps = sigma · sqrt(alpha / n) · N(0, I_n) + sigma · sqrt((1 − alpha) / k) · Q N(0, I_k),

    n = D, i.e. ``eps ~ N(0, Σ)``, ``Σ = sigma² (alpha/n · I + (1 − alpha)/k · Q Qᵀ)``; the
    estimate over the N pairs is

        g = beta / (2 sigma² N) · Σ_k (f(mu + eps_k) − f(mu − eps_k)) · eps_k,

    whose expectation is ``beta · Σ ∇f / sigma²`` (a descent direction that weights the
    guiding subspace more). The differences are of ``shaping(f)``: ``raw`` (the paper's) by
    default.

    **Without a surrogate** (none given for this generation) the sampling falls back to
    the isotropic part alone, ``eps = sigma / sqrt(n) · N(0, I_n)`` — plain antithetic ES
    with the same estimator. A surrogate applies to the next ``ask()`` only and is cleared
    by ``tell()``; a ``surrogate_fn(mu) -> (k, D)`` set with :meth:`set_surrogate_fn` is
    called at every ``ask()`` instead. The surrogate's sign and scale do not matter, only
    the subspace it spans.
    """

    Config = GuidedESConfig

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        if not 0.0 <= float(self.config.alpha) <= 1.0:
            raise UserError(f"alpha must lie in [0, 1], got {self.config.alpha}")
        self.Q: Optional[torch.Tensor] = None         # (D, k) orthonormal basis of the surrogates
        self.surrogate_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
        self._used_surrogate = False

    def set_surrogate(self, grads: torch.Tensor) -> None:
        """Surrogate gradient(s) ``(k, D)`` (or ``(D,)``) for the next ``ask()``."""
        if self._asked is not None:
            raise RuntimeError("set_surrogate() must be called before ask(); a population is pending")
        G = torch.as_tensor(grads).detach().to(self.dtype)
        if G.dim() == 1:
            G = G.unsqueeze(0)
        if G.dim() != 2 or G.shape[1] != self.dim:
            raise UserError(f"surrogate gradients must have shape (k, {self.dim}), got {tuple(G.shape)}")
        if not bool(torch.isfinite(G).all()):
            raise UserError("surrogate gradients contain NaN or inf")
        Q, R = _qr(G.T)                               # (D, k) orthonormal columns
        keep = R.diagonal().abs() > 1e-10 * float(R.abs().max())
        self.Q = Q[:, keep].to(self.dtype) if bool(keep.any()) else None

    def set_surrogate_fn(self, fn: Optional[Callable[[torch.Tensor], torch.Tensor]]) -> None:
        """``fn(mu) -> (k, D)`` called at every ``ask()`` (e.g. an RPG gradient of the same
        policy at ``mu``); None removes it."""
        self.surrogate_fn = fn

    def _directions(self):
        if self.surrogate_fn is not None:
            self.set_surrogate(self.surrogate_fn(self.mu.clone()))
        c, n, N = self.config, self.dim, self.num_pairs
        sigma, alpha = float(c.sigma), float(c.alpha)
        self._used_surrogate = self.Q is not None
        if self.Q is None:
            return sigma / math.sqrt(n) * self.randn(N, n)
        k = self.Q.shape[1]
        eps = sigma * math.sqrt(alpha / n) * self.randn(N, n)
        eps = eps + sigma * math.sqrt((1.0 - alpha) / k) * self.randn(N, k) @ self.Q.T
        return eps

    def _estimate(self, f_plus, f_minus):
        u = self.shaping(torch.cat([f_plus, f_minus]))
        u_plus, u_minus = Antithetic.split(u)
        sigma, N = float(self.config.sigma), self.num_pairs
        return float(self.config.beta) / (2 * sigma ** 2 * N) * ((u_plus - u_minus) @ self.eps)

    def _tell(self, fitness):
        stats = super()._tell(fitness)
        stats["surrogate"] = self._used_surrogate
        self.Q = None
        return stats

    def _state(self):
        return {**super()._state(), "Q": self.Q}

    def _load_state(self, sd):
        super()._load_state(sd)
        self.Q = sd["Q"]


@dataclass
class PastDescentConfig(ESConfig):
    shaping: str = opt("raw", "fitness shaping: raw keeps the projection property | centered | normalized")


class PastDescentES(_AntitheticES):
    """ES with past descent directions (Meier et al. 2019, arXiv 1910.05268, Sec. 3).

    The surrogate ``ζ̂`` is the previous estimate. The N = popsize/2 directions are
    orthonormal: ``u_1 = ζ̂ / ‖ζ̂‖`` and ``u_2 … u_N`` Gaussian directions orthogonalised
    against ``u_1`` and each other (QR); the first generation has no surrogate and uses N
    orthonormal random directions. Pair j is evaluated at ``mu ± sigma u_j``; the
    antithetic difference ``(f(mu + sigma u_j) − f(mu − sigma u_j)) / (2 sigma) ≈ ∇f · u_j``
    and

        g = Σ_j (∇f · u_j) u_j,

    the projection of the gradient onto span{ζ̂, u_2, …, u_N}, so ``g`` is always at least
    as aligned with ∇f as ζ̂ (exactly so for a linear f with ``shaping="raw"``, the default
    here; rank shaping breaks the finite-difference scale).
    """

    Config = PastDescentConfig

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        if self.num_pairs > self.dim:
            raise UserError(f"PastDescentES needs popsize/2 <= dimension ({self.dim}) orthonormal "
                            f"directions, got popsize {self.config.popsize}")
        self.zeta: Optional[torch.Tensor] = None      # surrogate ζ̂ = previous estimate

    def _directions(self):
        N, D = self.num_pairs, self.dim
        Z = self.randn(D, N)
        if self.zeta is not None and float(self.zeta.norm()) > 0:
            Z[:, 0] = self.zeta / self.zeta.norm()
        U, R = _qr(Z)                                 # Gram–Schmidt; column 0 keeps ζ̂'s direction
        U = U * torch.where(R.diagonal() < 0, -1.0, 1.0).to(U.dtype)
        return float(self.config.sigma) * U.T.to(self.dtype)   # (N, D) rows sigma · u_j

    def _estimate(self, f_plus, f_minus):
        u = self.shaping(torch.cat([f_plus, f_minus]))
        u_plus, u_minus = Antithetic.split(u)
        sigma = float(self.config.sigma)
        U = self.eps / sigma                          # orthonormal rows u_j
        d = (u_plus - u_minus) / (2 * sigma)         # ≈ ∇f · u_j
        g = d @ U
        self.zeta = g
        return g

    def _state(self):
        return {**super()._state(), "zeta": self.zeta}

    def _load_state(self, sd):
        super()._load_state(sd)
        self.zeta = sd["zeta"]
