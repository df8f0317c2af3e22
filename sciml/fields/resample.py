"""Moving fields between grids: strided subsampling, spectral resampling, interpolation, point evaluation.

All grid-to-grid maps act axis by axis (a tensor product of 1-D linear maps), on values shaped
``(batch, channels, *spatial)``; they are differentiable and run on the values' device.

* **Strided subset**: when every target coordinate is a source coordinate taken with
  an integer stride, values are subsampled exactly (``u[..., ::s]``). This is also what ``restrict`` does.
* **Spectral** (uniform periodic axis of length L, n -> m points, both uniform): with ``c_k`` the discrete
  Fourier coefficients ``c_k = (1/n) sum_j u_j exp(-2 pi i k x_j / L)``, the trigonometric interpolant
  ``p(x) = sum_k c_k exp(2 pi i k x / L)`` (Nyquist mode of an even n split evenly between +-n/2) is
  sampled on the m target points: modes with ``|k| < m/2`` are kept, the target Nyquist mode of an even m
  receives ``c_{m/2} + c_{-m/2}`` (the cosine part, which is what sampling gives) and higher modes are
  dropped. An offset between the two grids' first points is a phase shift. Exact (to round-off) for fields
  with ``|k| < min(n, m)/2``, so N -> 2N -> N and N -> 3N/2 -> N are exact for band-limited data.
* **Linear / cubic interpolation** (non-periodic axes, non-uniform axes, or when asked for): a dense
  ``(m, n)`` matrix per axis; linear is exact for affine functions and reproduces source values at source
  points; cubic uses scipy's not-a-knot spline (periodic spline on periodic axes), exact for cubics.
  Target points outside the source coordinates but inside the domain bounds are extrapolated linearly
  (cubic: by the end polynomials); points outside the bounds raise GridError.
* **Point evaluation** ``interpolate_at``: multilinear interpolation at arbitrary points ``(n, d)``, with
  periodic wrap-around on periodic axes; a point that is a grid point returns the grid value exactly.

Limits: resampling from a PointCloud is not supported (interpolating scattered data needs a mesh); masks are
subsampled exactly on strided subsets, otherwise interpolated linearly and thresholded at 1/2, and values
under a False mask are set to 0 before resampling so NaN placeholders do not spread.

This module works on tensors and grids only; ``Field.resample`` / ``restrict`` / ``at`` / ``norm``
(``sciml.fields.field``) and the lazy datasets call it, it never builds a Field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sciml.core.errors import GridError, ShapeError
from sciml.fields.grid import Grid, PointCloud

__all__ = [
    "resample_values",
    "resample_mask",
    "restrict_grid",
    "interpolate_at",
    "interpolation_matrix",
    "spectral_resample_axis",
    "quadrature_norm",
    "zero_outside_mask",
]

_METHODS = (None, "spectral", "linear", "cubic")


def _tol(lo: float, hi: float) -> float:
    return 1e-9 * max(1.0, abs(hi - lo), abs(lo), abs(hi))


# ---------------------------------------------------------------------------------------------- 1-D maps
def spectral_resample_axis(values: torch.Tensor, dim: int, m: int, shift: float = 0.0) -> torch.Tensor:
    """Trigonometric interpolation of ``values`` along ``dim`` (n uniform periodic samples) onto ``m`` points.

    ``shift`` is the offset of the target's first point from the source's first point, as a fraction of the
    period. Real input gives real output. See the module docstring for the Nyquist convention.
    """
    n = values.shape[dim]
    if n == m and shift == 0.0:
        return values
    real = not values.is_complex()
    work = values.to(torch.float64) if values.dtype in (torch.float16, torch.bfloat16) else values
    coef = torch.fft.fft(work, dim=dim, norm="forward")
    # symmetric list of source frequencies; an even n's Nyquist bin is split between -n/2 and +n/2
    freqs = np.arange(-(n // 2), n // 2 + 1)  # n + 1 entries for even n (Nyquist twice), n for odd n
    w = np.ones(freqs.size)
    if n % 2 == 0:
        w[0] = w[-1] = 0.5
    if m % 2 == 0:
        keep = np.abs(freqs) <= m // 2
    else:
        keep = np.abs(freqs) <= (m - 1) // 2
    freqs, w = freqs[keep], w[keep]
    src = torch.as_tensor(freqs % n, dtype=torch.long, device=values.device)
    dst = torch.as_tensor(freqs % m, dtype=torch.long, device=values.device)
    scale = torch.as_tensor(w, dtype=coef.real.dtype, device=values.device)
    if shift != 0.0:
        phase = torch.as_tensor(np.exp(2j * np.pi * freqs * shift), dtype=coef.dtype, device=values.device)
        scale = scale * phase
    shape = [1] * coef.ndim
    shape[dim] = -1
    picked = coef.index_select(dim, src) * scale.reshape(shape)
    out_shape = list(coef.shape)
    out_shape[dim] = m
    target = torch.zeros(out_shape, dtype=coef.dtype, device=values.device).index_add_(dim, dst, picked)
    out = torch.fft.ifft(target, dim=dim, norm="forward")
    out = out.real if real else out
    return out.to(values.dtype)


def interpolation_matrix(
    src: np.ndarray,
    dst: np.ndarray,
    periodic: bool = False,
    bounds: tuple[float, float] | None = None,
    method: str = "linear",
) -> np.ndarray:
    """Dense ``(len(dst), len(src))`` float64 matrix interpolating samples at ``src`` to ``dst`` (1-D).

    Periodic axes wrap around with period ``bounds[1] - bounds[0]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = src.size
    if n == 1:
        return np.ones((dst.size, 1))
    if periodic:
        if bounds is None:
            raise GridError("periodic interpolation needs the axis bounds (the period)")
        period = bounds[1] - bounds[0]
        xs = np.concatenate([src, [src[0] + period]])
        q = src[0] + np.mod(dst - src[0], period)
        q = np.where(q >= xs[-1], q - period, q)  # round-off guard
    else:
        xs, q = src, dst
    nx = xs.size
    if method == "linear":
        i = np.clip(np.searchsorted(xs, q, side="right") - 1, 0, nx - 2)
        t = (q - xs[i]) / (xs[i + 1] - xs[i])
        mat = np.zeros((dst.size, nx))
        rows = np.arange(dst.size)
        np.add.at(mat, (rows, i), 1.0 - t)
        np.add.at(mat, (rows, i + 1), t)
    elif method == "cubic":
        from scipy.interpolate import CubicSpline

        eye = np.eye(n)
        if periodic:
            spline = CubicSpline(xs, np.vstack([eye, eye[:1]]), axis=0, bc_type="periodic")
        elif n < 4:
            return interpolation_matrix(src, dst, False, bounds, "linear") if n == 2 else _poly_matrix(src, dst)
        else:
            spline = CubicSpline(xs, eye, axis=0, bc_type="not-a-knot")
        return spline(q)
    else:
        raise GridError(f"unknown interpolation method {method!r}; use 'linear' or 'cubic'")
    if periodic:
        mat[:, 0] += mat[:, -1]
        mat = mat[:, :-1]
    return mat


