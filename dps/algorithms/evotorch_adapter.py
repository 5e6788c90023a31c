"""evotorch's SNES, XNES, CEM and ClipUp-PGPE as dps ask/tell searchers.

evotorch's class-based algorithms pull fitness through a ``Problem``; dps pushes it with
``tell``. The adapters therefore drive evotorch's lower layers, which are ask/tell-shaped:

* sampling — evotorch's search distributions (``evotorch.distributions``) with
  ``sample(n, generator=self.generator)``, so every draw comes from the searcher's own
  seeded ``torch.Generator`` (evotorch's functional ``*_ask`` would use torch's global RNG);
* updates — for SNES / XNES the distribution's ``compute_gradients`` (NES utilities) and
  ``update_parameters`` (the exponential-map updates); for CEM and PGPE evotorch's
  functional ``cem_tell`` / ``pgpe_tell`` (``evotorch.algorithms.functional``), whose
  states are NamedTuples of tensors.

The state is those tensors (plus the pending population), so checkpoints are weights-only.
Defaults follow evotorch's classes (``evotorch.algorithms.SNES`` / ``XNES`` / ``CEM`` /
``PGPE``).

* SNES — Schaul, Glasmachers, Schmidhuber, *High dimensions and heavy tails for natural
  evolution strategies*, GECCO 2011 (separable NES, Alg. 2).
* XNES — Glasmachers, Schaul, Sun, Wierstra, Schmidhuber, *Exponential natural evolution
  strategies*, GECCO 2010 (Alg. 1; full covariance ``A``; O(D²) memory, O(D³) per step).
* CEM — Rubinstein 1999 / de Boer et al. 2005: mean and per-coordinate stdev of the elite.
* PGPE — Sehnke et al. 2010 with symmetric sampling, centered ranks, ClipUp (Toklu, Liskowski,
  Srivastava, *ClipUp*, PPSN 2020) on the centre and ``stdev_max_change``-limited sigma steps.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import UserError
from .base import Antithetic, Fraction, Rate, Scale, Searcher, Sigma, Size, opt


def _evotorch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import evotorch.distributions as dist
        from evotorch.algorithms import functional as fn
    return dist, fn


def _default_popsize(D: int) -> int:
    """The NES default 4 + ⌊3 ln D⌋ (Wierstra et al., JMLR 2014, Table 1)."""
    return int(4 + math.floor(3 * math.log(max(D, 1))))


class _EvoSearcher(Searcher):
    """Shared plumbing: popsize default, dtype, pending population in the state, and the
    mirrored sampling of the NES searchers."""

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        p = self.config.popsize
        # CEM and PGPE have no such option (PGPE's pairs are its own)
        self.mirrored = bool(getattr(self.config, "mirrored", False))
        self._popsize = _default_popsize(self.dim) if p is None else int(p)
        if p is None and self.mirrored:
            self._popsize += self._popsize % 2       # the NES default, rounded up to whole pairs
        if self._popsize < 2:
            raise UserError(f"popsize must be >= 2, got {p}")
        if self.mirrored and self._popsize % 2:
            raise UserError(f"popsize must be even for mirrored sampling, got {p}")
        if not float(self.config.stdev_init) > 0:
            raise UserError(f"stdev_init must be > 0, got {self.config.stdev_init}")
        self.mu0 = center.detach().reshape(-1).to(self.dtype).clone()

    @property
    def popsize(self) -> int:
        return self._popsize

    def _sample(self, dist):
        """``popsize`` draws from ``dist``; with ``mirrored``, ``popsize/2`` draws ``mu + d_k``
        and their mirror images ``mu − d_k`` in the :class:`~dps.algorithms.base.Antithetic`
        layout (Brockhoff, Auger, Hansen, Arnold, Hohm, *Mirrored sampling and sequential
        selection for evolution strategies*, PPSN 2010). The NES gradients take the pairs as
        they take any sample; as the ``d_k`` sum to zero, the constant part of the NES
        utilities (their −1/λ baseline) adds nothing to the centre's step, where without
        mirroring it adds a multiple of the samples' mean."""
        if not self.mirrored:
            return dist.sample(self.popsize, generator=self.generator)
        half = dist.sample(self.popsize // 2, generator=self.generator)
        return Antithetic.population(self.center, half - self.center)


# ------------------------------------------------------------------------- SNES ----
@dataclass
class SNESConfig:
    popsize: Optional[Size] = opt(None, "population size (None = 4 + 3 ln D)")
    stdev_init: Sigma = opt(0.1, "initial per-coordinate sigma")
    center_lr: Rate = opt(1.0, "learning rate of mu (evotorch/SNES default 1)")
    stdev_lr: Optional[Rate] = opt(None, "learning rate of log sigma (None = 0.2 (3 + ln D) / sqrt(D))")
    mirrored: bool = opt(False, "mirrored sampling: popsize/2 pairs mu ± sigma ⊙ z (popsize even)")
    float64: bool = opt(False, "work in float64")


class SNES(_EvoSearcher):
    """Separable NES (Schaul et al. 2011) on evotorch's ``ExpSeparableGaussian``::

        z_k ~ N(0, I), x_k = mu + sigma ⊙ z_k,  u_k = NES utilities of the ranks,
        mu    ← mu + eta_mu · Σ_k u_k sigma ⊙ z_k
        sigma ← sigma ⊙ exp(eta_sigma / 2 · Σ_k u_k (z_k² − 1))
    """

    Config = SNESConfig
    nonfinite_hint = "a smaller center_lr, stdev_lr or stdev_init"

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        dist, _ = _evotorch()
        c = self.config
        self.eta_mu = float(c.center_lr)
        self.eta_sigma = float(c.stdev_lr) if c.stdev_lr is not None else \
            0.2 * (3 + math.log(self.dim)) / math.sqrt(self.dim)
        self.dist = dist.ExpSeparableGaussian(
            {"mu": self.mu0.clone(), "sigma": torch.full_like(self.mu0, float(c.stdev_init))})

    @property
    def center(self):
        return self.dist.mu

    def _ask(self):
        return self._sample(self.dist)

    def _tell(self, fitness):
        grads = self.dist.compute_gradients(self._asked, fitness, objective_sense="max", ranking_method="nes")
        self.dist = self.dist.update_parameters(grads, learning_rates={"mu": self.eta_mu, "sigma": self.eta_sigma})
        sigma = self.dist.sigma
        return {"sigma_mean": float(sigma.mean()), "sigma_max": float(sigma.max())}

    def _finite_quantities(self):
        yield "the centre", self.dist.mu
        yield "σ", self.dist.sigma

    def _state(self):
        return {"mu": self.dist.mu, "sigma": self.dist.sigma, "pending": self._asked}

    def _load_state(self, sd):
        self.dist = self.dist.modified_copy(mu=sd["mu"], sigma=sd["sigma"])
        self._asked = sd["pending"]


# ------------------------------------------------------------------------- XNES ----
@dataclass
class XNESConfig:
    popsize: Optional[Size] = opt(None, "population size (None = 4 + 3 ln D)")
    stdev_init: Sigma = opt(0.1, "initial sigma (A = stdev_init · I)")
    center_lr: Rate = opt(1.0, "learning rate eta_mu")
    stdev_lr: Optional[Rate] = opt(None, "learning rate of A (None = 0.6 (3 + ln D) / (D sqrt(D)))")
    mirrored: bool = opt(False, "mirrored sampling: popsize/2 pairs mu ± A z (popsize even)")
    float64: bool = opt(False, "work in float64")


class XNES(_EvoSearcher):
    """Exponential NES (Glasmachers et al. 2010, Alg. 1) on evotorch's ``ExpGaussian``::

        z_k ~ N(0, I), x_k = mu + A z_k,  u_k = NES utilities,
        G_delta = Σ_k u_k z_k,  G_M = Σ_k u_k (z_k z_kᵀ − I),
        mu ← mu + eta_mu · A G_delta,   A ← A · expm(eta_A / 2 · G_M)

    (evotorch keeps A's inverse alongside, also by a matrix exponential). The full A makes
    it practical only for small D (say ≤ a few hundred).
    """

    Config = XNESConfig
    nonfinite_hint = "a smaller center_lr, stdev_lr or stdev_init"

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        dist, _ = _evotorch()
        c = self.config
        self.eta_mu = float(c.center_lr)
        n = self.dim
        self.eta_A = float(c.stdev_lr) if c.stdev_lr is not None else 0.6 * (3 + math.log(n)) / (n * math.sqrt(n))
        self.dist = dist.ExpGaussian({"mu": self.mu0.clone(),
                                      "sigma": float(c.stdev_init) * torch.eye(n, dtype=self.dtype)})

    @property
    def center(self):
        return self.dist.mu

    def _ask(self):
        return self._sample(self.dist)

    def _tell(self, fitness):
        grads = self.dist.compute_gradients(self._asked, fitness, objective_sense="max", ranking_method="nes")
        self.dist = self.dist.update_parameters(grads, learning_rates={"mu": self.eta_mu, "sigma": self.eta_A})
        A = self.dist.A
        return {"sigma": float(torch.linalg.det(A).abs() ** (1.0 / self.dim))}

    def _finite_quantities(self):
        yield "the centre", self.dist.mu
        yield "σ (the matrix A)", self.dist.A
        yield "the matrix A⁻¹", self.dist.A_inv

    def _state(self):
        return {"mu": self.dist.mu, "A": self.dist.A, "A_inv": self.dist.A_inv, "pending": self._asked}

    def _load_state(self, sd):
        self.dist = self.dist.modified_copy(mu=sd["mu"], sigma=sd["A"], sigma_inv=sd["A_inv"])
        self._asked = sd["pending"]


# ------------------------------------------------------- functional-state helpers ----
def _tuple_to_dict(t) -> dict:
    """A (nested) evotorch NamedTuple state → plain dict of tensors/str/bool/float."""
    out = {}
    for k, v in t._asdict().items():
        out[k] = _tuple_to_dict(v) if hasattr(v, "_asdict") else v
    return out


# -------------------------------------------------------------------------- CEM ----
@dataclass
class CEMConfig:
    popsize: Optional[Size] = opt(50, "population size")
    parenthood_ratio: Fraction = opt(0.2, "fraction of the population that forms the elite (>= 2 members)")
    stdev_init: Sigma = opt(0.1, "initial per-coordinate sigma")
    stdev_min: Scale = opt(1e-12, "lower bound of sigma (> 0: a sigma of exactly 0 turns NaN in evotorch's "
                                  "change limiter)")
    stdev_max_change: Optional[Rate] = opt(0.05, "max relative change of sigma per generation (limits the "
                                                  "elite-std collapse of plain CEM; None = unlimited)")
    float64: bool = opt(False, "work in float64")


class CEM(_EvoSearcher):
    """Cross-entropy method (Rubinstein 1999; de Boer et al. 2005), evotorch's functional
    ``cem_tell``: sample ``x_k ~ N(mu, diag sigma²)``; with E the ⌊rho·P⌋ best,
    ``mu ← mean(E)``, ``sigma ← std(E)`` (optionally bounded and change-limited)."""

    Config = CEMConfig
    nonfinite_hint = "a smaller stdev_init"

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        _, fn = _evotorch()
        c = self.config
        if not 0.0 < float(c.parenthood_ratio) < 1.0:
            raise UserError(f"parenthood_ratio must lie in (0, 1), got {c.parenthood_ratio}")
        # at least 2 parents, so that the elite has a standard deviation
        rho = max(float(c.parenthood_ratio), 2.0 / self.popsize)
        self.state = fn.cem(center_init=self.mu0.clone(), parenthood_ratio=rho,
                            objective_sense="max", stdev_init=float(c.stdev_init), stdev_min=c.stdev_min,
                            stdev_max_change=c.stdev_max_change)

    @property
    def center(self):
        return self.state.center

    def _ask(self):
        dist, _ = _evotorch()
        d = dist.SeparableGaussian({"mu": self.state.center, "sigma": self.state.stdev})
        return d.sample(self.popsize, generator=self.generator)

    def _tell(self, fitness):
        _, fn = _evotorch()
        self.state = fn.cem_tell(self.state, self._asked, fitness)
        return {"sigma_mean": float(self.state.stdev.mean())}

    def _finite_quantities(self):
        yield "the centre", self.state.center
        yield "σ", self.state.stdev

    def _state(self):
        return {"cem": _tuple_to_dict(self.state), "pending": self._asked}

    def _load_state(self, sd):
        _, fn = _evotorch()
        self.state = fn.funccem.CEMState(**sd["cem"])
        self._asked = sd["pending"]


# ------------------------------------------------------------------------- PGPE ----
@dataclass
class EvoPGPEConfig:
    popsize: Optional[Size] = opt(50, "population size, even (popsize/2 symmetric pairs)")
    center_lr: Rate = opt(0.075, "ClipUp step size alpha (max speed = 2 · center_lr by default)")
    max_speed: Optional[Sigma] = opt(None, "ClipUp max speed (None = 2 · center_lr)")
    momentum: Fraction = opt(0.9, "ClipUp momentum")
    stdev_init: Sigma = opt(0.1, "initial per-coordinate sigma")
    stdev_lr: Rate = opt(0.1, "sigma learning rate")
    stdev_max_change: Optional[Rate] = opt(0.2, "max relative change of sigma per generation")
    ranking: str = opt("centered", "fitness ranking: centered | normalized | raw | linear | nes")
    float64: bool = opt(False, "work in float64")


class EvoPGPE(_EvoSearcher):
    """PGPE with symmetric sampling (Sehnke et al. 2010, Sec. 2.2) and ClipUp, as evotorch's
    functional ``pgpe_tell``: with utilities u (centered ranks) and pairs ``mu ± eps_k``,

        g_mu    = Σ_k (u⁺_k − u⁻_k)/2 · eps_k / N,
        g_sigma = Σ_k (u⁺_k + u⁻_k)/2 · (eps_k² − sigma²)/sigma / N,

    ``mu`` follows ``g_mu`` through ClipUp; ``sigma ← sigma + stdev_lr · g_sigma``, limited to a
    relative change of ``stdev_max_change``. ``ask()`` returns the pairs in dps' layout
    (:class:`~dps.algorithms.base.Antithetic`: all ``+`` rows, then all ``−`` rows); they are
    re-interleaved for evotorch (pair k = rows 2k, 2k+1) inside ``tell``.
    """

    Config = EvoPGPEConfig
    nonfinite_hint = "a smaller center_lr, stdev_lr or stdev_init"

    def __init__(self, center, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        _, fn = _evotorch()
        c = self.config
        if self.popsize % 2:
            raise UserError(f"popsize must be even for symmetric sampling, got {self.popsize}")
        if c.ranking not in ("centered", "normalized", "raw", "linear", "nes"):
            raise UserError(f"unknown ranking {c.ranking!r}; accepted: centered, normalized, raw, linear, nes")
        oc = {"momentum": float(c.momentum)}
        if c.max_speed is not None:
            oc["max_speed"] = float(c.max_speed)
        self.state = fn.pgpe(center_init=self.mu0.clone(), center_learning_rate=float(c.center_lr),
                             stdev_learning_rate=float(c.stdev_lr), objective_sense="max",
                             ranking_method=c.ranking, optimizer="clipup", optimizer_config=oc,
                             stdev_init=float(c.stdev_init), stdev_max_change=c.stdev_max_change,
                             symmetric=True)

    @property
    def center(self):
        return self.state.optimizer_state.center

    @property
    def sigma(self) -> torch.Tensor:
        return self.state.stdev

    def _ask(self):
        dist, _ = _evotorch()
        d = dist.SymmetricSeparableGaussian({"mu": self.center, "sigma": self.state.stdev})
        x = d.sample(self.popsize, generator=self.generator)          # evotorch: +, −, +, −, …
        return Antithetic.population(self.center, x[0::2] - self.center)

    def _tell(self, fitness):
        _, fn = _evotorch()
        N = self.popsize // 2
        x = self._asked
        values = torch.stack([x[:N], x[N:]], 1).reshape(self.popsize, self.dim)
        f_plus, f_minus = Antithetic.split(fitness)
        evals = torch.stack([f_plus, f_minus], 1).reshape(-1)
        self.state = fn.pgpe_tell(self.state, values, evals)
        return {"sigma_mean": float(self.state.stdev.mean()),
                "speed": float(self.state.optimizer_state.velocity.norm())}

    def _finite_quantities(self):
        yield "the centre", self.center
        yield "σ", self.state.stdev
        yield "the ClipUp velocity", self.state.optimizer_state.velocity

    def _state(self):
        return {"pgpe": _tuple_to_dict(self.state), "pending": self._asked}

    def _load_state(self, sd):
        _, fn = _evotorch()
        d = dict(sd["pgpe"])
        d["optimizer_state"] = fn.funcclipup.ClipUpState(**d["optimizer_state"])
        self.state = fn.funcpgpe.PGPEState(**d)
        self._asked = sd["pending"]
