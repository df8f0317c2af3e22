"""Conversion between ``Field`` and xarray (``DataArray`` / ``Dataset``: netCDF, zarr, lazy dask arrays).

``field_to_xarray(field)`` gives a ``DataArray`` with dims ``(batch, variable, *grid.names)`` (a PointCloud
gives ``(batch, variable, point)`` with one coordinate per axis name along ``point`` and ``weights``), the
coordinates of every axis (float64), ``variable`` names, an optional ``time`` coordinate along ``batch`` and
an optional boolean ``mask`` coordinate. Everything else needed for an exact round trip is kept in JSON
string attributes (netCDF-safe): ``sciml_units``, ``sciml_standard_names``, ``sciml_periodic``,
``sciml_bounds``, ``sciml_attrs``, ``sciml_grid`` (``"grid"`` or ``"pointcloud"``).

``field_from_xarray(obj, ...)`` accepts

* a ``DataArray``: channels along ``variable_dim`` (default ``"variable"`` when present, else one channel
  named after the array); units from the ``units`` attribute;
* a ``Dataset``: each data variable (or those named in ``variables``) is one channel, with its ``units`` and
  ``standard_name`` attributes; all must share the same dims.

The batch dimension is ``batch_dim`` (default ``"batch"``, else ``"time"``, else a batch of 1 is added); the
remaining dims (or ``spatial_dims``) are the grid axes, in order. Coordinates must be numeric and strictly
increasing: a decreasing or repeated coordinate (e.g. latitude 90 -> -90) raises GridError naming it rather
than being reordered silently (use ``obj.sortby(name)`` first). A dim without a coordinate gets
``0, 1, ..., n-1``. ``periodic`` and ``bounds`` (per axis: one value, a list, or a dict by axis name) apply
when the object carries no sciml attributes; a ``bounds`` pair of two numbers ``(lo, hi)`` applies to every
axis, a sequence of pairs (or None) gives one per axis. A ``time`` coordinate of datetime64 type becomes float64
seconds since 1970-01-01 (recorded as ``attrs["time_units"]``).

Dask-backed input stays lazy: the Field keeps the dask array and computes it on first use of ``.values``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sciml.core.errors import DataFormatError, GridError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud

__all__ = ["field_to_xarray", "field_from_xarray"]

log = logging.getLogger(__name__)


def _xr():
    try:
        import xarray as xr
    except ImportError as e:  # pragma: no cover - xarray is a dependency
        raise DataFormatError("xarray is required for to_xarray/from_xarray") from e
    return xr


def field_to_xarray(field: Field):
    """The Field as an ``xarray.DataArray`` (see module docstring); lazy Fields give a dask-backed array."""
    xr = _xr()
    g = field.grid
    data = field._lazy if field.is_lazy else field.values.detach().cpu().numpy()
    coords: dict[str, Any] = {"batch": np.arange(field.batch_size), "variable": list(field.variables)}
    if isinstance(g, Grid):
        sdims = list(g.names)
        for name, c in zip(g.names, g.coords):
            coords[name] = np.array(c, dtype=np.float64)
    else:
        sdims = ["point"]
        pts = g.points(dtype=torch.float64).numpy()
        for i, name in enumerate(g.names):
            coords[name] = ("point", pts[:, i].copy())
        coords["weights"] = ("point", np.array(g.quadrature_weights(), dtype=np.float64))
    dims = ["batch", "variable", *sdims]
    if field.time is not None:
        coords["time"] = ("batch", field.time.detach().cpu().numpy())
    if field.mask is not None:
        m = field.mask.detach().cpu().numpy()
        if m.ndim == len(sdims):
            coords["mask"] = (sdims, m)
        elif m.shape[1] == 1:  # one mask per sample
            coords["mask"] = (["batch", *sdims], m[:, 0])
        else:
            coords["mask"] = (dims, m)
    attrs = {
        "sciml_grid": "grid" if isinstance(g, Grid) else "pointcloud",
        "sciml_units": json.dumps(list(field.units)),
        "sciml_standard_names": json.dumps(list(field.standard_names)),
        "sciml_periodic": json.dumps([bool(p) for p in g.periodic]),
        "sciml_bounds": json.dumps([list(b) for b in g.bounds]),
        "sciml_attrs": json.dumps(field.attrs),
    }
    return xr.DataArray(data, dims=dims, coords=coords, attrs=attrs, name="field")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _per_axis(value: Any, names: Sequence[str], what: str, default: Any) -> list:
    if value is None:
        return [default] * len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise DataFormatError(f"{what} names unknown axes {unknown}; the axes are {list(names)}")
        return [value.get(n, default) for n in names]
    if isinstance(value, (bool, np.bool_)) or (what == "periodic" and np.ndim(value) == 0):
        return [bool(value)] * len(names)
    value = list(value)
    if what == "bounds" and len(value) == 2 and all(_is_number(v) for v in value):
        return [tuple(value)] * len(names)  # one (lo, hi) pair for every axis, whatever their number
    if len(value) != len(names):
        raise DataFormatError(f"{what} has {len(value)} entries but there are {len(names)} axes {list(names)}")
    return value


def _json(attrs: dict, key: str) -> Any:
    raw = attrs.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as e:
        raise DataFormatError(f"attribute {key!r} is not valid JSON ({e})") from None


def _plain_attrs(attrs: dict) -> dict:
    out = {}
    for k, v in attrs.items():
        if str(k).startswith("sciml_"):
            continue
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            log.warning("dropping attribute %r of type %s (not JSON-serialisable)", k, type(v).__name__)
            continue
        out[str(k)] = v
    return out


def _coordinate(da: Any, dim: str) -> np.ndarray:
    if dim not in da.coords:
        return np.arange(da.sizes[dim], dtype=np.float64)
    c = np.asarray(da.coords[dim].values)
    if c.ndim != 1:
        raise GridError(f"coordinate {dim!r} must be 1-D, got shape {c.shape}")
    if not (np.issubdtype(c.dtype, np.number) and not np.issubdtype(c.dtype, np.complexfloating)):
        raise GridError(f"coordinate {dim!r} must be numeric to serve as a grid axis, got dtype {c.dtype}")
    c = c.astype(np.float64)
    if not np.all(np.isfinite(c)):
        raise GridError(f"coordinate {dim!r} contains NaN or Inf")
    if c.size > 1 and not np.all(np.diff(c) > 0):
        j = int(np.argmin(np.diff(c) > 0))
        raise GridError(
            f"coordinate {dim!r} is not strictly increasing (monotonic): {dim}[{j}]={float(c[j])} >= "
            f"{dim}[{j + 1}]={float(c[j + 1])}; sort it first, e.g. obj.sortby({dim!r})"
        )
    return c


def _time_values(c: Any) -> tuple[np.ndarray, str | None]:
    t = np.asarray(c.values)
    if np.issubdtype(t.dtype, np.datetime64):
        sec = (t - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "ns") * 1e-9
        return sec.astype(np.float64), "seconds since 1970-01-01"
    if np.issubdtype(t.dtype, np.timedelta64):
        return (t / np.timedelta64(1, "ns") * 1e-9).astype(np.float64), "seconds"
    if not np.issubdtype(t.dtype, np.number):
        raise DataFormatError(f"time coordinate has non-numeric dtype {t.dtype}")
    return t.astype(np.float64), None


def field_from_xarray(
    obj: Any,
    variables: Sequence[str] | None = None,
    batch_dim: str | None = None,
    variable_dim: str | None = None,
    spatial_dims: Sequence[str] | None = None,
    periodic: Any = None,
    bounds: Any = None,
) -> Field:
    """Field from an ``xarray.DataArray`` or ``Dataset`` (see the module docstring for the conventions)."""
    xr = _xr()
    units = std = None
    if isinstance(obj, xr.Dataset):
        names = list(variables) if variables is not None else [str(v) for v in obj.data_vars]
        missing = [n for n in names if n not in obj.data_vars]
        if missing:
            raise DataFormatError(
                f"variable(s) {missing} not in the Dataset; available: {sorted(map(str, obj.data_vars))}"
            )
        if not names:
            raise DataFormatError("the Dataset has no data variables")
        dims0 = obj[names[0]].dims
        for n in names[1:]:
            if set(obj[n].dims) != set(dims0):
                raise DataFormatError(
                    f"data variables must share dims to become channels: {names[0]!r} has {dims0}, "
                    f"{n!r} has {obj[n].dims}"
                )
        units = [str(obj[n].attrs.get("units", "")) for n in names]
        std = [str(obj[n].attrs.get("standard_name", "")) for n in names]
        parts = [obj[n].transpose(*dims0) for n in names]
        da = xr.concat(parts, dim="variable", coords="minimal", compat="override", join="exact")
        da = da.assign_coords(variable=names)
        da.attrs = dict(obj.attrs)
        vdim = "variable"
    elif isinstance(obj, xr.DataArray):
        da = obj
        vdim = variable_dim if variable_dim is not None else ("variable" if "variable" in da.dims else None)
        if vdim is not None and vdim not in da.dims:
            raise DataFormatError(f"variable_dim {vdim!r} is not a dimension of the DataArray {list(da.dims)}")
        if vdim is None:
            da = da.expand_dims(variable=[str(da.name) if da.name is not None else "c0"])
            vdim = "variable"
            units = [str(obj.attrs.get("units", ""))]
            std = [str(obj.attrs.get("standard_name", ""))]
    else:
        raise DataFormatError(f"from_xarray needs an xarray DataArray or Dataset, got {type(obj).__name__}")
    attrs = dict(da.attrs)
    # channel names and selection
    vnames = [str(v) for v in (da.coords[vdim].values if vdim in da.coords else range(da.sizes[vdim]))]
    if not isinstance(obj, xr.Dataset) and variables is not None:
        missing = [n for n in variables if n not in vnames]
        if missing:
            raise DataFormatError(f"variable(s) {missing} not in the DataArray; available: {vnames}")
        idx = [vnames.index(n) for n in variables]
        da = da.isel({vdim: idx})
        sel_units = _json(attrs, "sciml_units")
        sel_std = _json(attrs, "sciml_standard_names")
        attrs["sciml_units"] = json.dumps([sel_units[i] for i in idx]) if sel_units else None
        attrs["sciml_standard_names"] = json.dumps([sel_std[i] for i in idx]) if sel_std else None
        vnames = list(variables)
    # batch
    if batch_dim is not None:
        if batch_dim not in da.dims:
            raise DataFormatError(f"batch_dim {batch_dim!r} is not a dimension; dims are {list(da.dims)}")
        bdim = batch_dim
    else:
        bdim = next((d for d in ("batch", "time") if d in da.dims and d != vdim), None)
    if bdim is None:
        da = da.expand_dims(batch=1)
        bdim = "batch"
    # spatial axes
    rest = [d for d in da.dims if d not in (bdim, vdim)]
    if spatial_dims is not None:
        spatial_dims = list(spatial_dims)
        if sorted(spatial_dims) != sorted(rest):
            raise DataFormatError(f"spatial_dims {spatial_dims} must list exactly the remaining dims {rest}")
        rest = spatial_dims
    if not rest:
        raise DataFormatError(f"no spatial dimension left after batch {bdim!r} and variable {vdim!r}: {da.dims}")
    da = da.transpose(bdim, vdim, *rest)
    kind = attrs.get("sciml_grid", "grid")
    s_periodic = _json(attrs, "sciml_periodic")
    s_bounds = _json(attrs, "sciml_bounds")
    if kind == "pointcloud":
        if len(rest) != 1:
            raise DataFormatError(f"a point-cloud DataArray has one spatial dim, got {rest}")
        axis_names = [
            str(n) for n in da.coords if n not in ("weights", "mask", "time") and da.coords[n].dims == (rest[0],)
        ]
        pts = np.stack([np.asarray(da.coords[n].values, dtype=np.float64) for n in axis_names], axis=1)
        w = np.asarray(da.coords["weights"].values) if "weights" in da.coords else None
        grid: Grid | PointCloud = PointCloud(pts, weights=w, bounds=s_bounds, names=axis_names)
    else:
        coords = [_coordinate(da, d) for d in rest]
        per = s_periodic if s_periodic is not None else _per_axis(periodic, rest, "periodic", False)
        bnd = s_bounds if s_bounds is not None else _per_axis(bounds, rest, "bounds", None)
        if all(b is None for b in bnd):
            bnd = None
        grid = Grid(coords, bounds=bnd, periodic=per, names=[str(d) for d in rest])
    # time
    time = None
    out_attrs = _json(attrs, "sciml_attrs")
    out_attrs = out_attrs if out_attrs is not None else _plain_attrs(attrs)
    tc = da.coords.get("time")
    if tc is not None and tc.dims == (bdim,):
        time, tunits = _time_values(tc)
        if tunits is not None:
            out_attrs.setdefault("time_units", tunits)
    # mask
    mask = None
    if "mask" in da.coords:
        mc = da.coords["mask"]
        mdims = [d for d in (bdim, vdim, *rest) if d in mc.dims]
        m = np.asarray(mc.transpose(*mdims).values)
        if m.dtype != bool:
            raise DataFormatError(f"mask coordinate must be boolean, got dtype {m.dtype}")
        if mdims == [bdim, *rest]:
            m = m[:, None]
        mask = m
    u = _json(attrs, "sciml_units") or units
    s = _json(attrs, "sciml_standard_names") or std
    if u is None:
        u = [str(attrs.get("units", ""))] * len(vnames)
    data = da.data
    if not hasattr(data, "dask"):
        data = np.asarray(data)
    return Field(data, grid, variables=vnames, units=u, mask=mask, time=time, attrs=out_attrs, standard_names=s)
