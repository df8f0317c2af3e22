"""The lazy reader of xarray data (an ``ItemSource``): data variables of a Dataset, zarr store or netCDF file.

Each data variable has dims ``(*lead_dims, [channel dim], *spatial)`` where ``lead_dims`` index items
(``[sample_dim]`` for fields, ``[sample_dim, time_dim]`` for trajectories; a lead dim absent from the variables
is a virtual axis of length 1, e.g. a single trajectory). Channels, channel names, spatial axes, coordinates,
bounds and periodicity follow the grid rule of ``sciml.fields.xarray_io`` (the one ``Field.from_xarray``
uses): a level dimension gives channels ``<variable>_<level>``, a descending coordinate raises GridError
naming it and the file. A path is opened lazily per process (``LazyHandle``) without dask chunks, so one item
reads only its slice; dask-backed Datasets are computed with dask's synchronous scheduler (no thread pools
inside DataLoader workers).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sciml.core.errors import DataFormatError
from sciml.fields.storage.base import LazyHandle, check_numeric
from sciml.fields.xarray_io import channel_dims, channel_name, labels_of, xarray_grid, xarray_where

__all__ = ["XarraySource", "open_xarray", "is_zarr"]


def is_zarr(p: Path) -> bool:
    """True for a zarr store (a ``.zarr`` path or a directory with zarr metadata)."""
    return p.suffix == ".zarr" or any((p / m).exists() for m in ("zarr.json", ".zgroup", ".zmetadata", ".zarray"))


def open_xarray(path: str):
    """Open a zarr store or netCDF file lazily (DataFormatError naming the path when it cannot be opened)."""
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"path {path!r} does not exist")
    try:
        # chunks=None: xarray's lazy backend indexing reads just the selected item, without dask's per-task
        # overhead (~5x faster per item than a dask graph with one chunk per sample)
        if is_zarr(p):
            with warnings.catch_warnings():  # "no consolidated metadata" is expected for zarr v3 stores
                warnings.simplefilter("ignore", RuntimeWarning)
                return xr.open_zarr(path, chunks=None)
        return xr.open_dataset(path, chunks=None)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"cannot open {path!r} with xarray (zarr store or netCDF expected): {e}") from e


class XarraySource:
    """Data variables of an xarray Dataset stacked as channels (an ``ItemSource``, see the module docstring)."""

    def __init__(self, source, names: Sequence[str], lead_dims: Sequence[str], channel_dim: str) -> None:
        if isinstance(source, (str, os.PathLike)):
            self._handle: LazyHandle | None = LazyHandle(str(source), open_xarray)
            self._ds = None
            ds = self._handle.get()
            self.where = xarray_where(ds, str(source))
        else:
            self._handle = None
            self._ds = source
            ds = source
            self.where = xarray_where(ds)
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise DataFormatError(f"{self.where}: no data variables requested")
        missing = [n for n in names if n not in ds.data_vars]
        if missing:
            raise DataFormatError(
                f"{self.where} has no data variable(s) {missing}; data variables present: {sorted(ds.data_vars)}"
            )
        self.names = names
        first = ds[names[0]]
        self.virtual = [d not in first.dims for d in lead_dims]
        if self.virtual[-1]:
            raise DataFormatError(
                f"{self.where}: variable {names[0]!r} has dims {first.dims}, lacking {lead_dims[-1]!r}"
            )
        self.lead_dims = [d for d, v in zip(lead_dims, self.virtual) if not v]
        first_cdim = channel_dims(first.dims, channel_dim, self.where, names[0])
        self.spatial_dims = [str(d) for d in first.dims if d not in lead_dims and d != first_cdim]
        self.variables: list[str] = []
        self.units: list[str] = []
        self._channels: list[tuple[str, str | None, int | None]] = []  # (variable, channel dim, index)
        for n in names:
            v = ds[n]
            check_numeric(v, self.where, f"data variable {n!r}")
            cdim = channel_dims(v.dims, channel_dim, self.where, n)
            extra = set(v.dims) - set(self.lead_dims) - set(self.spatial_dims) - {cdim}
            if extra or any(d not in v.dims for d in self.lead_dims + self.spatial_dims):
                raise DataFormatError(
                    f"{self.where}: variable {n!r} has dims {v.dims}; expected {tuple(self.lead_dims)} + optional "
                    f"{channel_dim!r} or a level dimension + the spatial dims {tuple(self.spatial_dims)} of "
                    f"{names[0]!r}"
                )
            if cdim is not None:
                for j, lab in enumerate(labels_of(ds, cdim, v.sizes[cdim])):
                    self.variables.append(channel_name(n, lab, j))
                    self.units.append(str(v.attrs.get("units", "")))
                    self._channels.append((n, cdim, j))
            else:
                self.variables.append(n)
                self.units.append(str(v.attrs.get("units", "")))
                self._channels.append((n, None, None))
        sizes = [first.sizes[d] for d in self.spatial_dims]
        self.grid = xarray_grid(ds, self.spatial_dims, sizes, [first.attrs, ds.attrs], where=self.where)
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
            n, cdim, j = self._channels[c]
            v = sub[n]
            if cdim is not None:
                v = v.isel({cdim: j})
            parts.append(np.asarray(v.transpose(*keep, *self.spatial_dims).values))
        return np.stack(parts, axis=len(keep))

    def read_mask(self, lead_sel: tuple, spatial: tuple, channels):
        return None
