"""Recurrent policy gradients (RPG).

Wierstra, Förster, Peters, Schmidhuber, *Solving deep memory POMDPs with recurrent policy
gradients*, ICANN 2007; *Recurrent policy gradients*, Logic J. IGPL 18(5):620–634, 2010.

A stochastic LSTM policy π(a_t | h_t) (h_t = the observation history, summarised by the
LSTM state) is trained by the likelihood-ratio gradient computed by backpropagation
through time (2010, eq. 8)::

    ∇θ J ≈ (1/M) Σ_{m=1..M} Σ_t ∇θ log π(a_t^m | h_t^m) (R_t^m − b_t^m)
    R_t  = Σ_{τ≥t} γ^{τ−t} r_τ

One :meth:`RPG.step`:

1. run M episodes in parallel (P = 1, B = M) through :func:`dps.rollout.rollout` with
   stochastic actions (:class:`Sampler`) — Categorical over ``softmax(out)`` for
   ``Discrete`` spaces; for ``Box`` a Gaussian on the pre-squash value u ~ N(out, diag σ²)
   with a learned, state-independent log σ (or SDE, see :mod:`dps.algorithms.sde`),
   squashed into the box by ``tanh`` (the squash's Jacobian does not depend on θ, so the
   likelihood ratio of u is the one of the action), recording the trajectory;
2. replay the recorded observations through the policy with autograd (full BPTT, or
   truncated every ``tbptt`` steps by detaching the recurrent state) to get log π(a_t|h_t);
3. subtract a baseline (:mod:`dps.algorithms.rpg_baselines`), form the surrogate
   ``(1/M) Σ alive · log π · (R − b) + β · entropy``, clip the gradient norm, take an Adam
   step (ascent); fit the value net if the baseline uses one.

All sampling of update k comes from one generator seeded with ``derive_seed(seed, TRAIN,
k)``; the checkpoint holds the policy, exploration parameters, optimiser and value-net
states and the update counter, so a resumed run continues bit-identically on the CPU.

Optional extra inputs (the usual RPG input convention, docs/RPG.md): the previous action
(one-hot, or the Box action) and the previous reward are appended to the observation by
:class:`HistoryInputs`. :meth:`RPG.wrap_env` wraps the env before the runner builds the
policy, so training and greedy evaluation use the same env and the same policy.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..envs.base import BatchedEnv
from ..errors import NonFiniteError, UserError
from ..evaluation.workers import rollout_in_workers, supports_workers
from ..policies.aligned import slot_aligned
from ..policies.heads import NEG_INF, BoxHead, DiscreteHead, make_head
from ..policies.lstm import LSTMPolicy
from ..rollout import Actor, rollout
from ..seeding import INIT, TRAIN, derive_seed, make_generator
from ..spaces import Discrete, MultiDiscrete
from .base import Cells, Clip, EpisodeSteps, Fraction, LogStd, Rate, Scale, Size, Steps, opt
from .learner import Learner, RunContext
from .rpg_baselines import BASELINES, ValueNet, bootstrap_returns, returns_to_go, time_baseline
from .sde import draw_theta, sde_action, sde_entropy, sde_log_prob


@dataclass
class Config:
    episodes: Size = opt(32, "M: episodes per update, run in parallel")
    lr: Rate = opt(0.01, "Adam step size for the policy (and its log σ)")
    gamma: Optional[Fraction] = opt(None, "discount γ of the returns-to-go (None = the env's gamma)")
    baseline: str = opt("moving", "none | moving | time (leave-one-out per-step mean) | value (LSTM V(h_t)) "
                                "| bootstrap (K-step returns with V)")
    moving_rate: Fraction = opt(0.1, "rate of the moving-average baseline")
    entropy: Rate = opt(0.05, "entropy bonus weight β")
    grad_clip: Optional[Clip] = opt(1.0, "max global gradient norm (None = no clipping)")
    normalize: bool = opt(True, "divide advantages by their batch standard deviation")
    tbptt: Optional[Size] = opt(None, "truncate BPTT every k steps (None = full BPTT through the episode)")
    prev_action: bool = opt(False, "append the previous action to the observation")
    prev_reward: bool = opt(False, "append the previous reward to the observation")
    sde: bool = opt(False, "state-dependent exploration on the policy's features (Box actions)")
    init_log_std: LogStd = opt(-0.5, "initial log σ of Gaussian / SDE exploration")
    out_init: Scale = opt(0.1, "scale of the initial readout weights (small = near-uniform start)")
    init_scale: Scale = opt(1.0, "scale of the initial (fan-in) policy weights; < 1 keeps LSTM cells with a "
                                 "large forget bias out of saturation on long constant input streams")
    value_hidden: Cells = opt(16, "LSTM cells of the value net (value/bootstrap baselines)")
    value_lr: Rate = opt(0.01, "Adam step size of the value net")
    bootstrap_k: Steps = opt(10, "K of the bootstrapped K-step returns")
    max_steps: Optional[EpisodeSteps] = opt(None, "cap on the episode length below the env's own")


class HistoryInputs(BatchedEnv):
    """``obs_t ⊕ a_{t−1} ⊕ r_{t−1}`` (zeros at t = 0); a_{t−1} one-hot for Discrete, one-hot
    per component for MultiDiscrete.

    :param env: the wrapped batched env
    :param prev_action: append the previous action
    :param prev_reward: append the previous reward
    """

    def __init__(self, env: BatchedEnv, prev_action: bool, prev_reward: bool):
        if isinstance(env, tuple):  # a worker process rebuilds the wrapped env from its recipe
            cls, kwargs = env
            env = cls(**dict(kwargs))
        super().__init__(env.device)
        self.env, self.prev_action, self.prev_reward = env, prev_action, prev_reward
        for name in ("action_space", "max_steps", "has_success", "has_action_mask", "gamma"):
            setattr(self, name, getattr(env, name))
        sp = env.action_space
        self.n_action = sp.out_size if prev_action else 0   # one-hot per component for discrete spaces
        self.observation_shape = (env.observation_size + self.n_action + int(prev_reward),)

    def _obs(self, obs, action, reward):
        P, B = obs.shape[:2]
        parts = [obs.reshape(P, B, -1).float()]
        if self.prev_action:
            if action is None:
                parts.append(torch.zeros(P, B, self.n_action, device=obs.device))
            elif isinstance(self.action_space, Discrete):
                parts.append(torch.nn.functional.one_hot(action.long(), self.n_action).float())
            elif isinstance(self.action_space, MultiDiscrete):
                parts += [torch.nn.functional.one_hot(action[..., j].long(), n).float()
                          for j, n in enumerate(self.action_space.nvec)]
            else:
                parts.append(action.float())
        if self.prev_reward:
            parts.append(torch.zeros(P, B, 1, device=obs.device) if reward is None
                         else reward.float().unsqueeze(-1))
        return torch.cat(parts, -1)

    def reset(self, P, B, generator):
        return self._obs(self.env.reset(P, B, generator), None, None)

    def step(self, action):
        obs, reward, done, info = self.env.step(action)
        return self._obs(obs, action, reward), reward, done, info

    def action_mask(self):
        return self.env.action_mask()

    # worker processes (dps/evaluation/workers.py) rebuild the wrapper around the rebuilt env;
    # present only where the wrapped env can go to workers
    @property
    def worker_config(self):
        if not supports_workers(self.env):
            raise AttributeError("worker_config")
        inner = (type(self.env), tuple(sorted(self.env.worker_config().items())))
        return lambda: {"env": inner, "prev_action": self.prev_action, "prev_reward": self.prev_reward}

    @property
    def draw_seeds(self):
        if not supports_workers(self.env):
            raise AttributeError("draw_seeds")
        return self.env.draw_seeds

    @property
    def _preset_seeds(self):
        return self.env._preset_seeds

    @_preset_seeds.setter
    def _preset_seeds(self, seeds):
        self.env._preset_seeds = seeds

    def close(self):
        self.env.close()


@dataclass
class Batch:
    """M recorded episodes, time-major; ``alive[t]`` = the episode was running at t."""

    obs: torch.Tensor                    # (T, M, ...)
    actions: torch.Tensor                # (T, M) long, or (T, M, A) pre-squash u
    alive: torch.Tensor                  # (T, M) bool
    rewards: torch.Tensor                # (T, M), zero where not alive
    masks: Optional[torch.Tensor]        # (T, M, n) legal actions, or None
    theta_hat: Optional[torch.Tensor]    # (M, F, A) SDE exploration matrices, or None
    success: Optional[torch.Tensor]      # (M,) bool, or None


class Sampler(Actor):
    """The stochastic policy of one RPG update, as an :class:`~dps.rollout.Actor`:
    Categorical over ``softmax(out)`` for Discrete actions, a Gaussian on the pre-squash
    value for Box actions, or SDE's per-episode exploration matrix Θ̂ (drawn in
    :meth:`begin`, after the env's reset). Records the sampled index, or the pre-squash u."""

    def __init__(self, learner: "RPG", policy=None):
        self.policy, self.head = policy if policy is not None else learner.policy, learner.head
        detach = (lambda x: None if x is None else x.detach()) if policy is not None else (lambda x: x)
        self.log_std, self.log_sigma = detach(learner.log_std), detach(learner.log_sigma)
        self.theta_hat: Optional[torch.Tensor] = None
        #: ``(full_shape, rect, generator)`` of a copy acting for part of the slots
        self.window = None
        # the learner's own policy, acting for all slots, may have a step with its weight
        # blocks sliced once per rollout (LSTMPolicy.row_step); a slot-aligned copy has not
        self._row_step = policy is None and hasattr(type(self.policy), "row_step")
        self._stepper = None   # (params, step) of the current rollout

    def for_slots(self, full_shape, rect, generator):
        part = copy.copy(self)
        part.window = (tuple(full_shape), tuple(rect), generator)
        return part

    def begin(self, P, B, generator):
        self._stepper = None
        if self.log_sigma is not None:
            if self.window is None:
                self.theta_hat = draw_theta(self.log_sigma, B, generator)
            else:  # one exploration matrix per episode of the full rollout (P = 1): ours
                (_, B_full), (_, _, c0, c1), gen = self.window
                self.theta_hat = draw_theta(self.log_sigma, B_full, gen)[c0:c1]

    def _sample(self, out, mask, generator):
        """The head's sample of ``out``; a part draws for the full grid and keeps its slots."""
        if self.window is None:
            full, generator = out, generator
        else:
            (P, B), (r0, r1, c0, c1), generator = self.window
            full = out.new_zeros(P, B, out.shape[-1])
            full[r0:r1, c0:c1] = out
            mask = None if mask is None else mask.new_ones(P, B, mask.shape[-1]).index_put_(
                (torch.arange(r0, r1)[:, None], torch.arange(c0, c1)[None]), mask)
        if isinstance(self.head, BoxHead):
            action, u, _ = self.head.sample(full, self.log_std, generator)
        elif type(self.head) is DiscreteHead:
            action = u = gumbel_max(full, mask, generator)
        else:
            action, _ = self.head.sample(full, mask, generator)
            u = action
        if self.window is not None:
            action, u = action[r0:r1, c0:c1], u[r0:r1, c0:c1]
        return action, u

    def __call__(self, params, obs, state, mask, generator):
        if self.theta_hat is not None:
            feats, state = self.policy.features(params, obs, state)
            u = sde_action(self.policy.readout(params, feats), feats, self.theta_hat)
            return self.head.squash(u), u, state
        step = self._row_step_for(params)
        out, state = step(obs, state) if step is not None else self.policy.step(params, obs, state)
        action, recorded = self._sample(out, mask, generator)
        return action, recorded, state

    def _row_step_for(self, params):
        """The policy's row step for ``params`` (built once per rollout), or None."""
        if not self._row_step:
            return None
        if self._stepper is None or self._stepper[0] is not params:
            self._stepper = (params, self.policy.row_step(params))
        return self._stepper[1]


