"""sciml's xarray conventions: the ONE grid rule for xarray data, and conversion to and from Field arguments.

Used by ``Field.from_xarray`` / ``Field.to_xarray`` and by the lazy datasets over xarray data
(``sciml.fields.storage.xarray``), so an object gives the same grid and channel names on both paths. Nothing
here builds a Field: ``read_xarray`` returns the keyword arguments of ``Field`` and ``to_dataarray`` takes a
Field's parts.

The grid rule (``xarray_grid``, ``channel_dims``, ``channel_name``):

* Channels. Each data variable is one channel, unless it has a *channel dimension*: the one named by the
  caller (``variable_dim`` / ``channel_dim``, default ``"variable"`` when present) or a pressure/model *level*
  dimension (a dim named one of ``LEVEL_DIMS``: ``level``, ``pressure_level``, ``plev``, ``isobaricInhPa``,
  ``lev``). A level dimension is never a spatial axis. Channel ``j`` of variable ``v`` is named by its label:
  a string label as it is (sciml's own ``variable`` dim), a number as ``<v>_<label>`` with the number written
  without a trailing ``.0`` (``temperature_850``, ``q_2.5``), and without a coordinate ``<v>_<j>``.
* Spatial axes: the dims of the (first) variable left after the batch/sample (and time) dims and the channel
  dimension, in the variable's order (or ``spatial_dims`` when given).
* Coordinates: the dim's coordinate variable (``0, 1, ..., n-1`` when there is none); it must be numeric,
  1-D, finite and strictly increasing. A descending or repeated coordinate (latitude 90 -> -90) is never
  reordered silently: it raises GridError naming the coordinate (and the file, when the data came from one)
  and suggesting ``ds.sortby('<name>')``; a non-numeric one raises DataFormatError.
* Periodicity and bounds, per axis, first found of: the sciml JSON attributes ``sciml_periodic`` /
  ``sciml_bounds`` (written by ``to_dataarray``; on the variable, else on the dataset); the caller's
  ``periodic`` / ``bounds`` (one value, a list, or a dict by axis name; a pair of two numbers applies to every
  axis); the coordinate's own attributes ``periodic`` (bool, number, "true"/"false") and ``bounds`` (``[lo,
  hi]``, a JSON string of it, or the CF name of an ``(n, 2)`` variable of cell edges, whose extent is used);
  else not periodic and the Grid's default bounds.

``to_dataarray`` gives dims ``(batch, variable, *grid.names)`` (a PointCloud: ``(batch, variable, point)`` with
one coordinate per axis name along ``point`` and ``weights``), float64 coordinates, ``variable`` names, an
optional ``time`` coordinate along ``batch`` and an optional boolean ``mask`` coordinate; what an exact round
trip needs beside that is kept in JSON string attributes (netCDF-safe): ``sciml_units``,
``sciml_standard_names``, ``sciml_periodic``, ``sciml_bounds``, ``sciml_attrs``, ``sciml_grid``.

``read_xarray`` accepts a ``DataArray`` (channels along ``variable_dim``, or a level dimension, else one
channel named after the array) or a ``Dataset`` (each data variable, or those in ``variables``, gives its
channels, with its ``units`` and ``standard_name`` attributes; all share their other dims). The batch dim is
``batch_dim`` (default ``"batch"``, else ``"time"``, else a batch of 1 is added). A ``time`` coordinate of
datetime64 type becomes float64 seconds since 1970-01-01 (recorded as ``attrs["time_units"]``). Dask-backed
input stays lazy: the values are returned as the dask array.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sciml.core.errors import DataFormatError, GridError
from sciml.fields.grid import Grid, PointCloud

__all__ = [
    "LEVEL_DIMS",
    "is_level_dim",
    "format_level",
    "channel_name",
    "channel_dims",
    "xarray_where",
    "axis_coordinate",
    "xarray_grid",
    "to_dataarray",
    "read_xarray",
]

log = logging.getLogger(__name__)

LEVEL_DIMS = ("level", "pressure_level", "plev", "isobaricInhPa", "lev")


def _xr():
    try:
        import xarray as xr
    except ImportError as e:  # pragma: no cover - xarray is a dependency
        raise DataFormatError("xarray is required for to_xarray/from_xarray") from e
    return xr


# ---------------------------------------------------------------------------------------------- the rule
def is_level_dim(dim: Any) -> bool:
    """True for a vertical-level dimension (one of ``LEVEL_DIMS``): its entries become channels."""
    return str(dim) in LEVEL_DIMS


def format_level(value: Any) -> str:
    """A level (or other numeric channel label) as text: ``850.0 -> "850"``, ``2.5 -> "2.5"``."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return value
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


