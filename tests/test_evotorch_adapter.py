"""evotorch's SNES / XNES / CEM / ClipUp-PGPE behind the dps ask/tell interface."""
import warnings

import pytest
import torch

from dps.algorithms.base import CenteredRanks
from dps.algorithms.evotorch_adapter import CEM, SNES, XNES, EvoPGPE
from dps.errors import UserError

warnings.filterwarnings("ignore", module="evotorch")

D = 30


def sphere(x):
    return (x ** 2).sum(-1)


def rosenbrock(x):
    return (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2).sum(-1)


def run(s, f, generations):
    for _ in range(generations):
        x = s.ask()
        s.tell(-f(x))                 # dps maximises
    return float(f(s.center))


@pytest.mark.parametrize("cls", [SNES, XNES, CEM, EvoPGPE])
def test_noise_comes_from_the_searchers_generator(cls):
    a = cls(torch.zeros(6), cls.Config(popsize=8), seed=3)
    b = cls(torch.zeros(6), cls.Config(popsize=8), seed=3)
    for i in range(3):
        torch.manual_seed(100 + i)                   # the global RNG must not matter
        xa = a.ask()
        torch.manual_seed(999)
        xb = b.ask()
        assert torch.equal(xa, xb)
        f = -sphere(xa)
        a.tell(f)
        b.tell(f)
    assert not torch.equal(cls(torch.zeros(6), cls.Config(popsize=8), seed=4).ask(), a.ask())


def test_evopgpe_uses_dps_antithetic_layout_and_clipup_first_step():
    mu0 = torch.linspace(-1, 1, 8, dtype=torch.float64)
    cfg = EvoPGPE.Config(popsize=10, center_lr=0.05, stdev_init=0.3, float64=True)
    s = EvoPGPE(mu0, cfg, seed=0)
    x = s.ask()
    N = 5
    assert torch.allclose(x[:N] + x[N:], 2 * mu0.expand(N, -1))          # rows k and N+k are a pair
    f = -sphere(x - 0.5)
    s.tell(f)
    u = CenteredRanks()(f)
    eps = x[:N] - mu0
    g = ((u[:N] - u[N:]) / 2) @ eps                                      # PGPE mu gradient direction
    step = s.center - mu0
    # ClipUp's first step: velocity = center_lr · g / ‖g‖ (below max speed 2·center_lr)
    assert torch.allclose(step, cfg.center_lr * g / g.norm(), atol=1e-10)
    # sigma moved, but by at most stdev_max_change (20 %)
    assert bool(((s.sigma - 0.3).abs() <= 0.2 * 0.3 + 1e-12).all())
    assert not torch.allclose(s.sigma, torch.full((8,), 0.3, dtype=torch.float64))


@pytest.mark.parametrize("cls,cfg,gens,threshold", [
    (SNES, dict(popsize=50), 400, 1e-8),
    (XNES, dict(popsize=50), 400, 1e-2),
    (CEM, dict(), 400, 1e-8),
    (EvoPGPE, dict(center_lr=0.01, stdev_init=0.02), 400, 1e-2),
])
def test_convergence_sphere(cls, cfg, gens, threshold):
    s = cls(torch.ones(D), cls.Config(**cfg), seed=0)
    assert run(s, sphere, gens) < threshold


@pytest.mark.parametrize("cls,cfg,gens,threshold", [
    (SNES, dict(popsize=50), 600, 26.0),
    (XNES, dict(popsize=50), 600, 24.0),
    # separable CEM stalls in Rosenbrock's curved valley (elite-stdev collapse): it only
    # has to make progress from 29
    (CEM, dict(), 300, 28.0),
    (EvoPGPE, dict(center_lr=0.01, stdev_init=0.02), 1000, 4.0),
])
def test_convergence_rosenbrock(cls, cfg, gens, threshold):
    """30-D Rosenbrock from 0 (f = 29), fixed seed, stated budget and threshold."""
    s = cls(torch.zeros(D), cls.Config(**cfg), seed=0)
    assert run(s, rosenbrock, gens) < threshold


def test_defaults_and_bad_options():
    assert SNES(torch.zeros(30)).popsize == 4 + 10                  # 4 + ⌊3 ln 30⌋
    with pytest.raises(UserError, match="even"):
        EvoPGPE(torch.zeros(3), EvoPGPE.Config(popsize=7))
    with pytest.raises(UserError, match="parenthood_ratio"):
        CEM(torch.zeros(3), CEM.Config(popsize=10, parenthood_ratio=1.5))
    assert CEM(torch.zeros(3), CEM.Config(popsize=10, parenthood_ratio=0.1)).state.parenthood_ratio == 0.2
    with pytest.raises(UserError, match="stdev_init"):
        SNES(torch.zeros(3), SNES.Config(stdev_init=0.0))


def _nes_utilities(f):
    """Plain NES utilities (Wierstra et al., JMLR 2014, Eq. 11), best first by rank."""
    lam = f.numel()
    rank = torch.empty(lam, dtype=torch.long)
    rank[torch.argsort(f, descending=True)] = torch.arange(1, lam + 1)
    w = torch.clamp(torch.log(torch.tensor(lam / 2 + 1.0, dtype=f.dtype)) - torch.log(rank.to(f.dtype)), min=0)
    return w / w.sum() - 1.0 / lam


@pytest.mark.parametrize("cls", [SNES, XNES])
def test_mirrored_sampling_pairs_and_snes_update(cls):
    mu0 = torch.linspace(-1, 1, 7, dtype=torch.float64)
    cfg = cls.Config(popsize=8, stdev_init=0.3, mirrored=True, float64=True, center_lr=0.7, stdev_lr=0.2)
    s = cls(mu0, cfg, seed=5)
    x = s.ask()
    assert torch.allclose(x[:4] + x[4:], 2 * mu0.expand(4, -1))            # rows k and 4+k mirror
    assert not torch.allclose(x[:4], x[4:])
    f = -sphere(x - 0.25)
    s.tell(f)
    if cls is SNES:                                                       # plain SNES step
        u = _nes_utilities(f)
        z = (x - mu0) / 0.3
        assert torch.allclose(s.center, mu0 + 0.7 * (u @ (0.3 * z)), atol=1e-12)
        sigma = 0.3 * torch.exp(0.2 / 2 * (u @ (z ** 2 - 1)))
        assert torch.allclose(s.dist.sigma, sigma, atol=1e-12)
    x2 = s.ask()
    assert torch.allclose(x2[:4] + x2[4:], 2 * s.center.expand(4, -1))


def test_mirrored_popsize():
    assert SNES(torch.zeros(9), SNES.Config(mirrored=True)).popsize == 10    # 4 + ⌊3 ln 9⌋ = 10
    assert SNES(torch.zeros(12), SNES.Config(mirrored=True)).popsize == 12   # 11, rounded up
    assert SNES(torch.zeros(12)).popsize == 11
    with pytest.raises(UserError, match="even for mirrored"):
        SNES(torch.zeros(3), SNES.Config(popsize=7, mirrored=True))
    with pytest.raises(UserError, match="even for mirrored"):
        XNES(torch.zeros(3), XNES.Config(popsize=5, mirrored=True))


@pytest.mark.parametrize("cls,gens,threshold", [(SNES, 400, 1e-8), (XNES, 400, 1e-2)])
def test_mirrored_convergence_sphere(cls, gens, threshold):
    s = cls(torch.ones(D), cls.Config(popsize=50, mirrored=True), seed=0)
    assert run(s, sphere, gens) < threshold
