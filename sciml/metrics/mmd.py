"""Distances between functions and between distributions of functions, with quadrature.

* ``relative_l2(pred, true, grid)``: ``||pred_b - true_b|| / ||true_b||`` per sample, L2 norms by the grid's
  quadrature (plain means when no grid is given); shape ``(batch,)``.
* ``mmd(x, y, bandwidth, grid)``: maximum mean discrepancy with the Gaussian kernel on function space,
  ``k(u, v) = exp(-||u - v||^2 / (2 s^2))``, biased (V-statistic) estimate

      MMD^2 = mean_{ij} k(x_i, x_j) + mean_{ij} k(y_i, y_j) - 2 mean_{ij} k(x_i, y_j)  >= 0,

  exactly 0 for identical sample sets. ``||.||`` is the quadrature L2 norm over the normalised domain, so the
  value does not depend on the resolution of the grid the samples share.
* ``generalized_mmd``: ``sup_s MMD_s`` over a log grid of bandwidths (Sriperumbudur et al. 2009, as used by the
  VANO paper); the default grid is the median pairwise distance times ``2^k``, ``k = -4..4``.

Inputs are ``(n, *shape)`` tensors (any trailing shape, e.g. ``(n, C, *spatial)``); both sets must share it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sciml.core.errors import ShapeError
from sciml.fields.grid import Grid, PointCloud
from sciml.metrics.losses import relative_l2 as _loss_relative_l2

__all__ = ["relative_l2", "mmd", "generalized_mmd", "pairwise_sq_dist"]


def _weights(shape: tuple, grid: Grid | PointCloud | None, ref: torch.Tensor) -> torch.Tensor:
    if grid is None:
        n = 1
        for s in shape:
            n *= s
        return torch.full(shape, 1.0 / n, dtype=ref.dtype, device=ref.device)
    q = grid.weights(ref.device, ref.dtype, normalized=True)
    if tuple(shape[-q.dim() :]) != tuple(q.shape):
        raise ShapeError(f"sample shape {tuple(shape)} does not end with the grid shape {tuple(q.shape)}")
    lead = 1
    for s in shape[: len(shape) - q.dim()]:
        lead *= s
    return (q / lead).expand(shape)


def relative_l2(pred: torch.Tensor, true: torch.Tensor, grid: Grid | PointCloud | None = None) -> torch.Tensor:
    """Per-sample relative L2 error ``||pred - true|| / ||true||``, shape ``(batch,)``: the training loss
    ``sciml.metrics.losses.relative_l2`` without the batch reduction."""
    return _loss_relative_l2(pred, true, grid, reduction="none")


def pairwise_sq_dist(x: torch.Tensor, y: torch.Tensor, grid: Grid | PointCloud | None = None) -> torch.Tensor:
    """Squared quadrature L2 distances ``||x_i - y_j||^2``, shape ``(n, m)``."""
    if x.shape[1:] != y.shape[1:]:
        raise ShapeError(f"sample shapes differ: {tuple(x.shape[1:])} vs {tuple(y.shape[1:])}")
    w = _weights(tuple(x.shape[1:]), grid, x).reshape(-1)
    xs, ys = x.reshape(x.shape[0], -1) * w.sqrt(), y.reshape(y.shape[0], -1) * w.sqrt()
    d = (xs**2).sum(1)[:, None] + (ys**2).sum(1)[None, :] - 2 * xs @ ys.T
    return d.clamp_min(0.0)


def mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    bandwidth: float | Sequence[float] | torch.Tensor,
    grid: Grid | PointCloud | None = None,
    squared: bool = False,
    unbiased: bool = False,
) -> torch.Tensor:
    """Gaussian-kernel MMD between sample sets ``x (n, ...)`` and ``y (m, ...)``; one value per bandwidth.

    Default: the biased (V-statistic) estimate, >= 0, whose value for two samples of one law is about
    ``sqrt(2 / n)``, not 0. ``unbiased=True``: the U-statistic (self-pairs left out), whose MMD^2 has expectation 0
    for equal laws and can be negative; without ``squared`` its signed square root is returned.
    """
    x, y = x.double(), y.double()
    s = torch.as_tensor(bandwidth, dtype=torch.float64).reshape(-1, 1, 1)

    def kernel_mean(a, b, same):
        k = torch.exp(-pairwise_sq_dist(a, b, grid)[None] / (2 * s**2))
        if not (same and unbiased):
            return k.mean((1, 2))
        n = a.shape[0]
        return (k.sum((1, 2)) - k.diagonal(dim1=1, dim2=2).sum(-1)) / (n * (n - 1))

    m2 = kernel_mean(x, x, True) + kernel_mean(y, y, True) - 2 * kernel_mean(x, y, False)
    if squared:
        out = m2
    else:
        out = m2.abs().sqrt() * m2.sign() if unbiased else m2.clamp_min(0.0).sqrt()
    return out[0] if out.numel() == 1 and not isinstance(bandwidth, (list, tuple, torch.Tensor)) else out


def generalized_mmd(
    x: torch.Tensor,
    y: torch.Tensor,
    grid: Grid | PointCloud | None = None,
    bandwidths: Sequence[float] | None = None,
    squared: bool = False,
    unbiased: bool = False,
) -> tuple[float, float]:
    """``(max_s MMD_s, argmax s)`` over ``bandwidths`` (default: median distance times 2^-4 .. 2^4); ``unbiased``
    as in ``mmd``."""
    if bandwidths is None:
        z = torch.cat([x, y]).double()
        d = pairwise_sq_dist(z, z, grid).sqrt()
        med = float(d[d > 0].median()) if bool((d > 0).any()) else 1.0
        bandwidths = [med * 2.0**k for k in range(-4, 5)]
    vals = mmd(x, y, list(bandwidths), grid, squared, unbiased)
    i = int(torch.argmax(vals))
    return float(vals[i]), float(bandwidths[i])
