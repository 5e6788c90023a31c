"""One API contract test over every registered searcher (``kind == "searcher"``).

A new searcher added to ``dps.algorithms.ALGORITHMS`` is covered for free. A registered
entry whose module does not import yet is skipped with the import error as the reason.
"""
import io
import math
import warnings

import pytest
import torch

from dps.algorithms import ALGORITHMS
from dps.errors import UserError

warnings.filterwarnings("ignore", module="evotorch")

D = 7
POPSIZE = 8
SEARCHERS = sorted(name for name, e in ALGORITHMS.items() if e.kind == "searcher")


def load(name):
    try:
        return ALGORITHMS[name].load()
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"searcher {name!r} ({ALGORITHMS[name].target}) does not import yet: {exc}")


def make(name, seed=0, center=None):
    cls = load(name)
    center = torch.linspace(-0.5, 0.5, D) if center is None else center
    return cls(center=center, config=cls.Config(popsize=POPSIZE), seed=seed)


def fitness_of(x):
    """A smooth maximisation problem: −‖x − 0.3‖²."""
    return -((x.double() - 0.3) ** 2).sum(-1)


def roundtrip(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_registry_names_searchers():
    assert {"es", "guided-es", "pdes", "cmaes", "snes", "xnes", "cem", "pgpe-clipup"} <= set(SEARCHERS)


@pytest.mark.parametrize("name", SEARCHERS)
def test_ask_shape_center_and_repeated_ask(name):
    s = make(name)
    assert tuple(s.center.shape) == (D,)
    x = s.ask()
    assert tuple(x.shape) == (s.popsize, D) and s.popsize == POPSIZE
    assert torch.isfinite(x).all()
    assert torch.equal(s.ask(), x)                     # ask twice without tell: same population
    stats = s.tell(fitness_of(x))
    assert isinstance(stats, dict) and "best" in stats and "mean" in stats
    assert tuple(s.center.shape) == (D,)
    assert tuple(s.ask().shape) == (s.popsize, D)


@pytest.mark.parametrize("name", SEARCHERS)
def test_tell_raw_fitness_ties_and_nan(name):
    s = make(name)
    x = s.ask()
    s.tell(1e6 * fitness_of(x))                        # raw, large-scale fitness
    x = s.ask()
    s.tell(torch.zeros(x.shape[0]))                    # all tied
    x = s.ask()
    f = fitness_of(x)
    f[1::2] = f[0]                                     # partial ties
    s.tell(f)
    assert torch.isfinite(s.center).all()
    x = s.ask()
    with pytest.raises(UserError):
        s.tell(torch.zeros(x.shape[0] + 1))           # wrong length
    f = fitness_of(x)
    f[2] = float("nan")                                # ranks worst (tests/test_nonfinite.py)
    stats = s.tell(f)
    assert stats["nonfinite"] == 1 and math.isfinite(stats["best"]) and math.isfinite(stats["mean"])
    assert torch.isfinite(s.center).all()


@pytest.mark.parametrize("name", SEARCHERS)
def test_state_dict_roundtrip_weights_only(name):
    a = make(name, seed=5)
    for _ in range(3):
        a.tell(fitness_of(a.ask()))
    sd = roundtrip(a.state_dict())
    b = make(name, seed=5)
    b.load_state_dict(sd)
    assert torch.equal(a.center, b.center)
    for _ in range(2):
        xa, xb = a.ask(), b.ask()
        assert torch.equal(xa, xb)
        a.tell(fitness_of(xa))
        b.tell(fitness_of(xb))


@pytest.mark.parametrize("name", SEARCHERS)
def test_state_dict_keeps_pending_population(name):
    """A checkpoint taken between ask() and tell() resumes that same population."""
    a = make(name, seed=5)
    a.tell(fitness_of(a.ask()))
    xa = a.ask()
    c = make(name, seed=5)
    c.load_state_dict(roundtrip(a.state_dict()))
    assert torch.equal(c.ask(), xa)


@pytest.mark.parametrize("name", SEARCHERS)
def test_determinism_under_seed(name):
    runs = []
    for seed in (1, 1, 2):
        s = make(name, seed=seed)
        xs = []
        for _ in range(3):
            x = s.ask()
            xs.append(x.clone())
            s.tell(fitness_of(x))
        runs.append(torch.cat(xs))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