def _poly_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    # Lagrange basis through all source points (used for cubic with 3 points)
    mat = np.ones((dst.size, src.size))
    for j in range(src.size):
        for k in range(src.size):
            if k != j:
                mat[:, j] *= (dst - src[k]) / (src[j] - src[k])
    return mat


def _apply_axis_matrix(values: torch.Tensor, dim: int, mat: np.ndarray) -> torch.Tensor:
    rdtype = values.real.dtype if values.is_complex() else values.dtype
    if rdtype in (torch.float16, torch.bfloat16):
        rdtype = torch.float32
    a = torch.as_tensor(mat, dtype=rdtype, device=values.device)
    x = values.movedim(dim, -1)
    if values.is_complex():
        a = a.to(values.dtype)
    out = torch.matmul(x.to(a.dtype) if not values.is_complex() else x, a.T)
    return out.movedim(-1, dim).to(values.dtype)


# ---------------------------------------------------------------------------------------------- grids
def _check_domain(src: Grid, dst: Grid) -> None:
    if dst.ndim != src.ndim:
        raise GridError(f"cannot resample a {src.ndim}-D grid onto a {dst.ndim}-D grid")
    for i, ((a0, a1), (b0, b1), pa, pb) in enumerate(zip(src.bounds, dst.bounds, src.periodic, dst.periodic)):
        if pa != pb:
            raise GridError(
                f"axis {i} is {'periodic' if pa else 'non-periodic'} on the source grid but not on the target"
            )
        tol = _tol(a0, a1)
        if pa and (abs(a0 - b0) > tol or abs(a1 - b1) > tol):
            raise GridError(f"periodic axis {i}: target bounds ({b0}, {b1}) differ from the source ({a0}, {a1})")
        c = dst.coords[i]
        if c[0] < a0 - tol or c[-1] > a1 + tol:
            raise GridError(
                f"axis {i} ({src.names[i]}): target coordinates [{c[0]}, {c[-1]}] leave the source domain ({a0}, {a1})"
            )


