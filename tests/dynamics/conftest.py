"""The dynamics tests use tiny tensors: one intra-op thread avoids oversubscription on shared 2-core machines."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    """Every test in this folder runs single-threaded (fixture in tests/conftest.py)."""
