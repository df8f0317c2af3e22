"""Discretisations of a physical domain: rectilinear ``Grid`` and scattered ``PointCloud``.

A ``Grid`` is the tensor product of 1-D coordinate arrays, one per spatial axis, on a box domain given by
``bounds``. Each axis is either periodic or not:

* periodic axis with ``n`` points on ``[lo, hi)``: ``x_i = lo + i h`` with ``h = (hi - lo) / n``; the right
  end point is the image of the left one and is not stored;
* non-periodic axis: arbitrary strictly increasing coordinates inside ``[lo, hi]``; ``Grid.uniform`` places
  ``n`` nodes at ``linspace(lo, hi, n)`` (end points included, the convention of the FNO Darcy data).

An axis is *uniform* when its points are equispaced, ``x_i = x_0 + i h`` (on a periodic axis with
``h = (hi - lo) / n``). The first point need not be the lower bound: cell-centred data (``x_i = (i + 1/2) h``,
e.g. PDEBench, or xarray coordinates with CF cell-edge bounds) are uniform grids with an *offset*
``x_0 - lo``; ``refine``, ``coarsen`` and ``with_shape`` keep it (see their docstrings). Equal spacing is tested
to the round-off of the coordinates: coordinates that are float32 numbers (float32 files) get float32's
tolerance, so a float32 copy of a uniform grid is still uniform.

Quadrature weights integrate a function sampled on the grid: the rectangle rule on periodic axes
(spectrally accurate for smooth periodic functions) and the trapezoid rule on non-periodic axes; the weights
of a d-dimensional grid are the outer product of the 1-D weights and sum to the domain volume.

Models take the coordinates they need from a Grid, never from an assumed ``[0, 1]^d`` of a tensor's shape.
Grids are immutable value objects; two grids compare equal when their coordinates, bounds and periodic
flags are equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from sciml.core.errors import GridError, ShapeError

__all__ = ["Grid", "PointCloud", "coords_match"]

_EPS32 = float(np.finfo(np.float32).eps)


def _is_float32(c: np.ndarray) -> bool:
    """True when every coordinate is a float32 number (e.g. read from a float32 file)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.array_equal(c.astype(np.float32).astype(np.float64), c))


def _coord_tol(c: np.ndarray, lo: float, hi: float) -> float:
    """Absolute round-off tolerance of the coordinates ``c`` of an axis on ``(lo, hi)``.

    float64 coordinates: ``1e-9`` of the mean spacing (as before); coordinates that are float32 numbers:
    four float32 ulps of the largest magnitude (a float32 copy of equispaced points is off by half an ulp).
    """
    h = (c[-1] - c[0]) / (c.size - 1) if c.size > 1 else hi - lo
    tol = 1e-9 * abs(h)
    if _is_float32(c):
        scale = max(abs(lo), abs(hi), abs(float(c[0])), abs(float(c[-1])))
        tol = max(tol, 4 * _EPS32 * scale)
    return tol


