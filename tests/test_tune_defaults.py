"""experiments/tune_defaults.py: seed lists and the quartiles candidates are ranked by."""
import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "experiments" / "tune_defaults.py"


def _module():
    spec = importlib.util.spec_from_file_location("tune_defaults", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_seed_lists():
    m = _module()
    assert m.seeds_of("0-3,7") == [0, 1, 2, 3, 7] and m.seeds_of("5") == [5] and m.seeds_of("1,2") == [1, 2]


def test_quartiles_judge_the_bad_seeds():
    m = _module()
    # one seed in four fails: the lower quartile of success shows it, the median would not
    lo, hi = m.quartiles([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    assert lo == 0.75 and hi == 1.0
    assert m.quartiles([1.0, 1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert m.quartiles([3.0]) == (3.0, 3.0)
    lo, hi = m.quartiles([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (lo, hi) == (2.0, 4.0)
