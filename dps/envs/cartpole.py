"""Cart-pole balancing: single pole and Wieland's double pole, batched in torch
(docs/ENVIRONMENTS.md, docs/POLE.md; Gomez, Schmidhuber & Miikkulainen, JMLR 9:937–965, 2008).

Physics (``integrator="rk4"``, the neuroevolution benchmark): Wieland's equations for k
poles on one cart, pole i with mass m_i, half-length l_i, pivot friction μ_p::

    F̃_i  = m_i l_i θ̇_i² sin θ_i + ¾ m_i cos θ_i (μ_p θ̇_i / (m_i l_i) + g sin θ_i)
    m̃_i  = m_i (1 − ¾ cos² θ_i)
    ẍ    = (F + Σ_i F̃_i) / (M + Σ_i m̃_i)
    θ̈_i  = −¾ (ẍ cos θ_i + g sin θ_i + μ_p θ̇_i / (m_i l_i)) / l_i

with g = −9.8 m/s², cart M = 1 kg, pole 1: 0.1 kg / 0.5 m, pole 2: 0.01 kg / 0.05 m,
μ_p = 2·10⁻⁶, no cart friction, F = 10·a N for a ∈ [−1, 1]. Each action is held for two
classical RK4 steps of 0.01 s. ``poles=1`` is the same system with pole 1 only.
Failure: |x| > 2.4 m, or any |θ_i| > 36° (double pole) / 12° (single pole; the classical
single-pole limit, as in gymnasium). Start ``"standard"``: θ₁ = 4° (0.0698 rad), all else 0.

``integrator="gym"`` reproduces gymnasium's CartPole-v1 exactly instead: its constants
(g = 9.8 in its sign convention, cart 1 kg, pole 0.1 kg, half-length 0.5 m, no friction,
force 10 N), its frictionless equations and explicit Euler with τ = 0.02 s, failure at
|x| > 2.4 or |θ| > 12°, start uniform in (−0.05, 0.05)⁴, time limit 500 by default
(only ``poles=1``).

Observations (float32): with ``integrator="rk4"`` the normalised inputs of §8 — with
velocities ``x/4.8, ẋ/2, θ₁/0.52, θ̇₁/2 [, θ₂/0.52, θ̇₂/2]``, without ``x/4.8, θ₁/0.52
[, θ₂/0.52]``; with ``integrator="gym"`` gymnasium's raw ``x, ẋ, θ, θ̇`` (or ``x, θ``).
The physical state ``self.state (P, B, 2 + 2k)`` = ``x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]`` is kept in
``dtype`` (float64 by default: the published benchmarks are double precision).

Actions: ``Box(1, [−1, 1])`` → F = 10·a N (clipped), or ``discrete=true`` →
``Discrete(2)``: 0 → −10 N, 1 → +10 N.

Rewards (``fitness``):

* ``"steps"``: 1 on every transition including the failing one (gymnasium's convention),
  so the return is the episode length t.
* ``"damping"`` (Gruau, Whitley & Pyeatt 1996, as used by Gomez et al. 2008): the
  per-step rewards are shaped so that the return after t steps equals
  ``0.1·t/1000 + 0.9·0.75/J_t`` for t > 100 (else ``0.1·t/1000``), where J_t is the sum of
  ``|x| + |ẋ| + |θ₁| + |θ̇₁|`` over the states after the last 100 actions, in raw
  physical units (m, m/s, rad, rad/s — not the normalised network inputs, as in the
  original ESP/NEAT code). Shaping: ``r_t = 10⁻⁴ + D_t − D_{t−1}`` with the potential
  ``D_t = 0.675/J_t`` (t > 100), 0 otherwise; the sum telescopes. J is floored at 10⁻⁹
  so that a cart resting exactly at the equilibrium keeps a finite return.

``success``: the episode reached ``max_steps`` without failing. Done slots stay frozen
(reward 0, ``done`` True).

Non-finite numbers: an action that is NaN or ±inf (it becomes a NaN force), or a step
whose new physical state is not finite (that force, a NaN start given to
:meth:`reset_to`), is a **failure on that step** — the env's worst outcome: the step is
the failing one, ``done``, no success, no reward after. Its reward: 1 with ``steps`` (as
any failing step); with ``damping`` the step counts J = ∞ (potential 0), so the return is
``0.1·t/1000``, the least an episode of t steps can score. The failed slot's state stays
as it is (it may be NaN; a done slot's observations are ignored). Without this rule a NaN
state would never fail (every comparison with a limit is false) and a NaN policy would
balance "perfectly". :func:`dps.evaluation.cartpole.cartpole_checks` gives the
generalisation score over the 625 grid start states (balanced for 1000 steps) and, for the
double pole, whether the standard start is balanced for 100,000 steps (the §8 definition
of "solved").
"""
from __future__ import annotations

