"""Lazy PyTorch datasets over fields stored on disk: operator pairs and windows of trajectories.

``OperatorDataset`` serves pairs ``(a_i, u_i)`` of an input and an output field; ``TrajectoryDataset`` serves
windows of time series ``u(t)``. Both read ONE item per ``__getitem__`` from disk (an h5py hyperslab or one dask
chunk of an xarray/zarr store), so a file far larger than memory can be iterated with bounded memory.

Sources:

* a sciml HDF5 file (schema in docs/developer.md): group ``/<name>/values`` shaped ``(batch, C, *spatial)``
  (fields) or ``(n_traj, n_time, C, *spatial)`` (trajectories), grid in ``/<name>/grid``, channel names in the
  group's ``variables`` attribute, optional ``/<name>/time``;
* a directory containing several such files (``*.h5``/``*.hdf5``, sorted by name), concatenated along samples
  (trajectories) - a sharded data set; all files must share grid and variables;
* an ``xarray.Dataset`` (possibly dask-backed) or the path of a zarr store / netCDF file; each data variable is
  one channel with dims ``(sample_dim, *spatial)`` (trajectories: ``(sample_dim, time_dim, *spatial)``, or
  ``(time_dim, *spatial)`` for a single trajectory), or several channels with an extra ``channel_dim``.
  Coordinates come from the dataset's coordinate variables; an axis is periodic when its coordinate has the
  attribute ``periodic`` set to true, and its ``bounds`` attribute (``[lo, hi]``, or the CF name of an ``(n, 2)``
  variable of cell edges, whose extent is used) gives the domain.

Items are tensors ``x: (C_in, *spatial)``, ``y: (C_out, *spatial)`` of ``dtype`` on the CPU, so the default
collate gives ``(batch, C, *spatial)``, the layout every sciml model takes with ``dataset.grid``. Where an HDF5
group stores a mask, item values under a False mask are 0 (``sciml.fields.resample.zero_outside_mask``, as in
``Field.resample``), whatever the file holds there.

Resolution. ``resolution`` (an int for all axes, a tuple per axis, or a target ``Grid`` of the same domain)
chooses the grid items are returned on, per axis:

* target coordinates a strided subset of the file's (``x_t[j] = x_s[s j]``): only those points are read
  (an h5py strided hyperslab), so the values equal the file's values exactly;
* otherwise the axis is read whole and resampled with ``sciml.fields.resample.resample_values`` (in float64,
  then cast to ``dtype``): trigonometric interpolation on uniform periodic axes (exact for fields with
  ``|k| < min(n_s, n_t)/2``, a spectral truncation when coarsening), piecewise-linear interpolation in the
  coordinates on non-periodic axes (equal to ``F.interpolate(..., align_corners=True)`` on ``linspace``
  grids). A target outside the data's domain raises GridError when the dataset is built.

Processes. The HDF5 file (or the zarr/netCDF path) is opened lazily by the process that reads, and reopened
when the process id changes, so ``DataLoader(num_workers>0)`` with fork or spawn works and pickling a dataset
never pickles an open handle. Reading dask-backed xarray data uses dask's synchronous scheduler (no thread
pools inside DataLoader workers).

Also here: ``split_indices`` (seeded train/val/test index split) and ``channel_stats`` (per-channel mean and
standard deviation streamed over a dataset in float64, optionally quadrature-weighted).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.core.errors import DataFormatError, GridError, InvalidValueError, ShapeError
from sciml.fields.grid import Grid, PointCloud, _coords_match
from sciml.fields.hdf5 import _check_format, _check_mask, _check_numeric, _dataset, read_grid
from sciml.fields.resample import resample_values, zero_outside_mask

__all__ = ["OperatorDataset", "TrajectoryDataset", "split_indices", "channel_stats"]

logger = logging.getLogger(__name__)

# Handles inherited from a parent process through fork. They are set aside (never used, never closed in
# the child) so that the child does not touch the parent's HDF5 file state.
_INHERITED_HANDLES: list[Any] = []


# ====================================================================================== file handles
def _open_h5(path: str) -> h5py.File:
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"file {path!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataFormatError(f"file {path!r} is not a readable HDF5 file (truncated or another format?): {e}") from e
    try:
        _check_format(f, require_name=False)  # files without the sciml_format attribute are read too
    except DataFormatError:
        f.close()
        raise
    return f


class _LazyHandle:
    """An object opened on first use in each process; pickles as its path only."""

    def __init__(self, path: str, opener) -> None:
        self.path = str(path)
        self._opener = opener
        self._obj = None
        self._pid: int | None = None
        self._members: dict[str, Any] = {}

    def get(self):
        pid = os.getpid()
        if self._obj is None or self._pid != pid:
            if self._obj is not None:
                _INHERITED_HANDLES.append(self._obj)
            self._obj = self._opener(self.path)
            self._pid = pid
            self._members = {}
        return self._obj

    def member(self, key: str):
        """``get()[key]``, cached per process (h5py group lookups cost more than reading a small chunk)."""
        obj = self.get()
        if key not in self._members:
            self._members[key] = obj[key]
        return self._members[key]

    def close(self) -> None:
        if self._obj is not None and self._pid == os.getpid() and hasattr(self._obj, "close"):
            self._obj.close()
        self._obj = None
        self._pid = None
        self._members = {}

    def __getstate__(self) -> dict:
        return {"path": self.path, "_opener": self._opener, "_obj": None, "_pid": None, "_members": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _open_xarray(path: str):
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"path {path!r} does not exist")
    try:
        # chunks=None: xarray's lazy backend indexing reads just the selected item, without dask's per-task
        # overhead (~5x faster per item than a dask graph with one chunk per sample)
        if _is_zarr(p):
            with warnings.catch_warnings():  # "no consolidated metadata" is expected for zarr v3 stores
                warnings.simplefilter("ignore", RuntimeWarning)
                return xr.open_zarr(path, chunks=None)
        return xr.open_dataset(path, chunks=None)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"cannot open {path!r} with xarray (zarr store or netCDF expected): {e}") from e


def _is_zarr(p: Path) -> bool:
    return p.suffix == ".zarr" or any((p / m).exists() for m in ("zarr.json", ".zgroup", ".zmetadata", ".zarray"))


def _json_attr(attrs, key: str, default=None):
    if key not in attrs:
        return default
    v = attrs[key]
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    if isinstance(v, np.ndarray):
        return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()]
    return v


def _read_grid_h5(group: h5py.Group, where: str) -> Grid | PointCloud:
    """Grid of a field group following the sciml schema (``/<name>/grid``)."""
    if "grid" not in group or not isinstance(group["grid"], h5py.Group):
        raise DataFormatError(f"{where} has no 'grid' subgroup; members present: {sorted(group.keys())}")
    try:
        return read_grid(group["grid"])
    except GridError as e:
        raise DataFormatError(f"{where}/grid is invalid: {e}") from e


# ====================================================================================== array sources
class _H5Group:
    """One group of one sciml HDF5 file: metadata read once, values read per item.

    ``lead`` is the number of leading (non-channel, non-spatial) axes: 1 for fields, 2 for trajectories.
    """

    def __init__(self, path: str, group: str, lead: int) -> None:
        self.path = str(path)
        self.name = group
        self.lead = lead
        self.where = f"file {self.path!r}, group {group!r}"
        self._handle = _LazyHandle(self.path, _open_h5)
        f = self._handle.get()
        try:
            if group not in f:
                groups = sorted(k for k in f.keys() if isinstance(f[k], h5py.Group))
                raise DataFormatError(f"file {self.path!r} has no group {group!r}; groups present: {groups}")
            g = f[group]
            if not isinstance(g, h5py.Group) or "values" not in g:
                members = sorted(g.keys()) if isinstance(g, h5py.Group) else []
                raise DataFormatError(f"{self.where} has no 'values' dataset; members present: {members}")
            ds = _dataset(g, "values", self.where)
            _check_numeric(ds, self.where, "dataset 'values'")
            self.grid = _read_grid_h5(g, self.where)
            self.shape = tuple(ds.shape)
            self.file_dtype = ds.dtype
            spatial = self.grid.shape
            if len(self.shape) != lead + 1 + len(spatial) or self.shape[lead + 1 :] != tuple(spatial):
                layout = "(batch, C, *spatial)" if lead == 1 else "(n_traj, n_time, C, *spatial)"
                raise DataFormatError(
                    f"{self.where}: values have shape {self.shape}, expected {layout} with spatial shape "
                    f"{tuple(spatial)} of its grid" + (" (is this a trajectory group?)" if lead == 1 else "")
                )
            n_ch = self.shape[lead]
            variables = _json_attr(g.attrs, "variables")
            self.variables = [str(v) for v in variables] if variables else [f"c{i}" for i in range(n_ch)]
            if len(self.variables) != n_ch:
                raise DataFormatError(
                    f"{self.where}: attribute 'variables' names {len(self.variables)} channels "
                    f"({self.variables}) but values have {n_ch}"
                )
            units = _json_attr(g.attrs, "units")
            self.units = [str(u) for u in units] if units and len(units) == n_ch else [""] * n_ch
            self.time = None
            if "time" in g:
                t = _dataset(g, "time", self.where)
                _check_numeric(t, self.where, "dataset 'time'", "iuf")
                self.time = np.asarray(t[()], dtype=np.float64)
            _check_mask(g, self.shape, spatial, self.where)  # the same check as read_field
            self.has_mask = "mask" in g
            self.mask_shape = tuple(g["mask"].shape) if self.has_mask else None
        except (OSError, RuntimeError) as e:  # h5py low-level read errors (corrupt or truncated metadata)
            raise DataFormatError(f"{self.where}: corrupt or truncated HDF5 data ({e})") from None
        finally:
            # metadata only: close so that no handle is inherited by DataLoader workers
            self._handle.close()

    def _item(self, lead_sel: tuple) -> str:
        if len(lead_sel) == 1:
            return f"sample {int(lead_sel[0])}"
        t = lead_sel[1]
        frames = f"{t.start}:{t.stop}:{t.step}" if isinstance(t, slice) else str(t)
        return f"trajectory {int(lead_sel[0])} (time steps {frames})"

    def _corrupt(self, what: str, e: Exception) -> DataFormatError:
        return DataFormatError(f"{self.where}: cannot read {what}: corrupt or truncated HDF5 data ({e})")

    def read(self, lead_sel: tuple, channels: Sequence[int] | None, spatial: tuple) -> np.ndarray:
        try:
            return self._read(lead_sel, channels, spatial)
        except (OSError, RuntimeError) as e:  # h5py: a chunk that fails to decompress, data past a truncated end
            raise self._corrupt(self._item(lead_sel), e) from None

    def _read(self, lead_sel: tuple, channels: Sequence[int] | None, spatial: tuple) -> np.ndarray:
        ds = self._handle.member(f"{self.name}/values")
        if channels is None:
            return ds[(*lead_sel, slice(None), *spatial)]
        uniq = sorted(set(channels))
        arr = ds[(*lead_sel, uniq, *spatial)]
        if list(channels) != uniq:
            pos = [uniq.index(c) for c in channels]
            axis = sum(1 for s in lead_sel if isinstance(s, slice))
            arr = np.take(arr, pos, axis=axis)
        return arr

    def read_mask(self, lead_sel: tuple, spatial: tuple, channels: Sequence[int] | None) -> np.ndarray | None:
        """Mask of the item ``read(lead_sel, channels, spatial)`` returns, broadcastable to it: ``(1, *spatial)``
        for a shared or per-sample (per-trajectory) mask, else the values' layout (``(C, *spatial)`` for a
        field sample, ``(n_frames, C, *spatial)`` for frames of a trajectory)."""
        if not self.has_mask:
            return None
        nd = len(self.grid.shape)
        rank = len(self.mask_shape)
        i = int(lead_sel[0])  # the layout was checked when the file was opened (_check_mask)
        try:
            m = self._handle.member(f"{self.name}/mask")
            if rank == nd:
                out = m[spatial][None]
            elif rank == nd + 1 + self.lead:  # the values' layout (fields: also (batch, 1, *spatial))
                out = m[(*lead_sel, slice(None), *spatial)]
            else:  # (n_traj, 1, *spatial): one mask per trajectory
                out = m[(i, slice(None), *spatial)]
        except (OSError, RuntimeError) as e:
            raise self._corrupt(f"the mask of {self._item(lead_sel)}", e) from None
        axis = out.ndim - nd - 1  # channel axis
        if out.shape[axis] > 1 and channels is not None:
            out = np.take(out, list(channels), axis=axis)
        return np.asarray(out, dtype=bool)


class _H5Shards:
    """Several files with the same group layout, concatenated along the first axis."""

    def __init__(self, paths: Sequence[str], group: str, lead: int) -> None:
        self.parts = [_H5Group(p, group, lead) for p in paths]
        first = self.parts[0]
        for p in self.parts[1:]:
            if p.grid != first.grid or p.variables != first.variables or p.shape[1:] != first.shape[1:]:
                raise DataFormatError(
                    f"{p.where} does not match {first.where}: grid, variables or shape differ "
                    f"({p.variables} {p.shape} vs {first.variables} {first.shape})"
                )
        self.where = f"{len(paths)} files in {str(Path(paths[0]).parent)!r}, group {group!r}"
        self.grid, self.variables, self.units, self.lead = first.grid, first.variables, first.units, lead
        self.offsets = np.cumsum([0] + [p.shape[0] for p in self.parts])
        self.shape = (int(self.offsets[-1]), *first.shape[1:])
        self.time = first.time if lead == 2 else _concat_opt([p.time for p in self.parts])
        self.has_mask = first.has_mask

    def _locate(self, i: int) -> tuple[_H5Group, int]:
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.parts[k], i - int(self.offsets[k])

    def read(self, lead_sel: tuple, channels, spatial: tuple) -> np.ndarray:
        part, j = self._locate(int(lead_sel[0]))
        return part.read((j, *lead_sel[1:]), channels, spatial)

    def read_mask(self, lead_sel: tuple, spatial: tuple, channels):
        part, j = self._locate(int(lead_sel[0]))
        return part.read_mask((j, *lead_sel[1:]), spatial, channels)


def _concat_opt(arrays):
    return None if any(a is None for a in arrays) else np.concatenate(arrays)


class _XrVars:
    """Data variables of an xarray Dataset stacked as channels.

    ``lead_dims``: dims that index items (``[sample_dim]`` or ``[sample_dim, time_dim]``); a lead dim absent
    from the variables becomes a virtual axis of length 1 (a single trajectory).
    """

    def __init__(self, source, names: Sequence[str], lead_dims: Sequence[str], channel_dim: str) -> None:
        if isinstance(source, (str, os.PathLike)):
            self._handle: _LazyHandle | None = _LazyHandle(str(source), _open_xarray)
            self._ds = None
            ds = self._handle.get()
            self.where = f"dataset {str(source)!r}"
        else:
            self._handle = None
            self._ds = source
            ds = source
            self.where = "xarray dataset"
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise DataFormatError(f"{self.where}: no data variables requested")
        missing = [n for n in names if n not in ds.data_vars]
        if missing:
            raise DataFormatError(
                f"{self.where} has no data variable(s) {missing}; data variables present: {sorted(ds.data_vars)}"
            )
        self.names = names
        self.channel_dim = channel_dim
        first = ds[names[0]]
        self.virtual = [d not in first.dims for d in lead_dims]
        if self.virtual[-1]:
            raise DataFormatError(
                f"{self.where}: variable {names[0]!r} has dims {first.dims}, lacking {lead_dims[-1]!r}"
            )
        self.lead_dims = [d for d, v in zip(lead_dims, self.virtual) if not v]
        self.spatial_dims = [d for d in first.dims if d not in lead_dims and d != channel_dim]
        self.variables: list[str] = []
        self.units: list[str] = []
        self._channels: list[tuple[str, int | None]] = []
        for n in names:
            v = ds[n]
            _check_numeric(v, self.where, f"data variable {n!r}")
            extra = set(v.dims) - set(self.lead_dims) - set(self.spatial_dims) - {channel_dim}
            if extra or any(d not in v.dims for d in self.lead_dims + self.spatial_dims):
                raise DataFormatError(
                    f"{self.where}: variable {n!r} has dims {v.dims}; expected {tuple(self.lead_dims)} + optional "
                    f"{channel_dim!r} + the spatial dims {tuple(self.spatial_dims)} of {names[0]!r}"
                )
            if channel_dim in v.dims:
                labels = ds[channel_dim].values.tolist() if channel_dim in ds.coords else range(v.sizes[channel_dim])
                for j, lab in enumerate(labels):
                    self.variables.append(str(lab) if isinstance(lab, str) else f"{n}[{j}]")
                    self.units.append(str(v.attrs.get("units", "")))
                    self._channels.append((n, j))
            else:
                self.variables.append(n)
                self.units.append(str(v.attrs.get("units", "")))
                self._channels.append((n, None))
        # grid metadata: sciml_periodic / sciml_bounds JSON attributes (written by sciml.fields.xarray_io) on
        # the variable or the dataset, else per-coordinate ``periodic`` / ``bounds`` attributes
        s_per = _json_attr(first.attrs, "sciml_periodic", _json_attr(ds.attrs, "sciml_periodic"))
        s_bnd = _json_attr(first.attrs, "sciml_bounds", _json_attr(ds.attrs, "sciml_bounds"))
        coords, bounds, periodic = [], [], []
        for i, d in enumerate(self.spatial_dims):
            n = first.sizes[d]
            if d in ds.coords:
                _check_numeric(ds[d], self.where, f"coordinate {d!r}", "iuf")
                c = np.asarray(ds[d].values, dtype=np.float64)
                attrs = ds[d].attrs
            else:
                c, attrs = np.arange(n, dtype=np.float64), {}
            p = s_per[i] if isinstance(s_per, list) and len(s_per) == len(self.spatial_dims) else None
            p = _coord_periodic(attrs.get("periodic", False) if p is None else p, d, self.where)
            b = s_bnd[i] if isinstance(s_bnd, list) and len(s_bnd) == len(self.spatial_dims) else None
            b = attrs.get("bounds") if b is None else b
            coords.append(c)
            periodic.append(p)
            bounds.append(_coord_bounds(b, ds, d, self.where))
        try:
            self.grid = Grid(coords, bounds, periodic, self.spatial_dims)
        except GridError as e:
            raise DataFormatError(f"{self.where}: coordinates of {tuple(self.spatial_dims)} are invalid: {e}") from e
        self.shape = tuple(1 if v else first.sizes[d] for d, v in zip(lead_dims, self.virtual))
        self.shape = (*self.shape, len(self.variables), *self.grid.shape)
        self.lead = len(lead_dims)
        # times: the time_dim coordinate (trajectories) or a numeric "time" coordinate along sample_dim (fields)
        self.time = None
        tname = lead_dims[-1] if len(lead_dims) == 2 else "time"
        if tname in ds.coords and ds[tname].dims == (lead_dims[-1],) and np.issubdtype(ds[tname].dtype, np.number):
            self.time = np.asarray(ds[tname].values, dtype=np.float64)
        self.has_mask = False
        if self._handle is not None:
            self._handle.close()

    def _dataset(self):
        return self._ds if self._handle is None else self._handle.get()

    def read(self, lead_sel: tuple, channels: Sequence[int] | None, spatial: tuple) -> np.ndarray:
        import dask

        ds = self._dataset()
        real = [s for s, v in zip(lead_sel, self.virtual) if not v]  # virtual axes have length 1: drop
        isel = dict(zip(self.lead_dims, real))
        isel.update(dict(zip(self.spatial_dims, spatial)))
        chans = range(len(self._channels)) if channels is None else channels
        names = sorted({self._channels[c][0] for c in chans})
        with dask.config.set(scheduler="synchronous"):
            sub = ds[names].isel(isel).compute()
        keep = [d for d in self.lead_dims if isinstance(isel[d], slice)]
        parts = []
        for c in chans:
            n, j = self._channels[c]
            v = sub[n]
            if j is not None:
                v = v.isel({self.channel_dim: j})
            parts.append(np.asarray(v.transpose(*keep, *self.spatial_dims).values))
        return np.stack(parts, axis=len(keep))

    def read_mask(self, lead_sel: tuple, spatial: tuple, channels):
        return None


def _coord_periodic(p: Any, dim: str, where: str) -> bool:
    """A coordinate's ``periodic`` flag: a bool, a number, "true"/"false", or a one-element array of those."""
    if isinstance(p, bytes):
        p = p.decode(errors="replace")
    if isinstance(p, np.ndarray):
        if p.size != 1:
            raise DataFormatError(f"{where}: coordinate {dim!r} has periodic={p!r}, expected one boolean")
        p = p.item()
    return p.strip().lower() == "true" if isinstance(p, str) else bool(p)


