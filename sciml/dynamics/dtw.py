"""Dynamic time warping (DTW) distance between two trajectories, in numpy.

    D[i, j] = c[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1]),   c[i, j] = |x_i - y_j|_2,   DTW = D[n-1, m-1]

i.e. the smallest sum of point-wise Euclidean costs over monotone alignments of the two sequences that match
first to first and last to last. Inputs are (n, d) and (m, d) arrays (a 1-D array is read as d = 1). Cost
O(n m) time and memory. Each row is computed in one vectorised pass: the in-row recurrence
D[i, j] = c[i, j] + min(a_j, D[i, j-1]) with a_j = min(D[i-1, j], D[i-1, j-1]) unrolls to
D[i, j] = C_j + min_{k <= j}(a_k - C_{k-1}) with C the running sum of c[i, :], a prefix minimum.
"""

from __future__ import annotations

import numpy as np

from sciml.core.errors import InvalidValueError, ShapeError


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ShapeError(f"{name} must be a non-empty (length, dim) array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InvalidValueError(f"{name} contains NaN or Inf")
    return a


def dtw_distance(x, y) -> float:
    """DTW distance between trajectories x (n, d) and y (m, d) with Euclidean point cost; see module docstring."""
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ShapeError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    cost = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    prev = np.cumsum(cost[0])
    for i in range(1, cost.shape[0]):
        row = cost[i]
        a = np.minimum(prev, np.concatenate(([np.inf], prev[:-1])))
        csum = np.cumsum(row)
        prev = csum + np.minimum.accumulate(a - (csum - row))
    return float(prev[-1])


def mean_dtw(rollouts, demos) -> float:
    """Mean DTW over pairs rollouts[k] (T, d) vs demos[k] (T', d)."""
    if len(rollouts) != len(demos) or len(demos) == 0:
        raise ShapeError(f"need as many rollouts as demonstrations (>0), got {len(rollouts)} and {len(demos)}")
    return float(np.mean([dtw_distance(r, d) for r, d in zip(rollouts, demos)]))
