"""Training tests run torch single-threaded: their tensors are tiny, and on a busy 2-core machine two OpenMP
threads spin against each other (measured: the Trainer tests take 38 s with 2 threads, 10 s with 1)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