def channel_name(variable: str | None, label: Any, index: int) -> str:
    """Name of channel ``index`` (label ``label``, None without a coordinate) of data variable ``variable``:
    a string label as it is, a number as ``<variable>_<label>``, no label as ``<variable>_<index>``."""
    if isinstance(label, (bytes, np.bytes_)):
        label = label.decode(errors="replace")
    if isinstance(label, str):
        return label
    text = str(index) if label is None else format_level(label)
    return text if variable is None else f"{variable}_{text}"


def channel_dims(dims: Sequence[Any], channel_dim: str | None, where: str, name: Any) -> str | None:
    """The channel dimension among ``dims`` of variable ``name``: ``channel_dim`` or a level dimension; at most
    one (DataFormatError naming both otherwise)."""
    found = [str(d) for d in dims if (channel_dim is not None and d == channel_dim) or is_level_dim(d)]
    if len(found) > 1:
        raise DataFormatError(
            f"{where}: variable {name!r} has dims {tuple(dims)} with several channel/level dimensions {found}; "
            f"select one level first, e.g. ds.sel({found[-1]}=...)"
        )
    return found[0] if found else None


def labels_of(container: Any, dim: str, n: int) -> list:
    """The coordinate labels of ``dim`` (``[None] * n`` when it has no coordinate)."""
    if dim in container.coords:
        return list(np.asarray(container.coords[dim].values).tolist())
    return [None] * n


def xarray_where(obj: Any, path: Any = None) -> str:
    """How errors name xarray data: ``file '<path>'`` when it came from a file, else ``xarray <type>``."""
    src = path if path is not None else getattr(obj, "encoding", {}).get("source")
    return f"file {str(src)!r}" if src else f"xarray {type(obj).__name__}"


def axis_coordinate(container: Any, dim: str, n: int, where: str) -> np.ndarray:
    """The float64 coordinate of spatial axis ``dim`` (``arange(n)`` without one), checked by the rule."""
    if dim not in container.coords:
        return np.arange(n, dtype=np.float64)
    var = container.coords[dim]
    c = np.asarray(var.values)
    if c.ndim != 1:
        raise GridError(f"{where}: coordinate {dim!r} must be 1-D, got shape {c.shape}")
    if c.dtype.kind not in "iuf":
        raise DataFormatError(f"{where}: coordinate {dim!r} has dtype {c.dtype}, expected numbers")
    c = c.astype(np.float64)
    if not np.all(np.isfinite(c)):
        raise GridError(f"{where}: coordinate {dim!r} contains NaN or Inf")
    if c.size > 1 and not np.all(np.diff(c) > 0):
        j = int(np.argmin(np.diff(c) > 0))
        order = "descending" if np.all(np.diff(c) < 0) else "not monotonic"
        raise GridError(
            f"{where}: coordinate {dim!r} is not strictly increasing ({order}): {dim}[{j}]={float(c[j])} >= "
            f"{dim}[{j + 1}]={float(c[j + 1])}; sort it first, e.g. ds.sortby({dim!r})"
        )
    return c


