"""Searcher base class, fitness shaping, centre optimisers, the antithetic layout.

A :class:`Searcher` is a torch-optimizer-like object over flat parameter vectors::

    params = searcher.ask()            # (P, D)
    stats  = searcher.tell(fitness)    # fitness (P,), higher is better  → metrics dict
    searcher.center                    # (D,) the current policy
    searcher.state_dict() / load_state_dict(sd)

dps *maximises*; a minimisation problem is negated once, at the boundary. The base class
owns the template (evosax-style): ``tell`` validates the fitness (shape), applies the
non-finite rule below, tracks the best-so-far on the *raw* fitness, then calls the
subclass's ``_tell``. Hyper-parameters are a typed ``Config`` dataclass (its fields and
``help`` metadata become CLI flags); the per-generation state is small and checkpointable.

Non-finite numbers (the one place every searcher goes through; docs/ALGORITHMS.md):

* **Fitness.** A NaN or ±inf fitness marks a member whose evaluation failed (a policy
  whose outputs or state went non-finite; +inf is no evidence of a good policy either), so
  it ranks *below every finite member*: :func:`finite_fitness` replaces each non-finite
  value by ``worst − (best − worst)``, best/worst the generation's largest/smallest
  finite fitness (``worst − max(|worst|, 1)`` when they are equal; the next float below
  ``worst`` where that would round to ``worst`` or overflow). Rank shaping then gives
  those members the lowest ranks (tied among themselves); raw and normalised rules and
  pycma (which minimises the negated value) see a value one fitness range below the
  worst, so their steps stay on the generation's own scale. The best-so-far and the
  ``best`` / ``mean`` metrics count finite members only (``nonfinite`` gives their
  number when there are any). A generation whose fitness is non-finite for *every*
  member carries no information: ``tell`` raises :class:`~dps.errors.NonFiniteError`
  and changes nothing.
* **State.** ``tell`` (and ``ask``) keep a snapshot of the searcher's state; if the update
  leaves the centre, σ or the optimiser's state non-finite (``_finite_quantities``), or
  ``ask`` samples a non-finite population, the snapshot is restored and
  :class:`~dps.errors.NonFiniteError` names the searcher, the generation and the quantity.
  ``state_dict()`` — and so a run's last checkpoint — therefore always holds the last
  finite state.
"""
from __future__ import annotations

import math
from dataclasses import field, fields
from typing import Annotated, Any, Optional

import torch

from ..errors import NonFiniteError, UserError
from ..spec import Range

# ---------------------------------------------------------------- option ranges ----
# The bounds of algorithm options (dps/spec.py checks them for the CLI and config.json):
# every number is finite, and one that would only diverge or exhaust memory is refused.
Rate = Annotated[float, Range(0, 1e3)]  # a learning rate or a weight: >= 0, at most 1e3
Fraction = Annotated[float, Range(0, 1)]  # a fraction, momentum or discount: in [0, 1]
Sigma = Annotated[float, Range(1e-12, 1e6)]  # a step size or scale that must stay positive
Scale = Annotated[float, Range(0, 1e6)]  # a non-negative scale or tolerance
Bound = Annotated[float, Range(0, 1e12)]  # a non-negative upper bound
Factor = Annotated[float, Range(1, 1e3)]  # a multiplier >= 1
Growth = Annotated[float, Range(1, 100)]  # a growth factor in [1, 100]
Clip = Annotated[float, Range(1e-12, 1e9)]  # a positive clipping norm
LogStd = Annotated[float, Range(-20, 5)]  # a log standard deviation in [-20, 5]
Size = Annotated[int, Range(1, 10_000_000)]  # a population or batch size, at least 1
SizeOrAuto = Annotated[int, Range(0, 10_000_000)]  # a size, 0 for the library's default
Generations = Annotated[int, Range(0, 1_000_000_000)]  # a generation count, 0 for never
Restarts = Annotated[int, Range(0, 10_000)]  # a restart count
Steps = Annotated[int, Range(1, 1_000_000)]  # a positive step or epoch count
Members = Annotated[int, Range(1, 100_000)]  # a positive count of members or trials
Cells = Annotated[int, Range(1, 4096)]  # a hidden size
EpisodeSteps = Annotated[int, Range(1, 100_000_000)]  # an episode length
Evaluations = Annotated[int, Range(1, 10**15)]  # a budget of evaluations


def opt(default, help: str, **kw):
    """A config field with help text (shown by ``--help`` and ``--list``)."""
    return field(default=default, metadata={"help": help, **kw})


# ---------------------------------------------------------------- fitness shaping ----
class FitnessShaping:
    """Maps raw fitness ``(P,)`` to utilities ``(P,)``."""

    name = "raw"

    def __call__(self, fitness: torch.Tensor) -> torch.Tensor:
        return fitness


