"""Evolino: EVOlution of recurrent systems with LINear Outputs (Wierstra, Gomez &
Schmidhuber, GECCO 2005; Schmidhuber, Wierstra, Gagliolo & Gomez, Neural Computation
19(3):757–779, 2007).

Evolution searches the LSTM's recurrent weights (W0, b0, peep0 of the shared
:class:`~dps.policies.lstm.LSTMPolicy`); for each candidate the linear readout is computed
optimally (NC 2007, eq. 3)::

    Φ = hidden activations h_t, teacher forced, t ∈ [washout, fit_end)   (plus a column of 1s)
    W = D · pinv(Φ)                       (here with rows as samples: W = pinv(Φ) D)
    W = (ΦᵀΦ + ρ I)⁻¹ Φᵀ D                with the optional ridge term ρ > 0

and the fitness is the error of the **free-running** prediction on the rest of the training
sequence: from ``fit_end`` on, the net's own output (scaled by ``feedback_scale``, §5:
×0.001–0.01) is its next input. dps maximises, so fitness = −error. Driven tasks (aⁿbⁿcⁿ)
have no closed loop: the fitness is the task's error of the fitted readout on the whole
training sequence.

Outer loops: ``esp`` — Enforced SubPopulations, one subpopulation per cell
(:mod:`dps.algorithms.esp`); ``cmaes`` — pycma over all recurrent weights at once. All P
individuals run as one batch (P × 1 sequence) through ``policy.features``; the P readouts
are fitted by one batched ``pinv``/``solve`` on the device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch

from ..errors import UserError
from ..policies.lstm import LSTMPolicy
from ..seeding import INIT, derive_seed
from ..tasks.readout import fit_readout
from .base import Fraction, Generations, Members, Scale, Sigma, SizeOrAuto, Steps, opt
from .esp import ESP
from .learner import Learner

DEFAULT_POLICY = "lstm:hidden=10,peepholes=true"
BAD_ERROR = 1e30  # error given to a candidate whose prediction is not finite


@dataclass
class Config:
    outer: Literal["esp", "cmaes"] = opt("esp", "outer loop over the recurrent weights: ESP (one subpopulation "
                                                "per cell) or CMA-ES (pycma) over all of them")
    subpop: Members = opt(10, "ESP: chromosomes per subpopulation (--popsize overrides)")
    trials: Members = opt(10, "ESP: individuals each chromosome takes part in per generation "
                          "(evaluations = trials × subpop)")
    init_scale: Scale = opt(0.1, "initial recurrent weights U(−s, s)")
    forget_bias: float = opt(1.0, "added to the initial forget-gate biases (long memory from the start)")
    alpha: Fraction = opt(0.01, "ESP: Cauchy mutation scale")
    parents: float = opt(0.25, "ESP: fraction of each subpopulation kept as parents")
    credit: Literal["mean", "best"] = opt("mean", "ESP: a chromosome's fitness is the mean (or best) of the "
                                                  "individuals it took part in")
    stagnation: Generations = opt(20, "ESP: generations without a new best before a burst mutation (0: never)")
    burst_scale: Scale = opt(0.05, "ESP: Cauchy scale of the burst mutation around the best individual")
    sigma0: Sigma = opt(0.05, "CMA-ES: initial step size")
    cma_popsize: SizeOrAuto = opt(0, "CMA-ES: population size λ (0: pycma's 4 + 3 ln D; --popsize overrides)")
    feedback_scale: Sigma = opt(0.01, "generative tasks: inputs (true or fed-back values) are multiplied by this")
    ridge: Scale = opt(0.0, "ridge term ρ of the readout fit (0: plain pseudo-inverse)")
    segments: SizeOrAuto = opt(0, "generative tasks: closed-loop segments in the fitness — the held-out tail plus "
                                  "segments − 1 more of the same length starting inside the fit window; the error "
                                  "is their mean (1: the tail only; 0: the task's fitness_segments, else 1)")
    float64: bool = opt(True, "run the LSTM and the readout fit in float64")
    baselines: bool = opt(True, "final evaluation also fits the ESN and the BPTT-trained LSTM on the same task "
                                "(summary.json eval.baselines; seconds)")
    bptt_epochs: Steps = opt(300, "full-sequence Adam epochs of the BPTT-LSTM baseline")


# ------------------------------------------------------------------ building blocks ----
def _finite(err: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(err, nan=BAD_ERROR, posinf=BAD_ERROR).clamp(max=BAD_ERROR)


def segment_starts(washout: int, fit_end: int, segments: int) -> list[int]:
    """First scored step of each closed-loop fitness segment, ascending, the last = ``fit_end``
    (the held-out tail); the other ``segments − 1`` are spread evenly over ``[washout, fit_end)``
    so that closed-loop stability is selected for across the whole training window, not on
    one stretch of it."""
    if segments == 1:
        return [fit_end]
    span = fit_end - washout
    if segments - 1 > span:
        raise UserError(f"evolino: segments {segments} needs {segments - 1} distinct starts in the fit window "
                        f"[{washout}, {fit_end}); accepted: segments <= {span + 1}")
    step = span / (segments - 1)
    return [washout + int(round(k * step)) for k in range(segments - 1)] + [fit_end]


def drive_features(policy, params: torch.Tensor, inputs: torch.Tensor, state=None,
                   resets: Optional[torch.Tensor] = None):
    """Teacher-forced run: ``(features (P, B, T, H), state)``.

    :param inputs: ``(B, T, in)`` shared by all P rows, or ``(P, B, T, in)``; already scaled
    :param resets: ``(B, T)`` bool, state reset before step t where True, or None
    """
    P = params.shape[0]
    if inputs.dim() == 3:
        inputs = inputs.unsqueeze(0).expand(P, *inputs.shape)
    B, T = inputs.shape[1], inputs.shape[2]
    if state is None:
        state = policy.initial_state(P, B, device=params.device, dtype=params.dtype)
    feats = []
    for t in range(T):
        start = None if resets is None else resets[:, t].unsqueeze(0).expand(P, B)
        h, state = policy.features(params, inputs[:, :, t], state, start)
        feats.append(h)
    return torch.stack(feats, 2), state


def closed_loop(policy, params: torch.Tensor, state, first: torch.Tensor, steps: int, scale: float):
    """Free-running prediction: ``(P, B, steps, out)``.

    Step 0 gets ``first`` (raw, ``(P, B, in)`` or ``(B, in)``: the last known value); every
    later step gets the previous output. Inputs are multiplied by ``scale``.
    """
    P = params.shape[0]
    u = first.to(params.dtype)
    if u.dim() == 2:
        u = u.unsqueeze(0).expand(P, *u.shape)
    outs = []
    for _ in range(steps):
        h, state = policy.features(params, u * scale, state)
        u = policy.readout(params, h)
        outs.append(u)
    return torch.stack(outs, 2)


def cell_indices(policy: LSTMPolicy) -> torch.Tensor:
    """``(H, L)`` flat positions of the weights *into* each cell of layer 0: its columns of
    W0 (all four gates i, f, g, o), its four biases and, with peepholes, its three peepholes."""
    H = policy.hidden
    rows = policy.layout["W0"][1][0]
    W0, b0 = policy.layout["W0"][0].start, policy.layout["b0"][0].start
    out = []
    for j in range(H):
        cols = [g * H + j for g in range(4)]
        idx = [W0 + r * 4 * H + c for r in range(rows) for c in cols] + [b0 + c for c in cols]
        if policy.peepholes:
            p0 = policy.layout["peep0"][0].start
            idx += [p0 + g * H + j for g in range(3)]
        out.append(idx)
    return torch.tensor(out, dtype=torch.long)


def recurrent_indices(policy: LSTMPolicy) -> torch.Tensor:
    """Flat positions of every weight except the readout ``W_out``, ``b_out``."""
    ro = set()
    for name in ("W_out", "b_out"):
        sl = policy.layout[name][0]
        ro.update(range(sl.start, sl.stop))
    return torch.tensor([i for i in range(policy.num_params) if i not in ro], dtype=torch.long)


class PolicyModel:
    """One parameter row as a task model (``drive`` / ``generate``, see :mod:`dps.tasks`);
    runs on the row's device, returns outputs on the CPU (where the tasks' data live)."""

    def __init__(self, policy, params: torch.Tensor, scale: float):
        self.policy, self.params, self.scale = policy, params.reshape(1, -1), scale

    @torch.no_grad()
    def drive(self, inputs, resets=None):
        x = inputs.to(self.params.device, self.params.dtype) * self.scale
        feats, state = drive_features(self.policy, self.params, x, None,
                                      None if resets is None else resets.to(self.params.device))
        out = self.policy.readout(self.params, feats.reshape(1, -1, feats.shape[-1]))
        return out.reshape(*feats.shape[1:3], -1).cpu(), state

    @torch.no_grad()
    def generate(self, state, first, steps):
        first = first.to(self.params.device, self.params.dtype)
        return closed_loop(self.policy, self.params, state, first, steps, self.scale)[0].cpu()


class CMAOuter:
    """pycma over the recurrent weights. Its state is not pickled: the checkpoint holds the
    initial point's seed and every generation's errors, and :meth:`load` replays ask/tell
    (pycma is deterministic given its seed), which restores it bit-identically."""

    def __init__(self, x0: torch.Tensor, sigma0: float, popsize: int, seed: int):
        import cma
        self.rng = np.random.RandomState(int(seed) % (2 ** 32))   # own stream, not numpy's global one
        opts = {"randn": self.rng.randn, "seed": int(seed) % (2 ** 31 - 2) + 1, "verbose": -9}
        if popsize:
            opts["popsize"] = int(popsize)
        self.es = cma.CMAEvolutionStrategy(x0.double().numpy(), sigma0, opts)
        self.history: list = []          # (λ,) errors told per generation
        self._X = None

    @property
    def popsize(self) -> int:
        return int(self.es.popsize)

    def ask(self) -> torch.Tensor:
        self._X = self.es.ask()
        return torch.from_numpy(np.array(self._X, dtype=np.float64))

    def tell(self, errors: torch.Tensor) -> dict:
        self.es.tell(self._X, errors.double().tolist())
        self.history.append(errors.double().cpu().clone())
        return {"sigma": float(self.es.sigma)}

    def replay(self, history: list) -> None:
        for err in history:
            self.ask()
            self.tell(err)


# ------------------------------------------------------------------------ learner ----
class Evolino(Learner):
    """Evolino on a supervised sequence task (see the module docstring).

    :param policy: a 1-layer :class:`LSTMPolicy` (ESP) or any-depth one (CMA-ES) with
        ``obs_size == task.in_size`` and ``out_size == task.out_size``
    :param task: a :class:`dps.tasks.SequenceTask`
    :param config: :class:`Config`
    :param seed: root seed
    """

    Config = Config

    def __init__(self, policy: LSTMPolicy, task, config: Optional[Config] = None, seed: int = 0,
                 device="cpu"):
        self.config = config = config if config is not None else Config()
        if not isinstance(policy, LSTMPolicy):
            raise UserError(f"evolino needs an lstm policy, got {policy.describe()}")
        if policy.obs_size != task.in_size or policy.out_size != task.out_size:
            raise UserError(f"evolino: policy {policy.describe()} does not fit task {task.name} "
                            f"(inputs {task.in_size}, outputs {task.out_size})")
        if config.outer == "esp" and policy.layers != 1:
            raise UserError(f"evolino outer=esp needs a 1-layer LSTM, got layers={policy.layers}; use outer=cmaes")
        self.policy, self.task, self.seed = policy, task, int(seed)
        self.device = torch.device(device)
        self.dtype = torch.float64 if config.float64 else torch.float32
        self.scale = config.feedback_scale if task.generative else 1.0
        data = task.train_data()
        self.data = data
        self.inputs = (data.inputs * self.scale).to(self.device, self.dtype).unsqueeze(0)   # (1, T, in)
        self.targets = data.targets.to(self.device, self.dtype)
        self.resets = None if data.resets is None else data.resets.to(self.device).unsqueeze(0)
        segments = int(config.segments) or int(getattr(task, "fitness_segments", 1))
        if segments > 1 and not task.generative:
            raise UserError(f"evolino: segments {segments} > 1 needs a generative task (closed loop); "
                            f"{task.name} is driven")
        self.starts = segment_starts(data.washout, data.fit_end, segments) if task.generative else [data.fit_end]
        self.generator = torch.Generator().manual_seed(derive_seed(self.seed, INIT))
        self.readout = (policy.layout["W_out"][0], policy.layout["b_out"][0])
        sl = policy.layout["b0"][0]
        self.init_offset = torch.zeros(policy.num_params, dtype=torch.float64)   # forget-gate biases
        self.init_offset[sl.start + policy.hidden: sl.start + 2 * policy.hidden] = config.forget_bias
        if config.outer == "esp":
            self.cells = cell_indices(policy)
            self.esp = ESP(policy.hidden, self.cells.shape[1], config.subpop, config.trials, config.init_scale,
                           config.alpha, config.parents, config.credit, config.stagnation, config.burst_scale,
                           self.generator, torch.float64)
            self.esp.pop += self.init_offset[self.cells].unsqueeze(1)
        elif config.outer == "cmaes":
            self.rec = recurrent_indices(policy)
            self.cma = self._new_cma()
        else:
            raise UserError(f"unknown evolino outer loop {config.outer!r}; accepted: esp, cmaes")
        self.generation = 0
        self.best_fitness = -math.inf
        self.best_params: Optional[torch.Tensor] = None
        self.episodes = 0

    def _new_cma(self) -> CMAOuter:
        g = torch.Generator().manual_seed(derive_seed(self.seed, INIT, 1))
        x0 = (torch.rand(self.rec.numel(), generator=g, dtype=torch.float64) * 2 - 1) * self.config.init_scale
        x0 += self.init_offset[self.rec]
        return CMAOuter(x0, self.config.sigma0, self.config.cma_popsize, derive_seed(self.seed, INIT, 2))

    @classmethod
    def from_run(cls, ctx) -> "Evolino":
        """Build from the runner's :class:`~dps.algorithms.learner.RunContext` (``task`` = the
        task spec, ``policy_spec`` optional; ``popsize`` → subpop / λ)."""
        from ..policies import make_policy
        from ..tasks import make_task
        if not ctx.task:
            raise UserError("evolino learns supervised sequence tasks: give --task (e.g. sines:n=3); "
                            "see docs/EVOLINO.md for why it does not run on RL envs")
        task = make_task(ctx.task)
        policy = ctx.policy
        if not (isinstance(policy, LSTMPolicy) and policy.obs_size == task.in_size
                and policy.out_size == task.out_size):
            policy = make_policy(ctx.policy_spec or DEFAULT_POLICY, (task.in_size,), task.out_size)
        config = ctx.config if ctx.config is not None else Config()
        if ctx.popsize:
            config = replace(config, **({"subpop": ctx.popsize} if config.outer == "esp"
                                        else {"cma_popsize": ctx.popsize}))
        return cls(policy, task, config, ctx.seed, ctx.device)

    # -------------------------------------------------------------------- evaluation --
    @torch.no_grad()
    def fit_and_score(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit the readouts of ``params (K, D)`` (recurrent part set) and score them:
        ``(params with fitted readouts, errors (K,))``."""
        d, pol = self.data, self.policy
        params = params.to(self.device, self.dtype).clone()
        # one teacher-forced pass, cut at the segment starts to keep the state there
        chunks, states, state, prev = [], [], None, 0
        for s in self.starts:
            if s > prev:
                f, state = drive_features(pol, params, self.inputs[:, prev:s], state,
                                          None if self.resets is None else self.resets[:, prev:s])
                chunks.append(f)
            elif state is None:
                state = pol.initial_state(params.shape[0], 1, device=params.device, dtype=params.dtype)
            states.append(state)
            prev = s
        feats = torch.cat(chunks, 2)
        W, b = fit_readout(feats[:, 0, d.washout:], self.targets[d.washout:d.fit_end], self.config.ridge)
        params[:, self.readout[0]] = W.reshape(W.shape[0], -1)
        params[:, self.readout[1]] = b
        if not self.task.generative:
            err = self.task.train_error(pol.readout(params, feats[:, 0]), d)
            return params, _finite(err).to(torch.float64).cpu()
        # all segments run free as one batch: state (P, S, H), first input = last true value
        state = tuple(torch.cat([st[i] for st in states], 1) for i in range(len(states[0])))
        first = d.inputs[self.starts].to(self.device, self.dtype)
        horizon = d.length - d.fit_end
        pred = closed_loop(pol, params, state, first, horizon, self.scale)        # (P, S, horizon, out)
        errs = [_finite(self.task.train_error(pred[:, -1], d))]
        for j, s in enumerate(self.starts[:-1]):
            target = self.targets[s:s + horizon].to(pred.dtype)
            errs.append(_finite(((pred[:, j] - target) ** 2).mean(dim=(1, 2))))
        err = torch.stack(errs, 1).mean(1)
        return params, err.to(torch.float64).cpu()

    # -------------------------------------------------------------------- generation --
    def step(self) -> dict:
        """One generation: ask the outer loop, fit readouts, free-run, tell (fitness = −error)."""
        D = self.policy.num_params
        if self.config.outer == "esp":
            index, chroms = self.esp.ask()
            K = index.shape[0]
            params = torch.zeros(K, D, dtype=torch.float64)
            params[:, self.cells.reshape(-1)] = chroms.reshape(K, -1)
        else:
            X = self.cma.ask()
            K = X.shape[0]
            params = torch.zeros(K, D, dtype=torch.float64)
            params[:, self.rec] = X
        params, err = self.fit_and_score(params)
        fitness = -err
        stats = self.esp.tell(index, fitness) if self.config.outer == "esp" else self.cma.tell(err)
        i = int(fitness.argmax())
        if float(fitness[i]) > self.best_fitness:
            self.best_fitness = float(fitness[i])
            self.best_params = params[i].detach().cpu().clone()
        self.generation += 1
        self.episodes += K
        return {"episodes": K, "env_steps": K * self.data.length, "best": float(fitness.max()),
                "mean": float(fitness.mean()), "best_so_far": self.best_fitness,
                "train_error": -self.best_fitness, **stats}

    @property
    def center(self) -> torch.Tensor:
        """The best individual so far: full flat vector including its fitted readout."""
        if self.best_params is None:
            return torch.zeros(self.policy.num_params, dtype=self.dtype)
        return self.best_params

    def model(self, params: Optional[torch.Tensor] = None) -> PolicyModel:
        p = self.center if params is None else params
        return PolicyModel(self.policy, p.to(self.device, self.dtype), self.scale)

    def final_evaluation(self, run_dir=None) -> dict:
        """Test the best individual with the task's protocol; saves ``prediction.png``."""
        from ..tasks import save_prediction_plot
        metrics, curves = self.task.evaluate(self.model())
        if run_dir is not None:
            save_prediction_plot(curves, Path(run_dir) / "prediction.png")
        out = {**metrics, "train_error": -self.best_fitness}
        if self.config.baselines:
            out["baselines"] = self.baseline_evaluation()
        return out

    def baseline_evaluation(self) -> dict:
        """The ESN (setting chosen on the training window) and a BPTT-trained LSTM of the same
        size on the same task and seed, tested with the same protocol (as in
        ``experiments/reproduce_evolino.py``): ``{name: {metrics..., "wall_s"}}``."""
        from ..tasks.baselines import run_baseline
        out = {}
        for name, options in (("esn", {}), ("bptt-lstm", {"hidden": self.policy.hidden,
                                                          "epochs": self.config.bptt_epochs})):
            res = run_baseline(name, self.task, self.seed, **options)
            out[name] = {k: v for k, v in res.items() if k != "curves" and isinstance(v, (int, float, str, bool))}
        return out

    # -------------------------------------------------------------------- checkpoint --
    def state_dict(self) -> dict:
        sd = {"format": 1, "generation": self.generation, "episodes": self.episodes,
              "best_fitness": self.best_fitness, "best_params": self.best_params,
              "generator": self.generator.get_state()}
        if self.config.outer == "esp":
            sd["esp"] = self.esp.state_dict()
        else:
            sd["cma_history"] = list(self.cma.history)
        return sd

    def load_state_dict(self, sd: dict) -> None:
        self.generation, self.episodes = int(sd["generation"]), int(sd["episodes"])
        self.best_fitness, self.best_params = float(sd["best_fitness"]), sd["best_params"]
        self.generator.set_state(sd["generator"])
        if self.config.outer == "esp":
            self.esp.load_state_dict(sd["esp"])
        else:
            self.cma = self._new_cma()
            self.cma.replay(sd["cma_history"])
