"""DTW: identity, symmetry, a hand-computed value, agreement with the textbook double loop."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import ShapeError
from sciml.dynamics.dtw import dtw_distance


def _reference(x, y):
    n, m = len(x), len(y)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c = np.linalg.norm(np.atleast_1d(x[i - 1]) - np.atleast_1d(y[j - 1]))
            d[i, j] = c + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return d[n, m]


def test_dtw_zero_on_identical_and_symmetric():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(25, 3))
    assert dtw_distance(x, x) == 0.0
    assert dtw_distance(x, y) == pytest.approx(dtw_distance(y, x), rel=1e-12)
    assert dtw_distance(x, y) > 0


def test_dtw_hand_computed():
    # costs |x_i - y_j| = [[0, 2], [1, 1], [2, 0]]; best path (0,0)->(1,0)or(1,1)->(2,1): 0 + 1 + 0 = 1
    assert dtw_distance([0.0, 1.0, 2.0], [0.0, 2.0]) == 1.0
    # a time-shifted copy costs nothing extra under warping: repeating a sample is free
    assert dtw_distance([0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 2.0]) == 0.0


def test_dtw_matches_double_loop():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(17, 2)), rng.normal(size=(23, 2))
    assert dtw_distance(x, y) == pytest.approx(_reference(x, y), rel=1e-12)


def test_dtw_rejects_mismatched_dimensions():
    with pytest.raises(ShapeError, match="same dimension"):
        dtw_distance(np.zeros((3, 2)), np.zeros((3, 3)))
