"""Searchers (ask/tell over flat vectors) and learners, behind one registry.

``kind="searcher"``: a :class:`~dps.algorithms.base.Searcher` subclass; the runner pairs it
with a rollout problem. ``kind="learner"``: an object with ``step() -> metrics`` that runs
its own episodes (RPG, Evolino on tasks); built by ``cls.from_run(...)``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import unknown
from .base import (Adam, Antithetic, CenteredRanks, ClipUp, FitnessShaping, Normalized,
                   SGD, Searcher, make_optimizer, make_shaping)


@dataclass(frozen=True)
class AlgoEntry:
    name: str
    target: str
    summary: str
    kind: str = "searcher"

    def load(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


ALGORITHMS: dict[str, AlgoEntry] = {}


def register_algorithm(entry: AlgoEntry) -> None:
    ALGORITHMS[entry.name] = entry


def get_algorithm(name: str) -> AlgoEntry:
    if name not in ALGORITHMS:
        raise unknown("algorithm", name, ALGORITHMS)
    return ALGORITHMS[name]


for _e in [
    AlgoEntry("pgpe", "dps.algorithms.pgpe:PGPE",
              "PGPE, Sehnke et al. 2010: symmetric sampling, reward-normalised mu/sigma updates "
              "(--variant modern: centered ranks + ClipUp/Adam)"),
    AlgoEntry("es", "dps.algorithms.es:OpenES",
              "antithetic ES (Salimans et al. 2017): centered ranks, Adam/ClipUp"),
    AlgoEntry("guided-es", "dps.algorithms.es:GuidedES",
              "Guided ES (Maheswaranathan et al. 2019) with caller-supplied surrogate gradients"),
    AlgoEntry("pdes", "dps.algorithms.es:PastDescentES",
              "ES with past descent directions (Meier et al. 2019)"),
    AlgoEntry("cmaes", "dps.algorithms.cmaes:CMAES",
              "CMA-ES through pycma (IPOP/BIPOP restarts, bounds, termination criteria)"),
    AlgoEntry("snes", "dps.algorithms.evotorch_adapter:SNES", "SNES via evotorch"),
    AlgoEntry("xnes", "dps.algorithms.evotorch_adapter:XNES", "XNES via evotorch"),
    AlgoEntry("cem", "dps.algorithms.evotorch_adapter:CEM", "CEM via evotorch"),
    AlgoEntry("pgpe-clipup", "dps.algorithms.evotorch_adapter:EvoPGPE",
              "evotorch's PGPE with ClipUp (Toklu et al. 2020)"),
    AlgoEntry("evolino", "dps.algorithms.evolino:Evolino",
              "Evolino: ESP-evolved LSTM + pseudo-inverse linear readout", kind="learner"),
    AlgoEntry("rpg", "dps.algorithms.rpg:RPG",
              "recurrent policy gradients (REINFORCE by BPTT through the LSTM), baselines, SDE",
              kind="learner"),
]:
    register_algorithm(_e)

__all__ = ["ALGORITHMS", "AlgoEntry", "get_algorithm", "register_algorithm", "Searcher",
           "FitnessShaping", "CenteredRanks", "Normalized", "SGD", "Adam", "ClipUp",
           "Antithetic", "make_optimizer", "make_shaping"]
