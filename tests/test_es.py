"""Estimator correctness and fixed-seed convergence of the antithetic ES family."""

import pytest
import torch

from dps.algorithms.es import GuidedES, OpenES, PastDescentES
from dps.errors import UserError


def sphere(x):
    return (x ** 2).sum(-1)


def rosenbrock(x):
    return (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2).sum(-1)


def run(searcher, f, generations):
    """dps maximises: fitness = −f."""
    for _ in range(generations):
        x = searcher.ask()
        searcher.tell(-f(x))
    return float(f(searcher.center))


def quadratic(D, seed=0):
    """f(x) = −½ xᵀAx + bᵀx (a maximisation problem), ∇f(x) = b − A x."""
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = M @ M.T / D + torch.eye(D, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    f = lambda x: -0.5 * ((x @ A) * x).sum(-1) + x @ b
    grad = lambda x: b - A @ x
    return f, grad


def averaged_estimate(searcher, f, M, before_ask=None):
    total = torch.zeros(searcher.dim, dtype=torch.float64)
    for _ in range(M):
        if before_ask is not None:
            before_ask(searcher)
        x = searcher.ask()
        searcher.tell(f(x))
        total += searcher.grad
    return total / M


# ------------------------------------------------------------------ estimators ----
def test_openes_estimate_matches_analytic_gradient_on_quadratic():
    D = 10
    f, grad = quadratic(D)
    mu = torch.linspace(-1, 1, D, dtype=torch.float64)
    s = OpenES(mu, OpenES.Config(popsize=1000, sigma=0.05, lr=0.0, optimizer="sgd", momentum=0.0,
                                 shaping="raw", float64=True), seed=3)
    g = averaged_estimate(s, f, 20)
    assert torch.equal(s.center, mu)                  # lr 0: the centre never moved
    true = grad(mu)
    assert float((g - true).norm() / true.norm()) < 0.08


def test_guided_es_estimate_matches_its_analytic_expectation():
    """E[g] = beta · Σ ∇f / sigma² with Σ = sigma² (alpha/n I + (1−alpha)/k Q Qᵀ)."""
    D, k = 10, 2
    f, grad = quadratic(D, seed=1)
    mu = torch.zeros(D, dtype=torch.float64)
    G = torch.randn(k, D, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    cfg = GuidedES.Config(popsize=1000, sigma=0.05, alpha=0.3, beta=2.0, lr=0.0, float64=True)
    s = GuidedES(mu, cfg, seed=4)
    g = averaged_estimate(s, f, 20, before_ask=lambda se: se.set_surrogate(G))
    Q, _ = torch.linalg.qr(G.T)
    true = grad(mu)
    expect = cfg.beta * (cfg.alpha / D * true + (1 - cfg.alpha) / k * Q @ (Q.T @ true))
    assert float((g - expect).norm() / expect.norm()) < 0.08
    # and it is a different vector from the isotropic expectation beta/n ∇f
    assert float((expect - cfg.beta / D * true).norm() / expect.norm()) > 0.3


def test_guided_es_without_surrogate_is_plain_es():
    D = 10
    f, grad = quadratic(D, seed=2)
    mu = torch.zeros(D, dtype=torch.float64)
    s = GuidedES(mu, GuidedES.Config(popsize=1000, sigma=0.05, beta=1.0, lr=0.0, float64=True), seed=5)
    g = averaged_estimate(s, f, 20)
    assert float((g - grad(mu) / D).norm() / (grad(mu) / D).norm()) < 0.08
    assert s.generation == 20


def test_past_descent_estimate_is_projection_of_gradient():
    """Antithetic differences are exact directional derivatives on a quadratic, so
    g = U Uᵀ ∇f exactly; with popsize/2 = D it is ∇f itself."""
    D = 12
    f, grad = quadratic(D, seed=3)
    mu = torch.randn(D, dtype=torch.float64)
    s = PastDescentES(mu, PastDescentES.Config(popsize=8, sigma=0.1, lr=0.0, optimizer="sgd",
                                               float64=True), seed=0)
    for _ in range(3):
        x = s.ask()
        U = s.eps / s.config.sigma
        assert torch.allclose(U @ U.T, torch.eye(4, dtype=torch.float64), atol=1e-10)
        s.tell(f(x))
        assert torch.allclose(s.grad, U.T @ (U @ grad(mu)), atol=1e-9)
    full = PastDescentES(mu, PastDescentES.Config(popsize=2 * D, sigma=0.1, lr=0.0, float64=True), seed=1)
    full.tell(f(full.ask()))
    assert torch.allclose(full.grad, grad(mu), atol=1e-9)


def test_past_descent_first_direction_is_previous_estimate():
    D = 20
    f, _ = quadratic(D, seed=4)
    s = PastDescentES(torch.zeros(D, dtype=torch.float64),
                      PastDescentES.Config(popsize=6, lr=0.01, float64=True), seed=2)
    s.tell(f(s.ask()))
    zeta = s.grad.clone()
    s.ask()
    u1 = s.eps[0] / s.config.sigma
    assert torch.allclose(u1, zeta / zeta.norm(), atol=1e-12)


def test_past_descent_cosine_rises_towards_one_on_linear_f():
    D = 50
    a = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = PastDescentES(torch.zeros(D, dtype=torch.float64),
                      PastDescentES.Config(popsize=10, sigma=0.5, lr=0.05, float64=True), seed=0)
    cos = []
    for _ in range(60):
        x = s.ask()
        s.tell(x @ a)
        cos.append(float(torch.cosine_similarity(s.grad, a, 0)))
    assert cos[0] < 0.7
    assert all(c2 >= c1 - 1e-9 for c1, c2 in zip(cos, cos[1:]))   # never less aligned
    assert cos[-1] > 0.99


# ---------------------------------------------------------------- guided vs. plain ----
def test_guided_es_with_exact_gradient_beats_plain_es_in_1000d():
    """Equal evaluations (one antithetic pair per generation, 150 generations)."""
    D, T = 1000, 150
    x0 = torch.ones(D, dtype=torch.float64)
    f = lambda x: 0.5 * sphere(x)
    guided = GuidedES(x0, GuidedES.Config(popsize=2, sigma=0.1, alpha=0.5, beta=1.0, lr=1.0,
                                          float64=True), seed=0)
    for _ in range(T):
        guided.set_surrogate(-guided.center)          # exact gradient of −f
        guided.tell(-f(guided.ask()))
    # plain ES with the (near-)optimal SGD step size for this estimator, 1/(D+2)
    plain = OpenES(x0, OpenES.Config(popsize=2, sigma=0.1, lr=1.0 / (D + 2), optimizer="sgd",
                                     momentum=0.0, shaping="raw", float64=True), seed=0)
    for _ in range(T):
        plain.tell(-f(plain.ask()))
    fg, fp = float(f(guided.center)), float(f(plain.center))
    assert fp > 0.5 * float(f(x0))                    # plain ES: barely started
    assert fg < 1e-3 * fp


# ------------------------------------------------------------------- convergence ----
D_CONV = 30


@pytest.mark.parametrize("cls,cfg,gens,threshold", [
    (OpenES, dict(popsize=40, sigma=0.1, lr=0.05), 300, 1e-2),
    (GuidedES, dict(popsize=40, sigma=0.1, lr=0.5, optimizer="sgd", momentum=0.9), 300, 1e-2),
    (PastDescentES, dict(popsize=20, sigma=0.1, lr=0.05), 300, 1e-2),
])
def test_convergence_sphere(cls, cfg, gens, threshold):
    s = cls(torch.ones(D_CONV), cls.Config(**cfg), seed=0)
    assert sphere(torch.ones(D_CONV)) == D_CONV
    assert run(s, sphere, gens) < threshold


@pytest.mark.parametrize("cls,cfg,gens,threshold", [
    (OpenES, dict(popsize=40, sigma=0.02, lr=0.02), 2000, 6.0),
    (GuidedES, dict(popsize=40, sigma=0.05, lr=0.02, optimizer="adam", shaping="centered"), 2000, 3.0),
    (PastDescentES, dict(popsize=40, sigma=0.02, lr=0.02, shaping="centered"), 1000, 1.0),
])
def test_convergence_rosenbrock(cls, cfg, gens, threshold):
    """30-D Rosenbrock from 0 (f = 29): into the curved valley within the budget — the
    median over seeds 0-2. One seed's end value is chaotic in the floating-point path:
    GuidedES seed 0 ended below 3 on earlier machines and CI, and at 3.30 on a 2.6 GHz Xeon,
    so a single-seed threshold tested the CPU's rounding, not the searcher (2026-12-02, seeds 0-5: GuidedES
    1.1-3.3, OpenES 2.9-6.3, PastDescentES 0.17-0.45)."""
    x0 = torch.zeros(D_CONV)
    assert float(rosenbrock(x0)) == D_CONV - 1
    ends = [run(cls(x0, cls.Config(**cfg), seed=seed), rosenbrock, gens) for seed in range(3)]
    assert sorted(ends)[1] < threshold, ends


# ----------------------------------------------------------------------- errors ----
def test_bad_options_raise_user_error():
    with pytest.raises(UserError, match="even"):
        OpenES(torch.zeros(3), OpenES.Config(popsize=5))
    with pytest.raises(UserError, match="optimizer"):
        OpenES(torch.zeros(3), OpenES.Config(optimizer="rmsprop"))
    with pytest.raises(UserError, match="directions"):
        PastDescentES(torch.zeros(3), PastDescentES.Config(popsize=10))
    s = GuidedES(torch.zeros(3), GuidedES.Config(popsize=4))
    with pytest.raises(UserError, match="shape"):
        s.set_surrogate(torch.zeros(2, 4))
    s.ask()
    with pytest.raises(RuntimeError, match="before ask"):
        s.set_surrogate(torch.ones(3))


def test_guided_es_surrogate_fn_is_called_with_center():
    D = 5
    seen = []
    s = GuidedES(torch.arange(D, dtype=torch.float32), GuidedES.Config(popsize=4), seed=0)
    s.set_surrogate_fn(lambda mu: (seen.append(mu), torch.ones(1, D))[1])
    s.ask()
    assert torch.equal(seen[0], torch.arange(D, dtype=torch.float32))
    # all perturbations but the isotropic part lie along the surrogate: check the spread
    stats = s.tell(torch.zeros(4))
    assert stats["surrogate"] is True
