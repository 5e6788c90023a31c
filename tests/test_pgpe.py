"""PGPE against a plain, per-pair, per-component reference of the 2010 rule (docs/ALGORITHMS.md)."""
import math

import pytest
import torch

from dps.algorithms.pgpe import PGPE, PGPEConfig


def reference_paper_step(mu, sigma, eps, r_plus, r_minus, b, m, a_mu, a_sigma):
    """Sehnke 2010 symmetric sampling with reward normalisation, one generation of N pairs,
    written with Python floats (per pair, per component); returns (mu, sigma, b, m)."""
    N, D = len(eps), len(mu)
    m = max([m] + list(r_plus) + list(r_minus))
    d_mu = [0.0] * D
    d_sigma = [0.0] * D
    for k in range(N):
        rp, rm = r_plus[k], r_minus[k]
        if rp != rm:
            for i in range(D):
                d_mu[i] += a_mu * (rp - rm) / (2 * m - rp - rm) * eps[k][i] / N
        r_bar = (rp + rm) / 2
        if b is not None and m != b and (r_bar - b) / (m - b) > 0:
            for i in range(D):
                d_sigma[i] += a_sigma * (r_bar - b) / (m - b) * (eps[k][i] ** 2 - sigma[i] ** 2) / sigma[i] / N
    mean_r_bar = sum((r_plus[k] + r_minus[k]) / 2 for k in range(N)) / N
    b = mean_r_bar if b is None else 0.9 * b + 0.1 * mean_r_bar
    return [mu[i] + d_mu[i] for i in range(D)], [sigma[i] + d_sigma[i] for i in range(D)], b, m


def _fixed_step(searcher, eps, f_plus, f_minus):
    """Run ask/tell with a prescribed ε (fixed noise) and prescribed rewards."""
    searcher.ask()
    searcher.eps = eps.clone()
    searcher._asked = torch.cat([searcher.mu + eps, searcher.mu - eps])
    return searcher.tell(torch.cat([f_plus, f_minus]))


@pytest.mark.parametrize("N", [1, 3])
def test_paper_rule_matches_reference_to_1e12(N):
    D = 5
    g = torch.Generator().manual_seed(1)
    mu0 = torch.randn(D, generator=g, dtype=torch.float64)
    cfg = PGPEConfig(popsize=2 * N, variant="paper", lr_mu=0.2, lr_sigma=0.1, sigma_init=2.0, float64=True,
                     flat_sigma_boost=1.0)  # the bare rule of docs/ALGORITHMS.md
    s = PGPE(mu0, cfg, seed=0)
    mu, sigma, b, m = mu0.tolist(), [2.0] * D, None, -math.inf
    for gen in range(4):
        eps = torch.randn(N, D, generator=g, dtype=torch.float64) * s.sigma
        f_plus = torch.randn(N, generator=g, dtype=torch.float64)
        f_minus = torch.randn(N, generator=g, dtype=torch.float64)
        if gen == 2:
            f_minus[0] = f_plus[0]  # a tie: that pair contributes no μ step
        _fixed_step(s, eps, f_plus, f_minus)
        mu, sigma, b, m = reference_paper_step(mu, sigma, eps.tolist(), f_plus.tolist(), f_minus.tolist(),
                                               b, m, 0.2, 0.1)
        assert torch.allclose(s.mu, torch.tensor(mu, dtype=torch.float64), rtol=0, atol=1e-12)
        assert torch.allclose(s.sigma, torch.tensor(sigma, dtype=torch.float64), rtol=0, atol=1e-12)
        assert s.b == pytest.approx(b, abs=1e-12)
        assert s.m == m


