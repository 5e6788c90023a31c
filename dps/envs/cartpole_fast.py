"""One long cart-pole trial in plain Python floats — for 100,000-step balance trials.

The batched torch env (:class:`dps.envs.cartpole.CartPole`) is the reference and what every
rollout uses. Its cost per step is op-launch overhead (~150 small tensor ops per action,
≈ 1.4 ms on one CPU core whatever the batch size), so one policy balancing the 100,000 steps
that §8 asks for costs ≈ 2.5 minutes there. This module integrates the *same* equations,
constants, RK4 scheme, input scaling and failure test for one trajectory of a linear policy
``a = tanh(w·obs + b)`` in float64 Python arithmetic, ≈ 30× faster. It exists for the pole
reproduction (``experiments/reproduce_pole.py``), whose Markov tasks evaluate each policy
for up to 100,000 steps; the test suite checks it step by step against the torch env, and
the reproduction re-checks every solver it reports on the torch env.

Only ``integrator="rk4"``, continuous actions, the standard or a given start, and the
``steps`` count (the episode length, failing step included) are supported.

Non-finite numbers follow the torch env: a step whose state is not finite (a NaN or
infinite weight makes the action and then the state NaN) is the failing step. With
``return_state`` that final state is returned as it is (the torch env instead keeps the
last finite state of such a slot).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

from .cartpole import (
    FAIL_ANGLE,
    FORCE_MAG,
    GRAVITY,
    M_CART,
    MU_P,
    POLE_HALF,
    POLE_MASS,
    RK4_STEPS,
    SCALE,
    START_ANGLE,
    TAU,
    X_LIMIT,
)


def linear_balance_steps(weights: Sequence[float], poles: int = 2, velocities: bool = True,
                         max_steps: int = 100_000, start: Optional[Sequence[float]] = None,
                         return_state: bool = False):
    """Steps a linear policy balances from ``start`` (public order ``x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]``;
    default the standard start θ₁ = 4°), up to ``max_steps``.

    :param weights: the flat parameters of ``make_policy("linear", obs, 1)``: one weight per
        observation (``x, ẋ, θ₁, θ̇₁[, θ₂, θ̇₂]`` with velocities, ``x, θ₁[, θ₂]`` without), then
        the bias
    :param return_state: also return the final physical state (public order)
    :returns: the episode length as the torch env counts it (``max_steps`` = balanced), and
        with ``return_state`` the tuple ``(length, state)``
    """
    if poles not in (1, 2):
        raise ValueError(f"poles must be 1 or 2, got {poles!r}")
    n_state = 2 + 2 * poles
    obs_idx = list(range(n_state)) if velocities else [0] + [2 + 2 * i for i in range(poles)]
    w = [float(v) for v in weights]
    if len(w) != len(obs_idx) + 1:
        raise ValueError(f"a linear policy on this cart-pole has {len(obs_idx) + 1} parameters, got {len(w)}")
    # weights on the raw state variables (public order), with the input scaling folded in
    wr = [0.0] * 6
    for j, idx in enumerate(obs_idx):
        wr[idx] = w[j] / SCALE[idx]
    bias = w[-1]
    if start is None:
        s = [0.0, 0.0, math.radians(START_ANGLE), 0.0, 0.0, 0.0]
    else:
        s = [float(v) for v in start] + [0.0, 0.0] * (poles == 1)
    x, xd, t1, t1d, t2, t2d = s
    m1, m2 = POLE_MASS
    l1, l2 = POLE_HALF
    cf1, cf2 = MU_P / (m1 * l1), MU_P / (m2 * l2)
    ml1, ml2 = m1 * l1, m2 * l2
    q1, q2 = 0.75 * m1, 0.75 * m2
    cl1, cl2 = -0.75 / l1, -0.75 / l2
    G = GRAVITY
    two = poles == 2
    mass = M_CART + m1 + (m2 if two else 0.0)
    fail = math.radians(FAIL_ANGLE[poles])
    cos, sin, tanh, isfinite = math.cos, math.sin, math.tanh, math.isfinite
    h, h2, h6 = TAU, 0.5 * TAU, TAU / 6.0

    def acc(t1, t1d, t2, t2d, F):
        c1, s1 = cos(t1), sin(t1)
        fg1 = cf1 * t1d + G * s1
        fe = q1 * c1 * fg1 + t1d * t1d * s1 * ml1
        den = mass - c1 * c1 * q1
        if two:
            c2, s2 = cos(t2), sin(t2)
            fg2 = cf2 * t2d + G * s2
            fe += q2 * c2 * fg2 + t2d * t2d * s2 * ml2
            den -= c2 * c2 * q2
            xa = (F + fe) / den
            return xa, (fg1 + xa * c1) * cl1, (fg2 + xa * c2) * cl2
        xa = (F + fe) / den
        return xa, (fg1 + xa * c1) * cl1, 0.0

    w0, w1, w2, w3, w4, w5 = wr
    for step in range(1, max_steps + 1):  # noqa: B007 -- the result: read after the loop (the failing step)
        a = tanh(w0 * x + w1 * xd + w2 * t1 + w3 * t1d + w4 * t2 + w5 * t2d + bias)
        F = FORCE_MAG * (1.0 if a > 1.0 else (-1.0 if a < -1.0 else a))
        for _ in range(RK4_STEPS):
            a1, b1, c1_ = acc(t1, t1d, t2, t2d, F)
            a2, b2, c2_ = acc(t1 + h2 * t1d, t1d + h2 * b1, t2 + h2 * t2d, t2d + h2 * c1_, F)
            xd2, t1d2, t2d2 = xd + h2 * a1, t1d + h2 * b1, t2d + h2 * c1_
            a3, b3, c3_ = acc(t1 + h2 * t1d2, t1d + h2 * b2, t2 + h2 * t2d2, t2d + h2 * c2_, F)
            xd3, t1d3, t2d3 = xd + h2 * a2, t1d + h2 * b2, t2d + h2 * c2_
            a4, b4, c4_ = acc(t1 + h * t1d3, t1d + h * b3, t2 + h * t2d3, t2d + h * c3_, F)
            xd4, t1d4, t2d4 = xd + h * a3, t1d + h * b3, t2d + h * c3_
            x += h6 * (xd + 2.0 * (xd2 + xd3) + xd4)
            t1 += h6 * (t1d + 2.0 * (t1d2 + t1d3) + t1d4)
            t2 += h6 * (t2d + 2.0 * (t2d2 + t2d3) + t2d4)
            xd += h6 * (a1 + 2.0 * (a2 + a3) + a4)
            t1d += h6 * (b1 + 2.0 * (b2 + b3) + b4)
            t2d += h6 * (c1_ + 2.0 * (c2_ + c3_) + c4_)
        # the torch env's failure test, NaN-safe as there: a limit test written with ``<=``
        # is false for NaN, and a non-finite velocity (sum) fails too — a NaN weight or
        # state is a failure on this step, not a pole that never falls
        if not (abs(x) <= X_LIMIT and abs(t1) <= fail and (not two or abs(t2) <= fail)) \
                or not isfinite(xd + t1d + t2d):
            break
    else:
        step = max_steps
    if return_state:
        return step, [x, xd, t1, t1d] + ([t2, t2d] if two else [])
    return step