def _json(attrs: Any, key: str, where: str) -> Any:
    raw = attrs.get(key)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    if not isinstance(raw, str):
        return raw.tolist() if isinstance(raw, np.ndarray) else raw
    try:
        return json.loads(raw)
    except ValueError as e:
        raise DataFormatError(f"{where}: attribute {key!r} is not valid JSON ({e})") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _per_axis(value: Any, names: Sequence[str], what: str) -> list:
    """The caller's ``periodic`` / ``bounds``: one value, a list, or a dict by axis name -> one per axis."""
    if value is None:
        return [None] * len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise DataFormatError(f"{what} names unknown axes {unknown}; the axes are {list(names)}")
        return [value.get(n) for n in names]
    if isinstance(value, (bool, np.bool_)) or (what == "periodic" and np.ndim(value) == 0):
        return [bool(value)] * len(names)
    value = list(value)
    if what == "bounds" and len(value) == 2 and all(_is_number(v) for v in value):
        return [tuple(value)] * len(names)  # one (lo, hi) pair for every axis, whatever their number
    if len(value) != len(names):
        raise DataFormatError(f"{what} has {len(value)} entries but there are {len(names)} axes {list(names)}")
    return value


def _coord_periodic(p: Any, dim: str, where: str) -> bool:
    """A coordinate's ``periodic`` flag: a bool, a number, "true"/"false", or a one-element array of those."""
    if isinstance(p, bytes):
        p = p.decode(errors="replace")
    if isinstance(p, np.ndarray):
        if p.size != 1:
            raise DataFormatError(f"{where}: coordinate {dim!r} has periodic={p!r}, expected one boolean")
        p = p.item()
    return p.strip().lower() == "true" if isinstance(p, str) else bool(p)


def _coord_bounds(b: Any, container: Any, dim: str, n: int, where: str) -> tuple[float, float] | None:
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
            variables = getattr(container, "variables", container.coords)
            if parsed not in variables:
                log.debug("%s: bounds variable %r of coordinate %r not found; using default bounds", where, b, dim)
                return None
            var = variables[parsed]
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


def xarray_grid(
    container: Any,
    dims: Sequence[str],
    sizes: Sequence[int],
    attr_sources: Sequence[Any] = (),
    periodic: Any = None,
    bounds: Any = None,
    where: str = "xarray data",
) -> Grid:
    """The Grid of spatial axes ``dims`` (sizes ``sizes``) of ``container`` (Dataset or DataArray holding the
    coordinates), by the rule of the module docstring; ``attr_sources``: attribute dicts searched, in order,
    for ``sciml_periodic`` / ``sciml_bounds``."""
    dims = [str(d) for d in dims]
    nd = len(dims)
    s_per = s_bnd = None
    for attrs in attr_sources:
        s_per = _json(attrs, "sciml_periodic", where) if s_per is None else s_per
        s_bnd = _json(attrs, "sciml_bounds", where) if s_bnd is None else s_bnd
    s_per = s_per if isinstance(s_per, list) and len(s_per) == nd else [None] * nd
    s_bnd = s_bnd if isinstance(s_bnd, list) and len(s_bnd) == nd else [None] * nd
    a_per = _per_axis(periodic, dims, "periodic")
    a_bnd = _per_axis(bounds, dims, "bounds")
    coords, per, bnd = [], [], []
    for i, (d, n) in enumerate(zip(dims, sizes)):
        coords.append(axis_coordinate(container, d, n, where))
        attrs = container.coords[d].attrs if d in container.coords else {}
        p = next((v for v in (s_per[i], a_per[i]) if v is not None), None)
        per.append(_coord_periodic(attrs.get("periodic", False) if p is None else p, d, where))
        b = next((v for v in (s_bnd[i], a_bnd[i]) if v is not None), None)
        bnd.append(_coord_bounds(attrs.get("bounds") if b is None else b, container, d, n, where))
    try:
        return Grid(coords, None if all(b is None for b in bnd) else bnd, per, dims)
    except GridError as e:
        raise GridError(f"{where}: the coordinates of {tuple(dims)} do not make a grid: {e}") from e


