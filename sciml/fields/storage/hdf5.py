"""sciml's HDF5 schema at the array level, and the lazy reader of one group (or of a directory of shards).

The schema (format version 1, described for users in docs/data-format.md)::

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

Here: opening and checking files (``open_file``, ``check_format``, ``get_dataset``, ``check_mask``), grids
(``read_grid`` / ``write_grid``), one field group written from a Field-like object or read into the keyword
arguments of ``Field`` (``write_field_groups`` / ``read_field_group``, used by ``Field.to_hdf5`` /
``Field.from_hdf5``), and the lazy ``ItemSource`` of the datasets: ``HDF5Group`` (one group of one file,
metadata read once, one item per read) and ``HDF5Shards`` (several files with the same group, concatenated
along samples). Every problem with a file raises ``DataFormatError`` naming the file. The user-facing functions
(``read_field``, ``write_trajectories``, ``describe``, ...) are in ``sciml.fields.hdf5``.
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

from sciml.core.errors import DataFormatError, GridError, SciMLError, ShapeError
from sciml.core.files import atomic_path
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.metadata import canonical_attrs, check_mask_layout
from sciml.fields.storage.base import LazyHandle, check_numeric

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "sciml_version",
    "open_file",
    "check_format",
    "json_attr",
    "get_dataset",
    "check_mask",
    "group_arrays",
    "field_groups",
    "pick_group",
    "read_grid",
    "write_grid",
    "values_numpy",
    "write_root_attrs",
    "write_group_meta",
    "check_group_name",
    "write_field_group",
    "write_field_groups",
    "normalize_index",
    "read_rows",
    "read_field_group",
    "HDF5Group",
    "HDF5Shards",
]

FORMAT_NAME = "sciml-hdf5"
FORMAT_VERSION = 1


def sciml_version() -> str:
    try:
        from sciml.core.version import __version__

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
    except SciMLError:
        raise
    except (OSError, RuntimeError) as e:  # h5py low-level read errors (e.g. truncated data)
        raise DataFormatError(f"cannot read {p}: corrupt or truncated HDF5 data ({e})") from None
    except (KeyError, ValueError, TypeError) as e:
        # h5py reports a corrupt object header or datatype as KeyError / ValueError ("Unable to ...", "Insufficient
        # precision ...": found by tests/reliability/test_properties.py flipping bytes); an error raised elsewhere
        # is not about the file and propagates
        if not _raised_in_h5py(e):
            raise
        raise DataFormatError(f"cannot read {p}: corrupt HDF5 data ({type(e).__name__}: {e})") from None


def _raised_in_h5py(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "h5py" in Path(tb.tb_frame.f_code.co_filename).parts  # h5py's .py and .pyx files


def json_attr(obj: h5py.HLObject, key: str, default: Any = None, where: str = "") -> Any:
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


def get_dataset(group: h5py.Group, key: str, where: str) -> h5py.Dataset:
    if key not in group:
        raise DataFormatError(f"{where}: missing dataset {key!r} in group {group.name!r}; has {sorted(group.keys())}")
    obj = group[key]
    if not isinstance(obj, h5py.Dataset):
        raise DataFormatError(f"{where}: {key!r} is an HDF5 {type(obj).__name__}, expected a dataset")
    return obj


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


def check_mask(group: h5py.Group, values_shape: Sequence[int], spatial: Sequence[int], where: str) -> None:
    """Check the optional ``mask`` dataset of a field/trajectory group against the schema (without reading it).

    The mask must be boolean and shaped ``(*spatial)``, ``(n, 1, *spatial)`` or like the values. Shared by
    ``read_field``, ``read_trajectories`` and the lazy datasets (``sciml.fields.datasets``).
    """
    if "mask" not in group:
        return
    m = get_dataset(group, "mask", where)
    check_mask_layout(m.dtype == bool, m.dtype, m.shape, values_shape, spatial, where)


def group_arrays(g: h5py.Group, where: str, time_required: bool) -> tuple[h5py.Dataset, Grid | PointCloud]:
    """``values`` and the grid of a field/trajectory group, with values, time and mask checked (nothing read)."""
    ds = get_dataset(g, "values", where)
    check_numeric(ds, where, "dataset 'values'")
    if ds.ndim and ds.shape[0] == 0:
        raise DataFormatError(f"{where}: dataset 'values' is empty (shape {ds.shape}, 0 samples)")
    if time_required or "time" in g:
        check_numeric(get_dataset(g, "time", where), where, "dataset 'time'", "iuf")
    if "grid" not in g:
        raise DataFormatError(f"{where}: missing group 'grid'")
    grid = read_grid(g["grid"])
    check_mask(g, ds.shape, grid.shape, where)
    return ds, grid


def check_format(f: h5py.File, require_name: bool = True) -> int:
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
        group.attrs["metric"] = grid.metric
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
    names = json_attr(group, "names", where=where)

    def numbers(key: str) -> np.ndarray:
        ds = get_dataset(group, key, where)
        check_numeric(ds, where, f"dataset {key!r}", "iuf")
        return ds[()]

    bounds = numbers("bounds")
    if kind == "grid":
        ndim = len(names)
        coords = [numbers(f"coord_{i}") for i in range(ndim)]
        periodic = json_attr(group, "periodic", where=where)
        metric = group.attrs.get("metric")  # absent in files written before sphere grids: detected from names
        metric = metric.decode() if isinstance(metric, bytes) else metric
        return Grid(coords, bounds=bounds.tolist(), periodic=periodic, names=names, metric=metric)
    if kind == "pointcloud":
        pts = numbers("points")
        w = numbers("weights")
        return PointCloud(pts, weights=w, bounds=bounds.tolist(), names=names)
    raise DataFormatError(f"{where}: grid attribute kind={kind!r}, expected 'grid' or 'pointcloud'")


# ---------------------------------------------------------------------------------------------- writing
def values_numpy(values: Any, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        if values.dtype == torch.bfloat16:
            raise DataFormatError(
                f"{name}: bfloat16 values cannot be stored in HDF5; cast first, e.g. field.to(torch.float32)"
            )
        return values.detach().cpu().numpy()
    return np.asarray(values)


def write_root_attrs(f: h5py.File, provenance: dict | None) -> None:
    prov = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(), "sciml_version": sciml_version()}
    prov.update(canonical_attrs(provenance) if provenance is not None else {})
    f.attrs["sciml_format"] = FORMAT_NAME
    f.attrs["sciml_format_version"] = FORMAT_VERSION
    f.attrs["sciml_version"] = sciml_version()
    f.attrs["provenance"] = json.dumps(prov)


def write_group_meta(g: h5py.Group, kind: str, variables, units, standard_names, attrs: dict) -> None:
    g.attrs["kind"] = kind
    g.attrs["variables"] = json.dumps(list(variables))
    g.attrs["units"] = json.dumps(list(units))
    g.attrs["standard_names"] = json.dumps(list(standard_names))
    g.attrs["attrs"] = json.dumps(attrs)


def check_group_name(name: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise DataFormatError(f"invalid HDF5 group name {name!r} (non-empty, no '/')")


def write_field_group(f: h5py.File, name: str, field: Any, compression: str | None) -> None:
    """Group ``name`` of the open file ``f`` holding ``field`` (a Field, or anything with its properties)."""
    check_group_name(name)
    g = f.create_group(name)
    write_group_meta(g, "field", field.variables, field.units, field.standard_names, field.attrs)
    v = values_numpy(field.values, f"fields[{name!r}]")
    g.create_dataset("values", data=v, chunks=(1, *v.shape[1:]), compression=compression)
    write_grid(g.create_group("grid"), field.grid)
    if field.mask is not None:
        m = field.mask.detach().cpu().numpy()
        g.create_dataset("mask", data=m, chunks=(1, *m.shape[1:]) if m.ndim == v.ndim else None)
    if field.time is not None:
        g.create_dataset("time", data=field.time.detach().cpu().numpy().astype(np.float64))


def write_field_groups(
    path: str | os.PathLike,
    fields: dict[str, Any],
    provenance: dict | None = None,
    compression: str | None = None,
) -> Path:
    """Write named Fields (anything with the Field properties: values, grid, variables, units, standard_names,
    attrs, mask, time) to a new sciml HDF5 file, atomically: a write that fails leaves any previous file
    untouched. ``provenance`` is completed with ``created`` and ``sciml_version``. Returns the path."""
    if not isinstance(fields, dict) or not fields:
        raise DataFormatError("write_fields needs a non-empty dict {group name: Field}")
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            write_root_attrs(f, provenance)
            for name, field in fields.items():
                write_field_group(f, name, field, compression)
    return path


def field_groups(f: h5py.File) -> dict[str, str]:
    out = {}
    for k, g in f.items():
        if isinstance(g, h5py.Group) and "kind" in g.attrs:
            kind = g.attrs["kind"]
            out[k] = kind.decode() if isinstance(kind, bytes) else str(kind)
    return out


def normalize_index(index: Any, n: int, what: str) -> slice | np.ndarray:
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


def read_rows(ds: h5py.Dataset, idx: slice | np.ndarray) -> np.ndarray:
    """Read ``ds[idx]`` along the first axis; h5py needs increasing unique fancy indices, so sort and undo."""
    if isinstance(idx, slice):
        if idx.step is not None and idx.step < 0:
            rows = np.arange(*idx.indices(ds.shape[0]))
            return read_rows(ds, rows)
        return ds[idx]
    uniq, inv = np.unique(idx, return_inverse=True)
    if uniq.size == 0:
        return np.empty((0, *ds.shape[1:]), dtype=ds.dtype)
    return ds[uniq][inv]


def pick_group(f: h5py.File, group: str | None, path: Any) -> h5py.Group:
    groups = field_groups(f)
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


def read_field_group(path: str | os.PathLike, group: str | None = None, index: Any = None) -> dict[str, Any]:
    """The keyword arguments of ``Field`` (values, grid, variables, units, standard_names, attrs, mask, time)
    for a group of a sciml HDF5 file.

    ``group=None`` picks the only group in the file (an error lists the groups when there are several).
    ``index`` (int, slice or 1-D int array) reads only those samples (only those chunks are read from disk).
    For a ``kind="trajectory"`` group, ``index`` must be an int: trajectory ``index`` is returned (a Field
    whose batch runs over time) (``field.time`` holds the times).
    """
    with open_file(path) as f:
        check_format(f)
        g = pick_group(f, group, path)
        where = f"{path}:{g.name}"
        kind = g.attrs.get("kind")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        ds, grid = group_arrays(g, where, time_required=False)
        n_ch = ds.shape[-len(grid.shape) - 1] if ds.ndim > len(grid.shape) else 0
        meta = {
            "variables": json_attr(g, "variables", where=where),
            "units": json_attr(g, "units", default=[""] * n_ch, where=where),
            "standard_names": json_attr(g, "standard_names", default=[""] * n_ch, where=where),
            "attrs": json_attr(g, "attrs", default={}, where=where),
        }
        if kind == "trajectory":
            if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
                raise DataFormatError(
                    f"{where} holds trajectories {ds.shape}; read one with read_field(path, {g.name[1:]!r}, index=i)"
                    " or all of them with read_trajectories"
                )
            ti = normalize_index(index, ds.shape[0], "trajectory")
            values = ds[ti][0]
            time = get_dataset(g, "time", where)[()] if "time" in g else None
            mask = None
            if "mask" in g:
                m = g["mask"]
                mask = m[()] if m.ndim == ds.ndim - 3 else m[ti][0]
                if mask.ndim == ds.ndim - 2:  # (1, *spatial) per-trajectory mask -> one mask for all times
                    mask = mask[0]
            return {"values": values, "grid": grid, "mask": mask, "time": time, **meta}
        if kind != "field":
            raise DataFormatError(f"{where}: group kind={kind!r}, expected 'field' or 'trajectory'")
        idx = normalize_index(index, ds.shape[0], "batch")
        values = read_rows(ds, idx)
        mask = None
        if "mask" in g:
            m = g["mask"]
            mask = read_rows(m, idx) if m.ndim == ds.ndim else m[()]
        time = read_rows(g["time"], idx) if "time" in g else None
        return {"values": values, "grid": grid, "mask": mask, "time": time, **meta}


# ====================================================================================== lazy reading
def open_h5(path: str) -> h5py.File:
    """Open a file for the lazy readers (DataFormatError for a missing, foreign or newer-format file); files
    without the ``sciml_format`` attribute (plain HDF5 written by hand in the same layout) are read too."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"file {path!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataFormatError(f"file {path!r} is not a readable HDF5 file (truncated or another format?): {e}") from e
    try:
        check_format(f, require_name=False)
    except DataFormatError:
        f.close()
        raise
    return f


def _lenient_attr(attrs, key: str, default=None):
    """An attribute that may be JSON, a plain string or an array of strings (hand-written files)."""
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


def _read_group_grid(group: h5py.Group, where: str) -> Grid | PointCloud:
    """Grid of a field group following the sciml schema (``/<name>/grid``)."""
    if "grid" not in group or not isinstance(group["grid"], h5py.Group):
        raise DataFormatError(f"{where} has no 'grid' subgroup; members present: {sorted(group.keys())}")
    try:
        return read_grid(group["grid"])
    except GridError as e:
        raise DataFormatError(f"{where}/grid is invalid: {e}") from e


class HDF5Group:
    """One group of one sciml HDF5 file (an ``ItemSource``): metadata read once, values read per item.

    ``lead`` is the number of leading (non-channel, non-spatial) axes: 1 for fields, 2 for trajectories.
    """

    def __init__(self, path: str, group: str, lead: int) -> None:
        self.path = str(path)
        self.name = group
        self.lead = lead
        self.where = f"file {self.path!r}, group {group!r}"
        self._handle = LazyHandle(self.path, open_h5)
        f = self._handle.get()
        try:
            if group not in f:
                groups = sorted(k for k in f.keys() if isinstance(f[k], h5py.Group))
                raise DataFormatError(f"file {self.path!r} has no group {group!r}; groups present: {groups}")
            g = f[group]
            if not isinstance(g, h5py.Group) or "values" not in g:
                members = sorted(g.keys()) if isinstance(g, h5py.Group) else []
                raise DataFormatError(f"{self.where} has no 'values' dataset; members present: {members}")
            ds = get_dataset(g, "values", self.where)
            check_numeric(ds, self.where, "dataset 'values'")
            self.grid = _read_group_grid(g, self.where)
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
            variables = _lenient_attr(g.attrs, "variables")
            self.variables = [str(v) for v in variables] if variables else [f"c{i}" for i in range(n_ch)]
            if len(self.variables) != n_ch:
                raise DataFormatError(
                    f"{self.where}: attribute 'variables' names {len(self.variables)} channels "
                    f"({self.variables}) but values have {n_ch}"
                )
            units = _lenient_attr(g.attrs, "units")
            self.units = [str(u) for u in units] if units and len(units) == n_ch else [""] * n_ch
            self.time = None
            if "time" in g:
                t = get_dataset(g, "time", self.where)
                check_numeric(t, self.where, "dataset 'time'", "iuf")
                self.time = np.asarray(t[()], dtype=np.float64)
            check_mask(g, self.shape, spatial, self.where)  # the same check as read_field
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
        i = int(lead_sel[0])  # the layout was checked when the file was opened (check_mask)
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


class HDF5Shards:
    """Several files with the same group layout, concatenated along the first axis."""

    def __init__(self, paths: Sequence[str], group: str, lead: int) -> None:
        self.parts = [HDF5Group(p, group, lead) for p in paths]
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

    def _locate(self, i: int) -> tuple[HDF5Group, int]:
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
