"""sciml's HDF5 schema (format version 1): writing and reading Fields and trajectories.

Layout (see docs/data-format.md for the user-facing description)::

    /                       attrs: sciml_format="sciml-hdf5", sciml_format_version=1, sciml_version,
                                   provenance (JSON: generator, params, seed, created, sciml_version)
    /<name>/                attrs: kind = "field" | "trajectory", variables, units, standard_names
                                   (JSON lists of str, one per channel), attrs (JSON object)
    /<name>/values          (batch, channels, *spatial), one sample per chunk; trajectories
                            (n_traj, n_time, channels, *spatial), one (traj, time) per chunk
    /<name>/grid/           attrs: kind = "grid" | "pointcloud", names, periodic (JSON lists)
    /<name>/grid/bounds     float64 (ndim, 2)
    /<name>/grid/coord_<i>  float64 1-D coordinates of axis i (grids)
    /<name>/grid/points     float64 (n_points, ndim); /<name>/grid/weights (n_points,) (point clouds)
    /<name>/mask            optional bool: (*spatial), (batch, 1, *spatial) or the values' shape
    /<name>/time            optional float64: (batch,) for a field, (n_time,) for a trajectory

Values keep their dtype (float32 stays float32); coordinates, bounds and time are float64, so a write/read
round trip is exact. Files are written to a temporary file next to the destination and renamed over it
(``sciml.core.files.atomic_path``): a write that fails leaves any previous file untouched. Every problem with a
file (missing, not HDF5, truncated, missing group or dataset) raises ``DataFormatError`` naming the file.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from sciml.core.errors import DataFormatError, ShapeError
from sciml.core.files import atomic_path
from sciml.fields.field import Field, _canonical_attrs, _names, check_mask_layout
from sciml.fields.grid import Grid, PointCloud

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "write_fields",
    "read_field",
    "write_trajectories",
    "read_trajectories",
    "list_groups",
    "open_file",
    "read_grid",
    "write_grid",
    "read_provenance",
    "describe",
]

FORMAT_NAME = "sciml-hdf5"
FORMAT_VERSION = 1


def _sciml_version() -> str:
    try:
        from sciml import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - partial installs
        return "unknown"


# ---------------------------------------------------------------------------------------------- opening
@contextlib.contextmanager
def open_file(path: str | os.PathLike, mode: str = "r") -> Iterator[h5py.File]:
    """Open an HDF5 file, turning "missing", "not HDF5" and "truncated" into DataFormatError naming it.

    Errors raised by h5py while the file is open (a dataset whose data lies past a truncated end) are also
    converted. Use as a context manager: ``with open_file(p) as f: ...``.
    """
    p = Path(path)
    if mode == "r" and not p.exists():
        raise DataFormatError(f"HDF5 file not found: {p}")
    if mode == "r" and p.is_dir():
        raise DataFormatError(f"{p} is a directory, not an HDF5 file")
    try:
        f = h5py.File(p, mode)
    except OSError as e:
        msg = str(e)
        why = "truncated HDF5 file" if "truncat" in msg.lower() or "eof" in msg.lower() else "not an HDF5 file"
        raise DataFormatError(f"cannot open {p}: {why} ({msg})") from None
    try:
        with f:
            yield f
    except (OSError, RuntimeError) as e:  # h5py low-level read errors (e.g. truncated data)
        raise DataFormatError(f"cannot read {p}: corrupt or truncated HDF5 data ({e})") from None


def _json_attr(obj: h5py.HLObject, key: str, default: Any = None, where: str = "") -> Any:
    if key not in obj.attrs:
        if default is not None:
            return default
        raise DataFormatError(f"{where}: missing attribute {key!r}")
    raw = obj.attrs[key]
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as e:
        raise DataFormatError(f"{where}: attribute {key!r} is not valid JSON ({e})") from None


def _dataset(group: h5py.Group, key: str, where: str) -> h5py.Dataset:
    if key not in group:
        raise DataFormatError(f"{where}: missing dataset {key!r} in group {group.name!r}; has {sorted(group.keys())}")
    obj = group[key]
    if not isinstance(obj, h5py.Dataset):
        raise DataFormatError(f"{where}: {key!r} is an HDF5 {type(obj).__name__}, expected a dataset")
    return obj


def _check_numeric(ds: Any, where: str, what: str, kinds: str = "biufc") -> None:
    """Raise DataFormatError naming ``what`` when ``ds`` (anything with a numpy ``dtype``: an h5py dataset, an
    xarray variable) does not hold numbers (e.g. strings)."""
    if ds.dtype.kind not in kinds:
        raise DataFormatError(f"{where}: {what} has dtype {ds.dtype}, expected numbers")


def _format_version(f: h5py.File, default: int) -> int:
    """The root attribute ``sciml_format_version`` as an int (``default`` when absent)."""
    raw = f.attrs.get("sciml_format_version")
    if raw is None:
        return default
    v = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
    if isinstance(v, str) and v.strip().lstrip("+-").isdigit():
        return int(v)
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        if np.isfinite(v) and float(v) == int(v):
            return int(v)
    raise DataFormatError(f"{f.filename}: root attribute sciml_format_version={raw!r} is not an integer")


def _check_mask(group: h5py.Group, values_shape: Sequence[int], spatial: Sequence[int], where: str) -> None:
    """Check the optional ``mask`` dataset of a field/trajectory group against the schema (without reading it).

    The mask must be boolean and shaped ``(*spatial)``, ``(n, 1, *spatial)`` or like the values. Shared by
    ``read_field``, ``read_trajectories`` and the lazy datasets (``sciml.fields.datasets``).
    """
    if "mask" not in group:
        return
    m = _dataset(group, "mask", where)
    check_mask_layout(m.dtype == bool, m.dtype, m.shape, values_shape, spatial, where)


def _group_arrays(g: h5py.Group, where: str, time_required: bool) -> tuple[h5py.Dataset, Grid | PointCloud]:
    """``values`` and the grid of a field/trajectory group, with values, time and mask checked (nothing read)."""
    ds = _dataset(g, "values", where)
    _check_numeric(ds, where, "dataset 'values'")
    if time_required or "time" in g:
        _check_numeric(_dataset(g, "time", where), where, "dataset 'time'", "iuf")
    if "grid" not in g:
        raise DataFormatError(f"{where}: missing group 'grid'")
    grid = read_grid(g["grid"])
    _check_mask(g, ds.shape, grid.shape, where)
    return ds, grid


def _check_format(f: h5py.File, require_name: bool = True) -> int:
    """Check the root attributes of a sciml file and return its format version (``FORMAT_VERSION`` if absent).

    ``require_name=False`` also accepts a file without ``sciml_format`` (plain HDF5 written by hand in the same
    layout, which the lazy datasets read); a different name is always refused."""
    fmt = f.attrs.get("sciml_format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT_NAME and (require_name or fmt is not None):
        raise DataFormatError(
            f"{f.filename} is not a sciml HDF5 file (root attribute sciml_format={fmt!r}, expected {FORMAT_NAME!r});"
            " for PDEBench / The Well files use sciml.fields.readers"
        )
    ver = _format_version(f, FORMAT_VERSION)
    if ver > FORMAT_VERSION:
        raise DataFormatError(
            f"{f.filename} uses sciml HDF5 format version {ver}; this sciml reads up to {FORMAT_VERSION}"
        )
    return ver


# ---------------------------------------------------------------------------------------------- grids
def write_grid(group: h5py.Group, grid: Grid | PointCloud) -> None:
    """Write ``grid`` into ``group`` (the ``<name>/grid`` group of the schema)."""
    group.attrs["names"] = json.dumps(list(grid.names))
    group.attrs["periodic"] = json.dumps([bool(p) for p in grid.periodic])
    group.create_dataset("bounds", data=np.asarray(grid.bounds, dtype=np.float64).reshape(grid.ndim, 2))
    if isinstance(grid, Grid):
        group.attrs["kind"] = "grid"
        for i, c in enumerate(grid.coords):
            group.create_dataset(f"coord_{i}", data=np.asarray(c, dtype=np.float64))
    elif isinstance(grid, PointCloud):
        group.attrs["kind"] = "pointcloud"
        group.create_dataset("points", data=grid.points(dtype=torch.float64).numpy())
        group.create_dataset("weights", data=np.asarray(grid.quadrature_weights(), dtype=np.float64))
    else:
        raise DataFormatError(f"cannot store a grid of type {type(grid).__name__}")


def read_grid(group: h5py.Group) -> Grid | PointCloud:
    """Rebuild the ``Grid`` / ``PointCloud`` stored in a ``<name>/grid`` group (exact)."""
    where = f"{group.file.filename}:{group.name}"
    kind = group.attrs.get("kind")
    if isinstance(kind, bytes):
        kind = kind.decode()
    names = _json_attr(group, "names", where=where)

    def numbers(key: str) -> np.ndarray:
        ds = _dataset(group, key, where)
        _check_numeric(ds, where, f"dataset {key!r}", "iuf")
        return ds[()]

    bounds = numbers("bounds")
    if kind == "grid":
        ndim = len(names)
        coords = [numbers(f"coord_{i}") for i in range(ndim)]
        periodic = _json_attr(group, "periodic", where=where)
        return Grid(coords, bounds=bounds.tolist(), periodic=periodic, names=names)
    if kind == "pointcloud":
        pts = numbers("points")
        w = numbers("weights")
        return PointCloud(pts, weights=w, bounds=bounds.tolist(), names=names)
    raise DataFormatError(f"{where}: grid attribute kind={kind!r}, expected 'grid' or 'pointcloud'")


# ---------------------------------------------------------------------------------------------- writing
def _values_numpy(values: Any, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        if values.dtype == torch.bfloat16:
            raise DataFormatError(
                f"{name}: bfloat16 values cannot be stored in HDF5; cast first, e.g. field.to(torch.float32)"
            )
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _root_attrs(f: h5py.File, provenance: dict | None) -> None:
    prov = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(), "sciml_version": _sciml_version()}
    prov.update(_canonical_attrs(provenance) if provenance is not None else {})
    f.attrs["sciml_format"] = FORMAT_NAME
    f.attrs["sciml_format_version"] = FORMAT_VERSION
    f.attrs["sciml_version"] = _sciml_version()
    f.attrs["provenance"] = json.dumps(prov)


def _write_meta(g: h5py.Group, kind: str, variables, units, standard_names, attrs: dict) -> None:
    g.attrs["kind"] = kind
    g.attrs["variables"] = json.dumps(list(variables))
    g.attrs["units"] = json.dumps(list(units))
    g.attrs["standard_names"] = json.dumps(list(standard_names))
    g.attrs["attrs"] = json.dumps(attrs)


def _check_group_name(name: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise DataFormatError(f"invalid HDF5 group name {name!r} (non-empty, no '/')")


def _write_field_group(f: h5py.File, name: str, field: Field, compression: str | None) -> None:
    _check_group_name(name)
    if not isinstance(field, Field):
        raise DataFormatError(f"fields[{name!r}] must be a sciml Field, got {type(field).__name__}")
    g = f.create_group(name)
    _write_meta(g, "field", field.variables, field.units, field.standard_names, field.attrs)
    v = _values_numpy(field.values, f"fields[{name!r}]")
    g.create_dataset("values", data=v, chunks=(1, *v.shape[1:]), compression=compression)
    write_grid(g.create_group("grid"), field.grid)
    if field.mask is not None:
        m = field.mask.detach().cpu().numpy()
        g.create_dataset("mask", data=m, chunks=(1, *m.shape[1:]) if m.ndim == v.ndim else None)
    if field.time is not None:
        g.create_dataset("time", data=field.time.detach().cpu().numpy().astype(np.float64))


def write_fields(
    path: str | os.PathLike,
    fields: dict[str, Field],
    provenance: dict | None = None,
    compression: str | None = None,
) -> Path:
    """Write named Fields (e.g. ``{"input": a, "output": u}``) to a new sciml HDF5 file, atomically.

    ``provenance`` (JSON-serialisable: generator, params, seed, ...) is stored in the root attrs, completed
    with ``created`` and ``sciml_version``. ``compression`` is passed to h5py (e.g. ``"gzip"``). Returns the path.
    """
    if not isinstance(fields, dict) or not fields:
        raise DataFormatError("write_fields needs a non-empty dict {group name: Field}")
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _root_attrs(f, provenance)
            for name, field in fields.items():
                _write_field_group(f, name, field, compression)
    return path


def write_trajectories(
    path: str | os.PathLike,
    values: Any,
    grid: Grid | PointCloud,
    time: Any,
    variables: Sequence[str] | None = None,
    units: Sequence[str] | str | None = None,
    name: str = "trajectory",
    provenance: dict | None = None,
    standard_names: Sequence[str] | str | None = None,
    mask: Any = None,
    attrs: dict | None = None,
    compression: str | None = None,
) -> Path:
    """Write trajectories ``values`` of shape ``(n_traj, n_time, channels, *spatial)`` at times ``time``
    ``(n_time,)`` as a ``kind="trajectory"`` group, atomically (one ``(traj, time)`` snapshot per chunk).

    ``mask`` may be ``(*spatial)``, ``(n_traj, 1, *spatial)`` or ``(n_traj, n_time, channels, *spatial)``.
    """
    _check_group_name(name)
    v = _values_numpy(values, name)
    if v.ndim < 3:
        raise ShapeError(f"trajectory values must be (n_traj, n_time, channels, *spatial), got shape {v.shape}")
    if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.complexfloating)):
        v = v.astype(np.float64)
    # validate one snapshot as a Field: shapes, names, finiteness, mask
    t = np.asarray(time.detach().cpu() if isinstance(time, torch.Tensor) else time, dtype=np.float64).reshape(-1)
    if t.shape != (v.shape[1],):
        raise ShapeError(f"time must have shape (n_time,)=({v.shape[1]},), got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise DataFormatError("trajectory time contains NaN or Inf")
    grid.check_values(v[0], "trajectory values[i]")
    c = v.shape[2]
    var = _names(variables, c, "variables", lambda i: f"c{i}")
    if len(set(var)) != len(var):
        raise DataFormatError(f"duplicate variable names in {list(var)}")
    uni = _names(units, c, "units", lambda i: "")
    std = _names(standard_names, c, "standard_names", lambda i: "")
    m = None
    if mask is not None:
        m = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask)
        ok = (v.shape[3:], (v.shape[0], 1, *v.shape[3:]), v.shape)
        if m.dtype != bool or m.shape not in ok:
            raise ShapeError(f"trajectory mask must be boolean with shape in {ok}, got {m.dtype} {m.shape}")
    finite = np.isfinite(v)
    if m is not None:
        mm = m.reshape(1, 1, 1, *m.shape) if m.ndim == v.ndim - 3 else (m[:, None] if m.ndim == v.ndim - 1 else m)
        finite = finite | ~np.broadcast_to(mm, v.shape)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise DataFormatError(f"trajectory values contain NaN/Inf (first at index {idx}) outside the mask")
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _root_attrs(f, provenance)
            g = f.create_group(name)
            _write_meta(g, "trajectory", var, uni, std, _canonical_attrs(attrs))
            g.create_dataset("values", data=v, chunks=(1, 1, *v.shape[2:]), compression=compression)
            write_grid(g.create_group("grid"), grid)
            g.create_dataset("time", data=t)
            if m is not None:
                g.create_dataset("mask", data=m)
    return path


# ---------------------------------------------------------------------------------------------- reading
def list_groups(path: str | os.PathLike) -> dict[str, str]:
    """``{group name: kind}`` of the sciml groups in a file (kind ``"field"`` or ``"trajectory"``)."""
    with open_file(path) as f:
        _check_format(f)
        return _groups(f)


def _groups(f: h5py.File) -> dict[str, str]:
    out = {}
    for k, g in f.items():
        if isinstance(g, h5py.Group) and "kind" in g.attrs:
            kind = g.attrs["kind"]
            out[k] = kind.decode() if isinstance(kind, bytes) else str(kind)
    return out


def read_provenance(path: str | os.PathLike) -> dict:
    """The provenance dict stored in the root attributes."""
    with open_file(path) as f:
        _check_format(f)
        return _json_attr(f, "provenance", default={}, where=str(path))


def describe(path: str | os.PathLike) -> dict:
    """Summary of a sciml HDF5 file without reading any values (what ``sciml data info`` prints).

    ``{"path", "format", "format_version", "provenance", "groups": {name: {"kind", "variables", "units", "shape",
    "dtype", "grid": {"type", "shape", "bounds", "periodic"} or {"type", "n_points"}, "has_mask", "has_time"}}}``;
    corrupt or foreign files raise ``DataFormatError`` naming the file.
    """
    with open_file(path) as f:
        version = _check_format(f)
        out: dict[str, Any] = {
            "path": str(path),
            "format": FORMAT_NAME,
            "format_version": version,
            "provenance": _json_attr(f, "provenance", default={}, where=str(path)),
            "groups": {},
        }
        for name, kind in _groups(f).items():
            g = f[name]
            where = f"{path}:{name}"
            ds = _dataset(g, "values", where)
            grid = read_grid(g["grid"]) if "grid" in g else None
            if isinstance(grid, Grid):
                ginfo = {
                    "type": "grid",
                    "shape": list(grid.shape),
                    "bounds": [list(b) for b in grid.bounds],
                    "periodic": list(grid.periodic),
                }
            elif grid is not None:
                ginfo = {"type": "point_cloud", "n_points": grid.size}
            else:
                ginfo = None
            out["groups"][name] = {
                "kind": kind,
                "variables": _json_attr(g, "variables", default=[], where=where),
                "units": _json_attr(g, "units", default=[], where=where),
                "shape": list(ds.shape),
                "dtype": str(ds.dtype),
                "grid": ginfo,
                "has_mask": "mask" in g,
                "has_time": "time" in g,
            }
        return out


def _normalize_index(index: Any, n: int, what: str) -> slice | np.ndarray:
    if index is None:
        return slice(None)
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        i = int(index)
        if not -n <= i < n:
            raise ShapeError(f"{what} index {i} out of range for {n} entries")
        i %= n
        return slice(i, i + 1)
    if isinstance(index, slice):
        return slice(*index.indices(n))
    idx = np.asarray(index)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ShapeError(f"{what} index must be an int, slice or 1-D integer array, got {index!r}")
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ShapeError(f"{what} indices {idx.tolist()} out of range for {n} entries")
    return idx % n


def _read_rows(ds: h5py.Dataset, idx: slice | np.ndarray) -> np.ndarray:
    """Read ``ds[idx]`` along the first axis; h5py needs increasing unique fancy indices, so sort and undo."""
    if isinstance(idx, slice):
        if idx.step is not None and idx.step < 0:
            rows = np.arange(*idx.indices(ds.shape[0]))
            return _read_rows(ds, rows)
        return ds[idx]
    uniq, inv = np.unique(idx, return_inverse=True)
    if uniq.size == 0:
        return np.empty((0, *ds.shape[1:]), dtype=ds.dtype)
    return ds[uniq][inv]


def _pick_group(f: h5py.File, group: str | None, path: Any) -> h5py.Group:
    groups = _groups(f)
    if group is None:
        if len(groups) != 1:
            raise DataFormatError(
                f"{path} has {len(groups)} sciml groups {sorted(groups)}; pass group= to choose one"
                if groups
                else f"{path} contains no sciml field groups"
            )
        group = next(iter(groups))
    if group not in f or not isinstance(f[group], h5py.Group):
        raise DataFormatError(f"{path} has no group {group!r}; available groups: {sorted(groups)}")
    return f[group]


def read_field(path: str | os.PathLike, group: str | None = None, index: Any = None) -> Field:
    """Read a Field from a sciml HDF5 file.

    ``group=None`` picks the only group in the file (an error lists the groups when there are several).
    ``index`` (int, slice or 1-D int array) reads only those samples (only those chunks are read from disk).
    For a ``kind="trajectory"`` group, ``index`` must be an int: trajectory ``index`` is returned as a Field
    whose batch runs over time (``field.time`` holds the times).
    """
    with open_file(path) as f:
        _check_format(f)
        g = _pick_group(f, group, path)
        where = f"{path}:{g.name}"
        kind = g.attrs.get("kind")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        ds, grid = _group_arrays(g, where, time_required=False)
        n_ch = ds.shape[-len(grid.shape) - 1] if ds.ndim > len(grid.shape) else 0
        meta = {
            "variables": _json_attr(g, "variables", where=where),
            "units": _json_attr(g, "units", default=[""] * n_ch, where=where),
            "standard_names": _json_attr(g, "standard_names", default=[""] * n_ch, where=where),
            "attrs": _json_attr(g, "attrs", default={}, where=where),
        }
        if kind == "trajectory":
            if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
                raise DataFormatError(
                    f"{where} holds trajectories {ds.shape}; read one with read_field(path, {g.name[1:]!r}, index=i)"
                    " or all of them with read_trajectories"
                )
            ti = _normalize_index(index, ds.shape[0], "trajectory")
            values = ds[ti][0]
            time = _dataset(g, "time", where)[()] if "time" in g else None
            mask = None
            if "mask" in g:
                m = g["mask"]
                mask = m[()] if m.ndim == ds.ndim - 3 else m[ti][0]
                if mask.ndim == ds.ndim - 2:  # (1, *spatial) per-trajectory mask -> one mask for all times
                    mask = mask[0]
            return Field(values, grid, mask=mask, time=time, **meta)
        if kind != "field":
            raise DataFormatError(f"{where}: group kind={kind!r}, expected 'field' or 'trajectory'")
        idx = _normalize_index(index, ds.shape[0], "batch")
        values = _read_rows(ds, idx)
        mask = None
        if "mask" in g:
            m = g["mask"]
            mask = _read_rows(m, idx) if m.ndim == ds.ndim else m[()]
        time = _read_rows(g["time"], idx) if "time" in g else None
        return Field(values, grid, mask=mask, time=time, **meta)


def read_trajectories(path: str | os.PathLike, group: str | None = None, index: Any = None) -> dict[str, Any]:
    """Read a trajectory group: ``{"values": tensor (n_traj, n_time, C, *spatial), "grid", "time" (n_time,),
    "variables", "units", "standard_names", "mask" (or None), "attrs"}``; ``index`` selects trajectories."""
    with open_file(path) as f:
        _check_format(f)
        g = _pick_group(f, group, path)
        where = f"{path}:{g.name}"
        ds, grid = _group_arrays(g, where, time_required=True)
        time = g["time"]
        idx = _normalize_index(index, ds.shape[0], "trajectory")
        mask = None
        if "mask" in g:
            m = g["mask"]
            mask = torch.from_numpy(m[()] if m.ndim == ds.ndim - 3 else _read_rows(m, idx))
        return {
            "values": torch.from_numpy(_read_rows(ds, idx)),
            "grid": grid,
            "time": torch.from_numpy(np.asarray(time[()], dtype=np.float64)),
            "variables": tuple(_json_attr(g, "variables", where=where)),
            "units": tuple(_json_attr(g, "units", where=where)),
            "standard_names": tuple(_json_attr(g, "standard_names", where=where)),
            "mask": mask,
            "attrs": _json_attr(g, "attrs", default={}, where=where),
        }
