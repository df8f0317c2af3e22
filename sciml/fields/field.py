"""``Field``: a batch of (multi-variable) functions sampled on a ``Grid`` or a ``PointCloud``.

A Field holds values ``u[b, c, *x]`` of ``batch`` functions with ``channels`` variables each:

* on a ``Grid`` of shape ``(n_1, ..., n_d)`` the values are ``(batch, channels, n_1, ..., n_d)``;
* on a ``PointCloud`` of ``n`` points they are ``(batch, channels, n)``.

Per channel it carries the variable name, its units and an optional CF ``standard_name``. Optional extras:

* ``mask``: boolean, True where the function is defined (geometry or missing data). Shapes ``(*spatial)``
  (one mask for the whole batch), ``(batch, 1, *spatial)`` (per sample) or the values' full shape. Values may
  be NaN/Inf only where the mask is False; everywhere else they must be finite.
* ``time``: float64 ``(batch,)``, the time of each sample (e.g. snapshots of one trajectory).
* ``attrs``: a JSON-serialisable dict of free-form attributes (stored in files verbatim).

Operations (the numerics in ``sciml.fields.resample``, the files in ``sciml.fields.storage.hdf5`` and
``sciml.fields.xarray_io``; none of those modules imports this one):

* ``resample(grid)``: exact strided subsampling when the target is a strided subset of the source;
  otherwise per axis, spectral (FFT zero-padding / truncation, exact for band-limited periodic functions)
  on uniform periodic axes and linear (default) or cubic interpolation elsewhere.
* ``restrict(factor)``: keep every ``factor``-th point per axis (injection, no averaging).
* ``at(points)``: multilinear interpolation at arbitrary points, periodic wrap on periodic axes.
* ``norm(p)``: quadrature norm ``(sum_x w(x) |u(x)|^p)^(1/p)`` per sample and channel (``w`` the grid's
  quadrature weights, restricted to the mask when there is one); ``p=inf`` is the max over the mask.
* ``to_hdf5`` / ``from_hdf5``, ``to_xarray`` / ``from_xarray``: exact round trips.

Values are a torch tensor; numpy input is converted without changing the dtype (float64 stays float64,
integer input becomes float64). Values built by ``Field.from_xarray`` on dask-backed data are *lazy*: shape
and metadata are known, but nothing is computed (and NaN checks are deferred) until ``.values`` is used.
Indexing the batch and ``select`` keep a lazy Field lazy.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sciml.core.errors import DataFormatError, GridError, InvalidValueError, ShapeError, located
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.metadata import canonical_attrs, channel_names, check_mask_layout
from sciml.fields.resample import (
    interpolate_at,
    quadrature_norm,
    resample_mask,
    resample_values,
    restrict_grid,
    zero_outside_mask,
)

__all__ = ["Field"]


def _to_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == object:
        raise InvalidValueError(f"{name} must be numeric, got an array of Python objects")
    if a.dtype.kind not in "biufc":
        raise InvalidValueError(f"{name} must be numeric, got an array of dtype {a.dtype}")
    if not a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a)  # own a writeable, contiguous copy (torch.from_numpy needs writeable memory)
    return torch.from_numpy(a)


def _torch_dtype(np_dtype: Any) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=np.dtype(np_dtype))).dtype


class Field:
    """A batch of functions on a ``Grid`` or ``PointCloud`` with per-channel metadata (see module docstring).

    Args:
        values: ``(batch, channels, *grid.shape)`` tensor or array.
        grid: the ``Grid`` or ``PointCloud`` the values are sampled on.
        variables: channel names (default ``c0, c1, ...``), unique.
        units: per-channel units (default ``""``); a single string applies to every channel.
        mask: optional boolean mask, shape ``(*spatial)``, ``(batch, 1, *spatial)`` or ``values.shape``.
        time: optional ``(batch,)`` sample times (stored as float64).
        attrs: optional JSON-serialisable dict.
        standard_names: optional per-channel CF standard names (default ``""``).

    Raises:
        ShapeError: wrong number of dimensions, values not matching the grid, wrong number of variable
            names/units, mask or time of the wrong shape.
        InvalidValueError: NaN/Inf in values (outside the mask, when a mask is given); non-boolean mask.
        DataFormatError: duplicate variable names, attrs that are not JSON-serialisable.
    """

    def __init__(
        self,
        values: Any,
        grid: Grid | PointCloud,
        variables: Sequence[str] | None = None,
        units: Sequence[str] | str | None = None,
        mask: Any = None,
        time: Any = None,
        attrs: dict | None = None,
        standard_names: Sequence[str] | str | None = None,
    ) -> None:
        if not isinstance(grid, (Grid, PointCloud)):
            raise GridError(f"grid must be a sciml Grid or PointCloud, got {type(grid).__name__}")
        self._grid = grid
        self._lazy: Any = None
        if _is_lazy_array(values):
            self._lazy = values
            self._values: torch.Tensor | None = None
            shape = tuple(int(s) for s in values.shape)
            self._dtype = _torch_dtype(values.dtype)
        else:
            v = _to_tensor(values, "values")
            if not (v.is_floating_point() or v.is_complex()):
                v = v.to(torch.float64)
            self._values = v
            shape = tuple(v.shape)
            self._dtype = v.dtype
        self._shape = shape
        grid.check_values(_ShapeOnly(shape), "values")
        c = shape[1]
        self._variables = channel_names(variables, c, "variables", lambda i: f"c{i}")
        dup = sorted({v for v in self._variables if self._variables.count(v) > 1})
        if dup:
            raise DataFormatError(f"duplicate variable names {dup} in variables {list(self._variables)}")
        self._units = channel_names(units, c, "units", lambda i: "")
        self._standard_names = channel_names(standard_names, c, "standard_names", lambda i: "")
        self._mask = self._check_mask(mask)
        self._time = self._check_time(time)
        self._attrs = canonical_attrs(attrs)
        if self._values is not None:
            self._check_finite(self._values)

    # ------------------------------------------------------------------ validation
    def _check_mask(self, mask: Any) -> torch.Tensor | None:
        if mask is None:
            return None
        m = _to_tensor(mask, "mask")
        check_mask_layout(m.dtype == torch.bool, m.dtype, m.shape, self._shape, self._shape[2:])
        if self._values is not None and m.device != self._values.device:
            m = m.to(self._values.device)
        return m

    def _check_time(self, time: Any) -> torch.Tensor | None:
        if time is None:
            return None
        t = _to_tensor(time, "time").to(torch.float64)
        if t.ndim == 0:
            t = t.reshape(1)
        if tuple(t.shape) != (self._shape[0],):
            raise ShapeError(f"time must have shape (batch,)=({self._shape[0]},), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise InvalidValueError("time contains NaN or Inf")
        return t

    def _mask_full(self, like: torch.Tensor) -> torch.Tensor | None:
        if self._mask is None:
            return None
        m = self._mask.to(like.device)
        if m.ndim == len(self._shape) - 2:
            m = m.reshape(1, 1, *m.shape)
        return m.expand(*like.shape)

    def _check_finite(self, v: torch.Tensor) -> None:
        bad = ~torch.isfinite(v)
        m = self._mask_full(v)
        if m is not None:
            bad = bad & m
        if bad.any():
            idx = tuple(int(i) for i in torch.nonzero(bad)[0])
            where = " inside the mask" if m is not None else ""
            source = self._attrs.get("source") if isinstance(self._attrs, dict) else None
            raise InvalidValueError(
                (f"{source}: " if isinstance(source, str) else "")
                + f"values contain {int(bad.sum())} NaN/Inf entries{where} (first at index {idx}, variable "
                f"{self._variables[idx[1]]!r}); NaN is only allowed where a mask is False"
            )

    # ------------------------------------------------------------------ properties
    @property
    def values(self) -> torch.Tensor:
        """The values tensor; a lazy Field computes (and validates) them here, once."""
        if self._values is None:
            v = _to_tensor(np.asarray(self._lazy), "values")
            if tuple(v.shape) != self._shape:
                raise ShapeError(f"lazy values produced shape {tuple(v.shape)}, expected {self._shape}")
            if not (v.is_floating_point() or v.is_complex()):
                v = v.to(torch.float64)
            self._check_finite(v)
            self._values = v
            self._lazy = None
        return self._values

    @property
    def is_lazy(self) -> bool:
        """True while the values have not been computed (dask-backed input)."""
        return self._values is None

    @property
    def grid(self) -> Grid | PointCloud:
        return self._grid

    @property
    def variables(self) -> tuple[str, ...]:
        return self._variables

    @property
    def units(self) -> tuple[str, ...]:
        return self._units

    @property
    def standard_names(self) -> tuple[str, ...]:
        return self._standard_names

    @property
    def mask(self) -> torch.Tensor | None:
        return self._mask

    @property
    def time(self) -> torch.Tensor | None:
        return self._time

    @property
    def attrs(self) -> dict:
        return self._attrs

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def batch_size(self) -> int:
        return self._shape[0]

    @property
    def n_channels(self) -> int:
        return self._shape[1]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self._shape[2:]

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions of the domain (``grid.ndim``)."""
        return self._grid.ndim

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype if self._values is None else self._values.dtype

    @property
    def device(self) -> torch.device:
        return torch.device("cpu") if self._values is None else self._values.device

    def __len__(self) -> int:
        return self.batch_size

    def __repr__(self) -> str:
        lazy = ", lazy" if self.is_lazy else ""
        return (
            f"Field(shape={self._shape}, variables={list(self._variables)}, dtype={self.dtype}{lazy}, "
            f"grid={self._grid!r}, mask={'yes' if self._mask is not None else 'no'}, "
            f"time={'yes' if self._time is not None else 'no'})"
        )

    # ------------------------------------------------------------------ construction helpers
    def _new(self, values: Any, grid: Grid | PointCloud | None = None, **kw: Any) -> Field:
        args = {
            "variables": self._variables,
            "units": self._units,
            "standard_names": self._standard_names,
            "mask": self._mask,
            "time": self._time,
            "attrs": copy.deepcopy(self._attrs),
        }
        args.update(kw)
        return Field(values, grid if grid is not None else self._grid, **args)

    def replace(self, **changes: Any) -> Field:
        """A new Field with some of ``values, grid, variables, units, mask, time, attrs, standard_names``
        replaced (validated again)."""
        allowed = {"values", "grid", "variables", "units", "mask", "time", "attrs", "standard_names"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise DataFormatError(f"unknown Field attribute(s) {unknown}; allowed: {sorted(allowed)}")
        values = changes.pop("values", self._lazy if self._values is None else self._values)
        grid = changes.pop("grid", None)
        return self._new(values, grid, **changes)

    def with_values(self, values: Any) -> Field:
        """Same grid and metadata, new values (e.g. a model prediction)."""
        return self.replace(values=values)

    # ------------------------------------------------------------------ device / dtype
    def to(self, *args: Any, **kwargs: Any) -> Field:
        """Move/cast like ``Tensor.to``: a dtype casts the values; a device moves values, mask and time."""
        v = self.values.to(*args, **kwargs)
        mask = None if self._mask is None else self._mask.to(v.device)
        time = None if self._time is None else self._time.to(v.device)
        return self._new(v, mask=mask, time=time)

    def numpy(self) -> np.ndarray:
        """Values as a numpy array (on the CPU)."""
        return self.values.detach().cpu().numpy()

    # ------------------------------------------------------------------ indexing
    def _batch_index(self, index: Any) -> slice | np.ndarray:
        n = self.batch_size
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            i = int(index)
            if not -n <= i < n:
                raise ShapeError(f"batch index {i} out of range for a Field with batch size {n}")
            i %= n
            return slice(i, i + 1)
        if isinstance(index, slice):
            return index
        if isinstance(index, tuple):
            raise ShapeError("a Field is indexed along the batch only: use field[i], field[a:b] or field[[i, j]]")
        idx = np.asarray(index.detach().cpu() if isinstance(index, torch.Tensor) else index)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ShapeError(f"boolean batch index must have shape ({n},), got {idx.shape}")
            return np.nonzero(idx)[0]
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ShapeError(f"batch index must be an int, slice, or 1-D integer/boolean array, got {idx!r}")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise ShapeError(f"batch indices {idx.tolist()} out of range for a Field with batch size {n}")
        return idx % n

    def __getitem__(self, index: Any) -> Field:
        """Batch indexing: ``field[i]`` (keeps a batch dimension of 1), ``field[a:b]``, ``field[[i, j]]``."""
        idx = self._batch_index(index)
        tidx = idx if isinstance(idx, slice) else torch.as_tensor(idx, dtype=torch.long)
        if self._values is None:
            values = self._lazy[idx]
        else:
            values = self._values[tidx.to(self._values.device) if isinstance(tidx, torch.Tensor) else tidx]
        mask = self._mask
        if mask is not None and mask.ndim == len(self._shape):
            mask = mask[tidx.to(mask.device) if isinstance(tidx, torch.Tensor) else tidx]
        time = None if self._time is None else self._time[tidx if isinstance(tidx, slice) else tidx.cpu()]
        return self._new(values, mask=mask, time=time)

    def select(self, names: str | Sequence[str]) -> Field:
        """The channels named ``names`` (in that order); an unknown name raises DataFormatError."""
        names = [names] if isinstance(names, str) else list(names)
        missing = [n for n in names if n not in self._variables]
        if missing:
            raise DataFormatError(
                f"variable(s) {missing} not in this Field; available variables: {list(self._variables)}"
            )
        ch = [self._variables.index(n) for n in names]
        if self._values is None:
            values = self._lazy[:, ch]
        else:
            values = self._values[:, torch.as_tensor(ch, device=self._values.device)]
        mask = self._mask
        if mask is not None and mask.ndim == len(self._shape) and mask.shape[1] == self.n_channels:
            mask = mask[:, torch.as_tensor(ch, device=mask.device)]
        return self._new(
            values,
            variables=names,
            units=[self._units[i] for i in ch],
            standard_names=[self._standard_names[i] for i in ch],
            mask=mask,
        )

    # ------------------------------------------------------------------ numerics (sciml.fields.resample)
    def _masked_values(self) -> torch.Tensor:
        """Values with 0 wherever the mask is False (so NaN placeholders never spread)."""
        v = self.values
        return zero_outside_mask(v, self._mask_full(v))

    def resample(self, grid: Grid | PointCloud, method: str | None = None) -> Field:
        """This Field on another grid of the same domain.

        ``method``: None (default: strided subsampling when exact, spectral on uniform periodic axes, linear
        elsewhere), ``"spectral"`` (require spectral on every axis), ``"linear"`` or ``"cubic"`` (interpolate on
        every axis, also periodic ones). A PointCloud target evaluates ``at`` its points. The mask is
        subsampled when the target is a strided subset, else interpolated linearly and thresholded at 1/2.
        """
        src = self._grid
        if isinstance(src, PointCloud):
            raise GridError(
                "resampling a Field that lives on a PointCloud is not supported (no mesh to interpolate on)"
            )
        if isinstance(grid, PointCloud):
            if method not in (None, "linear"):
                raise GridError(f"evaluation at a PointCloud is multilinear; method={method!r} is not available")
            pts = grid.points(dtype=torch.float64)
            vals = interpolate_at(self._masked_values(), src, pts)
            mask = None
            if self._mask is not None:
                m = self._mask.reshape(1, 1, *self._mask.shape) if self._mask.ndim == src.ndim else self._mask
                mf = interpolate_at(m.to(torch.float64), src, pts) >= 0.5
                mask = mf[0, 0] if self._mask.ndim == src.ndim else mf
            return self._new(vals, grid, mask=mask)
        if not isinstance(grid, Grid):
            raise GridError(f"target must be a Grid or PointCloud, got {type(grid).__name__}")
        vals = resample_values(self._masked_values(), src, grid, method)
        return self._new(vals, grid, mask=resample_mask(self._mask, src.ndim, src, grid))

    def restrict(self, factor: int | Sequence[int] = 2) -> Field:
        """Keep every ``factor``-th point per axis (exact injection onto the coarse grid)."""
        coarse, sl = restrict_grid(self._grid, factor)
        vals = self.values[(slice(None), slice(None), *sl)]
        mask = self._mask
        if mask is not None:
            mask = mask[sl] if mask.ndim == coarse.ndim else mask[(slice(None), slice(None), *sl)]
        return self._new(vals, coarse, mask=mask)

    def at(self, points: Any) -> torch.Tensor:
        """Values at ``points`` ((n, d) array/tensor or PointCloud): ``(batch, channels, n)``, multilinear."""
        pts = points.points(dtype=torch.float64) if isinstance(points, PointCloud) else points
        return interpolate_at(self.values, self._grid, pts)

    def norm(self, p: float = 2) -> torch.Tensor:
        """Quadrature L^p norm per sample and channel, shape ``(batch, channels)`` (mask-restricted)."""
        v = self._masked_values()
        return quadrature_norm(v, self._grid, self._mask_full(v), p)

    # ------------------------------------------------------------------ files (sciml.fields.storage)
    def to_hdf5(self, path: str | os.PathLike, group: str = "field", provenance: dict | None = None) -> None:
        """Write this Field as group ``group`` of a new sciml HDF5 file (atomic; replaces the file)."""
        from sciml.fields.storage.hdf5 import write_field_groups

        write_field_groups(path, {group: self}, provenance=provenance)

    @classmethod
    def from_hdf5(cls, path: str | os.PathLike, group: str | None = None, index: Any = None) -> Field:
        """Read a Field from a sciml HDF5 file; ``group=None`` needs exactly one field group in the file.

        ``index`` (int, slice or 1-D int array) reads only those samples; for a trajectory group it must be an
        int and the Field holds that trajectory, its batch running over time (see ``sciml.fields.hdf5``)."""
        from sciml.fields.storage.hdf5 import read_field_group

        with located(f"{path}:/{group}" if group else path, key=path):  # a Field check names the file it read
            return cls(**read_field_group(path, group=group, index=index))

    def to_xarray(self):
        """``xarray.DataArray`` with dims ``(batch, variable, *grid.names)``; see ``sciml.fields.xarray_io``."""
        from sciml.fields.xarray_io import to_dataarray

        return to_dataarray(
            self._lazy if self.is_lazy else self.values.detach().cpu().numpy(),
            self._grid,
            variables=self._variables,
            units=self._units,
            standard_names=self._standard_names,
            mask=self._mask,
            time=self._time,
            attrs=self._attrs,
        )

    @classmethod
    def from_xarray(cls, obj: Any, variables: Sequence[str] | None = None, batch_dim: str | None = None, **kw: Any):
        """Field from an ``xarray.DataArray`` or ``Dataset`` (lazy for dask-backed data); the conventions (which
        dims are spatial, pressure levels as channels ``<variable>_<level>``, coordinates, bounds, periodicity)
        are those of ``sciml.fields.xarray_io``, shared with the lazy datasets."""
        from sciml.fields.xarray_io import read_xarray

        return cls(**read_xarray(obj, variables=variables, batch_dim=batch_dim, **kw))


class _ShapeOnly:
    """Stand-in exposing only ``.shape`` so grid checks work before (lazy) values exist."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def _is_lazy_array(x: Any) -> bool:
    """Duck-typed dask array (has ``.dask`` graph and ``.compute``), never materialised on construction."""
    return not isinstance(x, (torch.Tensor, np.ndarray)) and hasattr(x, "dask") and hasattr(x, "compute")