class CenteredRanks(FitnessShaping):
    """Ranks scaled to ``[-0.5, 0.5]`` (Salimans et al. 2017); ties get their mean rank."""

    name = "centered"

    def __call__(self, fitness):
        P = fitness.numel()
        if P == 1:
            return torch.zeros_like(fitness)
        order = fitness.argsort()
        ranks = torch.empty_like(fitness)
        ranks[order] = torch.arange(P, dtype=fitness.dtype, device=fitness.device)
        # average the ranks of tied values so that equal fitness gets equal utility
        uniq, inv = torch.unique(fitness, return_inverse=True)
        if uniq.numel() < P:
            sums = torch.zeros(uniq.numel(), dtype=fitness.dtype, device=fitness.device).index_add_(0, inv, ranks)
            counts = torch.zeros_like(sums).index_add_(0, inv, torch.ones_like(ranks))
            ranks = (sums / counts)[inv]
        return ranks / (P - 1) - 0.5


class Normalized(FitnessShaping):
    """``(f − mean) / std`` (zero where all equal)."""

    name = "normalized"

    def __call__(self, fitness):
        std = fitness.std(unbiased=False)
        if float(std) == 0.0:
            return torch.zeros_like(fitness)
        return (fitness - fitness.mean()) / std


SHAPINGS = {"centered": CenteredRanks, "raw": FitnessShaping, "normalized": Normalized}


def make_shaping(name: str) -> FitnessShaping:
    if name not in SHAPINGS:
        raise UserError(f"unknown fitness shaping {name!r}; accepted: {', '.join(SHAPINGS)}")
    return SHAPINGS[name]()


