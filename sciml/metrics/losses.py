"""Quadrature-weighted, resolution-independent losses and metrics between functions on a grid.

For values ``u`` shaped ``(batch, channels, *spatial)`` on a ``Grid`` (or ``PointCloud``) with quadrature
weights ``w`` (``grid.weights``), per sample ``b``:

    ||u_b||_{L2}^2 = sum_c sum_x w(x) u_b(c, x)^2                        (the integral over the domain)
    |u_b|_{H1}^2  = sum_c sum_i sum_x w(x) (d u_b(c, x) / d x_i)^2
    ||u_b||_{H1}^2 = ||u_b||_{L2}^2 + |u_b|_{H1}^2

    relative_l2(p, t) = ||p - t||_{L2} / ||t||_{L2},   relative_h1(p, t) = ||p - t||_{H1} / ||t||_{H1}

Because the sums are quadratures of integrals, the same functions sampled on grids N and 2N give the same
values up to discretisation error (no 1/N factors to forget). Without a grid the weights are a uniform mean
over the spatial points. Derivatives are spectral (``torch.fft``, wavenumbers from the physical period
``hi - lo``) on uniform periodic axes, and second-order finite differences (``torch.gradient`` on the grid
coordinates, one-sided second order at the ends, non-uniform spacing allowed) on non-periodic axes; a
periodic axis with non-uniform points uses finite differences with wrap-around.

An optional ``mask`` (bool or 0/1, broadcastable to the values, e.g. ``(*spatial)`` or ``(batch, 1,
*spatial)``) multiplies the weights, so points outside the mask count zero. Derivatives are still taken on
the whole grid: a mask restricts where H1 errors count, not how they are computed.

All computations run in float32 (float64 inputs stay float64) even under bf16 autocast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid

__all__ = [
    "l2_norm",
    "relative_l2",
    "h1_seminorm",
    "h1_norm",
    "relative_h1",
    "gradient",
    "LpLoss",
    "H1Loss",
    "MSELoss",
    "get_loss",
]

_EPS = 1e-30


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _spatial_dims(u: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, u.ndim))


_WEIGHT_CACHE: dict[tuple[int, torch.device, torch.dtype], tuple[Any, torch.Tensor]] = {}


def _grid_weights(grid: Any, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``grid.weights`` shaped (1, 1, *spatial), cached by grid identity: losses run every step and rebuilding
    (or hashing the coordinates of) the grid each time is measurable next to a small model's step."""
    key = (id(grid), device, dtype)
    hit = _WEIGHT_CACHE.get(key)
    if hit is not None and hit[0] is grid:  # the cache holds the grid, so its id cannot be reused meanwhile
        return hit[1]
    w = grid.weights(device=device, dtype=dtype).reshape(1, 1, *grid.shape)
    if len(_WEIGHT_CACHE) >= 32:
        _WEIGHT_CACHE.pop(next(iter(_WEIGHT_CACHE)))
    _WEIGHT_CACHE[key] = (grid, w)
    return w


def _weights(u: torch.Tensor, grid: Any, mask: torch.Tensor | None) -> torch.Tensor:
    """Quadrature weights broadcastable to ``u`` (batch, channels, *spatial)."""
    if u.ndim < 3:
        raise ShapeError(f"values must be (batch, channels, *spatial), got shape {tuple(u.shape)}")
    spatial = tuple(u.shape[2:])
    if grid is None:
        w = torch.full((1, 1, *spatial), 1.0 / math.prod(spatial), dtype=u.dtype, device=u.device)
    else:
        if tuple(grid.shape) != spatial:
            raise ShapeError(f"values have spatial shape {spatial} but the grid has shape {tuple(grid.shape)}")
        w = _grid_weights(grid, u.device, u.dtype)
    if mask is not None:
        m = mask.to(device=u.device, dtype=u.dtype)
        try:
            w = w * m
            torch.broadcast_shapes(w.shape, u.shape)
        except RuntimeError:
            raise ShapeError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to values of shape {tuple(u.shape)}"
            ) from None
    return w