def resample_values(values: torch.Tensor, src: Grid, dst: Grid, method: str | None = None) -> torch.Tensor:
    """Values ``(batch, channels, *src.shape)`` on ``src`` -> ``(batch, channels, *dst.shape)`` on ``dst``."""
    if method not in _METHODS:
        raise GridError(f"unknown resampling method {method!r}; choose from {list(_METHODS)}")
    src.check_values(values)
    _check_domain(src, dst)
    if method is None:
        strides = _strides(src, dst)
        if strides is not None:
            sl = tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(strides, dst.shape))
            return values[(slice(None), slice(None), *sl)]
    out = values
    for i in range(src.ndim):
        a, b = src.coords[i], dst.coords[i]
        if a.size == b.size and np.array_equal(a, b):
            continue
        dim = 2 + i
        per = src.periodic[i]
        spectral_ok = per and src.is_uniform_axis(i) and dst.is_uniform_axis(i)
        if method == "spectral" and not spectral_ok:
            raise GridError(f"spectral resampling needs uniform periodic axes; axis {i} ({src.names[i]}) is not")
        if method == "spectral" or (method is None and spectral_ok):
            # offset between the first points of the two grids (their least-squares uniform fits, which
            # averages the round-off of float32 coordinates), as a fraction of the period
            lo, hi = src.bounds[i]
            first_a = lo + src.axis_offset(i)
            first_b = dst.bounds[i][0] + dst.axis_offset(i)
            shift = (first_b - first_a) / (hi - lo)
            if abs(shift) < 1e-14:
                shift = 0.0
            out = spectral_resample_axis(out, dim, b.size, shift)
        else:
            mat = interpolation_matrix(a, b, per, src.bounds[i], method or "linear")
            out = _apply_axis_matrix(out, dim, mat)
    return out


def _strides(src: Grid, dst: Grid) -> list[int] | None:
    """Per-axis strides s with ``dst.coords[i] == src.coords[i][::s]`` (to 1e-12), else None."""
    strides = src.stride_to(dst)
    return None if strides is None else list(strides)


def zero_outside_mask(values: Any, mask: Any) -> Any:
    """``values`` (torch tensor or numpy array) with every entry where ``mask`` is False set to 0.

    ``mask`` broadcasts against ``values`` (e.g. ``(*spatial)`` or ``(batch, 1, *spatial)`` against
    ``(batch, C, *spatial)``); None returns ``values`` unchanged. This is what ``Field.resample`` does before
    resampling (so NaN or fill-value placeholders outside the mask do not spread), and what the lazy datasets
    do to every item read from a file with a mask.
    """
    if mask is None:
        return values
    if isinstance(values, torch.Tensor):
        m = torch.as_tensor(mask, dtype=torch.bool, device=values.device)
        return torch.where(m, values, torch.zeros((), dtype=values.dtype, device=values.device))
    values = np.asarray(values)
    return np.where(np.asarray(mask, dtype=bool), values, np.zeros((), dtype=values.dtype))


def resample_mask(mask: torch.Tensor | None, spatial_ndim: int, src: Grid, dst: Grid) -> torch.Tensor | None:
    """A mask (``(*spatial)``, ``(batch, 1, *spatial)`` or the values' shape) moved from ``src`` to ``dst``:
    subsampled exactly when ``dst`` is a strided subset of ``src``, else interpolated linearly and thresholded
    at 1/2. None stays None."""
    if mask is None:
        return None
    m = mask.reshape(1, 1, *mask.shape) if mask.ndim == spatial_ndim else mask
    if _strides(src, dst) is not None:
        r = resample_values(m, src, dst)
    else:
        f = m.to(torch.float64)
        for i in range(src.ndim):
            a, b = src.coords[i], dst.coords[i]
            if not (a.size == b.size and np.array_equal(a, b)):
                mat = interpolation_matrix(a, b, src.periodic[i], src.bounds[i], "linear")
                f = _apply_axis_matrix(f, 2 + i, mat)
        r = f >= 0.5
    return r.reshape(r.shape[2:]) if mask.ndim == spatial_ndim else r


def restrict_grid(grid: Grid | PointCloud, factor: int | Sequence[int] = 2) -> tuple[Grid, tuple[slice, ...]]:
    """The coarse grid keeping every ``factor``-th point per axis, and the per-axis slices that select its
    points (periodic axes: n must be divisible by the factor; non-periodic: n - 1 must be)."""
    g = grid
    if not isinstance(g, Grid):
        raise GridError("restrict() needs a Field on a Grid")
    fac = [int(factor)] * g.ndim if isinstance(factor, (int, np.integer)) else [int(f) for f in factor]
    if len(fac) != g.ndim:
        raise GridError(f"factor has {len(fac)} entries but the grid has {g.ndim} axes")
    if g.is_uniform:
        coarse = g.coarsen(fac)  # coords[i][::f] (Grid.uniform's points on standard axes)
    else:
        coords = []
        for i, (c, f, p) in enumerate(zip(g.coords, fac, g.periodic)):
            cells = c.size if p else c.size - 1
            if f < 1 or cells % f:
                raise GridError(f"cannot restrict axis {i} with {c.size} points by {f}: {cells} cells not divisible")
            coords.append(c[::f])
        coarse = Grid(coords, g.bounds, g.periodic, g.names)
    return coarse, tuple(slice(None, None, f) for f in fac)