def _coord_bounds(b: Any, ds, dim: str, where: str) -> tuple[float, float] | None:
    """``(lo, hi)`` from a coordinate's ``bounds`` attribute, or None (default bounds).

    Accepted: two numbers ``[lo, hi]`` (also as a JSON string), or - the CF convention - the name of a bounds
    variable of shape ``(n, 2)`` holding the cell edges, whose extent is the domain; a named variable that is
    not in the dataset is ignored. Anything else raises DataFormatError naming the coordinate.
    """
    if b is None:
        return None
    if isinstance(b, bytes):
        b = b.decode(errors="replace")
    if isinstance(b, str):
        try:
            parsed = json.loads(b)
        except json.JSONDecodeError:
            parsed = b.strip()
        if isinstance(parsed, str):  # CF: x:bounds = "x_bnds"
            if parsed not in ds.variables:
                logger.debug("%s: bounds variable %r of coordinate %r not found; using default bounds", where, b, dim)
                return None
            var = ds.variables[parsed]
            n = ds.sizes[dim]
            if var.dtype.kind not in "iuf" or tuple(var.shape) != (n, 2):
                raise DataFormatError(
                    f"{where}: bounds variable {parsed!r} of coordinate {dim!r} has shape {tuple(var.shape)} and "
                    f"dtype {var.dtype}; expected ({n}, 2) numbers (cell edges)"
                )
            edges = np.asarray(var.values, dtype=np.float64)
            return float(edges.min()), float(edges.max())
        b = parsed
    try:
        arr = np.asarray(b, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.size != 2:
        raise DataFormatError(
            f"{where}: coordinate {dim!r} has bounds={b!r}; expected two numbers [lo, hi] or the name of a "
            "CF bounds variable"
        )
    return float(arr[0]), float(arr[1])


# ====================================================================================== resolution plan
def _axis_stride(a: np.ndarray, b: np.ndarray) -> int | None:
    """Stride s with b == a[::s][:len(b)] (to round-off), else None."""
    if b.size > a.size:
        return None
    if b.size == 1:
        return 1 if _coords_match(a[:1], b) else None
    s = (a.size - 1) // (b.size - 1) if b.size > 1 else 1
    for cand in {s, max(1, round((b[1] - b[0]) / (a[1] - a[0]))) if a.size > 1 else 1}:
        sub = a[::cand][: b.size]
        if sub.size == b.size and _coords_match(sub, b):
            return cand
    return None


def _target_grid(src: Grid | PointCloud, resolution) -> Grid | PointCloud:
    if resolution is None:
        return src
    if isinstance(src, PointCloud):
        raise GridError("resolution is not supported for data on a PointCloud")
    if isinstance(resolution, Grid):
        target = resolution
    else:
        shape = [resolution] * src.ndim if isinstance(resolution, (int, np.integer)) else list(resolution)
        if len(shape) != src.ndim or any(not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
            raise GridError(
                f"resolution must be a positive int or {src.ndim} positive ints (one per axis), got {resolution!r}"
            )
        if tuple(shape) == src.shape:
            return src
        if not src.is_uniform:
            raise GridError(
                f"resolution={resolution!r} needs a uniform data grid; this grid is not uniform (pass a Grid)"
            )
        target = src.with_shape(shape)
    if target.ndim != src.ndim or target.periodic != src.periodic:
        raise GridError(
            f"target grid (ndim {target.ndim}, periodic {target.periodic}) does not match the data grid "
            f"(ndim {src.ndim}, periodic {src.periodic})"
        )
    return target


class _Plan:
    """How to go from the stored grid to the target grid: strided reads, then ``resample_values`` if needed."""

    def __init__(self, src: Grid | PointCloud, resolution) -> None:
        self.grid = _target_grid(src, resolution)
        nd = len(src.shape)
        self.slices: list[slice] = [slice(None)] * nd
        self.read_grid: Grid | PointCloud = src  # the grid of what is read from disk
        self.resamples = False
        if self.grid is src or isinstance(src, PointCloud):
            return
        coords = []
        for i in range(nd):
            a, b = src.coords[i], self.grid.coords[i]
            s = _axis_stride(a, b)
            if s is not None:
                self.slices[i] = slice(0, s * (b.size - 1) + 1, s)
                coords.append(b)
            else:
                self.resamples = True
                coords.append(a)
        self.read_grid = Grid(coords, src.bounds, src.periodic, src.names)
        if self.resamples:
            # validates the target domain now rather than at the first item
            resample_values(torch.zeros((1, 1, *self.read_grid.shape), dtype=torch.float64), self.read_grid, self.grid)
        logger.debug(
            "resolution plan %s -> %s: read slices %s, resample=%s", src, self.grid, self.slices, self.resamples
        )

    def apply(self, arr: np.ndarray, dtype: torch.dtype, method: str | None = None) -> torch.Tensor:
        """``arr``: (..., *spatial) read with ``self.slices``; returns a tensor on the target grid."""
        if not self.resamples:
            return torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
        nd = len(self.slices)
        lead = arr.shape[:-nd]
        t = torch.from_numpy(np.asarray(arr, dtype=np.float64)).reshape(1, -1, *arr.shape[-nd:])
        out = resample_values(t, self.read_grid, self.grid, method)
        return out.reshape(*lead, *self.grid.shape).to(dtype).contiguous()


# ====================================================================================== helpers
def _channel_index(requested, available: list[str], where: str) -> list[int] | None:
    if requested is None:
        return None
    requested = [requested] if isinstance(requested, str) else list(requested)
    missing = [v for v in requested if v not in available]
    if missing:
        raise DataFormatError(f"{where} has no variable(s) {missing}; variables present: {available}")
    idx = [available.index(v) for v in requested]
    return None if idx == list(range(len(available))) else idx


def _check_indices(indices, n: int, what: str, where: str) -> np.ndarray:
    if indices is None:
        idx = np.arange(n, dtype=np.int64)
    else:
        if isinstance(indices, torch.Tensor):
            indices = indices.cpu().numpy()
        idx = np.asarray(list(indices) if isinstance(indices, range) else indices)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise InvalidValueError(f"boolean indices must have shape ({n},), got {idx.shape}")
            idx = np.nonzero(idx)[0]
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise InvalidValueError(f"indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64).ravel()
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise InvalidValueError(f"indices {bad[:5].tolist()} are out of range for {n} {what} in {where}")
    if idx.size == 0:
        raise DataFormatError(f"{where}: the dataset is empty (0 {what} selected)")
    return idx


def _source_kind(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            if _is_zarr(p):
                return "xarray"
            return "shards"
        if p.suffix in (".nc", ".nc4", ".netcdf", ".zarr"):
            return "xarray"
        return "hdf5"
    try:
        import xarray as xr

        if isinstance(source, xr.Dataset):
            return "xarray"
    except ImportError:  # pragma: no cover - xarray is a dependency
        pass
    raise DataFormatError(
        f"source must be a path (HDF5 file, directory of HDF5 files, zarr store, netCDF file) or an "
        f"xarray.Dataset, got {type(source).__name__}"
    )


def _shard_paths(path: str) -> list[str]:
    files = sorted(str(p) for p in Path(path).iterdir() if p.suffix in (".h5", ".hdf5") and p.is_file())
    if not files:
        raise DataFormatError(f"directory {path!r} contains no .h5/.hdf5 files and is not a zarr store")
    return files


def _make_source(source, name, lead: int, lead_dims, channel_dim: str):
    kind = _source_kind(source)
    if kind == "hdf5":
        return _H5Group(str(source), name, lead)
    if kind == "shards":
        return _H5Shards(_shard_paths(str(source)), name, lead)
    return _XrVars(source, name, lead_dims, channel_dim)


def _read_masked(src, lead_sel: tuple, channels, plan: _Plan) -> np.ndarray:
    """Read one item; where a stored mask is False the values become 0 (whatever they are: NaN placeholders or
    fill values), exactly as ``Field.resample`` does, before any resampling."""
    arr = src.read(lead_sel, channels, tuple(plan.slices))
    if src.has_mask:
        arr = zero_outside_mask(arr, src.read_mask(lead_sel, tuple(plan.slices), channels))
    return arr


def _mask_on_target(src, lead_sel: tuple, channels, plan: _Plan) -> np.ndarray | None:
    """The stored mask of one item on the target grid (interpolated linearly and thresholded at 1/2 when
    resampled, as in ``Field.resample``), or None."""
    mask = src.read_mask(lead_sel, tuple(plan.slices), channels)
    if mask is not None and plan.resamples:
        mask = plan.apply(mask.astype(np.float64), torch.float64, method="linear").numpy() >= 0.5
    return mask


def _check_finite(arr: np.ndarray, where: str, item: str) -> None:
    # numpy (single-threaded): torch's intra-op thread pool costs more than the check on busy machines
    finite = np.isfinite(arr)
    if not finite.all():
        raise InvalidValueError(f"{where}: {item} contains {int(finite.size - finite.sum())} NaN/Inf values")


# ====================================================================================== datasets
class OperatorDataset(Dataset):
    """Pairs ``(x_i, y_i)`` of input and output fields, read lazily one sample at a time.

    Args:
        source: sciml HDF5 file, directory of HDF5 shards, zarr store / netCDF path, or ``xarray.Dataset``.
        input, output: group names (HDF5) or data variable name(s) (xarray) of the input and output fields.
        input_variables, output_variables: channel names to keep, in this order (default: all).
        resolution: int, per-axis tuple or ``Grid`` to return the samples on (see module docstring).
        dtype: dtype of the returned tensors.
        return_fields: return ``Field`` objects (batch 1, with variables, units, mask, time) instead of tensors.
        indices: subset of sample indices (e.g. from ``split_indices``); item ``k`` is sample ``indices[k]``.
        sample_dim, channel_dim: dimension names for xarray sources.
        check_finite: raise InvalidValueError naming the file and sample when an item contains NaN/Inf
            where a stored mask is True (values where it is False, NaN placeholders or fill values, are
            returned as 0 before any resampling, exactly as ``Field.resample`` treats them).

    Attributes: ``grid`` (the grid items are returned on; ``input_grid``/``output_grid`` when they differ),
    ``input_variables``, ``output_variables``, ``indices``, ``n_samples`` (in the source).
    """

    def __init__(
        self,
        source: Any,
        input: str | Sequence[str] = "input",
        output: str | Sequence[str] = "output",
        input_variables: Sequence[str] | None = None,
        output_variables: Sequence[str] | None = None,
        resolution: int | Sequence[int] | Grid | None = None,
        dtype: torch.dtype = torch.float32,
        return_fields: bool = False,
        indices: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        sample_dim: str = "sample",
        channel_dim: str = "variable",
        check_finite: bool = True,
    ) -> None:
        self._in = _make_source(source, input, 1, [sample_dim], channel_dim)
        self._out = _make_source(source, output, 1, [sample_dim], channel_dim)
        self.where = self._in.where if not isinstance(self._in, _H5Group) else f"file {self._in.path!r}"
        if self._in.shape[0] != self._out.shape[0]:
            raise DataFormatError(
                f"{self.where}: input {self._in.where} has {self._in.shape[0]} samples but output "
                f"{self._out.where} has {self._out.shape[0]}"
            )
        self.n_samples = int(self._in.shape[0])
        self._cin = _channel_index(input_variables, self._in.variables, self._in.where)
        self._cout = _channel_index(output_variables, self._out.variables, self._out.where)
        self.input_variables = [self._in.variables[i] for i in self._cin] if self._cin else list(self._in.variables)
        self.output_variables = (
            [self._out.variables[i] for i in self._cout] if self._cout else list(self._out.variables)
        )
        self._plan_in = _Plan(self._in.grid, resolution)
        self._plan_out = self._plan_in if self._out.grid == self._in.grid else _Plan(self._out.grid, resolution)
        self.input_grid = self._plan_in.grid
        self.output_grid = self._plan_out.grid
        self.dtype = dtype
        self.return_fields = bool(return_fields)
        self.check_finite = bool(check_finite)
        self.indices = _check_indices(indices, self.n_samples, "samples", self.where)

    @property
    def grid(self) -> Grid | PointCloud:
        """The grid items are returned on (input and output share it)."""
        if self.input_grid != self.output_grid:
            raise GridError(
                f"{self.where}: input and output live on different grids ({self.input_grid} vs "
                f"{self.output_grid}); use input_grid and output_grid"
            )
        return self.input_grid

    def __len__(self) -> int:
        return int(self.indices.size)

    def subset(self, indices: Sequence[int] | np.ndarray) -> OperatorDataset:
        """A view on items ``indices`` of this dataset (no data copied, file reopened lazily)."""
        new = copy.copy(self)
        new.indices = self.indices[_check_indices(indices, len(self), "items", self.where)]
        return new

    def _read(self, src, plan: _Plan, channels, i: int) -> torch.Tensor:
        arr = _read_masked(src, (i,), channels, plan)
        if self.check_finite:
            _check_finite(arr, src.where, f"sample {i}")
        return plan.apply(arr, self.dtype)

    def sample_index(self, k: int) -> int:
        """Index in the source of item ``k``."""
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"item {k} out of range for a dataset of {n} items")
        return int(self.indices[k])

    def __getitem__(self, k: int):
        i = self.sample_index(int(k))
        x = self._read(self._in, self._plan_in, self._cin, i)
        y = self._read(self._out, self._plan_out, self._cout, i)
        if not self.return_fields:
            return x, y
        return (
            self._field(self._in, self._plan_in, x, self.input_variables, self._cin, i),
            self._field(self._out, self._plan_out, y, self.output_variables, self._cout, i),
        )

    def _field(self, src, plan: _Plan, values: torch.Tensor, names, channels, i: int):
        from sciml.fields.field import Field

        units = [src.units[c] for c in channels] if channels else list(src.units)
        mask = _mask_on_target(src, (i,), channels, plan)
        time = None
        if src.time is not None and src.time.shape == (src.shape[0],):
            time = torch.tensor([src.time[i]], dtype=torch.float64)
        return Field(
            values[None],
            plan.grid,
            variables=list(names),
            units=units,
            mask=None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))[None],
            time=time,
        )

    def __repr__(self) -> str:
        return (
            f"OperatorDataset({self.where}, {len(self)} items, inputs {self.input_variables} -> "
            f"outputs {self.output_variables}, grid {self.input_grid})"
        )


class TrajectoryDataset(Dataset):
    """Windows of time series: ``n_in`` consecutive states as input, the ``n_out`` following ones as target.

    The data are ``(n_traj, n_time, C, *spatial)``. With frames ``step`` apart, window ``w`` of trajectory ``j``
    starts at ``t0 = w * stride`` and uses frames ``t0 + m * step`` for ``m = 0 .. n_in + n_out - 1``; it needs
    ``t0 + (n_in + n_out - 1) * step <= n_time - 1``, so each trajectory has
    ``floor((n_time - 1 - (n_in + n_out - 1) step) / stride) + 1`` windows. Item ``k`` is window
    ``k % n_windows`` of trajectory ``indices[k // n_windows]``.

    Returns ``x: (n_in * C, *spatial)`` and ``y: (n_out * C, *spatial)`` with ``fold_time=True`` (time-major:
    channels ``[t0 c0 .. t0 c_{C-1}, t1 c0, ...]``), or ``(n_in, C, *spatial)`` / ``(n_out, C, *spatial)``.

    ``indices`` selects TRAJECTORIES (not windows), so a train/test split never puts windows of one trajectory
    on both sides. A stored mask (``write_trajectories(..., mask=...)``) is honoured as in ``OperatorDataset``:
    values where it is False are returned as 0 (NaN placeholders there are fine) and ``item_mask(k)`` gives the
    masks of item ``k``. Other arguments as in ``OperatorDataset``; for xarray sources the variables need dims
    ``(sample_dim, time_dim, *spatial)`` or ``(time_dim, *spatial)``.
    """

    def __init__(
        self,
        source: Any,
        group: str | Sequence[str] = "trajectory",
        n_in: int = 1,
        n_out: int = 1,
        stride: int = 1,
        step: int = 1,
        variables: Sequence[str] | None = None,
        resolution: int | Sequence[int] | Grid | None = None,
        fold_time: bool = True,
        dtype: torch.dtype = torch.float32,
        indices: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        sample_dim: str = "sample",
        time_dim: str = "time",
        channel_dim: str = "variable",
        check_finite: bool = True,
    ) -> None:
        for name, v, lo in (("n_in", n_in, 1), ("n_out", n_out, 0), ("stride", stride, 1), ("step", step, 1)):
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise InvalidValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        self._src = _make_source(source, group, 2, [sample_dim, time_dim], channel_dim)
        self.where = self._src.where
        self.n_in, self.n_out, self.stride, self.step = int(n_in), int(n_out), int(stride), int(step)
        self.n_traj, self.n_time = int(self._src.shape[0]), int(self._src.shape[1])
        span = (self.n_in + self.n_out - 1) * self.step
        self.windows_per_trajectory = max(0, (self.n_time - 1 - span) // self.stride + 1) if self.n_time > span else 0
        if self.windows_per_trajectory == 0:
            raise DataFormatError(
                f"{self.where}: trajectories have {self.n_time} frames, fewer than a window needs "
                f"((n_in + n_out - 1) * step + 1 = {span + 1})"
            )
        self._ch = _channel_index(variables, self._src.variables, self._src.where)
        self.variables = [self._src.variables[i] for i in self._ch] if self._ch else list(self._src.variables)
        self._plan = _Plan(self._src.grid, resolution)
        self.grid = self._plan.grid
        self.time = self._src.time
        self.fold_time = bool(fold_time)
        self.dtype = dtype
        self.check_finite = bool(check_finite)
        self.indices = _check_indices(indices, self.n_traj, "trajectories", self.where)

    def __len__(self) -> int:
        return int(self.indices.size) * self.windows_per_trajectory

    def subset(self, indices: Sequence[int] | np.ndarray) -> TrajectoryDataset:
        """A view on trajectories ``indices`` (positions in this dataset's ``indices``)."""
        new = copy.copy(self)
        new.indices = self.indices[_check_indices(indices, self.indices.size, "trajectories", self.where)]
        return new

    def rewindow(
        self,
        n_in: int | None = None,
        n_out: int | None = None,
        step: int | None = None,
        stride: int | None = None,
        fold_time: bool | None = None,
    ) -> TrajectoryDataset:
        """A view on the same trajectories with other window parameters (no data read or copied)."""
        new = copy.copy(self)
        new.fold_time = self.fold_time if fold_time is None else bool(fold_time)
        new.n_in = self.n_in if n_in is None else int(n_in)
        new.n_out = self.n_out if n_out is None else int(n_out)
        new.step = self.step if step is None else int(step)
        new.stride = self.stride if stride is None else int(stride)
        if new.n_in < 1 or new.n_out < 0 or new.step < 1 or new.stride < 1:
            raise InvalidValueError(
                f"invalid window n_in={new.n_in}, n_out={new.n_out}, step={new.step}, stride={new.stride}"
            )
        span = (new.n_in + new.n_out - 1) * new.step
        if new.n_time <= span:
            raise DataFormatError(
                f"{self.where}: trajectories have {self.n_time} frames, fewer than a window needs ({span + 1})"
            )
        new.windows_per_trajectory = (new.n_time - 1 - span) // new.stride + 1
        return new

    def window(self, k: int) -> tuple[int, list[int]]:
        """``(trajectory index in the source, frame indices)`` of item ``k``."""
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"item {k} out of range for a dataset of {n} windows")
        k %= n
        traj = int(self.indices[k // self.windows_per_trajectory])
        t0 = (k % self.windows_per_trajectory) * self.stride
        return traj, [t0 + m * self.step for m in range(self.n_in + self.n_out)]

    def __getitem__(self, k: int):
        traj, frames = self.window(int(k))
        sel = (traj, slice(frames[0], frames[-1] + 1, self.step))
        arr = _read_masked(self._src, sel, self._ch, self._plan)  # (n_in + n_out, C, *spatial)
        if self.check_finite:
            _check_finite(arr, self.where, f"trajectory {traj}, frames {frames}")
        t = self._plan.apply(arr, self.dtype)
        x, y = t[: self.n_in], t[self.n_in :]
        if self.fold_time:
            x = x.reshape(-1, *x.shape[2:])
            y = y.reshape(-1, *y.shape[2:])
        return x, y

    def item_mask(self, k: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Boolean masks ``(x_mask, y_mask)`` shaped like item ``k``'s ``(x, y)`` (on the returned grid), or None
        when the source stores no mask. Values of item ``k`` are 0 wherever its mask is False."""
        if not self._src.has_mask:
            return None
        traj, frames = self.window(int(k))
        sel = (traj, slice(frames[0], frames[-1] + 1, self.step))
        m = _mask_on_target(self._src, sel, self._ch, self._plan)
        n_ch = len(self.variables)
        t = torch.from_numpy(np.array(np.broadcast_to(m, (len(frames), n_ch, *self.grid.shape)), dtype=bool))
        x, y = t[: self.n_in], t[self.n_in :]
        if self.fold_time:
            x = x.reshape(-1, *x.shape[2:])
            y = y.reshape(-1, *y.shape[2:])
        return x, y

    def __repr__(self) -> str:
        return (
            f"TrajectoryDataset({self.where}, {len(self)} windows of {self.n_in}->{self.n_out} frames from "
            f"{self.indices.size} trajectories, variables {self.variables}, grid {self.grid})"
        )


# ====================================================================================== splits and statistics
def split_indices(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random disjoint index sets covering ``range(n)``, one per fraction (e.g. train/val/test).

    Sizes are ``floor(f_j n)`` with the remaining indices given to the splits with the largest fractional
    parts; each set is sorted (sequential reads). The same ``(n, fractions, seed)`` gives the same split.
    Fractions must be non-negative and sum to 1.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidValueError(f"n must be a non-negative integer, got {n!r}")
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or np.any(f < 0) or not np.all(np.isfinite(f)) or abs(f.sum() - 1) > 1e-6:
        raise InvalidValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    raw = f * n
    sizes = np.floor(raw).astype(np.int64)
    rest = n - int(sizes.sum())
    order = np.argsort(-(raw - sizes), kind="stable")
    sizes[order[:rest]] += 1
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return tuple(np.sort(perm[bounds[j] : bounds[j + 1]]) for j in range(f.size))


def _as_values(item) -> torch.Tensor:
    v = getattr(item, "values", item)
    if isinstance(item, torch.Tensor):
        return item
    if isinstance(v, torch.Tensor) and v.ndim >= 2:
        return v[0]  # Field with batch 1
    raise ShapeError(f"channel_stats needs tensors or Fields, got {type(item).__name__}")


def channel_stats(
    dataset: Dataset, max_samples: int | None = None, weighted: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of inputs and outputs, streamed item by item.

    For each channel ``c`` the mean and (population) variance over all items and grid points are
    ``mean = E[x_c]`` and ``var = E[(x_c - mean)^2]``, with the spatial average either plain or, with
    ``weighted=True``, the quadrature mean ``sum_p w_p x_c(p) / sum_p w_p`` of ``dataset.grid`` (so a
    non-uniform grid is not biased toward its dense regions). Items are combined with Chan's parallel
    update in float64, so memory is one item and the result does not suffer from cancellation.

    Args:
        dataset: any dataset whose items are ``(x, y)`` tensors ``(C, *spatial)`` or Fields of batch 1.
        max_samples: use at most this many items, evenly spaced over the dataset (deterministic).
        weighted: quadrature-weighted spatial means (needs ``dataset.grid``).

    Returns ``(mean_x, std_x, mean_y, std_y)`` float64 tensors of shape ``(C,)``. A constant channel gets
    ``std = 0``; callers that divide by it should clamp.
    """
    n = len(dataset)
    if n == 0:
        raise DataFormatError("channel_stats: the dataset is empty")
    if max_samples is not None:
        if max_samples < 1:
            raise InvalidValueError(f"max_samples must be >= 1, got {max_samples}")
        items = np.unique(np.linspace(0, n - 1, min(n, int(max_samples))).round().astype(np.int64))
    else:
        items = np.arange(n)
    w = None
    if weighted:
        grid = getattr(dataset, "grid", None)
        if grid is None:
            raise InvalidValueError("weighted=True needs a dataset with a .grid")
        w = grid.weights(dtype=torch.float64, normalized=False)
        w = w / w.sum()
    acc: list[list[torch.Tensor] | None] = [None, None]  # per side: [count, mean, M2]
    for k in items:
        pair = dataset[int(k)]
        for side in (0, 1):
            v = _as_values(pair[side]).to(torch.float64)
            flat = v.reshape(v.shape[0], -1)
            if w is not None:
                ww = w.reshape(-1)
                if ww.numel() != flat.shape[1]:
                    raise ShapeError(f"grid has {ww.numel()} points but items have {flat.shape[1]} per channel")
                m = flat @ ww
                m2 = ((flat - m[:, None]) ** 2) @ ww
            else:
                m = flat.mean(dim=1)
                m2 = ((flat - m[:, None]) ** 2).mean(dim=1)
            if acc[side] is None:
                acc[side] = [torch.tensor(1.0, dtype=torch.float64), m, m2]
                continue
            cnt, mean, M2 = acc[side]
            tot = cnt + 1
            delta = m - mean
            acc[side] = [tot, mean + delta / tot, M2 + m2 + delta**2 * cnt / tot]
    out = []
    for cnt, mean, M2 in acc:  # type: ignore[misc]
        out += [mean, torch.sqrt(torch.clamp(M2 / cnt, min=0.0))]
    return tuple(out)  # type: ignore[return-value]
