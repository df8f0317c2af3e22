"""sciml's HDF5 files for users: write and read Fields and trajectories, list and describe a file.

The schema (format version 1; docs/data-format.md for users, ``sciml.fields.storage.hdf5`` for the
array-level code) stores each Field as a group ``/<name>`` with ``values``, ``grid``, optional ``mask`` and
``time``, and channel metadata in attributes; trajectories ``(n_traj, n_time, channels, *spatial)`` as a group
of kind ``"trajectory"``. Values keep their dtype (float32 stays float32); coordinates, bounds and time are
float64, so a write/read round trip is exact. Files are written to a temporary file next to the destination
and renamed over it (``sciml.core.files.atomic_path``): a write that fails leaves any previous file
untouched. Every problem with a file (missing, not HDF5, truncated, missing group or dataset) raises
``DataFormatError`` naming the file.

``write_fields`` / ``read_field`` are the functions behind ``Field.to_hdf5`` / ``Field.from_hdf5``;
``write_trajectories`` / ``read_trajectories`` handle trajectory groups without building Fields;
``list_groups``, ``read_provenance`` and ``describe`` (what ``sciml data info`` prints) read no values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from sciml.core.errors import DataFormatError, ShapeError
from sciml.core.files import atomic_path
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.metadata import canonical_attrs, channel_names
from sciml.fields.storage.hdf5 import (
    FORMAT_NAME,
    FORMAT_VERSION,
    check_format,
    check_group_name,
    field_groups,
    get_dataset,
    group_arrays,
    json_attr,
    normalize_index,
    open_file,
    pick_group,
    read_grid,
    read_rows,
    values_numpy,
    write_field_groups,
    write_grid,
    write_group_meta,
    write_root_attrs,
)

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
    if isinstance(fields, dict):
        for name, field in fields.items():
            if not isinstance(field, Field):
                raise DataFormatError(f"fields[{name!r}] must be a sciml Field, got {type(field).__name__}")
    return write_field_groups(path, fields, provenance=provenance, compression=compression)


def read_field(path: str | os.PathLike, group: str | None = None, index: Any = None) -> Field:
    """Read a Field from a sciml HDF5 file.

    ``group=None`` picks the only group in the file (an error lists the groups when there are several).
    ``index`` (int, slice or 1-D int array) reads only those samples (only those chunks are read from disk).
    For a ``kind="trajectory"`` group, ``index`` must be an int: trajectory ``index`` is returned as a Field
    whose batch runs over time (``field.time`` holds the times).
    """
    return Field.from_hdf5(path, group=group, index=index)


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
    check_group_name(name)
    v = values_numpy(values, name)
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
    var = channel_names(variables, c, "variables", lambda i: f"c{i}")
    if len(set(var)) != len(var):
        raise DataFormatError(f"duplicate variable names in {list(var)}")
    uni = channel_names(units, c, "units", lambda i: "")
    std = channel_names(standard_names, c, "standard_names", lambda i: "")
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
            write_root_attrs(f, provenance)
            g = f.create_group(name)
            write_group_meta(g, "trajectory", var, uni, std, canonical_attrs(attrs))
            g.create_dataset("values", data=v, chunks=(1, 1, *v.shape[2:]), compression=compression)
            write_grid(g.create_group("grid"), grid)
            g.create_dataset("time", data=t)
            if m is not None:
                g.create_dataset("mask", data=m)
    return path


def list_groups(path: str | os.PathLike) -> dict[str, str]:
    """``{group name: kind}`` of the sciml groups in a file (kind ``"field"`` or ``"trajectory"``)."""
    with open_file(path) as f:
        check_format(f)
        return field_groups(f)


def read_provenance(path: str | os.PathLike) -> dict:
    """The provenance dict stored in the root attributes."""
    with open_file(path) as f:
        check_format(f)
        return json_attr(f, "provenance", default={}, where=str(path))


def describe(path: str | os.PathLike) -> dict:
    """Summary of a sciml HDF5 file without reading any values (what ``sciml data info`` prints).

    ``{"path", "format", "format_version", "provenance", "groups": {name: {"kind", "variables", "units", "shape",
    "dtype", "grid": {"type", "shape", "bounds", "periodic"} or {"type", "n_points"}, "has_mask", "has_time"}}}``;
    corrupt or foreign files raise ``DataFormatError`` naming the file.
    """
    with open_file(path) as f:
        version = check_format(f)
        out: dict[str, Any] = {
            "path": str(path),
            "format": FORMAT_NAME,
            "format_version": version,
            "provenance": json_attr(f, "provenance", default={}, where=str(path)),
            "groups": {},
        }
        for name, kind in field_groups(f).items():
            g = f[name]
            where = f"{path}:{name}"
            ds = get_dataset(g, "values", where)
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
                "variables": json_attr(g, "variables", default=[], where=where),
                "units": json_attr(g, "units", default=[], where=where),
                "shape": list(ds.shape),
                "dtype": str(ds.dtype),
                "grid": ginfo,
                "has_mask": "mask" in g,
                "has_time": "time" in g,
            }
        return out


def read_trajectories(path: str | os.PathLike, group: str | None = None, index: Any = None) -> dict[str, Any]:
    """Read a trajectory group: ``{"values": tensor (n_traj, n_time, C, *spatial), "grid", "time" (n_time,),
    "variables", "units", "standard_names", "mask" (or None), "attrs"}``; ``index`` selects trajectories."""
    with open_file(path) as f:
        check_format(f)
        g = pick_group(f, group, path)
        where = f"{path}:{g.name}"
        ds, grid = group_arrays(g, where, time_required=True)
        time = g["time"]
        idx = normalize_index(index, ds.shape[0], "trajectory")
        mask = None
        if "mask" in g:
            m = g["mask"]
            mask = torch.from_numpy(m[()] if m.ndim == ds.ndim - 3 else read_rows(m, idx))
        return {
            "values": torch.from_numpy(read_rows(ds, idx)),
            "grid": grid,
            "time": torch.from_numpy(np.asarray(time[()], dtype=np.float64)),
            "variables": tuple(json_attr(g, "variables", where=where)),
            "units": tuple(json_attr(g, "units", where=where)),
            "standard_names": tuple(json_attr(g, "standard_names", where=where)),
            "mask": mask,
            "attrs": json_attr(g, "attrs", default={}, where=where),
        }
