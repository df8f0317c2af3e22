"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture()
def single_thread():
    """Run torch with one intra-op thread, then restore the previous setting.

    Tests with tiny tensors use it: on a busy 2-core machine a second OpenMP thread only spins against the first
    (measured: the Trainer tests took 38 s with 2 threads, 10 s with 1).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
