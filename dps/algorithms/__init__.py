"""Searchers (ask/tell over flat vectors) and learners, behind one registry.

``kind="searcher"``: a :class:`~dps.algorithms.base.Searcher` subclass; the runner pairs it
with a rollout problem. ``kind="learner"``: a :class:`~dps.algorithms.learner.Learner` that
runs its own episodes (RPG, Evolino on tasks), built by ``cls.from_run(...)``. Each entry's
options are the fields of its class's ``Config`` dataclass (:mod:`dps.registry`).
"""
from __future__ import annotations

from ..registry import Registry
from .base import (
                   SGD,
                   Adam,
                   Antithetic,
                   CenteredRanks,
                   ClipUp,
                   FitnessShaping,
                   Normalized,
                   Searcher,
                   make_optimizer,
                   make_shaping,
)

#: every algorithm by name; an entry's ``kind`` is "searcher" or "learner"
ALGORITHMS = Registry("algorithm")
ALGORITHMS.add("pgpe", "dps.algorithms.pgpe:PGPE",
               "PGPE, Sehnke et al. 2010: symmetric sampling, reward-normalised mu/sigma updates "
               "(--variant modern: centered ranks + ClipUp/Adam)", "searcher")
ALGORITHMS.add("es", "dps.algorithms.es:OpenES",
               "antithetic ES (Salimans et al. 2017): centered ranks, Adam/ClipUp", "searcher")
ALGORITHMS.add("guided-es", "dps.algorithms.es:GuidedES",
               "Guided ES (Maheswaranathan et al. 2019) with caller-supplied surrogate gradients", "searcher")
ALGORITHMS.add("pdes", "dps.algorithms.es:PastDescentES",
               "ES with past descent directions (Meier et al. 2019)", "searcher")
ALGORITHMS.add("cmaes", "dps.algorithms.cmaes:CMAES",
               "CMA-ES through pycma (IPOP/BIPOP restarts, bounds, termination criteria)", "searcher")
ALGORITHMS.add("snes", "dps.algorithms.evotorch_adapter:SNES", "SNES via evotorch", "searcher")
ALGORITHMS.add("xnes", "dps.algorithms.evotorch_adapter:XNES", "XNES via evotorch", "searcher")
ALGORITHMS.add("cem", "dps.algorithms.evotorch_adapter:CEM", "CEM via evotorch", "searcher")
ALGORITHMS.add("pgpe-clipup", "dps.algorithms.evotorch_adapter:EvoPGPE",
               "evotorch's PGPE with ClipUp (Toklu et al. 2020)", "searcher")
ALGORITHMS.add("evolino", "dps.algorithms.evolino:Evolino",
               "Evolino: ESP-evolved LSTM + pseudo-inverse linear readout", "learner")
ALGORITHMS.add("rpg", "dps.algorithms.rpg:RPG",
               "recurrent policy gradients (REINFORCE by BPTT through the LSTM), baselines, SDE", "learner")

__all__ = ["ALGORITHMS", "SGD", "Adam", "Antithetic", "CenteredRanks", "ClipUp", "FitnessShaping", "Normalized",
           "Searcher", "make_optimizer", "make_shaping"]
