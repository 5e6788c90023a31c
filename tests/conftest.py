import os

# numpy's OpenBLAS (pycma's eigendecomposition, small QRs) spins on every core it sees; on a
# small shared CI machine that made one 30×30 eigh ~30× slower. Must precede numpy's import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest
import torch

# Lock-step rollouts on small tensors are latency-bound: one intra-op thread is fastest and
# avoids OpenMP oversubscription on small CI machines.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)