import itertools
import math
from typing import Annotated, Optional

import torch

from .. import native
from ..errors import UserError
from ..native import lstm as native_lstm
from ..spec import Range
from .base import BatchedEnv, Box, Discrete

# Wieland / Gomez constants (Gomez et al. 2008; docs/ENVIRONMENTS.md)
GRAVITY = -9.8           # m/s², in the sign convention of the equations above
M_CART = 1.0             # kg
POLE_MASS = (0.1, 0.01)  # kg
POLE_HALF = (0.5, 0.05)  # m, half-lengths
MU_P = 2e-6              # pivot friction
FORCE_MAG = 10.0         # N
TAU = 0.01               # s per RK4 step
RK4_STEPS = 2            # RK4 steps per action
X_LIMIT = 2.4            # m
FAIL_ANGLE = {1: 12.0, 2: 36.0}  # degrees
START_ANGLE = 4.0        # degrees, θ₁ at the standard start
SCALE = (4.8, 2.0, 0.52, 2.0, 0.52, 2.0)  # network input scaling of x, ẋ, θ₁, θ̇₁, θ₂, θ̇₂

# gymnasium CartPole-v1 constants
GYM_G, GYM_MC, GYM_MP, GYM_L, GYM_TAU = 9.8, 1.0, 0.1, 0.5, 0.02
GYM_THETA = 12 * 2 * math.pi / 360

J_MIN = 1e-9             # floor of the damping fitness's J (a cart at rest at x = 0 has J = 0)

GRID_V = (0.05, 0.25, 0.5, 0.75, 0.95)
STARTS = ("standard", "random", "grid")
FITNESSES = ("steps", "damping")
INTEGRATORS = ("rk4", "gym")


def grid_start_states(poles: int = 2, dtype=torch.float64) -> torch.Tensor:
    """The 625 generalisation start states of §8, ``(625, 2 + 2·poles)``, in the order of
    ``itertools.product`` over (x, ẋ, θ₁, θ̇₁) with v ∈ (0.05, 0.25, 0.5, 0.75, 0.95)::

        x = 4.32v − 2.16, ẋ = 2.70v − 1.35, θ₁ = 0.12566304v − 0.06283152,
        θ̇₁ = 0.30019504v − 0.15009752, θ₂ = θ̇₂ = 0
    """
    rows = []
    for vx, vxd, vt, vtd in itertools.product(GRID_V, repeat=4):
        s = [4.32 * vx - 2.16, 2.70 * vxd - 1.35,
             0.12566304 * vt - 0.06283152, 0.30019504 * vtd - 0.15009752]
        rows.append(s + [0.0, 0.0] * (poles - 1))
    return torch.tensor(rows, dtype=dtype)


def _check(value, ok: bool, what: str, accepted: str):
    if not ok:
        raise UserError(f"bad value {value!r} for cartpole option {what}; accepted: {accepted}")


