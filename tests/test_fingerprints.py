"""Same seed ⇒ same numbers: short CLI runs against the numbers recorded in
tests/data/fingerprints.json (see tests/fingerprints.py for the runs and how to re-record).

The promise holds on one platform. Two runs are sensitive to the last bit of the CPU's
floating-point kernels (Evolino's pseudo-inverse of a near-singular design matrix; an
Atari-Go greedy move decided by a near tie), which differ between CPU models with the same
torch build (Evolino's BPTT-LSTM baseline diverges differently on each); tests/data/
fingerprints-platforms.json holds the same code's numbers measured on such other platforms
(two more CPU models for Evolino), and a run must match one recording exactly.

Runs with an LSTM policy on the CPU use dps's C kernels (dps/native), whose rounding
differs from torch's; where no kernel can be built (no C compiler, ``DPS_NATIVE=0``) the
torch path runs, and tests/data/fingerprints-torch.json holds its numbers for the runs in
which they differ."""
import json
import math
from pathlib import Path

import pytest
from fingerprints import RUNS, recorded, run

from dps import native

RECORDED = json.loads((Path(__file__).parent / "data" / "fingerprints.json").read_text())
PLATFORMS = json.loads((Path(__file__).parent / "data" / "fingerprints-platforms.json").read_text())
TORCH_PATH = json.loads((Path(__file__).parent / "data" / "fingerprints-torch.json").read_text())


def _same(a, b, where=""):
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_numbers_as_recorded(name, tmp_path):
    now = run(name, tmp_path / name)
    for other in PLATFORMS.get(name, []):
        try:
            _same(now, recorded(name, other), name)
            return
        except AssertionError:
            pass
    kernels = native.library("kernels") is not None
    _same(now, recorded(name, RECORDED[name] if kernels else TORCH_PATH.get(name, RECORDED[name])), name)
