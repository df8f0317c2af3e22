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
  A pressure-level dimension (``level``, ``pressure_level``, ...) gives one channel per level, named
  ``<variable>_<level>`` (``temperature_850``). Spatial axes, coordinates, bounds and periodicity follow the
  grid rule of ``sciml.fields.xarray_io`` (the one ``Field.from_xarray`` uses): an axis is periodic when its
  coordinate has the attribute ``periodic`` set to true, its ``bounds`` attribute (``[lo, hi]``, or the CF name
  of an ``(n, 2)`` variable of cell edges, whose extent is used) gives the domain, and a descending coordinate
  raises GridError naming it (and the file) and suggesting ``ds.sortby``.

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

Where the code lives: this module picks a backend for ``source`` and assembles items; the backends are
``sciml.fields.storage.hdf5`` (``HDF5Group``, ``HDF5Shards``) and ``sciml.fields.storage.xarray``
(``XarraySource``), behind the ``ItemSource`` interface and the ``ResolutionPlan`` of
``sciml.fields.storage.base``.

Also here: ``split_indices`` (seeded train/val/test index split) and ``channel_stats`` (per-channel mean and
standard deviation streamed over a dataset in float64, optionally quadrature-weighted).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.core.errors import DataFormatError, GridError, InvalidValueError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.storage.base import ItemSource, ResolutionPlan, check_finite, mask_on_target, read_item
from sciml.fields.storage.hdf5 import HDF5Group, HDF5Shards
from sciml.fields.storage.xarray import XarraySource, is_zarr

__all__ = ["OperatorDataset", "TrajectoryDataset", "split_indices", "channel_stats"]


# ====================================================================================== sources
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
            if is_zarr(p):
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


def _make_source(source, name, lead: int, lead_dims, channel_dim: str) -> ItemSource:
    """The backend for ``source``: an HDF5 file, a directory of HDF5 shards, or xarray data."""
    kind = _source_kind(source)
    if kind == "hdf5":
        return HDF5Group(str(source), name, lead)
    if kind == "shards":
        return HDF5Shards(_shard_paths(str(source)), name, lead)
    return XarraySource(source, name, lead_dims, channel_dim)


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
        self.where = self._in.where if not isinstance(self._in, HDF5Group) else f"file {self._in.path!r}"
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
        self._plan_in = ResolutionPlan(self._in.grid, resolution)
        self._plan_out = (
            self._plan_in if self._out.grid == self._in.grid else ResolutionPlan(self._out.grid, resolution)
        )
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

    def _read(self, src, plan: ResolutionPlan, channels, i: int) -> torch.Tensor:
        arr = read_item(src, (i,), channels, plan)
        if self.check_finite:
            check_finite(arr, src.where, f"sample {i}")
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

    def _field(self, src, plan: ResolutionPlan, values: torch.Tensor, names, channels, i: int):
        units = [src.units[c] for c in channels] if channels else list(src.units)
        mask = mask_on_target(src, (i,), channels, plan)
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
        self._plan = ResolutionPlan(self._src.grid, resolution)
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
        arr = read_item(self._src, sel, self._ch, self._plan)  # (n_in + n_out, C, *spatial)
        if self.check_finite:
            check_finite(arr, self.where, f"trajectory {traj}, frames {frames}")
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
        m = mask_on_target(self._src, sel, self._ch, self._plan)
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