def _pair(pred: torch.Tensor, target: torch.Tensor, grid: Any, mask: torch.Tensor | None):
    """Check that prediction and target match; both as floats, and the target's quadrature weights."""
    if pred.shape != target.shape:
        raise ShapeError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    target = _as_float(target)
    return _as_float(pred), target, _weights(target, grid, mask)


def _integrate_sq(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-sample sum over channels of the integral of u^2: shape (batch,)."""
    return (u.square() * w).flatten(1).sum(1)


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ConfigError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def l2_norm(u: torch.Tensor, grid: Any = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample L2 norm over channels and space, shape (batch,)."""
    u = _as_float(u)
    return _integrate_sq(u, _weights(u, grid, mask)).sqrt()


def relative_l2(
    pred: torch.Tensor,
    target: torch.Tensor,
    grid: Any = None,
    reduction: str = "mean",
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``||pred - target||_{L2} / ||target||_{L2}`` per sample, then reduced ("mean", "sum", "none")."""
    pred, target, w = _pair(pred, target, grid, mask)
    num = _integrate_sq(pred - target, w)
    den = _integrate_sq(target, w)
    return _reduce((num / den.clamp_min(_EPS)).sqrt(), reduction)


# ---------------------------------------------------------------------------------------------- gradients
def _spectral_derivative(u: torch.Tensor, dim: int, length: float) -> torch.Tensor:
    n = u.shape[dim]
    k = torch.fft.rfftfreq(n, d=length / n, device=u.device).to(u.dtype) * (2 * math.pi)
    if n % 2 == 0:
        k[-1] = 0.0  # the Nyquist mode has no well-defined real derivative
    shape = [1] * u.ndim
    shape[dim] = k.numel()
    uh = torch.fft.rfft(u, dim=dim)
    return torch.fft.irfft(uh * (1j * k.reshape(shape)), n=n, dim=dim)


def _fd_derivative(u: torch.Tensor, dim: int, coords: torch.Tensor, periodic: bool, length: float) -> torch.Tensor:
    n = u.shape[dim]
    if n < 3:
        raise ShapeError(f"finite-difference derivatives need at least 3 points per axis, got {n}")
    if not periodic:
        return torch.gradient(u, spacing=(coords,), dim=dim, edge_order=2)[0]
    ext = torch.cat([u.narrow(dim, n - 1, 1), u, u.narrow(dim, 0, 1)], dim=dim)
    c = torch.cat([coords[-1:] - length, coords, coords[:1] + length])
    return torch.gradient(ext, spacing=(c,), dim=dim, edge_order=2)[0].narrow(dim, 1, n)


def gradient(u: torch.Tensor, grid: Grid) -> list[torch.Tensor]:
    """Partial derivatives ``[du/dx_0, du/dx_1, ...]`` of ``u`` (batch, channels, *grid.shape)."""
    if not isinstance(grid, Grid):
        raise ShapeError(f"derivatives need a Grid (rectilinear coordinates), got {type(grid).__name__}")
    grid.check_values(u)
    u = _as_float(u)
    out = []
    for axis in range(grid.ndim):
        dim = axis + 2
        c = grid.coords[axis]
        length = grid.lengths[axis]
        d = c[1:] - c[:-1] if c.size > 1 else c
        uniform = c.size > 1 and abs(d.max() - d.min()) <= 1e-9 * abs(d.mean())
        if grid.periodic[axis] and uniform and abs(d[0] * c.size - length) <= 1e-9 * length:
            out.append(_spectral_derivative(u, dim, length))
        else:
            coords = torch.tensor(c, dtype=u.dtype, device=u.device)
            out.append(_fd_derivative(u, dim, coords, grid.periodic[axis], length))
    return out


def _h1_semi_sq(u: torch.Tensor, grid: Grid, w: torch.Tensor) -> torch.Tensor:
    return sum(_integrate_sq(g, w) for g in gradient(u, grid))


def h1_seminorm(u: torch.Tensor, grid: Grid, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample ``|u|_{H1} = (sum_c sum_i int (d_i u_c)^2)^(1/2)``, shape (batch,)."""
    u = _as_float(u)
    return _h1_semi_sq(u, grid, _weights(u, grid, mask)).sqrt()


def h1_norm(u: torch.Tensor, grid: Grid, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample full H1 norm ``(||u||_{L2}^2 + |u|_{H1}^2)^(1/2)``, shape (batch,)."""
    u = _as_float(u)
    w = _weights(u, grid, mask)
    return (_integrate_sq(u, w) + _h1_semi_sq(u, grid, w)).sqrt()


def relative_h1(
    pred: torch.Tensor,
    target: torch.Tensor,
    grid: Grid,
    reduction: str = "mean",
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``||pred - target||_{H1} / ||target||_{H1}`` per sample (full H1 norm), then reduced."""
    pred, target, w = _pair(pred, target, grid, mask)
    e = pred - target
    num = _integrate_sq(e, w) + _h1_semi_sq(e, grid, w)
    den = _integrate_sq(target, w) + _h1_semi_sq(target, grid, w)
    return _reduce((num / den.clamp_min(_EPS)).sqrt(), reduction)


# ---------------------------------------------------------------------------------------------- callables
class LpLoss:
    """Quadrature Lp error ``(int |p - t|^p)^(1/p)``, relative to ``(int |t|^p)^(1/p)`` by default.

    Called as ``loss(pred, target, grid=None, mask=None)``; p = 2 is ``relative_l2``.
    """

    def __init__(self, p: float = 2.0, relative: bool = True, reduction: str = "mean") -> None:
        if not p >= 1:
            raise ConfigError(f"LpLoss needs p >= 1, got {p}")
        _reduce(torch.zeros(1), reduction)  # validates the name
        self.p, self.relative, self.reduction = float(p), relative, reduction

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, grid: Any = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ShapeError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
        if self.p == 2.0 and self.relative:
            return relative_l2(pred, target, grid, self.reduction, mask)
        pred, target = _as_float(pred), _as_float(target)
        w = _weights(target, grid, mask)
        num = ((pred - target).abs().pow(self.p) * w).flatten(1).sum(1)
        if self.relative:
            den = (target.abs().pow(self.p) * w).flatten(1).sum(1)
            num = num / den.clamp_min(_EPS)
        return _reduce(num.pow(1.0 / self.p), self.reduction)

    def __repr__(self) -> str:
        return f"LpLoss(p={self.p}, relative={self.relative}, reduction={self.reduction!r})"


class H1Loss:
    """Quadrature H1 error (``relative_h1``; ``relative=False`` gives the absolute H1 norm of the error)."""

    def __init__(self, relative: bool = True, reduction: str = "mean") -> None:
        _reduce(torch.zeros(1), reduction)
        self.relative, self.reduction = relative, reduction

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, grid: Grid, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if grid is None:
            raise ShapeError("H1Loss needs the Grid the values are sampled on (derivatives use its coordinates)")
        if self.relative:
            return relative_h1(pred, target, grid, self.reduction, mask)
        return _reduce(h1_norm(_as_float(pred) - _as_float(target), grid, mask), self.reduction)

    def __repr__(self) -> str:
        return f"H1Loss(relative={self.relative}, reduction={self.reduction!r})"


class MSELoss:
    """Mean squared error over all entries (not quadrature weighted), in fp32."""

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, grid: Any = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        pred, target = _as_float(pred), _as_float(target)
        if mask is None:
            return F.mse_loss(pred, target)
        m = torch.broadcast_to(mask.to(pred.dtype), pred.shape)
        return ((pred - target).square() * m).sum() / m.sum().clamp_min(1.0)

    def __repr__(self) -> str:
        return "MSELoss()"


_LOSSES: dict[str, Callable[[], Callable]] = {
    "l2": LpLoss,
    "relative_l2": LpLoss,
    "h1": H1Loss,
    "relative_h1": H1Loss,
    "mse": MSELoss,
}


def get_loss(name: str | Callable) -> Callable:
    """Loss callable ``(pred, target, grid)`` by config name; a callable is returned unchanged."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in _LOSSES:
        raise ConfigError(f"unknown loss {name!r}; available: {', '.join(sorted(_LOSSES))}")
    return _LOSSES[name]()