# ---------------------------------------------------------------------------------------------- writing
def to_dataarray(
    values: Any,
    grid: Grid | PointCloud,
    variables: Sequence[str],
    units: Sequence[str],
    standard_names: Sequence[str],
    mask: torch.Tensor | None = None,
    time: torch.Tensor | None = None,
    attrs: dict | None = None,
):
    """A Field's parts as an ``xarray.DataArray`` (see the module docstring); ``values`` a numpy or dask array
    ``(batch, channels, *spatial)``."""
    xr = _xr()
    g = grid
    coords: dict[str, Any] = {"batch": np.arange(values.shape[0]), "variable": list(variables)}
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
    if time is not None:
        coords["time"] = ("batch", time.detach().cpu().numpy())
    if mask is not None:
        m = mask.detach().cpu().numpy()
        if m.ndim == len(sdims):
            coords["mask"] = (sdims, m)
        elif m.shape[1] == 1:  # one mask per sample
            coords["mask"] = (["batch", *sdims], m[:, 0])
        else:
            coords["mask"] = (dims, m)
    out_attrs = {
        "sciml_grid": "grid" if isinstance(g, Grid) else "pointcloud",
        "sciml_units": json.dumps(list(units)),
        "sciml_standard_names": json.dumps(list(standard_names)),
        "sciml_periodic": json.dumps([bool(p) for p in g.periodic]),
        "sciml_bounds": json.dumps([list(b) for b in g.bounds]),
        "sciml_attrs": json.dumps(attrs or {}),
    }
    return xr.DataArray(values, dims=dims, coords=coords, attrs=out_attrs, name="field")


# ---------------------------------------------------------------------------------------------- reading
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


def _time_values(c: Any, where: str) -> tuple[np.ndarray, str | None]:
    t = np.asarray(c.values)
    if np.issubdtype(t.dtype, np.datetime64):
        sec = (t - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "ns") * 1e-9
        return sec.astype(np.float64), "seconds since 1970-01-01"
    if np.issubdtype(t.dtype, np.timedelta64):
        return (t / np.timedelta64(1, "ns") * 1e-9).astype(np.float64), "seconds"
    if not np.issubdtype(t.dtype, np.number):
        raise DataFormatError(f"{where}: time coordinate has non-numeric dtype {t.dtype}")
    return t.astype(np.float64), None


def _as_channels(da: Any, name: str | None, cdim: str | None):
    """``da`` with its channels along a dim named ``"variable"`` labelled by the rule's channel names."""
    if cdim is None:
        return da.expand_dims(variable=[name])
    labels = labels_of(da, cdim, da.sizes[cdim])
    names = [channel_name(name, lab, j) for j, lab in enumerate(labels)]
    if cdim in da.coords:
        da = da.drop_vars(cdim)
    if cdim != "variable":
        da = da.rename({cdim: "variable"})
    return da.assign_coords(variable=names)


def _check_numbers(v: Any, where: str, what: str) -> None:
    if v.dtype.kind not in "biufc":
        raise DataFormatError(f"{where}: {what} has dtype {v.dtype}, expected numbers")


