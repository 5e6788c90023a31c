"""The member a run returns when its env defines what solving is (``--test-champions``).

Some benchmarks call a task solved by a test no training episode makes: the double pole
counts as solved by a controller that balances 100,000 steps from the standard start and,
without velocities, 200 of 625 grid starts for 1000 steps (Gomez et al. 2008, §8; the
env's :func:`~dps.evaluation.solve_test`). Their protocol tests every generation's *champion*
— its best member by training fitness — when its training episodes succeeded (a member that
fell in 1000 steps cannot balance 100,000 from the same start), and the first champion that
passes is the solver: the run ends there and its evaluations are the ones counted
(docs/POLE.md, "Protocol"; ``experiments/reproduce_pole.py`` runs the same protocol over many
seeds at once, and a test checks that the two count the same evaluations).

The centre is a different network from every member, so the centre's episodes cannot stand in
for this test. With ``--test-champions true`` the run does what the protocol does; the solver
is saved in the checkpoint and is the policy the final evaluation, ``python -m dps.run
evaluate`` and ``dps.play`` use; summary.json's ``champions`` says how many champions were
tested, how many failed and which one solved (generation, episodes, its test results), and
metrics.csv's ``champion_*`` columns give each generation's tested champion's figures (the
double pole: ``champion_generalization``, ``champion_steps``; empty where none was tested).
"""
from __future__ import annotations

import json
from typing import Optional

import torch

from ..errors import UserError
from ..evaluation import solve_test
from ..seeding import CHAMPION, derive_seed


class ChampionTest:
    """The champion test of ``run`` (module docstring); ``solver`` once one has passed."""

    def __init__(self, run):
        if not run.learner.has_champion:
            raise UserError(f"--test-champions true: {run.cfg.algo!r} keeps no population whose best member could "
                            "be tested; it needs a population searcher (see --list)")
        env = run.target_env()
        found = solve_test(env)
        if found is None:
            raise UserError(f"--test-champions true: {run.cfg.env!r} defines no solve test; the double pole "
                            "(cartpole:poles=2) does")
        self.test = found.test
        #: the figures of a test's result besides ``solved`` (metrics.csv's ``champion_*``)
        self.columns = found.figures(env)
        self.seed = run.cfg.seed
        #: ``{"generation", "episodes", "env_steps", "params", "result"}`` of the solver, or None
        self.solver: Optional[dict] = None
        self.tested = self.failed = 0

    @property
    def params(self) -> Optional[torch.Tensor]:
        return None if self.solver is None else self.solver["params"]

    def check(self, run, generation: int) -> Optional[dict]:
        """Test the learner's latest champion if its training episodes succeeded: the test's
        result (``"solved"`` and the env's figures; a solver is kept), or None when no champion
        was tested."""
        champ = run.learner.champion
        if self.solver is not None or champ is None or not champ["success"]:
            return None
        result = self.test(run.learner.policy, run.target_env(), champ["params"],
                           derive_seed(self.seed, CHAMPION, generation))
        self.tested += 1
        if not result["solved"]:
            self.failed += 1
            return result
        self.solver = {"generation": generation, "episodes": run.totals["episodes"],
                       "env_steps": run.totals["env_steps"], "params": champ["params"].detach().cpu().clone(),
                       "result": result}
        return result

    def summary(self) -> dict:
        """summary.json's ``champions``."""
        solved = None if self.solver is None else {k: v for k, v in self.solver.items() if k != "params"}
        return {"tested": self.tested, "failed": self.failed, "solved": solved}

    def state_dict(self) -> dict:
        return {"champions": json.dumps(self.summary()),
                **({"solver_params": self.solver["params"]} if self.solver is not None else {})}

    def load_state_dict(self, ck: dict) -> None:
        saved = json.loads(ck.get("champions") or "null") or {}
        self.tested, self.failed = int(saved.get("tested", 0)), int(saved.get("failed", 0))
        solved, params = saved.get("solved"), ck.get("solver_params")
        self.solver = None if solved is None or not torch.is_tensor(params) else {**solved, "params": params}
