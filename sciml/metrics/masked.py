"""The one masked error of sciml: mean over samples of the relative L2 error over the points inside a mask.

For predictions ``p`` and targets ``t`` shaped ``(batch, channels, *spatial)`` on a grid with quadrature weights
``w`` and a boolean mask ``m`` (True inside the domain):

    e_b = sqrt( sum_x m(x) w(x) |p_b(x) - t_b(x)|^2 / sum_x m(x) w(x) |t_b(x)|^2 ),   masked_relative_l2 = mean_b e_b

Points outside the mask count zero: values there (even NaN placeholders) never reach the sum or its gradient,
because both tensors are zeroed outside with ``torch.where`` before squaring. Without a mask this is
``sciml.metrics.losses.relative_l2``. MT-DeepONet (Kumar, Goswami et al. 2024) reports this per-sample mean for
its Darcy geometries; the benchmark and the DeepONet objective use this function, so the metric is defined once.

``check_mask(mask, values_shape)`` is the shape rule: ``(*spatial)`` (one mask for every sample),
``(batch, 1, *spatial)`` (one per sample) or the values' shape; anything else raises ``ShapeError`` naming the
expected shapes and the one found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sciml.core.errors import ShapeError
from sciml.metrics.losses import relative_l2

__all__ = ["masked_relative_l2", "check_mask"]


def check_mask(mask: torch.Tensor, values_shape: Sequence[int], what: str = "mask") -> torch.Tensor:
    """``mask`` as a bool tensor broadcastable to ``values_shape`` (see the module docstring for the rule)."""
    values_shape = tuple(int(s) for s in values_shape)
    spatial = values_shape[2:]
    allowed = (spatial, (values_shape[0], 1, *spatial), values_shape)
    if tuple(mask.shape) not in allowed:
        raise ShapeError(
            f"{what} has shape {tuple(mask.shape)}; expected {spatial} (one mask for all samples), "
            f"{allowed[1]} (one per sample) or the values' shape {values_shape}"
        )
    return mask if mask.dtype == torch.bool else mask > 0.5


def masked_relative_l2(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    grid: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Relative L2 error over the points inside ``mask`` per sample, reduced by ``reduction`` (mean/sum/none)."""
    if pred.shape != target.shape:
        raise ShapeError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    if mask is None:
        return relative_l2(pred, target, grid, reduction)
    m = check_mask(mask.to(pred.device), pred.shape)
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    pred = torch.where(m, pred, zero)
    target = torch.where(m, target, zero.to(target.dtype))
    return relative_l2(pred, target, grid, reduction, mask=m)