def coords_match(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` are the same points up to round-off (float32 round-off if either is float32 numbers)."""
    if a.shape != b.shape:
        return False
    scale = max(float(np.abs(a).max()), float(np.abs(b).max())) if a.size else 0.0
    atol = 1e-12 * max(1.0, scale)
    if _is_float32(a) or _is_float32(b):
        atol = max(atol, 2 * _EPS32 * scale)
    return bool(np.allclose(a, b, rtol=0, atol=atol))


def _axis_coords(lo: float, hi: float, m: int, periodic: bool, a: float, b: float) -> np.ndarray:
    """``m`` equispaced points on ``(lo, hi)`` with gaps ``a h`` before the first point and (non-periodic)
    ``b h`` after the last one, ``h`` the spacing; ``a = b = 0`` gives exactly ``Grid.uniform``'s points."""
    if periodic:
        if a == 0.0:
            return lo + (hi - lo) * np.arange(m) / m
        return lo + (hi - lo) * (np.arange(m) + a) / m
    if a == 0.0 and b == 0.0:
        return np.linspace(lo, hi, m) if m > 1 else np.array([0.5 * (lo + hi)])
    if m == 1:
        return np.array([lo + (hi - lo) * a / (a + b)])
    h = (hi - lo) / (m - 1 + a + b)
    x = lo + (a + np.arange(m)) * h
    if a == 0.0:
        x[0] = lo
    if b == 0.0:
        x[-1] = hi
    return x


def _per_axis(value: Any, ndim: int, name: str) -> list:
    if isinstance(value, (bool, np.bool_, int, float)) or value is None:
        return [value] * ndim
    value = list(value)
    if len(value) != ndim:
        raise GridError(f"{name} has {len(value)} entries but the grid has {ndim} axes")
    return value


LATITUDE_NAMES = ("lat", "latitude")
LONGITUDE_NAMES = ("lon", "longitude")


def _resolve_metric(metric: str | None, names: Sequence[str], coords: Sequence[np.ndarray]):
    """``(metric, (lat_axis, lon_axis) or None)`` from the argument or, when None, the axis names."""
    if metric not in (None, "euclidean", "sphere"):
        raise GridError(f"metric must be 'euclidean', 'sphere' or None (detect), got {metric!r}")
    lower = [str(n).lower() for n in names]
    lat = [i for i, n in enumerate(lower) if n in LATITUDE_NAMES]
    lon = [i for i, n in enumerate(lower) if n in LONGITUDE_NAMES]
    found = len(lat) == 1 and len(lon) == 1
    in_range = found and coords[lat[0]].min() >= -90.0 - 1e-9 and coords[lat[0]].max() <= 90.0 + 1e-9
    if metric is None:
        metric = "sphere" if in_range else "euclidean"
    if metric == "euclidean":
        return metric, None
    if not found:
        raise GridError(
            f"metric 'sphere' needs one latitude axis (named one of {LATITUDE_NAMES}) and one longitude axis "
            f"({LONGITUDE_NAMES}); the axes are named {tuple(names)}"
        )
    if not in_range:
        raise GridError(f"latitudes of axis {names[lat[0]]!r} must lie in [-90, 90] degrees")
    return metric, (lat[0], lon[0])


def _latitude_bounds(c: np.ndarray) -> tuple[float, float]:
    """Cell edges beyond the first and last latitude rows (half a spacing), clipped to the poles."""
    if c.size == 1:
        return (-90.0, 90.0)
    return (max(-90.0, c[0] - 0.5 * (c[1] - c[0])), min(90.0, c[-1] + 0.5 * (c[-1] - c[-2])))


class Grid:
    """A rectilinear grid on a box domain (or on the sphere, for latitude-longitude grids).

    Args:
        coords: one strictly increasing 1-D array per axis.
        bounds: per-axis ``(lo, hi)``. Default: the coordinate range, extended by one spacing on the right
            for periodic axes.
        periodic: one flag for all axes or one per axis.
        names: axis names (default ``x0, x1, ...``), used by readers/writers and xarray.
        metric: ``"euclidean"`` (a box: trapezoid/rectangle weights) or ``"sphere"`` (a latitude-longitude grid in
            degrees: cell-area weights). Default: ``"sphere"`` when one axis is named ``lat``/``latitude`` and one
            ``lon``/``longitude`` with latitudes in [-90, 90], else ``"euclidean"``.

    On the sphere the quadrature weight of a point is the area of its cell on the unit sphere,
    ``(sin phi_{i+1/2} - sin phi_{i-1/2}) * dlambda`` (radians), with latitude cell edges half-way between
    coordinates and the outer edges one half-spacing beyond the first and last rows, clipped to the poles (the
    default latitude bounds). The weights sum to the area covered (4 pi for the whole globe), so every loss,
    metric and channel statistic that uses ``weights(normalized=True)`` is an area-weighted mean: the mean of
    sin^2(lat) is 1/3 and pole rows weigh about cos(lat) as much as equator rows, not half of them.
    """

    def __init__(
        self,
        coords: Sequence[Any],
        bounds: Sequence[Sequence[float]] | None = None,
        periodic: bool | Sequence[bool] = False,
        names: Sequence[str] | None = None,
        metric: str | None = None,
    ) -> None:
        if isinstance(coords, np.ndarray) and coords.ndim == 1:
            coords = [coords]
        if len(coords) == 0:
            raise GridError("a Grid needs at least one axis")
        ndim = len(coords)
        arrays = []
        for i, c in enumerate(coords):
            a = np.asarray(c.detach().cpu() if isinstance(c, torch.Tensor) else c, dtype=np.float64)
            if a.ndim != 1:
                raise GridError(f"coordinate of axis {i} must be 1-D, got shape {a.shape}")
            if a.size < 1:
                raise GridError(f"coordinate of axis {i} is empty")
            if not np.all(np.isfinite(a)):
                raise GridError(f"coordinate of axis {i} contains NaN or Inf")
            if a.size > 1 and not np.all(np.diff(a) > 0):
                bad = int(np.argmin(np.diff(a) > 0))
                raise GridError(
                    f"coordinate of axis {i} is not strictly increasing (monotonic): "
                    f"x[{bad}]={float(a[bad])!r} >= x[{bad + 1}]={float(a[bad + 1])!r}"
                )
            a.setflags(write=False)
            arrays.append(a)
        self._coords = tuple(arrays)
        self._periodic = tuple(bool(p) for p in _per_axis(periodic, ndim, "periodic"))
        self._names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(ndim))
        if len(self._names) != ndim:
            raise GridError(f"names has {len(self._names)} entries but the grid has {ndim} axes")
        if bounds is None:
            bounds = [None] * ndim
        elif len(bounds) != ndim:
            raise GridError(f"bounds has {len(bounds)} entries but the grid has {ndim} axes")
        self._metric, self._sphere_axes = _resolve_metric(metric, self._names, arrays)
        if self._sphere_axes is not None:
            lat = self._sphere_axes[0]
            bounds = list(bounds)
            if bounds[lat] is None:
                bounds[lat] = _latitude_bounds(arrays[lat])
        bl = []
        for i, (a, b, p) in enumerate(zip(arrays, bounds, self._periodic)):
            if b is None:
                if p:  # one mean spacing past the last point: (c[-1] - c[0]) n / (n - 1) is the period
                    b = (a[0], a[0] + (a[-1] - a[0]) * a.size / (a.size - 1)) if a.size > 1 else (a[0], a[0] + 1.0)
                else:
                    b = (a[0], a[-1])
            pair = () if isinstance(b, (str, bytes)) else b
            try:
                lo, hi = (float(x) for x in pair)
            except (TypeError, ValueError):
                raise GridError(f"bounds of axis {i} must be a pair (lo, hi) of numbers, got {b!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo or (hi == lo and a.size > 1):
                raise GridError(f"bounds of axis {i} must be finite with lo < hi, got ({lo}, {hi})")
            tol = 1e-9 * max(1.0, abs(hi - lo))
            if a[0] < lo - tol or a[-1] > hi + tol or (p and a[-1] >= hi - tol and a.size > 1):
                raise GridError(
                    f"coordinates of axis {i} span [{a[0]}, {a[-1]}], outside bounds ({lo}, {hi})"
                    + (" (periodic axes exclude the right end point)" if p else "")
                )
            bl.append((lo, hi))
        self._bounds = tuple(bl)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def latlon(cls, n_lat: int, n_lon: int, names: Sequence[str] = ("lat", "lon")) -> Grid:
        """The global equiangular grid of WeatherBench: ``n_lat`` latitude rows at cell centres
        ``-90 + (i + 1/2) 180 / n_lat`` and ``n_lon`` longitudes ``j 360 / n_lon``, periodic over 360 degrees."""
        if n_lat < 1 or n_lon < 1:
            raise GridError(f"n_lat and n_lon must be >= 1, got {n_lat}, {n_lon}")
        lat = -90.0 + (np.arange(n_lat) + 0.5) * 180.0 / n_lat
        lon = np.arange(n_lon) * 360.0 / n_lon
        return cls([lat, lon], [(-90.0, 90.0), (0.0, 360.0)], [False, True], names, metric="sphere")

    @classmethod
    def uniform(
        cls,
        shape: int | Sequence[int],
        bounds: Sequence[Sequence[float]] | None = None,
        periodic: bool | Sequence[bool] = False,
        names: Sequence[str] | None = None,
    ) -> Grid:
        """Equispaced grid: ``n`` points per axis on ``bounds`` (default ``[0, 1]`` per axis)."""
        shape = [int(shape)] if isinstance(shape, (int, np.integer)) else [int(s) for s in shape]
        ndim = len(shape)
        if ndim == 0 or any(s < 1 for s in shape):
            raise GridError(f"shape must be a non-empty sequence of positive sizes, got {shape}")
        bounds = [(0.0, 1.0)] * ndim if bounds is None else list(bounds)
        if len(bounds) != ndim:
            raise GridError(f"bounds has {len(bounds)} entries but shape has {ndim} axes")
        per = _per_axis(periodic, ndim, "periodic")
        coords = []
        for n, (lo, hi), p in zip(shape, bounds, per):
            if p:
                coords.append(lo + (hi - lo) * np.arange(n) / n)
            else:
                coords.append(np.linspace(lo, hi, n) if n > 1 else np.array([0.5 * (lo + hi)]))
        return cls(coords, bounds=bounds, periodic=per, names=names)

    # ------------------------------------------------------------------ properties
    @property
    def coords(self) -> tuple[np.ndarray, ...]:
        """Per-axis 1-D float64 coordinates (read-only arrays)."""
        return self._coords

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        return self._bounds

    @property
    def periodic(self) -> tuple[bool, ...]:
        return self._periodic

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def ndim(self) -> int:
        return len(self._coords)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(c.size for c in self._coords)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def lengths(self) -> tuple[float, ...]:
        return tuple(hi - lo for lo, hi in self._bounds)

    @property
    def volume(self) -> float:
        """Length, area or volume of the domain; on the sphere the area covered (4 pi for the whole globe)."""
        if self._sphere_axes is not None:
            return float(self._weights_np.sum())
        return float(np.prod(self.lengths))

    @cached_property
    def _uniform_axes(self) -> tuple[bool, ...]:
        out = []
        for c, p, (lo, hi) in zip(self._coords, self._periodic, self._bounds):
            if c.size < 2:
                out.append(True)
                continue
            h = (hi - lo) / c.size if p else (c[-1] - c[0]) / (c.size - 1)
            out.append(bool(np.all(np.abs(np.diff(c) - h) <= _coord_tol(c, lo, hi))))
        return tuple(out)

    @property
    def is_uniform(self) -> bool:
        """True when every axis is equispaced (and, on periodic axes, ``n`` spacings make the period).

        The first point may be offset from the lower bound (e.g. cell centres); spacing is compared to the
        round-off of the coordinates (float32 tolerance for coordinates that are float32 numbers)."""
        return all(self._uniform_axes)

    def is_uniform_axis(self, axis: int) -> bool:
        """True when axis ``axis`` is equispaced (see ``is_uniform``)."""
        return self._uniform_axes[axis]

    def _layout(self, axis: int) -> tuple[float, float, float]:
        """``(h, a, b)`` of a uniform axis: spacing, gap before the first point and (non-periodic) after the
        last point as fractions of ``h``; gaps within round-off of 0 are exactly 0 (``Grid.uniform``)."""
        c, p, (lo, hi) = self._coords[axis], self._periodic[axis], self._bounds[axis]
        n = c.size
        if n == 1 and not p:
            return hi - lo, 0.0, 0.0
        tol = _coord_tol(c, lo, hi)
        if p:
            h = (hi - lo) / n
            a = float(np.mean(c - lo - h * np.arange(n))) / h  # least-squares offset (averages float32 noise)
            if a < tol / h:
                a = 0.0
            return h, a, 0.0
        h = (c[-1] - c[0]) / (n - 1)
        a = (c[0] - lo) / h if c[0] - lo > tol else 0.0
        b = (hi - c[-1]) / h if hi - c[-1] > tol else 0.0
        return h, float(a), float(b)

    def axis_offset(self, axis: int) -> float:
        """Distance of a uniform axis' first point from its lower bound (0 for ``Grid.uniform``)."""
        if not self._uniform_axes[axis]:
            raise GridError(f"axis {axis} is not uniform; its offset is not defined")
        h, a, _ = self._layout(axis)
        return a * h

    @property
    def spacing(self) -> tuple[float, ...]:
        """Per-axis spacing h of a uniform grid (raises GridError on non-uniform grids)."""
        if not self.is_uniform:
            raise GridError("spacing is only defined for uniform grids; use coords instead")
        out = []
        for c, p, (lo, hi) in zip(self._coords, self._periodic, self._bounds):
            out.append((hi - lo) / c.size if p else (float(c[-1] - c[0]) / (c.size - 1) if c.size > 1 else hi - lo))
        return tuple(out)

    @property
    def metric(self) -> str:
        """``"euclidean"`` or ``"sphere"`` (a latitude-longitude grid in degrees)."""
        return self._metric

    @property
    def latlon_axes(self) -> tuple[int, int] | None:
        """``(latitude axis, longitude axis)`` on the sphere, else None."""
        return self._sphere_axes

    def axis_weights(self, axis: int) -> np.ndarray:
        """1-D quadrature weights of one axis (rectangle rule if periodic, trapezoid otherwise). On the sphere the
        latitude axis gives ``sin`` differences of its cell edges and the longitude axis its widths in radians."""
        c, (lo, hi) = self._coords[axis], self._bounds[axis]
        if self._sphere_axes is not None and axis == self._sphere_axes[0]:
            edges = np.concatenate([[lo], 0.5 * (c[1:] + c[:-1]), [hi]])
            return np.diff(np.sin(np.deg2rad(edges)))
        if self._sphere_axes is not None and axis == self._sphere_axes[1]:
            return np.deg2rad(self._euclidean_axis_weights(axis))
        return self._euclidean_axis_weights(axis)

    def _euclidean_axis_weights(self, axis: int) -> np.ndarray:
        c, p, (lo, hi) = self._coords[axis], self._periodic[axis], self._bounds[axis]
        n = c.size
        if n == 1:
            return np.array([hi - lo if hi > lo else 1.0])
        if p:
            # distance to the neighbours on the circle, halved: exact rectangle rule on uniform grids
            ext = np.concatenate([[c[-1] - (hi - lo)], c, [c[0] + (hi - lo)]])
            return 0.5 * (ext[2:] - ext[:-2])
        w = np.empty(n)
        w[1:-1] = 0.5 * (c[2:] - c[:-2])
        w[0] = 0.5 * (c[1] - c[0]) + (c[0] - lo)
        w[-1] = 0.5 * (c[-1] - c[-2]) + (hi - c[-1])
        return w

    @cached_property
    def _weights_np(self) -> np.ndarray:
        w = np.ones(())
        for i in range(self.ndim):
            w = np.multiply.outer(w, self.axis_weights(i))
        w.setflags(write=False)
        return w

    def quadrature_weights(self) -> np.ndarray:
        """Weights of shape ``self.shape`` with ``sum(w * f) ~ integral of f``; they sum to the volume."""
        return self._weights_np

    def weights(
        self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32, normalized: bool = False
    ) -> torch.Tensor:
        """Quadrature weights as a tensor; ``normalized=True`` divides by the volume (grid means).

        A one-point axis with zero length (bounds ``(a, a)``) is a point evaluation (weight 1) and the volume is 0;
        normalised weights then divide by the weights' sum, so a grid mean stays a mean instead of ``inf``."""
        volume = self.volume
        total = volume if volume > 0 else float(self._weights_np.sum())
        w = self._weights_np / total if normalized else self._weights_np
        return torch.tensor(np.ascontiguousarray(w), dtype=dtype, device=device)

    def meshgrid(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Coordinates of every grid point, shape ``(ndim, *shape)``."""
        axes = [torch.tensor(c, dtype=dtype, device=device) for c in self._coords]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=0)

    def points(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Coordinates of every grid point as a point list, shape ``(size, ndim)`` in C order."""
        return self.meshgrid(device, dtype).reshape(self.ndim, -1).T.contiguous()

    # ------------------------------------------------------------------ refinement
    def _rebuild(self, shape: Sequence[int], gaps: Sequence[Any]) -> Grid:
        """Grid with ``shape`` on the same domain; per axis ``gaps`` is ``(a, b)`` (see ``_axis_coords``), None
        (keep the axis) or the coordinates themselves."""
        coords = []
        for i, (m, g) in enumerate(zip(shape, gaps)):
            if g is None:  # keep the axis as it is
                coords.append(self._coords[i])
                continue
            if isinstance(g, np.ndarray):
                coords.append(g)
                continue
            (lo, hi), p = self._bounds[i], self._periodic[i]
            coords.append(_axis_coords(lo, hi, m, p, g[0], g[1]))
        return Grid(coords, self._bounds, self._periodic, self._names, self._metric)

    def refine(self, factor: int | Sequence[int] = 2) -> Grid:
        """Uniform grid of the same domain with ``factor`` times more cells per axis, nested: the points of
        ``self`` are ``refine(f).coords[i][::f]`` (so ``refine(f).stride_to(self) == f`` and ``coarsen`` inverts it).

        Periodic axes go from n to n*factor points; non-periodic axes from n to (n-1)*factor+1 nodes. The first
        (and on non-periodic axes the last) point is kept. A periodic axis whose first point is offset from
        the lower bound by ``a`` cells cannot be refined by ``f >= 1 / a`` that way (the refined grid would
        need a point at the upper bound, e.g. cell centres refined by 2): GridError; use ``with_shape`` for a
        grid with the same relative offset (not nested).
        """
        if not self.is_uniform:
            raise GridError("refine() needs a uniform grid")
        fac = [int(f) for f in _per_axis(factor, self.ndim, "factor")]
        if any(f < 1 for f in fac):
            raise GridError(f"refinement factor must be a positive integer, got {factor}")
        shape, gaps = [], []
        for i, (n, f, p) in enumerate(zip(self.shape, fac, self._periodic)):
            h, a, b = self._layout(i)
            if not p and n == 1:
                shape.append(1)
                gaps.append(None)
                continue
            if p and a > 0 and a * f > 1.0 - f * _coord_tol(self._coords[i], *self._bounds[i]) / h:
                raise GridError(
                    f"cannot refine periodic axis {i} ({self._names[i]}) by {f} keeping its points: its first point "
                    f"is offset by {a:.6g} of a cell from the lower bound {self._bounds[i][0]}, so a nested grid "
                    f"with {n * f} points would need a point at the upper bound; use with_shape() for a grid "
                    "with the same relative offset"
                )
            shape.append(n * f if p else (n - 1) * f + 1)
            c = self._coords[i]
            if (a or b) and not _is_float32(c):
                # offset axis: the kept points are exactly self's (coarsen(f) gives self back bit for bit)
                sub = c if p else c[:-1]
                fine = (sub[:, None] + (h / f) * np.arange(f)[None, :]).ravel()
                gaps.append(fine if p else np.append(fine, c[-1]))
            else:  # standard axis (Grid.uniform's points), or float32 points: the equispaced points they round
                gaps.append((a * f, b * f))
        return self._rebuild(shape, gaps)

    def coarsen(self, factor: int | Sequence[int] = 2) -> Grid:
        """Inverse of ``refine``: keeps every ``factor``-th point, starting with the first one (the points are
        ``coords[i][::factor]``, also on offset grids); raises GridError if sizes don't divide."""
        if not self.is_uniform:
            raise GridError("coarsen() needs a uniform grid")
        fac = [int(f) for f in _per_axis(factor, self.ndim, "factor")]
        coords = []
        for i, (n, f, p) in enumerate(zip(self.shape, fac, self._periodic)):
            cells = n if p else n - 1
            if f < 1 or cells % f != 0 or cells // f < 1:
                raise GridError(
                    f"cannot coarsen axis {i} with {n} points ({'periodic' if p else 'non-periodic'}) by {f}: "
                    f"{cells} cells are not divisible by {f}"
                )
            _, a, b = self._layout(i)
            m = cells // f if p else cells // f + 1
            if a == 0.0 and b == 0.0:  # standard axis: exactly Grid.uniform's points
                coords.append(_axis_coords(*self._bounds[i], m, p, 0.0, 0.0))
            else:  # offset axis: exactly the kept points
                coords.append(self._coords[i][::f])
        return Grid(coords, self._bounds, self._periodic, self._names, self._metric)

    def with_shape(self, shape: int | Sequence[int]) -> Grid:
        """Uniform grid of the same domain, periodicity and names with another number of points.

        Offsets are kept relative to the spacing: the gap between the lower bound and the first point (and on
        non-periodic axes between the last point and the upper bound) is the same fraction of a cell, so cell
        centres stay cell centres. Non-uniform axes give ``Grid.uniform``'s points."""
        shape = [int(shape)] if isinstance(shape, (int, np.integer)) else [int(s) for s in shape]
        if len(shape) != self.ndim or any(s < 1 for s in shape):
            raise GridError(f"shape must be {self.ndim} positive sizes, got {shape}")
        gaps = []
        for i in range(self.ndim):
            h, a, b = self._layout(i) if self._uniform_axes[i] else (1.0, 0.0, 0.0)
            if self._periodic[i] and a > 1.0 - _coord_tol(self._coords[i], *self._bounds[i]) / h:
                a = 0.0  # a full cell: the same points on the circle, starting at the lower bound
            gaps.append((a, b))
        return self._rebuild(shape, gaps)

    def stride_to(self, other: Grid) -> tuple[int, ...] | None:
        """Per-axis integer strides s such that ``other.coords[i] == self.coords[i][::s]`` (to round-off: float32
        round-off when either grid's coordinates are float32 numbers), else None."""
        if other.ndim != self.ndim or other.periodic != self.periodic:
            return None
        strides = []
        for a, b, p in zip(self._coords, other.coords, self._periodic):
            if b.size > a.size:
                return None
            if b.size == 1:
                s = 1
            elif p:
                if a.size % b.size:
                    return None
                s = a.size // b.size
            else:
                s = (a.size - 1) // (b.size - 1)
            sub = a[::s][: b.size]
            if sub.size != b.size or not coords_match(sub, b):
                return None
            strides.append(s)
        return tuple(strides)

    # ------------------------------------------------------------------ checks and serialisation
    def check_values(self, values: torch.Tensor | np.ndarray, name: str = "values") -> None:
        """Raise ShapeError unless ``values`` is shaped ``(batch, channels, *self.shape)``."""
        shp = tuple(values.shape)
        if len(shp) != self.ndim + 2:
            raise ShapeError(
                f"{name} must have {self.ndim + 2} dimensions (batch, channels, *{self.shape}) for a "
                f"{self.ndim}-D grid, got {len(shp)} dimensions with shape {shp}"
            )
        if shp[2:] != self.shape:
            raise ShapeError(f"{name} spatial shape {shp[2:]} does not match the grid shape {self.shape}")

    def to_dict(self) -> dict:
        """Plain-data description (lists of floats); ``Grid.from_dict`` inverts it exactly."""
        return {
            "kind": "grid",
            "coords": [c.tolist() for c in self._coords],
            "bounds": [list(b) for b in self._bounds],
            "periodic": list(self._periodic),
            "names": list(self._names),
            "metric": self._metric,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        return cls(d["coords"], d.get("bounds"), d.get("periodic", False), d.get("names"), d.get("metric"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return (
            self.shape == other.shape
            and self._periodic == other._periodic
            and self._metric == other._metric
            and all(np.array_equal(a, b) for a, b in zip(self._coords, other._coords))
            and np.allclose(self._bounds, other._bounds, rtol=1e-12, atol=0)
        )

    def __hash__(self) -> int:
        return hash((self.shape, self._periodic, tuple(c.tobytes() for c in self._coords)))

    def __repr__(self) -> str:
        per = "".join("p" if p else "-" for p in self._periodic)
        return f"Grid(shape={self.shape}, bounds={self._bounds}, periodic={per})"


class PointCloud:
    """``n`` points in ``d`` dimensions with optional quadrature weights.

    Used for irregular meshes and for query points of pointwise decoders (DeepONet trunk, VANO decoder).
    Without weights, every point gets ``volume / n`` (Monte Carlo quadrature on the bounding box).
    """

    def __init__(
        self,
        points: Any,
        weights: Any = None,
        bounds: Sequence[Sequence[float]] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        p = np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
        if p.ndim == 1:
            p = p[:, None]
        if p.ndim != 2 or p.shape[0] < 1:
            raise ShapeError(f"points must have shape (n_points, dim), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise GridError("points contain NaN or Inf")
        p.setflags(write=False)
        self._points = p
        d = p.shape[1]
        if bounds is None:
            bounds = list(zip(p.min(0).tolist(), p.max(0).tolist()))
        if len(bounds) != d:
            raise GridError(f"bounds has {len(bounds)} entries but the points have {d} dimensions")
        self._bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        if weights is None:
            vol = float(np.prod([max(hi - lo, 0.0) for lo, hi in self._bounds])) or 1.0
            w = np.full(p.shape[0], vol / p.shape[0])
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (p.shape[0],):
                raise ShapeError(f"weights must have shape ({p.shape[0]},), got {w.shape}")
        w.setflags(write=False)
        self._weights = w
        self._names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(d))

    @property
    def ndim(self) -> int:
        return self._points.shape[1]

    @property
    def shape(self) -> tuple[int]:
        return (self._points.shape[0],)

    @property
    def size(self) -> int:
        return self._points.shape[0]

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        return self._bounds

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.ndim

    @property
    def volume(self) -> float:
        return float(self._weights.sum())

    def quadrature_weights(self) -> np.ndarray:
        return self._weights

    def weights(
        self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32, normalized: bool = False
    ) -> torch.Tensor:
        w = self._weights / self._weights.sum() if normalized else self._weights
        return torch.tensor(w, dtype=dtype, device=device)

    def points(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.tensor(self._points, dtype=dtype, device=device)

    def check_values(self, values: torch.Tensor | np.ndarray, name: str = "values") -> None:
        shp = tuple(values.shape)
        if len(shp) != 3 or shp[2] != self.size:
            raise ShapeError(f"{name} must have shape (batch, channels, {self.size}) on this PointCloud, got {shp}")

    def to_dict(self) -> dict:
        return {
            "kind": "pointcloud",
            "points": self._points.tolist(),
            "weights": self._weights.tolist(),
            "bounds": [list(b) for b in self._bounds],
            "names": list(self._names),
        }

    @classmethod
    def from_dict(cls, d: dict) -> PointCloud:
        return cls(d["points"], d.get("weights"), d.get("bounds"), d.get("names"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PointCloud):
            return NotImplemented
        return np.array_equal(self._points, other._points) and np.array_equal(self._weights, other._weights)

    def __hash__(self) -> int:
        return hash(self._points.tobytes())

    def __repr__(self) -> str:
        return f"PointCloud(n_points={self.size}, dim={self.ndim})"