def read_xarray(
    obj: Any,
    variables: Sequence[str] | None = None,
    batch_dim: str | None = None,
    variable_dim: str | None = None,
    spatial_dims: Sequence[str] | None = None,
    periodic: Any = None,
    bounds: Any = None,
) -> dict[str, Any]:
    """The keyword arguments of ``Field`` for an ``xarray.DataArray`` or ``Dataset`` (module docstring)."""
    xr = _xr()
    where = xarray_where(obj)
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
        parts, units, std = [], [], []
        dims0 = None
        for n in names:
            v = obj[n]
            _check_numbers(v, where, f"variable {n!r}")
            cdim = channel_dims(v.dims, variable_dim, where, n)
            other = tuple(d for d in v.dims if d != cdim)
            if dims0 is None:
                dims0 = other
            elif set(other) != set(dims0):
                raise DataFormatError(
                    f"data variables must share dims to become channels: {names[0]!r} has {dims0}, "
                    f"{n!r} has {other} (besides its channel dimension)"
                )
            part = _as_channels(v.transpose(*([cdim] if cdim else []), *dims0), str(n), cdim)
            parts.append(part)
            units += [str(v.attrs.get("units", ""))] * part.sizes["variable"]
            std += [str(v.attrs.get("standard_name", ""))] * part.sizes["variable"]
        da = xr.concat(parts, dim="variable", coords="minimal", compat="override", join="exact")
        da.attrs = dict(obj.attrs)
        vdim = "variable"
        var_attrs = [obj[names[0]].attrs, obj.attrs]
    elif isinstance(obj, xr.DataArray):
        da = obj
        _check_numbers(da, where, f"DataArray {da.name!r}")
        vdim = variable_dim if variable_dim is not None else ("variable" if "variable" in da.dims else None)
        if vdim is not None and vdim not in da.dims:
            raise DataFormatError(f"variable_dim {vdim!r} is not a dimension of the DataArray {list(da.dims)}")
        cdim = channel_dims(da.dims, vdim, where, da.name)
        name = None if da.name is None else str(da.name)
        if cdim is None or cdim != vdim:  # one channel, or the channels of a level dimension
            n = 1 if cdim is None else da.sizes[cdim]
            units = [str(obj.attrs.get("units", ""))] * n
            std = [str(obj.attrs.get("standard_name", ""))] * n
        da = _as_channels(da, name if name is not None or cdim is not None else "c0", cdim)
        vdim = "variable"
        var_attrs = [obj.attrs]
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
        sel_units = _json(attrs, "sciml_units", where)
        sel_std = _json(attrs, "sciml_standard_names", where)
        attrs["sciml_units"] = json.dumps([sel_units[i] for i in idx]) if sel_units else None
        attrs["sciml_standard_names"] = json.dumps([sel_std[i] for i in idx]) if sel_std else None
        if units is not None:
            units, std = [units[i] for i in idx], [std[i] for i in idx]
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
    if kind == "pointcloud":
        if len(rest) != 1:
            raise DataFormatError(f"a point-cloud DataArray has one spatial dim, got {rest}")
        axis_names = [
            str(n) for n in da.coords if n not in ("weights", "mask", "time") and da.coords[n].dims == (rest[0],)
        ]
        pts = np.stack([np.asarray(da.coords[n].values, dtype=np.float64) for n in axis_names], axis=1)
        w = np.asarray(da.coords["weights"].values) if "weights" in da.coords else None
        s_bounds = _json(attrs, "sciml_bounds", where)
        grid: Grid | PointCloud = PointCloud(pts, weights=w, bounds=s_bounds, names=axis_names)
    else:
        container = obj if isinstance(obj, xr.Dataset) else da
        grid = xarray_grid(
            container, [str(d) for d in rest], [da.sizes[d] for d in rest], [attrs, *var_attrs], periodic, bounds, where
        )
    # time
    time = None
    out_attrs = _json(attrs, "sciml_attrs", where)
    out_attrs = out_attrs if out_attrs is not None else _plain_attrs(attrs)
    tc = da.coords.get("time")
    if tc is not None and tc.dims == (bdim,):
        time, tunits = _time_values(tc, where)
        if tunits is not None:
            out_attrs.setdefault("time_units", tunits)
    # mask
    mask = None
    if "mask" in da.coords:
        mc = da.coords["mask"]
        mdims = [d for d in (bdim, vdim, *rest) if d in mc.dims]
        m = np.asarray(mc.transpose(*mdims).values)
        if m.dtype != bool:
            raise DataFormatError(f"{where}: mask coordinate must be boolean, got dtype {m.dtype}")
        if mdims == [bdim, *rest]:
            m = m[:, None]
        mask = m
    u = _json(attrs, "sciml_units", where) or units
    s = _json(attrs, "sciml_standard_names", where) or std
    if u is None:
        u = [str(attrs.get("units", ""))] * len(vnames)
    data = da.data
    if not hasattr(data, "dask"):
        data = np.asarray(data)
    return {
        "values": data,
        "grid": grid,
        "variables": vnames,
        "units": u,
        "mask": mask,
        "time": time,
        "attrs": out_attrs,
        "standard_names": s,
    }
