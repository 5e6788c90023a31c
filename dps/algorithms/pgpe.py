"""PGPE — Policy Gradients with Parameter-based Exploration.

Sehnke, Osendorfer, Rückstieß, Graves, Peters, Schmidhuber, *Parameter-exploring policy
gradients*, Neural Networks 23(4):551–559, 2010 (ICANN 2008). Parameters θ ~ N(μ, diag σ²);
each sample is evaluated with a deterministic controller.

``variant="paper"`` — symmetric sampling with reward normalisation (the paper's §2.3–2.4,
as in the lab's own implementation; docs/ALGORITHMS.md). Per pair k, with ε_k ~ N(0, diag σ²),
r⁺ = R(μ+ε_k), r⁻ = R(μ−ε_k), m = the best reward seen so far (this generation's included),
r̄ = (r⁺ + r⁻)/2 and b the baseline::

    Δμ_k = α_μ · (r⁺ − r⁻) / (2m − r⁺ − r⁻) · ε_k              (0 when r⁺ = r⁻)
    Δσ_k = α_σ · (r̄ − b)/(m − b) · (ε_k² − σ²)/σ               (only when (r̄ − b)/(m − b) > 0)
    μ ← μ + mean_k Δμ_k ;  σ ← σ + mean_k Δσ_k                  (N pairs: average per-pair steps)
    b ← 0.9 b + 0.1 · mean_k r̄_k                                (after the σ step; first
                                                                 generation: b = mean r̄, no σ step)

``variant="modern"`` — as in evotorch/evosax/EvoJAX: centered-rank utilities u over all 2N
samples, ∇μ ≈ (1/N) Σ_k (u⁺_k − u⁻_k)/2 · ε_k / … fed to a centre optimiser (ClipUp by
default, or Adam/SGD); ∇σ ≈ (1/N) Σ_k ((u⁺_k + u⁻_k)/2 − ū) · (ε_k² − σ²)/σ, σ ← σ + α_σ ∇σ
with the relative change of each σ_i clipped to ``stdev_max_change``.

**Flat fitness** (an extension, as pycma's "flat fitness" rule): when at least half of the
population (and at least two samples) ties with the best sample, no update has a direction — typical of deterministic
policies on a plateau (e.g. a T-maze policy that always takes the same arm). Then σ is
multiplied by ``flat_sigma_boost`` (≤ ``sigma_max``) so that the next samples behave
differently; it never fires while fitness values differ.

**Restarts** (an extension, as IPOP/BIPOP restarts of CMA-ES): with ``restart_after = K``,
a search whose best sample has not improved for K generations starts again from the
initial μ and σ with fresh noise (the random stream continues) and a fresh optimiser; the
best sample ever seen is kept in ``best_params``. On needle-like memory tasks (T-maze)
single runs succeed or stall depending on the noise, so restarts turn a per-run success
rate into a reliable one.

Population layout (see :class:`~dps.algorithms.base.Antithetic`): rows 0..N−1 are μ + ε_k,
rows N..2N−1 are μ − ε_k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import UserError
from .base import (
    Antithetic,
    Bound,
    Factor,
    Fraction,
    Generations,
    Rate,
    Scale,
    Searcher,
    Sigma,
    Size,
    make_optimizer,
    make_shaping,
    opt,
    optimizer_quantities,
)


@dataclass
class PGPEConfig:
    popsize: Size = opt(20, "samples per generation (2 × symmetric pairs; must be even)")
    variant: str = opt("paper", "paper: Sehnke 2010 reward-normalised rule; modern: centered ranks + optimiser")
    lr_mu: Rate = opt(0.2, "α_μ, learning rate of the mean (paper variant) / optimiser step size (modern)")
    lr_sigma: Rate = opt(0.1, "α_σ, learning rate of the standard deviations")
    sigma_init: Sigma = opt(2.0, "initial σ (all components)")
    sigma_min: Scale = opt(1e-6, "lower bound on σ (numerical safety)")
    init_scale: Scale = opt(0.0, "scale of the random initial μ (0 = start from zeros, as in the paper)")
    optimizer: str = opt("clipup", "modern variant: centre optimiser clipup | adam | sgd")
    max_speed: Optional[Sigma] = opt(None, "ClipUp max speed (default 2 × lr_mu)")
    momentum: Fraction = opt(0.9, "ClipUp / SGD momentum")
    stdev_max_change: Rate = opt(0.2, "modern variant: max relative change of σ per generation")
    shaping: str = opt("centered", "modern variant: fitness shaping centered | normalized | raw")
    flat_sigma_boost: Factor = opt(1.0, "multiply σ by this when at least half the population ties with the "
                                       "best (a flat fitness landscape gives no gradient; pycma does the same). "
                                       "1 = off")
    sigma_max: Bound = opt(20.0, "upper bound on σ for the flat-fitness boost")
    restart_after: Generations = opt(0, "restart from the initial μ, σ (fresh noise) after this many generations "
                                "without a new best sample in the current restart; 0 = never")
    float64: bool = opt(False, "keep μ, σ and the noise in float64")


class PGPE(Searcher):
    """See the module docstring. State: μ (``mu``), σ (``sigma``), baseline ``b``, best
    reward ``m``, the optimiser state (modern) and the last noise ``eps`` between ask and tell."""

    Config = PGPEConfig
    nonfinite_hint = "a smaller lr_mu, lr_sigma or sigma_init"

    def __init__(self, center: torch.Tensor, config: Optional[PGPEConfig] = None, seed: int = 0):
        super().__init__(center, config, seed)
        c = self.config
        if c.popsize < 2 or c.popsize % 2:
            raise UserError(f"PGPE popsize must be an even number >= 2 (symmetric pairs), got {c.popsize}")
        if c.variant not in ("paper", "modern"):
            raise UserError(f"unknown PGPE variant {c.variant!r}; accepted: paper, modern")
        if c.sigma_init <= 0:
            raise UserError(f"PGPE sigma_init must be > 0, got {c.sigma_init}")
        self.mu = center.detach().to(self.dtype).clone()                  # μ, the centre
        self.sigma = torch.full_like(self.mu, float(c.sigma_init))        # σ, per-parameter stdev
        self.b: Optional[float] = None                                    # baseline (paper)
        self.m = -math.inf                                                # best reward seen (paper)
        self.eps: Optional[torch.Tensor] = None                           # this generation's ε (N, D)
        self.opt = make_optimizer(c.optimizer, c.lr_mu, max_speed=c.max_speed, momentum=c.momentum) \
            if c.variant == "modern" else None
        self.shaping = make_shaping(c.shaping)
        self.mu0 = self.mu.clone()                                        # restart point
        self.restarts = 0
        self.restart_best = -math.inf                                     # best sample this restart
        self.stale = 0                                                    # generations without a new best

    @property
    def center(self) -> torch.Tensor:
        return self.mu

    def _ask(self) -> torch.Tensor:
        N = self.config.popsize // 2
        self.eps = self.randn(N, self.dim) * self.sigma
        return Antithetic.population(self.mu, self.eps)

    def _tell(self, fitness: torch.Tensor) -> dict:
        fitness = fitness.to(self.dtype)
        if self.config.variant == "paper":
            stats = self._tell_paper(fitness)
        else:
            stats = self._tell_modern(fitness)
        c = self.config
        ties = int((fitness == fitness.max()).sum())
        flat = ties >= 2 and ties * 2 >= fitness.numel()
        if flat and c.flat_sigma_boost != 1.0:
            self.sigma = (self.sigma * c.flat_sigma_boost).clamp(c.sigma_min, c.sigma_max)
            stats["sigma_mean"] = float(self.sigma.mean())
        stats["flat"] = flat
        if c.restart_after > 0:
            if float(fitness.max()) > self.restart_best:
                self.restart_best, self.stale = float(fitness.max()), 0
            else:
                self.stale += 1
            if self.stale >= c.restart_after:
                self._restart()
        stats["restarts"] = self.restarts
        return stats

    def objective_changed(self) -> None:
        super().objective_changed()
        self.restart_best, self.stale = -math.inf, 0

    def _restart(self) -> None:
        c = self.config
        self.mu = self.mu0.clone()
        self.sigma = torch.full_like(self.mu, float(c.sigma_init))
        self.b, self.m = None, -math.inf
        self.opt = make_optimizer(c.optimizer, c.lr_mu, max_speed=c.max_speed, momentum=c.momentum) \
            if c.variant == "modern" else None
        self.restart_best, self.stale = -math.inf, 0
        self.restarts += 1

    def _tell_paper(self, fitness: torch.Tensor) -> dict:
        c, eps, sigma = self.config, self.eps, self.sigma
        r_plus, r_minus = Antithetic.split(fitness)                       # (N,), (N,)
        self.m = max(self.m, float(fitness.max()))
        m = self.m
        # Δμ: reward-normalised symmetric difference; zero where r⁺ = r⁻ (then 2m − r⁺ − r⁻ may be 0)
        denom = 2 * m - r_plus - r_minus
        diff = r_plus - r_minus
        coef_mu = torch.where(diff != 0, diff / torch.where(denom != 0, denom, torch.ones_like(denom)),
                              torch.zeros_like(diff))
        d_mu = c.lr_mu * (coef_mu[:, None] * eps).mean(0)
        r_bar = (r_plus + r_minus) / 2
        if self.b is None:                                                # first generation
            d_sigma = torch.zeros_like(sigma)
            self.b = float(r_bar.mean())
        else:
            b = self.b
            if m != b:
                coef_s = (r_bar - b) / (m - b)
                coef_s = torch.where(coef_s > 0, coef_s, torch.zeros_like(coef_s))
            else:
                coef_s = torch.zeros_like(r_bar)
            d_sigma = c.lr_sigma * (coef_s[:, None] * (eps * eps - sigma * sigma) / sigma).mean(0)
            self.b = 0.9 * b + 0.1 * float(r_bar.mean())
        self.mu = self.mu + d_mu
        self.sigma = (sigma + d_sigma).clamp_min(c.sigma_min)
        return {"sigma_mean": float(self.sigma.mean()), "baseline": self.b, "best_seen": m,
                "mu_step": float(d_mu.norm())}

    def _tell_modern(self, fitness: torch.Tensor) -> dict:
        c, eps, sigma = self.config, self.eps, self.sigma
        N = eps.shape[0]
        u = self.shaping(fitness)
        u_plus, u_minus = Antithetic.split(u)
        grad_mu = ((u_plus - u_minus) / 2)[:, None].mul(eps).sum(0) / N
        u_bar = (u_plus + u_minus) / 2
        grad_sigma = ((u_bar - u.mean())[:, None] * (eps * eps - sigma * sigma) / sigma).sum(0) / N
        step = self.opt.step(grad_mu)
        self.mu = self.mu + step
        d_sigma = c.lr_sigma * grad_sigma
        limit = c.stdev_max_change * sigma
        d_sigma = torch.maximum(torch.minimum(d_sigma, limit), -limit)
        self.sigma = (sigma + d_sigma).clamp_min(c.sigma_min)
        return {"sigma_mean": float(self.sigma.mean()), "mu_step": float(step.norm()),
                "grad_norm": float(grad_mu.norm())}

    def _finite_quantities(self):
        yield "the centre", self.mu
        yield "σ", self.sigma
        if self.opt is not None:
            yield from optimizer_quantities(self.opt)

    def _state(self) -> dict:
        return {"mu": self.mu, "sigma": self.sigma, "b": self.b, "m": self.m, "eps": self.eps,
                "opt": self.opt.state_dict() if self.opt is not None else {},
                "restarts": self.restarts, "restart_best": self.restart_best, "stale": self.stale}

    def _load_state(self, sd: dict) -> None:
        self.mu, self.sigma = sd["mu"], sd["sigma"]
        self.b = sd["b"]
        self.m = float(sd["m"])
        self.eps = sd["eps"]
        self.restarts, self.restart_best, self.stale = int(sd["restarts"]), float(sd["restart_best"]), int(sd["stale"])
        if self.opt is not None:
            self.opt.load_state_dict(sd["opt"])
