"""Input handling shared by every operator model: accept a tensor plus Grid (or PointCloud), or a Field."""

from __future__ import annotations

import torch

from sciml.core.errors import ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid


def check_dtype(x: torch.Tensor, model: str) -> None:
    """Models compute in floating point: integer or boolean inputs are refused (never silently cast)."""
    if not (x.is_floating_point() or x.is_complex()):
        raise ShapeError(
            f"{model}: input must be a floating-point tensor, got dtype {x.dtype} (shape {tuple(x.shape)})"
        )


def resolve_input(x, grid, ndim: int | None, in_channels: int | None, model: str):
    """Return ``(values, grid)`` from ``x`` (tensor or Field) and an optional grid, checking shapes.

    With no grid, the input is taken to be on the uniform non-periodic grid of ``[0, 1]^d`` of its shape.
    Raises ShapeError naming the model when the number of spatial dimensions or channels is wrong.
    """
    if isinstance(x, Field):
        grid = x.grid if grid is None else grid
        x = x.values
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{model}: input must be a tensor or a Field, got {type(x).__name__}")
    check_dtype(x, model)
    if x.dim() < 3:
        raise ShapeError(f"{model}: input must be (batch, channels, *spatial), got shape {tuple(x.shape)}")
    if 0 in x.shape[1:]:
        raise ShapeError(f"{model}: input has an empty channel or spatial axis, shape {tuple(x.shape)}")
    if ndim is not None and x.dim() != ndim + 2:
        raise ShapeError(
            f"{model}: input must have {ndim + 2} dimensions (batch, channels, {ndim} spatial axes), "
            f"got shape {tuple(x.shape)}"
        )
    if in_channels is not None and x.shape[1] != in_channels:
        raise ShapeError(f"{model}: expected {in_channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if grid is None:
        grid = Grid.uniform(tuple(x.shape[2:]))
    else:
        grid.check_values(x, name=f"{model} input")
    return x, grid
