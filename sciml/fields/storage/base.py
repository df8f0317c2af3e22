"""The interface of a lazy item reader (``ItemSource``), the per-process file handle, and the resolution plan.

An ``ItemSource`` is one stored array of fields ``(n, C, *spatial)`` (``lead = 1``) or trajectories
``(n_traj, n_time, C, *spatial)`` (``lead = 2``) whose metadata (``grid``, ``variables``, ``units``,
``shape``, ``time``, ``has_mask``) are read once when it is built, and whose values are read one item at a
time by ``read(lead_sel, channels, spatial)``: ``lead_sel`` indexes the leading axes (an int, and for
trajectories a slice of frames), ``channels`` the channels (None: all, in order), ``spatial`` is one slice
per spatial axis (strided reads). ``read_mask`` returns the stored mask of that item broadcastable to it, or
None. Implementations: ``sciml.fields.storage.hdf5`` and ``sciml.fields.storage.xarray``.

``LazyHandle`` opens a file on first use in each process and reopens it when the process id changes, so a
dataset can be pickled (it pickles as its path) and read from ``DataLoader`` workers (fork or spawn).

``ResolutionPlan`` maps the stored grid to the grid items are returned on: per axis a strided read when the
target coordinates are ``x_s[::s]``, otherwise the whole axis is read and resampled with
``sciml.fields.resample.resample_values`` (float64, then cast).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch

from sciml.core.errors import DataFormatError, GridError, InvalidValueError
from sciml.fields.grid import Grid, PointCloud, coords_match
from sciml.fields.resample import resample_values, zero_outside_mask

__all__ = [
    "ItemSource",
    "LazyHandle",
    "ResolutionPlan",
    "check_numeric",
    "check_finite",
    "read_item",
    "mask_on_target",
]

logger = logging.getLogger(__name__)

# Handles inherited from a parent process through fork. They are set aside (never used, never closed in
# the child) so that the child does not touch the parent's HDF5 file state.
_INHERITED_HANDLES: list[Any] = []


class ItemSource(Protocol):
    """What the lazy datasets need from a storage backend (see the module docstring)."""

    where: str  # "file '/path', group 'input'": prefixes every error message
    grid: Grid | PointCloud
    variables: list[str]
    units: list[str]
    shape: tuple[int, ...]  # (n, C, *spatial) or (n_traj, n_time, C, *spatial)
    lead: int
    time: np.ndarray | None
    has_mask: bool

    def read(self, lead_sel: tuple, channels: Sequence[int] | None, spatial: tuple) -> np.ndarray: ...

    def read_mask(self, lead_sel: tuple, spatial: tuple, channels: Sequence[int] | None) -> np.ndarray | None: ...


class LazyHandle:
    """An object opened on first use in each process by ``opener(path)``; pickles as its path only."""

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


def check_numeric(ds: Any, where: str, what: str, kinds: str = "biufc") -> None:
    """Raise DataFormatError naming ``what`` when ``ds`` (anything with a numpy ``dtype``: an h5py dataset, an
    xarray variable) does not hold numbers (e.g. strings)."""
    if ds.dtype.kind not in kinds:
        raise DataFormatError(f"{where}: {what} has dtype {ds.dtype}, expected numbers")


def check_finite(arr: np.ndarray, where: str, item: str) -> None:
    """InvalidValueError naming ``where`` and ``item`` when ``arr`` holds NaN or Inf."""
    # numpy (single-threaded): torch's intra-op thread pool costs more than the check on busy machines
    finite = np.isfinite(arr)
    if not finite.all():
        raise InvalidValueError(f"{where}: {item} contains {int(finite.size - finite.sum())} NaN/Inf values")


# ====================================================================================== resolution plan
def _axis_stride(a: np.ndarray, b: np.ndarray) -> int | None:
    """Stride s with b == a[::s][:len(b)] (to round-off), else None."""
    if b.size > a.size:
        return None
    if b.size == 1:
        return 1 if coords_match(a[:1], b) else None
    s = (a.size - 1) // (b.size - 1) if b.size > 1 else 1
    for cand in {s, max(1, round((b[1] - b[0]) / (a[1] - a[0]))) if a.size > 1 else 1}:
        sub = a[::cand][: b.size]
        if sub.size == b.size and coords_match(sub, b):
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


class ResolutionPlan:
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


def read_item(src: ItemSource, lead_sel: tuple, channels, plan: ResolutionPlan) -> np.ndarray:
    """Read one item; where a stored mask is False the values become 0 (whatever they are: NaN placeholders or
    fill values), exactly as ``Field.resample`` does, before any resampling."""
    arr = src.read(lead_sel, channels, tuple(plan.slices))
    if src.has_mask:
        arr = zero_outside_mask(arr, src.read_mask(lead_sel, tuple(plan.slices), channels))
    return arr


def mask_on_target(src: ItemSource, lead_sel: tuple, channels, plan: ResolutionPlan) -> np.ndarray | None:
    """The stored mask of one item on the target grid (interpolated linearly and thresholded at 1/2 when
    resampled, as in ``Field.resample``), or None."""
    mask = src.read_mask(lead_sel, tuple(plan.slices), channels)
    if mask is not None and plan.resamples:
        mask = plan.apply(mask.astype(np.float64), torch.float64, method="linear").numpy() >= 0.5
    return mask
