"""CMA-ES through pycma, with IPOP / BIPOP restarts, as a dps ask/tell searcher.

Hansen & Ostermeier, *Completely derandomized self-adaptation in evolution strategies*,
Evolutionary Computation 9(2), 2001 (the update itself is pycma's
``cma.CMAEvolutionStrategy`` — not re-implemented here). Restarts:

* IPOP — Auger & Hansen, *A restart CMA evolution strategy with increasing population
  size*, CEC 2005: after pycma's own termination criteria fire (``es.stop()``), start again
  from ``x0`` with ``popsize ← incpopsize · popsize``.
* BIPOP — Hansen, *Benchmarking a BI-population CMA-ES on the BBOB-2009 function
  testbed*, GECCO 2009: interleave the large-population IPOP regime with small-population
  local runs (``sigma0 · 10^(−2U)``, ``popsize0 · (incpopsize^k)^(U²)``, U ~ U(0,1),
  ``maxiter ≤ ½ · evals(large) / popsize``) whenever the small runs have spent less than
  the large ones. This follows pycma's ``cma.fmin`` restart loop, driven ask/tell.

dps maximises; pycma minimises: fitness is negated once, at the ``tell`` boundary, and
``ftarget`` is a *fitness* to reach (pycma gets ``−ftarget``).

Checkpoints. pycma objects cannot go into a weights-only checkpoint, so the state is the
*history*: ``x0``, the per-generation fitness values (and the sizes of the generations).
Everything random — pycma's sampling (its ``randn`` option set to a private
``numpy.random.RandomState`` seeded from (seed, run), so nothing else using numpy's global
RNG can disturb it) and the BIPOP draws (``self.generator``) — is a function of the
searcher's seed, so ``load_state_dict``
rebuilds pycma from the seed and replays ``ask()`` / ``tell()`` with the stored fitness,
reaching bit-identically the state that was saved (tested). Replay costs one pycma
update per stored generation (no fitness evaluations).

Non-finite values follow the rule of :mod:`dps.algorithms.base`: the fitness pycma gets has
every NaN/inf replaced by a finite value below the generation's worst (the negated value
pycma minimises is then above its worst), and the history stores those replaced values, so
a replay sees what pycma saw. An update that leaves pycma's mean, σ or covariance
non-finite is undone by replaying the history up to the generation before.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..errors import UserError
from .base import Evaluations, Growth, Restarts, Scale, Searcher, Sigma, Size, opt

#: pycma stop reasons that end the whole search (no restart)
_TERMINAL = ("ftarget", "maxfevals", "callback")
RESTARTS = ("none", "ipop", "bipop")


@dataclass
class CMAESConfig:
    popsize: Optional[Size] = opt(None, "population size lambda (None = pycma's 4 + 3 ln D)")
    sigma0: Sigma = opt(0.5, "initial step size sigma0")
    restarts: str = opt("none", "restart strategy: none | ipop | bipop")
    max_restarts: Restarts = opt(9, "at most this many (large-population) restarts")
    incpopsize: Growth = opt(2.0, "IPOP/BIPOP population multiplier per restart")
    lower: Optional[float] = opt(None, "lower bound of every coordinate (None = unbounded)")
    upper: Optional[float] = opt(None, "upper bound of every coordinate (None = unbounded)")
    tolfun: Scale = opt(1e-11, "pycma tolfun: stop when the fitness range is below this")
    tolx: Scale = opt(1e-11, "pycma tolx: stop when all coordinate steps are below this")
    ftarget: Optional[float] = opt(None, "stop for good once a fitness >= ftarget is reached")
    maxfevals: Optional[Evaluations] = opt(None, "total evaluation budget over all restarts")
    float64: bool = opt(False, "hand out float64 populations (pycma works in float64 anyway)")


class CMAES(Searcher):
    """CMA-ES (pycma) with optional IPOP/BIPOP restarts; see the module docstring."""

    Config = CMAESConfig
    nonfinite_hint = "a smaller sigma0"

    def __init__(self, center: torch.Tensor, config=None, seed: int = 0):
        super().__init__(center, config, seed)
        c = self.config
        if c.restarts not in RESTARTS:
            raise UserError(f"unknown restarts {c.restarts!r}; accepted: {', '.join(RESTARTS)}")
        if not float(c.sigma0) > 0:
            raise UserError(f"sigma0 must be > 0, got {c.sigma0}")
        if c.popsize is not None and int(c.popsize) < 2:
            raise UserError(f"popsize must be >= 2 (or None for pycma's default), got {c.popsize}")
        if c.lower is not None and c.upper is not None and not float(c.lower) < float(c.upper):
            raise UserError(f"lower bound {c.lower} must be below upper bound {c.upper}")
        self.x0 = center.detach().reshape(-1).double().cpu().clone()
        self._reset()

    # -------------------------------------------------------------- pycma plumbing ----
    def _run_seed(self, irun: int) -> int:
        # pycma treats seed 0 as "from the clock"; keep it in [1, 2**32 - 1)
        return (self.seed * 1_000_003 + 7919 * irun) % (2 ** 32 - 2) + 1

    def _new_es(self, popsize: Optional[int], sigma0: float, maxiter: Optional[float]):
        import cma

        c = self.config
        # pycma draws its samples with ``opts["randn"]`` (default: numpy's *global* RNG, seeded
        # by ``opts["seed"]``); a private RandomState per run keeps them a function of
        # (seed, run) alone, whatever else uses numpy meanwhile. pycma ignores "seed" then.
        self.rs = np.random.RandomState(self._run_seed(self.irun))
        opts = {"randn": self.rs.randn, "seed": float("nan"), "verbose": -9, "verb_log": 0, "verb_disp": 0,
                "tolfun": float(c.tolfun), "tolx": float(c.tolx)}
        if popsize is not None:
            opts["popsize"] = int(popsize)
        if c.lower is not None or c.upper is not None:
            opts["bounds"] = [None if c.lower is None else float(c.lower),
                              None if c.upper is None else float(c.upper)]
        if c.ftarget is not None:
            opts["ftarget"] = -float(c.ftarget)
        if c.maxfevals is not None:
            opts["maxfevals"] = max(1, int(c.maxfevals) - self.evals)
        if maxiter is not None:
            opts["maxiter"] = max(1, int(maxiter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es = cma.CMAEvolutionStrategy(self.x0.numpy().copy(), float(sigma0), opts)
        self.run_evals = 0

    def _reset(self) -> None:
        """The state right after construction (also the start of a replay)."""
        self.generator.manual_seed(self.seed)
        self.irun = 0                     # runs started so far − 1 (restarts, small ones included)
        self.runs_with_small = 0          # BIPOP: small-population runs among them
        self.small_evals: list[int] = []  # BIPOP: evaluations spent per small run
        self.large_evals: list[int] = []  # BIPOP: evaluations spent per large run
        self.regime = "small"             # BIPOP: the first run counts as small (as in cma.fmin)
        self.popsize0: Optional[int] = None
        self.maxiter0: Optional[float] = None
        self.evals = 0                    # evaluations over all runs
        self.stopped = False              # no further restart (budget, ftarget, max_restarts)
        self.last_stop: dict = {}
        self.history: list[torch.Tensor] = []   # every generation's fitness (the checkpoint)
        self._X: Optional[list] = None
        self._new_es(self.config.popsize, float(self.config.sigma0), None)
        self.popsize0 = int(self.es.popsize)
        self.maxiter0 = float(self.es.opts["maxiter"])     # pycma has evaluated its default by now

    def _restart(self) -> None:
        """Start the next run (IPOP / BIPOP, following ``cma.fmin``'s restart loop)."""
        c = self.config
        if self.config.restarts == "bipop":
            (self.small_evals if self.regime == "small" else self.large_evals).append(self.run_evals)
        self.irun += 1
        sigma0, maxiter = float(c.sigma0), None
        mult = float(c.incpopsize)
        if c.restarts == "ipop":
            popsize = int(round(self.popsize0 * mult ** self.irun))
        elif sum(self.small_evals) < max(1, sum(self.large_evals)):
            self.regime = "small"
            self.runs_with_small += 1
            u1, u2 = torch.rand(2, generator=self.generator, dtype=torch.float64).tolist()
            sigma0 = sigma0 * 0.01 ** u1                                # local search
            popsize = max(2, int(self.popsize0 * (mult ** (self.irun - self.runs_with_small)) ** (u2 ** 2)))
            maxiter = min(self.maxiter0, 0.5 * sum(self.large_evals) / popsize)
        else:
            self.regime = "large"
            popsize = int(round(self.popsize0 * mult ** (self.irun - self.runs_with_small)))
        self._new_es(popsize, sigma0, maxiter)

    # ------------------------------------------------------------------ searcher ----
    @property
    def center(self) -> torch.Tensor:
        # pycma's ``mean`` lives in genotype space; the feasible (bounded) phenotype is
        # pycma's own "favourite" solution (``result.xfavorite``)
        x = self.es.gp.pheno(self.es.mean, into_bounds=self.es.boundary_handler.repair)
        return torch.as_tensor(np.asarray(x), dtype=torch.float64).to(self.dtype)

    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    def _ask(self):
        self._X = self.es.ask()
        return torch.as_tensor(np.asarray(self._X), dtype=torch.float64).to(self.dtype)

    def _tell_fitness(self, fitness: torch.Tensor) -> dict:
        """One pycma ``tell`` plus the restart logic (shared by ``tell`` and replay)."""
        f = (-fitness.double()).tolist()                       # pycma minimises
        self.es.tell(self._X, f)
        stop = dict(self.es.stop())
        self._X = None
        self.history.append(fitness.detach().double().cpu().clone())
        self.evals += len(f)
        self.run_evals += len(f)
        stats = {}
        if stop and not self.stopped:
            self.last_stop = {k: (float(v) if isinstance(v, (int, float, np.number)) else str(v))
                              for k, v in stop.items()}
            stats["stop"] = ",".join(sorted(stop))
            c = self.config
            budget_left = c.maxfevals is None or self.evals < int(c.maxfevals)
            terminal = any(k in stop for k in _TERMINAL) or not budget_left
            # cma.fmin: stop when irun − runs_with_small > maxrestarts after this run
            exhausted = self.irun + 1 - self.runs_with_small > int(c.max_restarts)
            if terminal or c.restarts == "none" or exhausted:
                self.stopped = True
            else:
                self._restart()
                stats["restarted"] = True
        return stats

    def _tell(self, fitness):
        stats = self._tell_fitness(fitness)
        return {"sigma": self.sigma, "popsize": self.popsize, "restarts": self.irun,
                "evals": self.evals, "stopped": self.stopped, **stats}

    # --------------------------------------------------- the non-finite guard (base.py) ----
    # pycma's state lives in the pycma object, not in ``_state()`` (the history): a snapshot
    # is the history so far, and restoring it replays pycma up to there (the error path only).
    def _snapshot(self):
        return list(self.history), self._asked is not None

    def _restore(self, snapshot) -> None:
        history, pending = snapshot
        self.history = history
        self._load_state({**self._state(), "pending": pending})

    def _finite_quantities(self):
        yield "the centre", self.center
        yield "σ", self.es.sigma
        C = getattr(self.es.sm, "C", None)
        if C is not None:
            yield "the covariance matrix", np.asarray(C)

    def _state(self):
        sizes = [int(h.numel()) for h in self.history]
        return {
            "x0": self.x0,
            "fitness": torch.cat(self.history) if self.history else torch.zeros(0, dtype=torch.float64),
            "sizes": sizes,
            "pending": self._asked is not None,
        }

    def _load_state(self, sd):
        """Rebuild pycma from the seed and replay every stored generation."""
        generation, best_f, best_x = self.generation, self.best_fitness, self.best_params
        self.x0 = sd["x0"].double().clone()
        self._reset()
        fitness = sd["fitness"]
        for chunk in torch.split(fitness, list(sd["sizes"])) if sd["sizes"] else ():
            self._ask()
            if len(self._X) != chunk.numel():
                raise UserError(f"CMA-ES checkpoint does not replay: a generation of {chunk.numel()} fitness "
                                f"values where pycma asked {len(self._X)} (different seed or options?)")
            self._tell_fitness(chunk)
        self.generation, self.best_fitness, self.best_params = generation, best_f, best_x
        if sd["pending"]:
            self._asked = self._ask()
