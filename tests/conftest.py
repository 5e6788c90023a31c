import os

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