# ---------------------------------------------------------------------------------------------- points
def interpolate_at(values: torch.Tensor, grid: Grid | PointCloud, points: Any) -> torch.Tensor:
    """Multilinear interpolation of ``values`` ``(batch, channels, *grid.shape)`` at ``points`` ``(n, d)``.

    Returns ``(batch, channels, n)``. Periodic axes wrap; on non-periodic axes points between the outermost
    coordinate and the domain bound are extrapolated linearly; points outside the bounds raise GridError.
    """
    if isinstance(grid, PointCloud):
        raise GridError("at() needs a Field on a Grid; interpolating PointCloud data is not supported")
    grid.check_values(values)
    p = np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
    if p.ndim == 1 and grid.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[1] != grid.ndim:
        raise ShapeError(f"points must have shape (n_points, {grid.ndim}), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise GridError("points contain NaN or Inf")
    idx0, idx1, frac = [], [], []
    for i in range(grid.ndim):
        c, (lo, hi), per = grid.coords[i], grid.bounds[i], grid.periodic[i]
        q = p[:, i]
        if not per:
            tol = _tol(lo, hi)
            out = (q < lo - tol) | (q > hi + tol)
            if out.any():
                j = int(np.argmax(out))
                raise GridError(
                    f"{int(out.sum())} points lie outside the bounds ({lo}, {hi}) of axis {i} ({grid.names[i]}), "
                    f"e.g. point {j} with coordinate {q[j]}"
                )
        n = c.size
        if n == 1:
            idx0.append(np.zeros(q.size, dtype=np.int64))
            idx1.append(np.zeros(q.size, dtype=np.int64))
            frac.append(np.zeros(q.size))
            continue
        if per:
            period = hi - lo
            xs = np.concatenate([c, [c[0] + period]])
            qq = c[0] + np.mod(q - c[0], period)
            qq = np.where(qq >= xs[-1], qq - period, qq)
            i0 = np.clip(np.searchsorted(xs, qq, side="right") - 1, 0, n - 1)
            t = (qq - xs[i0]) / (xs[i0 + 1] - xs[i0])
            i1 = (i0 + 1) % n
        else:
            i0 = np.clip(np.searchsorted(c, q, side="right") - 1, 0, n - 2)
            t = (q - c[i0]) / (c[i0 + 1] - c[i0])
            i1 = i0 + 1
        idx0.append(i0)
        idx1.append(i1)
        frac.append(t)
    flat = values.reshape(*values.shape[:2], -1)
    strides = np.array([int(np.prod(grid.shape[i + 1 :])) for i in range(grid.ndim)], dtype=np.int64)
    rdtype = values.real.dtype if values.is_complex() else values.dtype
    out = None
    for corner in range(2**grid.ndim):
        lin = np.zeros(p.shape[0], dtype=np.int64)
        w = np.ones(p.shape[0])
        for i in range(grid.ndim):
            hi_side = (corner >> i) & 1
            lin += strides[i] * (idx1[i] if hi_side else idx0[i])
            w = w * (frac[i] if hi_side else 1.0 - frac[i])
        if not np.any(w != 0):
            continue
        wt = torch.as_tensor(w, dtype=rdtype, device=values.device)
        term = flat[..., torch.as_tensor(lin, device=values.device)]
        term = torch.where(wt != 0, term * wt, torch.zeros((), dtype=values.dtype, device=values.device))
        out = term if out is None else out + term
    if out is None:  # pragma: no cover - at least one corner always carries weight
        out = torch.zeros(*values.shape[:2], p.shape[0], dtype=values.dtype, device=values.device)
    return out


# ---------------------------------------------------------------------------------------------- norms
def quadrature_norm(values: torch.Tensor, grid: Grid | PointCloud, mask: torch.Tensor | None, p: float = 2):
    """``(sum_x w(x) |u(x)|^p)^(1/p)`` per sample and channel of ``values`` ``(batch, channels, *spatial)``,
    ``w`` the quadrature weights of ``grid`` times ``mask`` (broadcast to the values, or None); ``p = inf``
    gives the max of ``|u|``. Values under a False mask must already be 0. Shape ``(batch, channels)``."""
    a = values.abs()
    rdtype = a.dtype
    dims = tuple(range(2, values.ndim))
    if p == math.inf or p == float("inf"):
        return a.amax(dim=dims)
    if p <= 0:
        raise GridError(f"norm order p must be positive, got {p}")
    w = torch.as_tensor(np.array(grid.quadrature_weights()), dtype=rdtype, device=values.device)
    w = w.reshape(1, 1, *w.shape)
    if mask is not None:
        w = w * mask.to(rdtype)
    return ((a**p) * w).sum(dim=dims) ** (1.0 / p)