def test_paper_first_generation_sets_baseline_without_sigma_step():
    s = PGPE(torch.zeros(3, dtype=torch.float64), PGPEConfig(popsize=2, float64=True), seed=0)
    eps = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    _fixed_step(s, eps, torch.tensor([3.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))
    assert torch.equal(s.sigma, torch.full((3,), 2.0, dtype=torch.float64))
    assert s.b == 2.0
    # Δμ = 0.2 · (3 − 1)/(2·3 − 3 − 1) · ε = 0.2 ε
    assert torch.allclose(s.mu, 0.2 * eps[0], atol=1e-15)


def test_paper_sigma_not_updated_when_below_baseline():
    s = PGPE(torch.zeros(2, dtype=torch.float64), PGPEConfig(popsize=2, float64=True, flat_sigma_boost=1.0), seed=0)
    e = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    _fixed_step(s, e, torch.tensor([10.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64))
    sigma = s.sigma.clone()
    # r̄ = 1 < b = 5: no σ update
    _fixed_step(s, e, torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))
    assert torch.equal(s.sigma, sigma)
    # r̄ = 9 > b = 4.6: σ moves towards |ε|
    _fixed_step(s, e, torch.tensor([9.0], dtype=torch.float64), torch.tensor([9.0], dtype=torch.float64))
    assert s.sigma[0] < sigma[0] and s.sigma[1] > sigma[1]


def test_modern_variant_matches_reference():
    """Centered ranks, ClipUp on μ, clipped σ step — against a plain computation."""
    D, N = 4, 3
    g = torch.Generator().manual_seed(3)
    cfg = PGPEConfig(popsize=2 * N, variant="modern", lr_mu=0.3, lr_sigma=0.1, sigma_init=0.5,
                     optimizer="clipup", momentum=0.9, stdev_max_change=0.2, float64=True)
    s = PGPE(torch.zeros(D, dtype=torch.float64), cfg, seed=0)
    mu, sigma, v = torch.zeros(D, dtype=torch.float64), torch.full((D,), 0.5, dtype=torch.float64), None
    for _ in range(3):
        eps = torch.randn(N, D, generator=g, dtype=torch.float64) * sigma
        f = torch.randn(2 * N, generator=g, dtype=torch.float64)
        _fixed_step(s, eps, f[:N], f[N:])
        # reference
        ranks = torch.empty(2 * N, dtype=torch.float64)
        ranks[f.argsort()] = torch.arange(2 * N, dtype=torch.float64)
        u = ranks / (2 * N - 1) - 0.5
        gmu = sum((u[k] - u[N + k]) / 2 * eps[k] for k in range(N)) / N
        gsig = sum(((u[k] + u[N + k]) / 2 - u.mean()) * (eps[k] ** 2 - sigma ** 2) / sigma for k in range(N)) / N
        step = 0.3 * gmu / gmu.norm()
        v = step if v is None else 0.9 * v + step
        if v.norm() > 0.6:
            v = v * 0.6 / v.norm()
        mu = mu + v
        ds = torch.clamp(0.1 * gsig, -0.2 * sigma, 0.2 * sigma)
        sigma = sigma + ds
        assert torch.allclose(s.mu, mu, atol=1e-12)
        assert torch.allclose(s.sigma, sigma, atol=1e-12)


def test_population_layout_is_symmetric():
    s = PGPE(torch.arange(4.0), PGPEConfig(popsize=6), seed=1)
    x = s.ask()
    assert x.shape == (6, 4)
    assert torch.allclose((x[:3] + x[3:]) / 2, s.mu.expand(3, 4))


@pytest.mark.parametrize("variant,lr", [("paper", 0.2), ("modern", 0.1)])
def test_converges_on_sphere(variant, lr):
    s = PGPE(torch.full((10,), 3.0), PGPEConfig(popsize=20, variant=variant, lr_mu=lr, sigma_init=1.0), seed=0)
    for _ in range(300):
        x = s.ask()
        s.tell(-(x ** 2).sum(1))
    assert float((s.center ** 2).sum()) < (1e-3 if variant == "paper" else 0.5)


def test_bad_config_is_a_user_error():
    from dps.errors import UserError
    with pytest.raises(UserError, match="even"):
        PGPE(torch.zeros(3), PGPEConfig(popsize=5))
    with pytest.raises(UserError, match="variant"):
        PGPE(torch.zeros(3), PGPEConfig(variant="old"))


def test_flat_fitness_boosts_sigma_only_when_flat():
    def make(boost):
        # paper variant, first generation: no σ step of its own, so only the boost changes σ
        return PGPE(torch.zeros(3, dtype=torch.float64), PGPEConfig(popsize=8, variant="paper", float64=True,
                                                                     flat_sigma_boost=boost, sigma_init=1.0), seed=0)
    s, twin = make(1.5), make(1.0)
    flat = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.2, 1.0], dtype=torch.float64)
    s.ask(), twin.ask()
    assert s.tell(flat)["flat"] and twin.tell(flat)["flat"]
    assert torch.allclose(s.sigma, torch.full((3,), 1.5, dtype=torch.float64))
    assert torch.equal(twin.sigma, torch.ones(3, dtype=torch.float64))
    # varied fitness: both take the same plain σ step (relative to their σ), no boost
    s.ask(), twin.ask()
    varied = torch.arange(8, dtype=torch.float64)
    assert not s.tell(varied)["flat"]
    twin.tell(varied)
    # the σ rule is homogeneous in (σ, ε): without a second boost, σ stays exactly 1.5 × the twin's
    assert torch.allclose(s.sigma, 1.5 * twin.sigma, atol=1e-12)
    assert not torch.allclose(twin.sigma, torch.ones(3, dtype=torch.float64))


def test_restart_after_stagnation_returns_to_start_with_fresh_noise():
    c0 = torch.arange(3.0)
    s = PGPE(c0, PGPEConfig(popsize=4, variant="modern", restart_after=3, sigma_init=0.5), seed=0)
    first = s.ask().clone()
    s.tell(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    for _ in range(3):  # no sample beats 4.0 → restart after the third stale generation
        s.ask()
        st = s.tell(torch.zeros(4))
    assert st["restarts"] == 1
    assert torch.equal(s.center, c0) and torch.equal(s.sigma, torch.full((3,), 0.5))
    assert not torch.equal(s.ask(), first)  # fresh noise
    assert s.best_fitness == 4.0
    sd = s.state_dict()
    t = PGPE(c0, PGPEConfig(popsize=4, variant="modern", restart_after=3, sigma_init=0.5), seed=0)
    t.load_state_dict(sd)
    assert t.restarts == 1 and torch.equal(t.ask(), s.ask())
