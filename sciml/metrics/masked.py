"""The one masked error of sciml: mean over samples of the relative L2 error over the points inside a mask.

For predictions ``p`` and targets ``t`` shaped ``(batch, channels, *spatial)`` on a grid with quadrature weights
``w`` and a boolean mask ``m`` (True inside the domain):

    e_b = sqrt( sum_x m(x) w(x) |p_b(x) - t_b(x)|^2 / sum_x m(x) w(x) |t_b(x)|^2 ),   masked_relative_l2 = mean_b e_b

Points outside the mask count zero: values there (even NaN placeholders) never reach the sum or its gradient,
because both tensors are zeroed outside with ``torch.where`` before squaring. Without a mask this is
``sciml.metrics.losses.relative_l2``. MT-DeepONet (Kumar, Goswami et al. 2024) reports this per-sample mean for
its Darcy geometries; the benchmark and the DeepONet objective use this function, so the metric is defined once.

``check_mask(mask, values_shape)`` is the shape and value rule: ``(*spatial)`` (one mask for every sample),
``(batch, 1, *spatial)`` (one per sample) or the values' shape; anything else raises ``ShapeError`` naming the
expected shapes and the one found. A non-boolean mask must hold only 0 and 1 (a soft mask such as 0.3 would
otherwise be silently rounded: ``InvalidValueError``). ``masked_relative_l2`` also refuses a sample whose mask
has no point inside (its error would be 0/0, which used to come back as a silent 0). Both value checks run on
CPU tensors only: on CUDA they would cost a host sync per call, i.e. per training step of a masked objective, so
there the data-entry checks (readers refuse non-boolean masks) and a CPU evaluation are what catch such masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sciml.core.errors import InvalidValueError, ShapeError
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
    if mask.dtype == torch.bool:
        return mask
    if not mask.is_cuda:  # value checks read the tensor on the host: skipped on CUDA (module docstring)
        binary = (mask == 0) | (mask == 1)
        if not bool(binary.all()):
            bad = mask[~binary].flatten()[:3].tolist()
            raise InvalidValueError(
                f"{what} must be boolean or hold only 0 and 1 (True inside the domain); found {mask.dtype} values {bad}"
            )
    return mask > 0.5


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
    inside = m.expand(pred.shape).flatten(1).any(1)
    if not m.is_cuda and not bool(inside.all()):
        empty = torch.nonzero(~inside).flatten()[:5].tolist()
        raise InvalidValueError(
            f"mask has no point inside the domain for sample(s) {empty} of {pred.shape[0]}: their relative error "
            "is undefined (an empty mask usually means the mask is inverted or belongs to another grid)"
        )
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    pred = torch.where(m, pred, zero)
    target = torch.where(m, target, zero.to(target.dtype))
    return relative_l2(pred, target, grid, reduction, mask=m)
