"""The centre a run returns when it is scored on held-out envs (``--select-on SPEC``).

A learner's last centre is not always its best one: an Atari-Go player trained on 5×5 can
keep improving there while its play on 9×9, which it never trains on, gets worse
(docs/ATARI_GO.md, "Stronger players"). With ``--select-on`` the run scores its centre every
``select_every`` generations (and after the last) on ``select_episodes`` greedy episodes of
the training env and of every held-out env, and keeps the best-scoring centre.

* An env's score is its success rate where it has a success criterion, else its mean return.
* A centre's score is the lowest of its env scores, so the kept centre is the one that
  is good everywhere, not the one that is best on one env at another's expense.
* Every scoring uses the same seed for each env, so two centres meet the same starts and
  the same opponent draws (a paired comparison; the differences are the centres').
* A score is a mean over ``select_episodes`` episodes, so it carries sampling error, and the
  highest of many noisy scores is biased upwards (the winner's curse). The kept centre is
  therefore the *latest* one whose score is within one standard error of the best score so
  far (the one-standard-error rule of model selection: Breiman et al. 1984, *Classification
  and Regression Trees*; Hastie, Tibshirani & Friedman, *The Elements of Statistical
  Learning*, §7.10): among centres the scores cannot tell apart, the later one has trained
  longer on the training env. The standard error is that of the env with the lowest score:
  sqrt(p (1 − p) / n) for a success rate p, the returns' standard deviation / sqrt(n) for a
  mean return. A centre that scores better than all before it is always kept.

The kept centre (with its generation and scores) is saved in the checkpoint beside the
learner's current one. The final evaluation, the env's report, ``python -m dps.run
evaluate`` and ``dps.play`` use it, and summary.json's ``selection`` says which it is.
"""
from __future__ import annotations

import json
import math
from typing import Optional

import torch

from ..errors import UserError
from ..evaluation import run_episodes
from ..rollout import refuse_if_too_big
from ..seeding import SELECT, derive_seed


class Selection:
    """The centre kept so far under ``run.cfg.select_on`` (module docstring's rule)."""

    def __init__(self, run):
        cfg = run.cfg
        self.every, self.episodes, self.seed, self.workers = (int(cfg.select_every), int(cfg.select_episodes),
                                                              cfg.seed, cfg.workers)
        n = run.learner.center.numel()
        #: (name, env, policy): the training env first, then the held-out envs in the given order
        self.envs = [(cfg.env, run.env, run.policy)]
        for spec in cfg.select_on:
            env, policy = run.env_and_policy(spec)
            self.envs.append((spec, env, policy))
            if policy.num_params != n:
                self.close()
                raise UserError(f"--select-on {spec!r}: the policy {cfg.policy!r} has {policy.num_params} "
                                f"parameters there and {n} on the training env {cfg.env!r}; a held-out env must "
                                "give the policy the same number of weights (Atari-Go: any board size)")
        for spec, env, policy in self.envs:
            try:
                refuse_if_too_big(policy, env, 1, self.episodes, 0, f"--select-episodes {self.episodes} on {spec!r}",
                                  "--select-episodes")
            except UserError:
                self.close()
                raise
        self.center: Optional[torch.Tensor] = None
        #: the kept centre's generation, score and per-env scores (summary.json's ``selection``)
        self.best: Optional[dict] = None
        #: the best score so far: its generation, score and standard error
        self.top: Optional[dict] = None

    def due(self, generation: int) -> bool:
        return (generation + 1) % self.every == 0

    def score(self, params: torch.Tensor, generation: int) -> float:
        """Score the centre ``params (D,)`` of ``generation``; keep it if its score is within one
        standard error of the best so far (module docstring)."""
        params = params.detach()
        scores, errors = {}, {}
        for i, (name, env, policy) in enumerate(self.envs):
            res = run_episodes(policy, env, params.reshape(1, -1), self.episodes,
                               derive_seed(self.seed, SELECT, i), self.workers)
            if res.success is not None:
                p = float(res.success.float().mean())
                scores[name], errors[name] = p, math.sqrt(p * (1.0 - p) / res.success.numel())
            else:
                r = res.returns.double().reshape(-1)
                scores[name] = float(r.mean())
                errors[name] = float(r.std(unbiased=False)) / math.sqrt(r.numel())
        worst = min(scores, key=scores.get)
        score = scores[worst]
        if self.top is None or score > self.top["score"]:
            self.top = {"generation": generation, "score": score, "standard_error": errors[worst]}
        if score >= self.top["score"] - self.top["standard_error"]:
            self.center = params.cpu().clone()
            self.best = {"generation": generation, "score": score, "scores": scores}
        return score

    def summary(self) -> dict:
        """summary.json's ``selection``: the envs, the protocol, and the kept centre."""
        return {"on": [name for name, _, _ in self.envs], "every": self.every, "episodes": self.episodes,
                "kept": self.best, "top": self.top}

    def state_dict(self) -> dict:
        return {"selected_center": self.center, "selection": json.dumps({"kept": self.best, "top": self.top})}

    def load_state_dict(self, ck: dict) -> None:
        center = ck.get("selected_center")
        self.center = center.clone() if torch.is_tensor(center) else None
        state = json.loads(ck.get("selection") or "null") or {}
        self.best, self.top = state.get("kept"), state.get("top")

    def close(self) -> None:
        for _, env, _ in self.envs[1:]:
            env.close()
