"""Searcher base class, fitness shaping, centre optimisers, the antithetic layout.

A :class:`Searcher` is a torch-optimizer-like object over flat parameter vectors::

    params = searcher.ask()            # (P, D)
    stats  = searcher.tell(fitness)    # fitness (P,), higher is better  → metrics dict
    searcher.center                    # (D,) the current policy
    searcher.state_dict() / load_state_dict(sd)

dps *maximises*; a minimisation problem is negated once, at the boundary. The base class
owns the template (evosax-style): ``tell`` validates the fitness (shape, NaN/inf → one
clear error), tracks the best-so-far on the *raw* fitness, then calls the subclass's
``_tell``. Hyper-parameters are a typed ``Config`` dataclass (its fields and ``help``
metadata become CLI flags); the per-generation state is small and checkpointable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Optional

import torch

from ..errors import UserError


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
def generator_state(g: torch.Generator) -> torch.Tensor:
    return g.get_state()


class Searcher:
    """Base class; subclasses implement ``_ask()`` and ``_tell(fitness) -> dict``.

    :param center: initial centre ``(D,)``
    :param config: the subclass's ``Config`` instance
    :param seed: integer seed of the searcher's own random stream
    """

    Config: type = object

    def __init__(self, center: torch.Tensor, config: Any = None, seed: int = 0):
        self.config = config if config is not None else self.Config()
        self.dim = int(center.numel())
        self.generation = 0
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.best_fitness = -math.inf
        self.best_params: Optional[torch.Tensor] = None
        self._asked: Optional[torch.Tensor] = None

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

    # -- template ------------------------------------------------------------------
    def ask(self) -> torch.Tensor:
        if self._asked is not None:
            return self._asked
        self._asked = self._ask()
        return self._asked

    def tell(self, fitness) -> dict:
        if self._asked is None:
            raise RuntimeError("tell() called before ask()")
        fitness = torch.as_tensor(fitness, dtype=self._asked.dtype).reshape(-1)
        if fitness.numel() != self._asked.shape[0]:
            raise UserError(f"tell() got {fitness.numel()} fitness values for a population of {self._asked.shape[0]}")
        bad = ~torch.isfinite(fitness)
        if bool(bad.any()):
            idx = int(bad.nonzero()[0])
            raise UserError(f"fitness of member {idx} is {float(fitness[idx])}; fitness must be finite "
                            f"(check the env's rewards or the fitness function)")
        i = int(fitness.argmax())
        if float(fitness[i]) > self.best_fitness:
            self.best_fitness = float(fitness[i])
            self.best_params = self._asked[i].clone()
        stats = self._tell(fitness)
        self._asked = None
        self.generation += 1
        return {"best": float(fitness.max()), "mean": float(fitness.mean()), **stats}

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
        return torch.randn(*shape, generator=self.generator, dtype=torch.float64 if self.dtype == torch.float64 else torch.float32).to(self.dtype)

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