# ------------------------------------------------------------- non-finite fitness ----
def finite_fitness(fitness: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The non-finite fitness rule of every searcher (module docstring).

    :returns: ``(fitness, bad)``: ``fitness`` itself and ``None`` when every value is
        finite (the common case costs one ``isfinite``); else a copy in which every NaN/±inf
        is replaced by one finite value strictly below the worst finite one, and the bool
        mask ``bad`` of the replaced members. With no finite value at all the copy is
        ``fitness`` unchanged (the caller raises).
    """
    ok = torch.isfinite(fitness)
    if bool(ok.all()):
        return fitness, None
    bad = ~ok
    if not bool(ok.any()):
        return fitness, bad
    good = fitness[ok]
    worst, best = good.min(), good.max()
    gap = best - worst
    if not float(gap) > 0:
        gap = worst.abs().clamp_min(1.0)
    penalty = worst - gap
    if not (bool(torch.isfinite(penalty)) and float(penalty) < float(worst)):
        # the range is below worst's float spacing, or worst − gap overflows
        penalty = torch.nextafter(worst, torch.full_like(worst, -math.inf))
        if not bool(torch.isfinite(penalty)):   # worst is the dtype's lowest finite number
            penalty = worst
    return torch.where(ok, fitness, penalty), bad


def _nonfinite_part(value) -> Optional[str]:
    """``None`` if ``value`` (tensor, numpy array or number) is all finite, else a short
    description such as ``"nan in 3 of 149 entries"``."""
    if isinstance(value, (int, float)):   # (a float32 tensor of it could overflow)
        return None if math.isfinite(value) else ("nan" if math.isnan(value) else "inf")
    t = torch.as_tensor(value)
    if not (t.is_floating_point() or t.is_complex()):
        return None
    ok = torch.isfinite(t)
    if bool(ok.all()):
        return None
    bad = t[~ok]
    kinds = "/".join(k for k, m in (("nan", bad.isnan()), ("inf", bad.isinf())) if bool(m.any()))
    return f"{kinds} in {int(bad.numel())} of {int(t.numel())} entries" if t.numel() > 1 else kinds


def optimizer_quantities(opt: "CenterOptimizer"):
    """``(name, tensor)`` of a centre optimiser's state (velocity, moments) for the guard."""
    for k, v in opt.state_dict().items():
        if isinstance(v, torch.Tensor):
            yield f"the optimiser's {k!r}", v


def _clone_tree(tree):
    if isinstance(tree, dict):
        return {k: _clone_tree(v) for k, v in tree.items()}
    if isinstance(tree, torch.Tensor):
        return tree.clone()
    return tree


# --------------------------------------------------------------- centre optimisers ----
class CenterOptimizer:
    """Turns an ascent direction ``g`` (D,) into a step to *add* to the centre."""

    def step(self, grad: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, sd: dict) -> None:
        pass


class SGD(CenterOptimizer):
    """``v ← m v + lr g``; step = v."""

    def __init__(self, lr: float, momentum: float = 0.0):
        self.lr, self.momentum = lr, momentum
        self.v: Optional[torch.Tensor] = None

    def step(self, grad):
        self.v = self.lr * grad if self.v is None else self.momentum * self.v + self.lr * grad
        return self.v

    def state_dict(self):
        return {"v": self.v}

    def load_state_dict(self, sd):
        self.v = sd["v"]


class Adam(CenterOptimizer):
    """Adam (Kingma & Ba 2015) for ascent."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = self.v = None
        self.t = 0

    def step(self, grad):
        if self.m is None:
            self.m, self.v = torch.zeros_like(grad), torch.zeros_like(grad)
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad * grad
        mhat = self.m / (1 - self.beta1 ** self.t)
        vhat = self.v / (1 - self.beta2 ** self.t)
        return self.lr * mhat / (vhat.sqrt() + self.eps)

    def state_dict(self):
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state_dict(self, sd):
        self.m, self.v, self.t = sd["m"], sd["v"], int(sd["t"])


class ClipUp(CenterOptimizer):
    """ClipUp (Toklu et al., PPSN 2020): ``v ← m v + α g/‖g‖``, then ``‖v‖ ≤ max_speed``."""

    def __init__(self, lr: float, max_speed: Optional[float] = None, momentum: float = 0.9):
        self.lr = lr
        self.max_speed = 2 * lr if max_speed is None else max_speed
        self.momentum = momentum
        self.v: Optional[torch.Tensor] = None

    def step(self, grad):
        norm = grad.norm()
        g = grad / norm if float(norm) > 0 else grad
        v = self.lr * g if self.v is None else self.momentum * self.v + self.lr * g
        speed = v.norm()
        if float(speed) > self.max_speed:
            v = v * (self.max_speed / speed)
        self.v = v
        return v

    def state_dict(self):
        return {"v": self.v}

    def load_state_dict(self, sd):
        self.v = sd["v"]


def make_optimizer(name: str, lr: float, **kw) -> CenterOptimizer:
    if name == "sgd":
        return SGD(lr, kw.get("momentum", 0.0))
    if name == "adam":
        return Adam(lr)
    if name == "clipup":
        return ClipUp(lr, kw.get("max_speed"), kw.get("momentum", 0.9))
    raise UserError(f"unknown optimizer {name!r}; accepted: sgd, adam, clipup")


# -------------------------------------------------------------- antithetic layout ----
class Antithetic:
    """The one place that knows how symmetric pairs are laid out in a population::

        rows 0 .. N-1   : mu + eps_k
        rows N .. 2N-1  : mu - eps_k        (pair k = rows k and N + k)
    """

    @staticmethod
    def population(mu: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return torch.cat([mu + eps, mu - eps], 0)

    @staticmethod
    def split(fitness: torch.Tensor):
        """``(f_plus (N,), f_minus (N,))``."""
        N = fitness.shape[0] // 2
        return fitness[:N], fitness[N:]


# ----------------------------------------------------------------------- searcher ----
class Searcher:
    """Base class; subclasses implement ``_ask()`` and ``_tell(fitness) -> dict``.

    :param center: initial centre ``(D,)``
    :param config: the subclass's ``Config`` instance
    :param seed: integer seed of the searcher's own random stream
    """

    Config: type = object
    #: the options to make smaller when the search diverges (in :class:`NonFiniteError`)
    nonfinite_hint: str = "a smaller learning rate or σ"

    def __init__(self, center: torch.Tensor, config: Any = None, seed: int = 0):
        self.config = config if config is not None else self.Config()
        self.dim = int(center.numel())
        self.generation = 0
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.best_fitness = -math.inf
        self.best_params: Optional[torch.Tensor] = None
        self._asked: Optional[torch.Tensor] = None

    def objective_changed(self) -> None:
        """The fitness function changed (a curriculum stage: longer episodes, other returns).
        What compares fitness across generations starts afresh: the best sample so far, and
        in subclasses their stagnation counters (PGPE's restarts), which would otherwise read
        the new task's lower returns as a stall and restart away from a working centre."""
        self.best_fitness, self.best_params = -math.inf, None

    # -- to implement --------------------------------------------------------------
    @property
    def center(self) -> torch.Tensor:
        raise NotImplementedError

    @property
    def popsize(self) -> int:
        return int(self.config.popsize)

    def _ask(self) -> torch.Tensor:
        raise NotImplementedError

    def _tell(self, fitness: torch.Tensor) -> dict:
        raise NotImplementedError

    def _state(self) -> dict:
        """The subclass's dynamic state (tensors, numbers, nested dicts)."""
        return {}

    def _load_state(self, sd: dict) -> None:
        pass

    # -- non-finite guard (module docstring) -----------------------------------------
    def _snapshot(self) -> Any:
        """What :meth:`_restore` needs to undo an ``_ask`` or ``_tell``: a copy of the
        dynamic state and of the generator (overridden where ``_state`` is not the state
        itself, e.g. pycma's replayed history)."""
        return _clone_tree(self._state()), self.generator.get_state()

    def _restore(self, snapshot: Any) -> None:
        state, generator = snapshot
        self._load_state(state)
        self.generator.set_state(generator)

    def _finite_quantities(self):
        """``(name, value)`` pairs that must stay finite: the centre and σ (where the
        searcher has one); subclasses add their optimiser's state. (Not every state tensor:
        some hold infinite bounds on purpose, e.g. evotorch CEM's ``stdev_max``.)"""
        yield "the centre", self.center
        sigma = getattr(self, "sigma", None)
        if sigma is not None:
            yield "σ", sigma

    def _nonfinite_quantity(self) -> Optional[tuple[str, str]]:
        """``(name, what)`` of the first quantity that is not finite, or None."""
        for name, value in self._finite_quantities():
            what = _nonfinite_part(value)
            if what is not None:
                return name, what
        return None

    def _nonfinite_error(self, what: str) -> NonFiniteError:
        return NonFiniteError(f"{type(self).__name__}: {what}; the state is kept as it was before "
                              f"(a diverging search: try {self.nonfinite_hint})")

    # -- template ------------------------------------------------------------------
    def ask(self) -> torch.Tensor:
        if self._asked is not None:
            return self._asked
        snapshot = self._snapshot()
        asked = self._ask()
        if not bool(torch.isfinite(asked).all()):
            # name the culprit: a non-finite centre or σ (given at construction, loaded), or
            # a σ so large that the samples overflow
            culprit = self._nonfinite_quantity()
            self._restore(snapshot)
            name, what = culprit or ("the sampled population", _nonfinite_part(asked))
            raise self._nonfinite_error(f"{name} is non-finite at generation {self.generation} ({what})")
        self._asked = asked
        return self._asked

    def tell(self, fitness) -> dict:
        if self._asked is None:
            raise RuntimeError("tell() called before ask()")
        fitness = torch.as_tensor(fitness, dtype=self._asked.dtype).reshape(-1)
        if fitness.numel() != self._asked.shape[0]:
            raise UserError(f"tell() got {fitness.numel()} fitness values for a population of {self._asked.shape[0]}")
        clean, bad = finite_fitness(fitness)
        if bad is not None and bool(bad.all()):
            raise self._nonfinite_error(f"the fitness of every member of generation {self.generation} is "
                                        f"non-finite ({_nonfinite_part(fitness)})")
        snapshot = self._snapshot()
        try:
            stats = self._tell(clean)
        except BaseException:   # e.g. a library update that fails half-way: keep the old state
            self._restore(snapshot)
            raise
        culprit = self._nonfinite_quantity()
        if culprit is not None:
            self._restore(snapshot)
            raise self._nonfinite_error(f"the update of generation {self.generation} made {culprit[0]} "
                                        f"non-finite ({culprit[1]})")
        # the replaced values lie below every finite one: the argmax is a finite member
        i = int(clean.argmax())
        if float(clean[i]) > self.best_fitness:
            self.best_fitness = float(clean[i])
            self.best_params = self._asked[i].clone()
        self._asked = None
        self.generation += 1
        if bad is None:
            return {"best": float(fitness.max()), "mean": float(fitness.mean()), **stats}
        finite = fitness[~bad]
        return {"best": float(finite.max()), "mean": float(finite.mean()), "nonfinite": int(bad.sum()), **stats}

    def state_dict(self) -> dict:
        return {
            "generation": self.generation,
            "generator": self.generator.get_state(),
            "best_fitness": self.best_fitness,
            "best_params": self.best_params,
            "asked": self._asked,  # a population asked but not yet told survives a checkpoint
            "state": self._state(),
        }

    def load_state_dict(self, sd: dict) -> None:
        self.generation = int(sd["generation"])
        self.generator.set_state(sd["generator"])
        self.best_fitness = float(sd["best_fitness"])
        self.best_params = sd["best_params"]
        self._asked = sd.get("asked")
        self._load_state(sd["state"])

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator,
                           dtype=torch.float64 if self.dtype == torch.float64 else torch.float32).to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64 if getattr(self.config, "float64", False) else torch.float32


def config_from_dict(cls, values: dict):
    """Build a ``Config`` dataclass from a dict, rejecting unknown keys clearly."""
    names = {f.name for f in fields(cls)}
    for k in values:
        if k not in names:
            raise UserError(f"unknown option {k!r} for {cls.__qualname__}; accepted: {', '.join(sorted(names))}")
    return cls(**values)