class CartPole(BatchedEnv):
    has_success = True
    supports_select_rows = True
    gamma = 0.99
    #: steps the standard start must be balanced for in :func:`dps.evaluation.cartpole.cartpole_checks` (§8)
    solve_steps = 100_000

    def __init__(self, poles: Annotated[int, Range(1, 2)] = 1, velocities: bool = True,
                 max_steps: Optional[Annotated[int, Range(1, 10_000_000)]] = None,
                 fitness: Optional[str] = None, start: Optional[str] = None, discrete: bool = False,
                 integrator: str = "rk4", device="cpu", dtype: torch.dtype = torch.float64):
        """
        :param poles: 1 (single pole) or 2 (Wieland's double pole)
        :param velocities: observe the velocities (Markov) or not (a memory task)
        :param max_steps: time limit; default 1000 (500 with ``integrator=gym``, as CartPole-v1)
        :param fitness: ``steps`` (reward 1 per step) or ``damping`` (Gruau's damping
            fitness as the return); default damping for poles=2 without velocities, else steps
        :param start: ``standard`` (θ₁ = 4°), ``random`` (every state variable uniform in
            ±0.05) or ``grid`` (slot b starts in grid state b mod 625); default standard,
            random with ``integrator=gym``
        :param discrete: two actions ±10 N instead of a continuous force in [−10, 10] N
        :param integrator: ``rk4`` (Wieland's equations, 2 RK4 steps of 0.01 s) or ``gym``
            (gymnasium CartPole-v1's constants and Euler integration, poles=1 only)
        :param dtype: dtype of the physical state (not a command-line option)
        """
        super().__init__(device)
        _check(poles, poles in (1, 2) and not isinstance(poles, bool), "poles", "1, 2")
        _check(integrator, integrator in INTEGRATORS, "integrator", ", ".join(INTEGRATORS))
        _check(integrator, not (integrator == "gym" and poles != 1), "integrator",
               "rk4 (integrator=gym is gymnasium's single pole: needs poles=1)")
        gym = integrator == "gym"
        if max_steps is None:
            max_steps = 500 if gym else 1000
        _check(max_steps, isinstance(max_steps, int) and not isinstance(max_steps, bool) and max_steps >= 1,
               "max_steps", "an integer >= 1")
        if fitness is None:
            fitness = "damping" if (poles == 2 and not velocities) else "steps"
        _check(fitness, fitness in FITNESSES, "fitness", ", ".join(FITNESSES))
        if start is None:
            start = "random" if gym else "standard"
        _check(start, start in STARTS, "start", ", ".join(STARTS))
        if dtype not in (torch.float32, torch.float64):
            raise UserError(f"bad dtype {dtype!r} for cartpole; accepted: torch.float32, torch.float64")
        self.poles, self.velocities, self.max_steps = poles, bool(velocities), max_steps
        self.fitness, self.start, self.discrete, self.integrator = fitness, start, bool(discrete), integrator
        self.dtype = dtype
        self.n_state = 2 + 2 * poles
        self.action_space = Discrete(2) if discrete else Box.uniform(1, -1.0, 1.0)
        k = poles
        # public order (x, ẋ, θ₁, θ̇₁, θ₂, θ̇₂) <-> internal order (x, θ₁, θ₂, ẋ, θ̇₁, θ̇₂)
        self._to_internal = [0] + [2 + 2 * i for i in range(k)] + [1] + [3 + 2 * i for i in range(k)]
        self._to_public = [self._to_internal.index(j) for j in range(self.n_state)]
        public_obs = list(range(self.n_state)) if velocities else [0] + [2 + 2 * i for i in range(k)]
        self._obs_index = [self._to_internal.index(j) for j in public_obs]
        self.observation_shape = (len(public_obs),)
        index = dict(dtype=torch.long, device=self.device)
        self._to_internal_t = torch.tensor(self._to_internal, **index)
        self._to_public_t = torch.tensor(self._to_public, **index)
        self._obs_index_t = torch.tensor(self._obs_index, **index)
        self._jiggle_index_t = torch.tensor([0, 1, k + 1, k + 2], **index)  # x, θ₁, ẋ, θ̇₁
        scale = [1.0] * self.n_state if gym else list(SCALE[: self.n_state])
        self._obs_scale = torch.tensor([1.0 / scale[j] for j in public_obs], dtype=dtype, device=self.device)
        m = torch.tensor(POLE_MASS[:k], dtype=torch.float64)
        l = torch.tensor(POLE_HALF[:k], dtype=torch.float64)
        const = dict(dtype=dtype, device=self.device)
        self._c_fric = (MU_P / (m * l)).to(**const)   # μ_p / (m_i l_i)
        self._c_ml = (m * l).to(**const)               # m_i l_i
        self._c_3m4 = (0.75 * m).to(**const)           # ¾ m_i
        self._c_mass = float(M_CART + m.sum())         # M + Σ m_i
        self._c_l = (-0.75 / l).to(**const)            # −¾ / l_i
        self._force_pos = torch.tensor(FORCE_MAG, **const)  # discrete actions' forces (0-dim)
        self._force_neg = torch.tensor(-FORCE_MAG, **const)
        self.fail_angle = GYM_THETA if gym else math.radians(FAIL_ANGLE[poles])
        self._bounds = self._make_bounds(dtype, self.device)
        self._q: Optional[torch.Tensor] = None     # (P, B, 2 + 2k) internal-order state
        self.over: Optional[torch.Tensor] = None   # (P, B) bool
        self.t = 0                                 # actions taken (the same for all slots)
        self._jiggle: Optional[torch.Tensor] = None  # (P, B, 100) ring buffer (damping)
        self._potential: Optional[torch.Tensor] = None  # (P, B) D_{t-1} (damping)

    # ---- physics ------------------------------------------------------------------------
    # Internally the state is kept as q = (x, θ₁[, θ₂], ẋ, θ̇₁[, θ̇₂]) — positions, then
    # velocities — so that dq/dt = (velocities, accelerations) is one concatenation; the
    # public :attr:`state` uses the usual order (x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]).

    @property
    def state(self) -> torch.Tensor:
        """The physical state ``(P, B, 2 + 2k)`` = ``x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]``."""
        return self._q.index_select(-1, self._to_public_t)

    def _wieland(self, q: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
        """dq/dt of Wieland's equations (module docstring)."""
        k = self.poles
        vel = q[..., k + 1:]
        theta, theta_dot = q[..., 1:k + 1], q[..., k + 2:]
        cos, sin = torch.cos(theta), torch.sin(theta)
        # friction + gravity term of both equations: μ_p θ̇_i/(m_i l_i) + g sin θ_i
        fg = torch.add(self._c_fric * theta_dot, sin, alpha=GRAVITY)
        # F̃_i = m_i l_i θ̇_i² sin θ_i + ¾ m_i cos θ_i · fg
        f_eff = torch.addcmul(self._c_3m4 * cos * fg, theta_dot * theta_dot * sin, self._c_ml)
        # M + Σ m̃_i = M + Σ m_i − ¾ Σ m_i cos² θ_i
        denom = self._c_mass - (cos * cos * self._c_3m4).sum(-1)
        x_acc = (force + f_eff.sum(-1)) / denom
        # θ̈_i = −¾ (ẍ cos θ_i + fg) / l_i
        theta_acc = torch.addcmul(fg, x_acc.unsqueeze(-1), cos) * self._c_l
        return torch.cat([vel, x_acc.unsqueeze(-1), theta_acc], -1)

    def _rk4(self, q: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
        """Two classical RK4 steps of ``TAU`` with the force held constant."""
        for _ in range(RK4_STEPS):
            k1 = self._wieland(q, force)
            k2 = self._wieland(torch.add(q, k1, alpha=0.5 * TAU), force)
            k3 = self._wieland(torch.add(q, k2, alpha=0.5 * TAU), force)
            k4 = self._wieland(torch.add(q, k3, alpha=TAU), force)
            q = torch.add(q, torch.add(k1 + k4, k2 + k3, alpha=2.0), alpha=TAU / 6.0)
        return q

    @staticmethod
    def _gym_euler(q: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
        """One step of gymnasium CartPole-v1 (same constants, formula and Euler order)."""
        x, theta, x_dot, theta_dot = q.unbind(-1)
        total_mass = GYM_MP + GYM_MC
        polemass_length = GYM_MP * GYM_L
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + polemass_length * (theta_dot * theta_dot) * sin) / total_mass
        theta_acc = (GYM_G * sin - cos * temp) / (GYM_L * (4.0 / 3.0 - GYM_MP * (cos * cos) / total_mass))
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        return torch.stack([x + GYM_TAU * x_dot, theta + GYM_TAU * theta_dot,
                            x_dot + GYM_TAU * x_acc, theta_dot + GYM_TAU * theta_acc], -1)

    def _make_bounds(self, dtype: torch.dtype, device) -> torch.Tensor:
        """|q| bounds of a live state in the internal order: |x| ≤ 2.4 m, |θ_i| ≤ the failure
        angle, velocities at most the largest finite number (so: finite)."""
        k, big = self.poles, torch.finfo(dtype).max
        return torch.tensor([X_LIMIT] + [self.fail_angle] * k + [big] * (k + 1), dtype=dtype, device=device)

    def _failed_q(self, q: torch.Tensor, bounds: Optional[torch.Tensor] = None) -> torch.Tensor:
        # written as "not inside" so that a NaN anywhere in the state fails (NaN compares
        # false with every limit: "|x| > 2.4" alone would let a NaN cart balance forever);
        # for finite states it is the usual failure test
        return ~(q.abs() <= (self._bounds if bounds is None else bounds)).all(-1)

    def failed(self, state: torch.Tensor) -> torch.Tensor:
        """``(…)`` bool for public-order states: the cart left ±2.4 m, a pole passed the
        failure angle, or the state is not finite."""
        q = state.index_select(-1, self._to_internal_t.to(state.device))
        return self._failed_q(q, self._make_bounds(q.dtype, q.device))

    def native_spec(self) -> Optional[dict]:
        """What the C episode kernel (:func:`dps.native.lstm.lstm_cartpole`) needs to play
        this env, or None where only the torch step runs (float32 physics, a GPU, kernels
        off). The kernel uses the same equations in the same operation order; it calls
        libm's sin and cos where torch uses its own, and sums the damping fitness's J in
        its own order (the last bits of the return)."""
        if self.dtype != torch.float64 or self.device.type != "cpu" or not native.enabled():
            return None
        k = self.poles
        const = native_lstm.CartPoleConst(
            poles=k, gym=int(self.integrator == "gym"), c_mass=self._c_mass, g=GYM_G, tau=GYM_TAU,
            rk4_tau=TAU, gravity=GRAVITY, rk4_steps=RK4_STEPS, gm_mp=GYM_MP, gm_mc=GYM_MC, gm_l=GYM_L)
        for name in ("c_fric", "c_ml", "c_3m4", "c_l"):
            getattr(const, name)[:k] = getattr(self, f"_{name}").tolist()
        return dict(kind="cartpole", const=const, discrete=self.discrete, n_obs=len(self._obs_index),
                    max_steps=self.max_steps, obs_index=self._obs_index_t, obs_scale=self._obs_scale,
                    bounds=self._bounds, damping=self.fitness == "damping", jiggle_index=self._jiggle_index_t)

    def native_start(self) -> torch.Tensor:
        """The internal-order state after :meth:`reset` (``(P, B, 2 + 2k)``), for the C kernel."""
        return self._q

    # ---- the env contract ---------------------------------------------------------------
    def _obs(self) -> torch.Tensor:
        return (self._q.index_select(-1, self._obs_index_t) * self._obs_scale).to(torch.float32)

    def reset(self, P: int, B: int, generator: torch.Generator) -> torch.Tensor:
        n, dev, dt = self.n_state, self.device, self.dtype
        if self.start == "standard":
            s = torch.zeros(P, B, n, dtype=dt, device=dev)
            s[..., 2] = math.radians(START_ANGLE)
        elif self.start == "random":
            s = torch.rand(P, B, n, generator=generator, dtype=dt, device=dev) * 0.1 - 0.05
        else:
            grid = grid_start_states(self.poles, dt).to(dev)
            s = grid[torch.arange(P * B, device=dev) % grid.shape[0]].reshape(P, B, n)
        return self.reset_to(s)

    def reset_to(self, state: torch.Tensor) -> torch.Tensor:
        """Start P×B episodes from given physical states ``(P, B, 2 + 2k)`` in the public
        order ``x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]``."""
        if state.dim() != 3 or state.shape[-1] != self.n_state:
            raise UserError(f"cartpole state must have shape (P, B, {self.n_state}), got {tuple(state.shape)}")
        self._q = state.to(self.device, self.dtype).index_select(-1, self._to_internal_t)
        P, B = state.shape[:2]
        self.over = torch.zeros(P, B, dtype=torch.bool, device=self.device)
        self.t = 0
        if self.fitness == "damping":
            self._jiggle = torch.zeros(P, B, 100, dtype=self.dtype, device=self.device)
            self._potential = torch.zeros(P, B, dtype=self.dtype, device=self.device)
        return self._obs()

    def select_rows(self, index: torch.Tensor) -> None:
        self._q = self._q.index_select(0, index)
        self.over = self.over.index_select(0, index)
        if self._jiggle is not None:
            self._jiggle = self._jiggle.index_select(0, index)
            self._potential = self._potential.index_select(0, index)

    def _force(self, action: torch.Tensor) -> torch.Tensor:
        """The force per slot; NaN where a (float) action is not finite, so that the state
        turns NaN and the step fails (module docstring) — clamp alone would turn ±inf into
        a legal ±10 N."""
        shape = self.over.shape
        if self.discrete:
            a = action.to(self.device).reshape(shape)
            force = torch.where(a == 1, self._force_pos, self._force_neg)
            return torch.where(torch.isfinite(a), force, math.nan) if a.is_floating_point() else force
        a = action.to(self.device, self.dtype).reshape(shape)
        return torch.where(torch.isfinite(a), FORCE_MAG * a.clamp(-1.0, 1.0), math.nan)

    def step(self, action: torch.Tensor):
        force = self._force(action)
        live = ~self.over
        q = self._gym_euler(self._q, force) if self.integrator == "gym" else self._rk4(self._q, force)
        q = torch.where(live.unsqueeze(-1), q, self._q)
        self._q = q
        self.t += 1
        failed = live & self._failed_q(q)    # NaN-safe: a non-finite state fails (module docstring)
        if self.fitness == "steps":
            reward = live.to(self.dtype)
        else:
            # |x| + |θ₁| + |ẋ| + |θ̇₁| in raw units
            jig = q.index_select(-1, self._jiggle_index_t).abs().sum(-1)
            slot = (self.t - 1) % 100
            self._jiggle[..., slot] = torch.where(live, jig, self._jiggle[..., slot])
            if self.t > 100:
                # a NaN state counts as J = ∞ (potential 0, no damping credit), as ±inf does
                potential = (0.675 / self._jiggle.sum(-1).clamp_min(J_MIN)).nan_to_num(nan=0.0)
                potential = torch.where(live, potential, self._potential)
            else:
                potential = self._potential
            reward = (1e-4 + potential - self._potential) * live
            self._potential = potential
        time_up = self.t >= self.max_steps
        done = self.over | failed | time_up
        success = live & ~failed if time_up else torch.zeros_like(live)
        self.over = done
        return self._obs(), reward, done, {"success": success}