def gumbel_max(out: torch.Tensor, mask: Optional[torch.Tensor], generator) -> torch.Tensor:
    """An index drawn from Categorical(softmax(out)) over the legal actions: the argmax of
    ``out − log(−log u)`` with one uniform ``u`` per output, the draws and the Gumbel-max
    of :meth:`DiscreteHead.sample` without its log-softmax (a per-slot constant, which does
    not move the argmax; the index differs from the head's only where rounding decides
    between two nearly equal perturbed scores)."""
    u = torch.rand(out.shape, generator=generator, device=out.device, dtype=out.dtype)
    scores = out if mask is None else out.masked_fill(~mask, NEG_INF)
    return (scores - u.clamp_min_(1e-20).log_().neg_().clamp_min_(1e-20).log_()).argmax(-1)


#: most cell-steps (steps × episodes × LSTM cells, float32) replayed in one call: half of
#: where the replay's workspace started to be page-faulted in afresh every update (see
#: :meth:`RPG._replay_groups`)
REPLAY_CELL_STEPS = 2 ** 18


def _gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of N(·, diag σ²), summed over the components (the same at every step)."""
    return (log_std + 0.5 * (1 + torch.log(torch.tensor(2 * torch.pi)))).sum()


class _GroupedReplay(torch.autograd.Function):
    """The policy's part of the surrogate, ``Σ_groups [Σ alive · log π · A + β Σ alive · H] / M``,
    and ``Σ alive · H``, replayed group by group of episodes (:meth:`RPG._replay_groups`).
    Each group's gradient is taken in the forward pass, so its graph is freed before the
    next group is replayed; the backward scales the summed gradients. The same estimator
    as one replay of the whole batch, summed in another order (tested)."""

    @staticmethod
    def forward(ctx, learner, batch, adv, alive, groups, *params):
        c, M = learner.config, alive.shape[1]
        grads = [torch.zeros_like(p) for p in params]
        surr = ent_sum = None
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_() for p in params]
            log_std = leaves[1] if len(leaves) > 1 else None
            for sl in groups:
                masks = None if batch.masks is None else batch.masks[:, sl]
                logp, ent = learner._fused_log_probs(leaves[0].unsqueeze(0), log_std, batch.obs[:, sl],
                                                     batch.actions[:, sl], masks)
                a = alive[:, sl]
                s = (logp * adv[:, sl] * a).sum() / M
                e = (ent * a).sum()
                if c.entropy:
                    s = s + c.entropy * e / M
                for g, d in zip(grads, torch.autograd.grad(s, leaves, allow_unused=True)):
                    if d is not None:
                        g += d
                surr = s.detach() if surr is None else surr + s.detach()
                ent_sum = e.detach() if ent_sum is None else ent_sum + e.detach()
        ctx.save_for_backward(*grads)
        ctx.mark_non_differentiable(ent_sum)
        return surr, ent_sum

    @staticmethod
    def backward(ctx, g_surr, g_ent):
        return (None,) * 5 + tuple(g_surr * g for g in ctx.saved_tensors)


class RPG(Learner):
    """Recurrent policy gradients; see the module docstring.

    :param policy: the policy (any of the shared interface; an LSTM for memory tasks)
    :param env: the batched env (wrapped by :class:`HistoryInputs` when extra inputs are on)
    :param config: a :class:`Config`
    :param seed: the root seed
    """

    Config = Config

    def __init__(self, policy, env: BatchedEnv, config: Optional[Config] = None, seed: int = 0):
        self.config = c = config if config is not None else Config()
        if c.baseline not in BASELINES:
            raise UserError(f"unknown baseline {c.baseline!r}; accepted: {', '.join(BASELINES)}")
        if c.episodes < 1 or (c.baseline == "time" and c.episodes < 2):
            raise UserError(f"episodes must be >= 1 (>= 2 for the time baseline), got {c.episodes}")
        if c.tbptt is not None and c.tbptt < 1:
            raise UserError(f"tbptt must be >= 1 or None, got {c.tbptt}")
        self.env, self.policy, self.seed = env, policy, int(seed)
        #: worker processes collecting the episodes of CPU-stepped envs (the run's --workers)
        self.workers = 1
        self.device = env.device
        self.head = make_head(env.action_space)
        self.gamma = float(env.gamma if c.gamma is None else c.gamma)
        if c.sde and not isinstance(self.head, BoxHead):
            raise UserError(f"sde=true needs a Box action space, got {env.action_space!r}")
        if c.sde and not hasattr(policy, "features"):
            raise UserError(f"sde=true needs a policy with features(), got {policy.describe()}")
        g = make_generator(derive_seed(self.seed, INIT), "cpu")
        theta = policy.init_params(g, c.init_scale)
        if "W_out" in policy.layout:
            sl, _ = policy.layout["W_out"]
            theta[sl] *= c.out_init
        self.theta = theta.to(self.device).requires_grad_(True)            # policy parameters θ
        trainable = [self.theta]
        self.log_std = self.log_sigma = None
        if isinstance(self.head, BoxHead) and c.sde:                          # SDE log σ̂ (F, A)
            self.log_sigma = torch.full((policy.feature_size, self.head.dim), c.init_log_std,
                                        device=self.device).requires_grad_(True)
            trainable.append(self.log_sigma)
        elif isinstance(self.head, BoxHead):                                   # Gaussian log σ (A,)
            self.log_std = torch.full((self.head.dim,), c.init_log_std, device=self.device).requires_grad_(True)
            trainable.append(self.log_std)
        self.optimizer = torch.optim.Adam(trainable, lr=c.lr)
        self.value = None
        if c.baseline in ("value", "bootstrap"):
            self.value = ValueNet(LSTMPolicy(env.observation_shape, 1, hidden=c.value_hidden), c.value_lr,
                                  make_generator(derive_seed(self.seed, INIT, 1), "cpu"), self.device)
        self.moving: Optional[torch.Tensor] = None                            # moving-average b
        self.updates = 0                                                       # update counter k

    @staticmethod
    def wrap_env(env: BatchedEnv, config: Optional[Config]) -> BatchedEnv:
        """The env RPG's policy sees: with ``prev_action`` / ``prev_reward`` the observation
        is extended by :class:`HistoryInputs` (the runner builds the policy for this env)."""
        c = config if config is not None else Config()
        if c.prev_action or c.prev_reward:
            return HistoryInputs(env, c.prev_action, c.prev_reward)
        return env

    @classmethod
    def from_run(cls, ctx: RunContext) -> "RPG":
        learner = cls(ctx.policy, ctx.env, ctx.config if ctx.config is not None else Config(), ctx.seed)
        learner.workers = int(ctx.workers)
        return learner

    @property
    def center(self) -> torch.Tensor:
        return self.theta.detach()

    def set_env(self, env: BatchedEnv) -> None:
        """Collect the next updates' episodes on ``env`` (same spaces; a curriculum stage):
        the discount follows the env unless the config fixes it."""
        self.env = env
        self.gamma = float(env.gamma if self.config.gamma is None else self.config.gamma)

    # ---------------------------------------------------------------- episodes ----
    def collect(self, seed: int) -> Batch:
        """Run M episodes with stochastic actions through the package's one episode loop
        (:func:`dps.rollout.rollout` with a :class:`Sampler` and ``record=True``); all
        randomness comes from ``seed``."""
        M, theta = self.config.episodes, self.theta.detach().unsqueeze(0)
        if supports_workers(self.env):
            # a CPU-stepped env: the episodes are cut into rectangles, each played by the
            # sampler's copy for its slots with the slot-aligned policy, in worker processes
            # (or here for --workers 1), so any worker count collects the same batch
            sampler = Sampler(self, slot_aligned(self.policy))
            res = rollout_in_workers(sampler.policy, self.env, theta, M, seed, self.workers,
                                     max_steps=self.config.max_steps, actor=sampler, record=True)
            theta_hat = None
            if self.log_sigma is not None:  # the full rollout's draws: slot seeds, then Θ̂
                gen = make_generator(seed, "cpu")
                self.env.draw_seeds(1, M, gen)
                theta_hat = draw_theta(self.log_sigma.detach(), M, gen)
        else:
            sampler = Sampler(self)
            res = rollout(self.policy, self.env, theta, M, seed, actor=sampler, record=True,
                          max_steps=self.config.max_steps)
            theta_hat = sampler.theta_hat
        tr = res.trajectory
        return Batch(obs=tr.obs[:, 0], actions=tr.actions[:, 0], alive=tr.alive[:, 0], rewards=tr.rewards[:, 0],
                     masks=None if tr.masks is None else tr.masks[:, 0], theta_hat=theta_hat,
                     success=None if res.success is None else res.success[0])

    def log_probs(self, obs: torch.Tensor, actions: torch.Tensor, episode_start: Optional[torch.Tensor] = None,
                  masks: Optional[torch.Tensor] = None, params: Optional[torch.Tensor] = None):
        """Replay ``obs (T, B, ...)`` through the policy with autograd and return
        ``(log π(a_t|h_t), entropy)`` each ``(T, B)``.

        ``episode_start (T, B)`` resets a slot's state before step t (several episodes
        packed into one sequence, reset convention of :mod:`dps.policies.base`). With
        ``tbptt = k`` the recurrent state is detached every k steps (truncated BPTT).
        For Box actions ``actions`` are the pre-squash values u; for SDE this uses the
        batch's per-episode features s and log σ̂ (the marginal likelihood).
        """
        params = self.theta.unsqueeze(0) if params is None else params
        T, B = obs.shape[:2]
        k = self.config.tbptt
        box = isinstance(self.head, BoxHead)
        if episode_start is None and k is None and self.log_sigma is None:
            fused = self._fused_log_probs(params, self.log_std, obs, actions, masks)
            if fused is not None:
                return fused
        # the Gaussian's entropy does not depend on the state: one scalar for every step
        box_ent = None
        if box and self.log_sigma is None:   # (SDE has its own entropy, per episode)
            box_ent = _gaussian_entropy(self.log_std)
        state = self.policy.initial_state(1, B, device=obs.device, dtype=params.dtype)
        logp, ent = [], []
        for t in range(T):
            if k is not None and t > 0 and t % k == 0:
                state = tuple(s.detach() for s in state)
            start = None if episode_start is None else episode_start[t].unsqueeze(0)
            if self.log_sigma is not None:
                feats, state = self.policy.features(params, obs[t].unsqueeze(0), state, start)
                out = self.policy.readout(params, feats)
                logp.append(sde_log_prob(actions[t], out[0], feats[0], self.log_sigma))
                ent.append(sde_entropy(feats[0], self.log_sigma))
                continue
            out, state = self.policy.step(params, obs[t].unsqueeze(0), state, start)
            if box:
                logp.append(BoxHead.log_prob_u(out[0], self.log_std, actions[t]))
                ent.append(box_ent.expand(B))
            else:
                m = None if masks is None else masks[t]
                logp.append(self.head.log_prob(out[0], actions[t], m))
                ent.append(self.head.entropy(out[0], m))
        return torch.stack(logp), torch.stack(ent)

    def _fused_log_probs(self, params, log_std, obs, actions, masks):
        """``(log π, entropy)`` from the policy's one fused sequence call (``params (1, D)``,
        the Gaussian's ``log_std`` for Box actions), or None where the policy has none."""
        out = self.policy.sequence(params, obs)
        if out is None:
            return None
        if isinstance(self.head, BoxHead):
            return BoxHead.log_prob_u(out, log_std, actions), _gaussian_entropy(log_std).expand(obs.shape[:2])
        if type(self.head) is DiscreteHead and out.device.type == "cpu":
            # DiscreteHead.log_prob and .entropy from one log-softmax taken along a leading
            # action dim: torch's CPU kernel along the last dim costs ~20 ns per row of a few
            # actions (a 200-step replay of 256 episodes: 4 ms of ~55), the one along an
            # outer dim vectorises across rows. Same function; rounding may differ in the
            # last place (tested against the head).
            scores = out if masks is None else out.masked_fill(~masks, NEG_INF)
            logits = torch.log_softmax(scores.movedim(-1, 0).contiguous(), 0).movedim(0, -1)
            return (logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1),
                    -(logits.exp() * logits).sum(-1))
        return self.head.log_prob(out, actions, masks), self.head.entropy(out, masks)

    def _replay_groups(self, batch: Batch) -> Optional[list]:
        """Slices of the episodes replayed (forward and backward) one group after the other,
        or None for one replay of the whole batch.

        One ``torch.lstm`` call with autograd keeps a workspace for its backward that grows
        with steps × episodes × cells. Measured with glibc on the CPU: once that is more than
        about 512,000 cell-steps (hidden 16, float32), the workspace is mapped afresh from
        the OS in every update and page-faulted in (7,200 faults at 200 steps × 256 episodes ×
        16 cells), and forward + backward take twice as long (30 ms against 15 ms for the
        same episodes in two groups). Groups of at most :data:`REPLAY_CELL_STEPS` reuse their
        memory. Smaller replays (the usual M = 32) are one call."""
        T, M = batch.alive.shape
        pol = self.policy
        if (type(pol) is not LSTMPolicy or pol.peepholes or self.config.tbptt is not None
                or self.log_sigma is not None or self.device.type != "cpu"):
            return None
        per_episode = T * pol.hidden * self.theta.element_size() / 4
        size = int(REPLAY_CELL_STEPS // per_episode) if per_episode else M
        if size >= M or size < 1:
            return None
        n = -(-M // size)
        size = -(-M // n)
        return [slice(i, min(i + size, M)) for i in range(0, M, size)]

    # ---------------------------------------------------------------- estimator ----
    def surrogate(self, batch: Batch):
        """``(surrogate to maximise, V predictions with graph or None, info)`` for a batch:
        ``(1/M) Σ_m Σ_t alive · log π(a_t|h_t) · A_t + β (1/M) Σ alive · H_t``,
        A_t = R_t − b_t (2010, eq. 8), or the K-step return minus V for ``bootstrap``."""
        c = self.config
        M = batch.alive.shape[1]
        alive = batch.alive.to(batch.rewards.dtype)
        R = returns_to_go(batch.rewards, self.gamma)
        values = None
        if c.baseline == "none":
            adv = R
        elif c.baseline == "moving":
            adv = R if self.moving is None else R - self.moving
        elif c.baseline == "time":
            adv = R - time_baseline(R, batch.alive)
        else:
            values = self.value.predict(batch.obs.float())
            b = values.detach()
            target = R if c.baseline == "value" else bootstrap_returns(R, batch.alive, b, self.gamma, c.bootstrap_k)
            adv = target - b
        if c.normalize:
            n = alive.sum().clamp_min(1)
            mean = (adv * alive).sum() / n
            std = (((adv - mean) ** 2 * alive).sum() / n).sqrt()
            adv = adv / (std + 1e-8)
        groups = self._replay_groups(batch)
        if groups is None:
            logp, ent = self.log_probs(batch.obs, batch.actions, masks=batch.masks)
            surr = (logp * adv.detach() * alive).sum() / M
            ent_sum = (ent * alive).sum()
            if c.entropy:
                surr = surr + c.entropy * ent_sum / M
        else:
            params = [self.theta] + ([self.log_std] if self.log_std is not None else [])
            surr, ent_sum = _GroupedReplay.apply(self, batch, adv.detach(), alive, groups, *params)
        entropy = ent_sum / alive.sum().clamp_min(1)
        return surr, values, {"R": R, "entropy": float(entropy.detach())}

    def policy_gradient(self, seed: int):
        """The estimator's ascent direction for θ on one batch drawn with ``seed``
        (no clipping, no update, no state change); ``(g (D,), batch)``."""
        batch = self.collect(seed)
        surr, _, _ = self.surrogate(batch)
        (g,) = torch.autograd.grad(surr, [self.theta])
        return g.detach(), batch

    def step(self) -> dict:
        c = self.config
        batch = self.collect(derive_seed(self.seed, TRAIN, self.updates))
        surr, values, info = self.surrogate(batch)
        self.optimizer.zero_grad()
        (-surr).backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if c.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
        else:
            grad_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None))
        if not math.isfinite(float(grad_norm)):
            raise NonFiniteError(f"RPG: the policy gradient of update {self.updates} is not finite "
                                 f"({float(grad_norm)}); the policy is kept as it was (try a smaller lr, or grad_clip)")
        kept = ([p.detach().clone() for p in params], copy.deepcopy(self.optimizer.state_dict()))
        self.optimizer.step()
        if not all(bool(torch.isfinite(p).all()) for p in params):
            with torch.no_grad():
                for p, old in zip(params, kept[0]):
                    p.copy_(old)
            self.optimizer.load_state_dict(kept[1])
            raise NonFiniteError(f"RPG: update {self.updates} made the policy parameters non-finite; the policy "
                                 "is kept as it was (a diverging step: try a smaller lr)")
        returns = batch.rewards.sum(0)
        out = {"episodes": int(batch.alive.shape[1]), "env_steps": int(batch.alive.sum()),
               "best": float(returns.max()), "mean": float(returns.mean()),
               "loss": float(-surr.detach()), "grad_norm": float(grad_norm), "entropy": info["entropy"],
               "length": float(batch.alive.sum(0).float().mean())}
        if batch.success is not None:
            out["success"] = float(batch.success.float().mean())
        if values is not None:
            out["value_loss"] = self.value.fit(values, info["R"], batch.alive)
        if c.baseline == "moving":
            R0 = info["R"][0].mean().detach()
            self.moving = R0 if self.moving is None else (1 - c.moving_rate) * self.moving + c.moving_rate * R0
        if self.log_std is not None:
            out["sigma"] = float(self.log_std.detach().exp().mean())
        if self.log_sigma is not None:
            out["sigma"] = float(self.log_sigma.detach().exp().mean())
        self.updates += 1
        return out

    # ---------------------------------------------------------------- checkpoint ----
    def state_dict(self) -> dict:
        sd = {"updates": torch.tensor(self.updates), "theta": self.theta.detach().clone(),
              "optimizer": self.optimizer.state_dict()}
        if self.log_std is not None:
            sd["log_std"] = self.log_std.detach().clone()
        if self.log_sigma is not None:
            sd["log_sigma"] = self.log_sigma.detach().clone()
        if self.value is not None:
            sd["value"] = self.value.state_dict()
        if self.moving is not None:
            sd["moving"] = self.moving.clone()
        return sd

    def load_state_dict(self, sd: dict) -> None:
        with torch.no_grad():
            self.theta.copy_(sd["theta"])
            if self.log_std is not None:
                self.log_std.copy_(sd["log_std"])
            if self.log_sigma is not None:
                self.log_sigma.copy_(sd["log_sigma"])
        self.optimizer.load_state_dict(sd["optimizer"])
        if self.value is not None:
            self.value.load_state_dict(sd["value"])
        self.moving = sd.get("moving")
        self.updates = int(sd["updates"])
