"""Training tests run torch single-threaded: their tensors are tiny, and on a busy 2-core machine two OpenMP
threads spin against each other (measured: the Trainer tests take 38 s with 2 threads, 10 s with 1)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    """Every test in this folder runs single-threaded (fixture in tests/conftest.py)."""
