"""Seeds are data: one root seed per run, every other seed derived from it.

:func:`derive_seed` gives each generation's training rollouts, the centre's periodic
evaluation, the final evaluation and every initialisation its own integer seed, so a
resumed run re-derives exactly the same seeds and only integers cross process
boundaries. :func:`make_generator` turns such an integer into a ``torch.Generator`` on a
device.
"""
from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1


def derive_seed(root: int, *keys: int) -> int:
    """SplitMix64 over ``root`` and ``keys``: a well-mixed 48-bit integer seed."""
    x = int(root) & _MASK64
    for k in keys:
        x = (x ^ (int(k) & _MASK64)) & _MASK64
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        x = z ^ (z >> 31)
    return x & 0xFFFF_FFFF_FFFF


# stream tags for derive_seed
TRAIN, EVAL, CENTER_EVAL, INIT, SELECT, CHAMPION = 1, 2, 3, 4, 5, 6


def make_generator(seed: int, device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with the low 48 bits of ``seed``."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)
    return g
