"""Adapters from community data formats to sciml Fields: PDEBench HDF5, The Well HDF5, neuraloperator ``.pt``.

Each reader maps the file's layout onto ``(batch, channels, *spatial)`` values on a ``Grid`` built from the
file's own coordinates (never an assumed ``[0, 1]^d``), reads only what is asked for, and raises
``DataFormatError`` naming the file and the missing key for anything it cannot interpret. Nothing is
reordered, dropped or cast silently: values keep their dtype and coordinates must be increasing.

Time-dependent data come back in one of three forms, chosen by the arguments:

* ``time_index=k``: a Field of the selected samples (``index``) at time step ``k`` (``field.time`` holds it);
* ``trajectory=i``: a Field holding trajectory ``i``, whose batch runs over time (``field.time`` the times);
* neither: a trajectory dict ``{"values": (n_traj, n_time, C, *spatial) tensor, "grid", "time" (n_time,),
  "variables", "units", "standard_names", "mask": None, "attrs"}`` -- the arguments of
  ``sciml.fields.hdf5.write_trajectories``, so ``write_trajectories(out, **d)`` converts a file to sciml's schema.

Layouts understood
------------------
PDEBench (``read_pdebench``):
  * single-array files: ``tensor`` (n, t, x[, y[, z]]) with ``x-coordinate``, ``y-coordinate``,
    ``z-coordinate`` and ``t-coordinate`` (PDEBench's 1-D advection/Burgers files store one more time than
    steps: the first ``t`` entries are used);
  * CFD files: one dataset per variable among ``density, pressure, Vx, Vy, Vz`` shaped (n, t, *spatial);
  * Darcy files: ``nu`` (n, x, y) coefficient and ``tensor`` (n, 1, x, y) solution, returned as
    ``{"input": Field, "output": Field}``;
  * per-seed groups ``0000/data`` (t, x[, y], c) with ``0000/grid/x``, ``grid/y``, ``grid/t``.
  Periodicity is not stored by PDEBench: ``periodic=None`` infers it from the file name ("periodic",
  "advection" or "burgers" in the name -> periodic on all axes, else not); pass it explicitly to be sure.
The Well (``read_the_well``): root attrs ``n_spatial_dims``; ``dimensions/`` (one dataset per spatial dim
  named in its ``spatial_dims`` attr, and ``time``); ``boundary_conditions/<name>`` with attrs ``bc_type``
  (``PERIODIC`` makes the ``associated_dims`` periodic); ``t0_fields`` (n_traj, n_time, *spatial),
  ``t1_fields`` (..., D) as channels ``<name>_<dim>`` and ``t2_fields`` (..., D, D) as ``<name>_<dim><dim>``.
  Fields that are not ``time_varying`` / ``sample_varying`` (attrs) are broadcast.
neuraloperator ``.pt`` (``read_neuralop_pt``): a ``torch.save``d dict ``{"x": (n, [c,] *spatial),
  "y": ...}`` (Darcy, Navier-Stokes) loaded with ``torch.load(weights_only=True)``, returned as
  ``{"input": Field, "output": Field}`` on a uniform grid of ``[0, 1]^d`` (``spatial_ndim`` says how many
  trailing axes are spatial; default 2).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from sciml.core.errors import ConfigError, DataFormatError, InvalidValueError, ShapeError, located
from sciml.core.registry import Registry
from sciml.fields.field import Field
from sciml.fields.grid import Grid
from sciml.fields.storage.base import check_numeric
from sciml.fields.storage.hdf5 import normalize_index, open_file, read_rows

__all__ = ["read_pdebench", "read_the_well", "read_neuralop_pt", "read_xarray_file", "READERS", "read"]

log = logging.getLogger(__name__)

_PDEBENCH_VARS = ("density", "pressure", "Vx", "Vy", "Vz")
_AXES = ("x", "y", "z")


# ---------------------------------------------------------------------------------------------- shared
def _names_file(reader: Callable) -> Callable:
    """Errors raised while ``reader(path, ...)`` builds its Fields (NaN, shapes, index ranges) name ``path``."""

    @functools.wraps(reader)
    def wrapper(path: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        with located(Path(path)):
            return reader(path, *args, **kwargs)

    return wrapper


def _check_samples(ds: Any, p: Path, name: str) -> None:
    """A dataset to be read by samples must hold numbers and at least one sample."""
    check_numeric(ds, str(p), f"dataset {name!r}")
    if ds.shape[0] == 0:
        raise DataFormatError(f"{p}: dataset {name!r} is empty (shape {tuple(ds.shape)}, 0 samples)")


def _axis_grid(coords: Sequence[np.ndarray], names: Sequence[str], periodic: Any, bounds: Any, where: str) -> Grid:
    per = [bool(periodic)] * len(coords) if np.ndim(periodic) == 0 else [bool(p) for p in periodic]
    if len(per) != len(coords):
        raise DataFormatError(f"{where}: periodic has {len(per)} entries for {len(coords)} axes")
    arrs = []
    for n, c in zip(names, coords):
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        if c.size > 1 and not np.all(np.diff(c) > 0):
            raise DataFormatError(f"{where}: coordinate {n!r} is not strictly increasing (monotonic)")
        arrs.append(c)
    return Grid(arrs, bounds=bounds, periodic=per, names=list(names))


def _time_axis(t: np.ndarray | None, n_time: int, where: str) -> np.ndarray:
    if t is None:
        return np.arange(n_time, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if t.size == n_time + 1:
        log.info("%s: t-coordinate has %d entries for %d steps; using the first %d", where, t.size, n_time, n_time)
        t = t[:n_time]
    if t.size != n_time:
        raise DataFormatError(f"{where}: time coordinate has {t.size} entries but the data have {n_time} time steps")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.argmin(np.diff(t) > 0))
        raise DataFormatError(
            f"{where}: time coordinate is not strictly increasing (monotonic): t[{bad}]={t[bad]!r} >= "
            f"t[{bad + 1}]={t[bad + 1]!r}"
        )
    return t


def _finish(
    values: np.ndarray,
    grid: Grid,
    time: np.ndarray,
    variables: Sequence[str],
    attrs: dict,
    time_index: int | None,
    trajectory: int | None,
    units: Sequence[str] | None = None,
) -> Any:
    """values (n_traj, n_time, C, *spatial) -> Field / trajectory dict according to the selection."""
    if time_index is not None and trajectory is not None:
        raise DataFormatError("pass either time_index or trajectory, not both")
    if len(variables) != values.shape[2]:
        raise ShapeError(
            f"{attrs.get('source', 'the file')}: {len(variables)} variable names {list(variables)} given for "
            f"{values.shape[2]} channels"
        )
    units = list(units) if units is not None else [""] * len(variables)
    if time_index is not None:
        return Field(values[:, 0], grid, variables, units, time=np.full(values.shape[0], time[0]), attrs=attrs)
    if trajectory is not None:
        return Field(values[0], grid, variables, units, time=time, attrs=attrs)
    if not np.all(np.isfinite(values)):
        raise InvalidValueError(f"values of {attrs.get('source', 'the file')} contain NaN or Inf")
    return {
        "values": torch.from_numpy(np.ascontiguousarray(values)),
        "grid": grid,
        "time": torch.from_numpy(np.asarray(time, dtype=np.float64)),
        "variables": tuple(variables),
        "units": tuple(units),
        "standard_names": ("",) * len(variables),
        "mask": None,
        "attrs": attrs,
    }


def _selectors(n_traj: int, n_time: int, index: Any, time_index: Any, trajectory: Any):
    """Row selection over trajectories and over time (each a slice or int array) for the chosen mode."""
    if trajectory is not None:
        if not isinstance(trajectory, (int, np.integer)):
            raise DataFormatError(f"trajectory must be an int, got {trajectory!r}")
        rows = normalize_index(int(trajectory), n_traj, "trajectory")
    else:
        rows = normalize_index(index, n_traj, "sample")
    times = slice(None) if time_index is None else normalize_index(int(time_index), n_time, "time")
    return rows, times


def _read_nt(ds: h5py.Dataset, rows: Any, times: Any) -> np.ndarray:
    """ds[rows, times, ...] for a (n, t, ...) dataset, reading only the needed hyperslabs."""
    if isinstance(rows, slice):
        return ds[rows, times]
    uniq, inv = np.unique(rows, return_inverse=True)
    return ds[uniq, times][inv]


def _guess_periodic(path: Path) -> bool:
    name = path.name.lower()
    per = any(k in name for k in ("periodic", "advection", "burgers"))
    log.info("%s: PDEBench stores no boundary type; assuming periodic=%s from the file name", path, per)
    return per


# ---------------------------------------------------------------------------------------------- PDEBench
@_names_file
def read_pdebench(
    path: str | os.PathLike,
    index: Any = None,
    time_index: int | None = None,
    trajectory: int | None = None,
    variables: Sequence[str] | None = None,
    periodic: bool | Sequence[bool] | None = None,
    bounds: Sequence[Sequence[float]] | None = None,
) -> Any:
    """Read a PDEBench HDF5 file (see module docstring for layouts and the return forms).

    Args:
        index: samples to read (int, slice, int array); default all.
        time_index / trajectory: select one time step or one trajectory (see module docstring).
        variables: CFD files: which of ``density, pressure, Vx, Vy, Vz`` to read (default all present);
            per-seed files: names for the ``c`` channels (default ``c0, ...``); single-array files: the name
            of the one channel (default ``u``).
        periodic: per-axis flags or one flag; None infers from the file name.
        bounds: per-axis domain bounds; default from the coordinates.
    """
    p = Path(path)
    with open_file(p) as f:
        keys = sorted(f.keys())
        per = _guess_periodic(p) if periodic is None else periodic
        attrs = {"source": str(p), "format": "pdebench"}
        if "nu" in f and "tensor" in f:
            return _pdebench_darcy(f, p, index, variables, per, bounds, attrs)
        if "tensor" in f:
            ds = f["tensor"]
            if ds.ndim < 3:
                raise DataFormatError(f"{p}: dataset 'tensor' must be (n, t, *spatial), got shape {ds.shape}")
            _check_samples(ds, p, "tensor")
            sdim = ds.ndim - 2
            coords = _pdebench_coords(f, p, ds.shape[2:])
            grid = _axis_grid(coords, _AXES[:sdim], per if np.ndim(per) else [per] * sdim, bounds, str(p))
            time = _time_axis(f["t-coordinate"][()] if "t-coordinate" in f else None, ds.shape[1], str(p))
            rows, times = _selectors(ds.shape[0], ds.shape[1], index, time_index, trajectory)
            vals = _read_nt(ds, rows, times)[:, :, None]
            name = ["u"] if variables is None else [variables] if isinstance(variables, str) else list(variables)
            return _finish(vals, grid, time[times], name, attrs, time_index, trajectory)
        present = [v for v in _PDEBENCH_VARS if v in f]
        if present:
            names = list(variables) if variables is not None else present
            missing = [v for v in names if v not in f]
            if missing:
                raise DataFormatError(f"{p}: variable(s) {missing} not in the file; available: {present}")
            shape = f[names[0]].shape
            for v in names:
                _check_samples(f[v], p, v)
                if f[v].shape != shape:
                    raise DataFormatError(f"{p}: {v!r} has shape {f[v].shape}, {names[0]!r} has {shape}")
            sdim = len(shape) - 2
            coords = _pdebench_coords(f, p, shape[2:])
            grid = _axis_grid(coords, _AXES[:sdim], per if np.ndim(per) else [per] * sdim, bounds, str(p))
            time = _time_axis(f["t-coordinate"][()] if "t-coordinate" in f else None, shape[1], str(p))
            rows, times = _selectors(shape[0], shape[1], index, time_index, trajectory)
            vals = np.stack([_read_nt(f[v], rows, times) for v in names], axis=2)
            return _finish(vals, grid, time[times], names, attrs, time_index, trajectory)
        seeds = sorted(k for k in keys if isinstance(f[k], h5py.Group) and "data" in f[k])
        if seeds:
            return _pdebench_seeds(f, p, seeds, index, time_index, trajectory, variables, per, bounds, attrs)
        raise DataFormatError(
            f"{p}: not a PDEBench layout (expected 'tensor', per-variable datasets {list(_PDEBENCH_VARS)}, "
            f"'nu'+'tensor', or per-seed groups with 'data'); found keys {keys}"
        )


def _pdebench_coords(f: h5py.File, p: Path, spatial: Sequence[int]) -> list[np.ndarray]:
    coords = []
    for ax, n in zip(_AXES, spatial):
        key = f"{ax}-coordinate"
        if key not in f:
            raise DataFormatError(f"{p}: missing coordinate dataset {key!r}; found keys {sorted(f.keys())}")
        c = np.asarray(f[key][()], dtype=np.float64).reshape(-1)
        if c.size != n:
            raise DataFormatError(f"{p}: {key!r} has {c.size} entries but the data have {n} points on axis {ax}")
        coords.append(c)
    return coords


def _pdebench_darcy(f, p, index, variables, per, bounds, attrs) -> dict[str, Field]:
    nu, u = f["nu"], f["tensor"]
    if u.ndim != nu.ndim + 1 or u.shape[0] != nu.shape[0] or u.shape[2:] != nu.shape[1:]:
        raise DataFormatError(f"{p}: Darcy 'nu' {nu.shape} and 'tensor' {u.shape} do not match (n, x, y)/(n, 1, x, y)")
    _check_samples(nu, p, "nu")
    _check_samples(u, p, "tensor")
    sdim = nu.ndim - 1
    grid = _axis_grid(
        _pdebench_coords(f, p, nu.shape[1:]), _AXES[:sdim], per if np.ndim(per) else [per] * sdim, bounds, str(p)
    )
    rows = normalize_index(index, nu.shape[0], "sample")
    a = read_rows(nu, rows)[:, None]
    sol = read_rows(u, rows)
    names = list(variables) if variables is not None else ["nu", "u"]
    if len(names) != 2:
        raise DataFormatError(f"{p}: Darcy files have two variables (coefficient, solution), got names {names}")
    return {
        "input": Field(a, grid, [names[0]], attrs=attrs),
        "output": Field(sol, grid, [names[1]] * sol.shape[1] if sol.shape[1] == 1 else None, attrs=attrs),
    }


def _pdebench_seeds(f, p, seeds, index, time_index, trajectory, variables, per, bounds, attrs):
    first = f[seeds[0]]
    data = first["data"]
    if data.ndim < 3:
        raise DataFormatError(f"{p}: {seeds[0]}/data must be (t, *spatial, c), got shape {data.shape}")
    sdim = data.ndim - 2
    if "grid" not in first:
        raise DataFormatError(f"{p}: missing group {seeds[0]}/grid with the coordinates")
    coords = []
    for ax, n in zip(_AXES, data.shape[1:-1]):
        if ax not in first["grid"]:
            raise DataFormatError(f"{p}: missing coordinate dataset {seeds[0]}/grid/{ax}")
        c = np.asarray(first["grid"][ax][()], dtype=np.float64).reshape(-1)
        if c.size != n:
            raise DataFormatError(f"{p}: {seeds[0]}/grid/{ax} has {c.size} entries, data have {n} points")
        coords.append(c)
    grid = _axis_grid(coords, _AXES[:sdim], per if np.ndim(per) else [per] * sdim, bounds, str(p))
    time = _time_axis(first["grid"]["t"][()] if "t" in first["grid"] else None, data.shape[0], str(p))
    rows, times = _selectors(len(seeds), data.shape[0], index, time_index, trajectory)
    sel = np.arange(len(seeds))[rows] if isinstance(rows, slice) else rows
    vals = []
    for i in sel:
        d = f[seeds[int(i)]]["data"]
        if d.shape != data.shape:
            raise DataFormatError(f"{p}: {seeds[int(i)]}/data has shape {d.shape}, {seeds[0]}/data has {data.shape}")
        vals.append(np.moveaxis(d[times], -1, 1))  # (t, c, *spatial)
    c = data.shape[-1]
    names = list(variables) if variables is not None else [f"c{i}" for i in range(c)]
    if len(names) != c:
        raise ShapeError(f"{p}: {len(names)} variable names for {c} channels")
    attrs = {**attrs, "seeds": [seeds[int(i)] for i in sel]}
    return _finish(np.stack(vals), grid, time[times], names, attrs, time_index, trajectory)


# ---------------------------------------------------------------------------------------------- The Well
def _attr_str(obj: h5py.HLObject, key: str, default: Any = None) -> Any:
    v = obj.attrs.get(key, default)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [x.decode() if isinstance(x, bytes) else (x.item() if isinstance(x, np.generic) else x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


@_names_file
def read_the_well(
    path: str | os.PathLike,
    fields: Sequence[str] | None = None,
    index: Any = None,
    time_index: int | None = None,
    trajectory: int | None = None,
    bounds: Sequence[Sequence[float]] | None = None,
) -> Any:
    """Read a file of The Well (see the module docstring for the layout and the return forms).

    ``fields``: names of fields to read from t0/t1/t2_fields (default all, in that order); a tensor field
    contributes one channel per component.
    """
    p = Path(path)
    with open_file(p) as f:
        where = str(p)
        for key in ("dimensions", "t0_fields"):
            if key not in f:
                raise DataFormatError(f"{p}: not a Well file, missing group {key!r}; found {sorted(f.keys())}")
        dims = f["dimensions"]
        sdims = _attr_str(dims, "spatial_dims")
        if sdims is None:
            raise DataFormatError(f"{p}: group 'dimensions' lacks the attribute 'spatial_dims'")
        sdims = [sdims] if isinstance(sdims, str) else list(sdims)
        nsd = int(_attr_str(f, "n_spatial_dims", len(sdims)))
        if nsd != len(sdims):
            raise DataFormatError(f"{p}: n_spatial_dims={nsd} but dimensions/spatial_dims={sdims}")
        coords = []
        for d in sdims:
            if d not in dims:
                raise DataFormatError(f"{p}: missing coordinate dataset dimensions/{d}")
            c = dims[d][()]
            if c.ndim != 1:
                raise DataFormatError(f"{p}: dimensions/{d} must be 1-D (sample-varying grids unsupported)")
            coords.append(c)
        periodic = [False] * nsd
        bcs = {}
        if "boundary_conditions" in f:
            for name, bc in f["boundary_conditions"].items():
                kind = str(_attr_str(bc, "bc_type", "")).upper()
                assoc = _attr_str(bc, "associated_dims", [])
                assoc = [assoc] if isinstance(assoc, str) else list(assoc)
                bcs[name] = {"bc_type": kind, "associated_dims": assoc}
                if kind == "PERIODIC":
                    for d in assoc:
                        if d not in sdims:
                            raise DataFormatError(f"{p}: boundary condition {name!r} names unknown dim {d!r}")
                        periodic[sdims.index(d)] = True
        grid = _axis_grid(coords, sdims, periodic, bounds, where)
        # collect fields
        available: dict[str, tuple[h5py.Dataset, int]] = {}
        for order in (0, 1, 2):
            grp = f.get(f"t{order}_fields")
            if grp is None:
                continue
            for name, ds in grp.items():
                available[name] = (ds, order)
        names = list(fields) if fields is not None else list(available)
        missing = [n for n in names if n not in available]
        if missing:
            raise DataFormatError(f"{p}: field(s) {missing} not in the file; available: {list(available)}")
        if not names:
            raise DataFormatError(f"{p}: the file has no fields in t0_fields/t1_fields/t2_fields")
        time_c = dims["time"][()] if "time" in dims else None
        n_traj = int(_attr_str(f, "n_trajectories", 0)) or None
        n_time = None
        for n in names:
            ds, order = available[n]
            tv, sv = bool(_attr_str(ds, "time_varying", True)), bool(_attr_str(ds, "sample_varying", True))
            if sv:
                n_traj = ds.shape[0]
            if tv:
                n_time = ds.shape[1 if sv else 0]
        if n_time is None:
            n_time = 1 if time_c is None else int(np.asarray(time_c).shape[-1])
        n_traj = n_traj or 1
        if time_c is not None and np.ndim(time_c) == 2:
            time_c = time_c[0]
        time = _time_axis(time_c, n_time, where)
        rows, times = _selectors(n_traj, n_time, index, time_index, trajectory)
        sel = np.arange(n_traj)[rows] if isinstance(rows, slice) else rows
        tsel = np.arange(n_time)[times] if isinstance(times, slice) else times
        chans, var_names = [], []
        for n in names:
            ds, order = available[n]
            tv, sv = bool(_attr_str(ds, "time_varying", True)), bool(_attr_str(ds, "sample_varying", True))
            lead = int(sv) + int(tv)
            expect = (*((n_traj,) if sv else ()), *((n_time,) if tv else ()), *grid.shape, *((nsd,) * order))
            if ds.shape != expect:
                raise DataFormatError(f"{p}: field {n!r} has shape {ds.shape}, expected {expect}")
            a = read_rows(ds, sel) if sv else ds[()][None]
            if tv:
                a = a[:, tsel]
            else:
                a = a[:, None]
            a = np.broadcast_to(a, (len(sel), len(tsel), *ds.shape[lead:]))
            comps = a.reshape(len(sel), len(tsel), *grid.shape, -1)
            comps = np.moveaxis(comps, -1, 2)
            chans.append(comps)
            if order == 0:
                var_names.append(n)
            elif order == 1:
                var_names.extend(f"{n}_{d}" for d in sdims)
            else:
                var_names.extend(f"{n}_{d1}{d2}" for d1 in sdims for d2 in sdims)
        vals = np.concatenate(chans, axis=2)
        attrs = {
            "source": str(p),
            "format": "the_well",
            "dataset_name": str(_attr_str(f, "dataset_name", "")),
            "grid_type": str(_attr_str(f, "grid_type", "")),
            "boundary_conditions": bcs,
        }
        return _finish(vals, grid, time[times], var_names, attrs, time_index, trajectory)


# ---------------------------------------------------------------------------------------------- neuralop .pt
@_names_file
def read_neuralop_pt(
    path: str | os.PathLike,
    input_key: str = "x",
    output_key: str = "y",
    spatial_ndim: int = 2,
    periodic: bool | Sequence[bool] = False,
    bounds: Sequence[Sequence[float]] | None = None,
    index: Any = None,
) -> dict[str, Field]:
    """Read a neuraloperator ``.pt`` data file into ``{"input": Field, "output": Field}``.

    Tensors are ``(n, *spatial)`` (one channel) or ``(n, c, *spatial)``; the last ``spatial_ndim`` axes
    are spatial. The grid is uniform on ``bounds`` (default ``[0, 1]`` per axis): end points included on
    non-periodic axes (the FNO Darcy convention), ``n`` points on ``[0, 1)`` on periodic ones (use
    ``periodic=True`` for the Navier-Stokes torus data).
    """
    p = Path(path)
    if isinstance(spatial_ndim, bool) or not isinstance(spatial_ndim, int) or spatial_ndim < 1:
        raise ConfigError(
            f"spatial_ndim must be an int >= 1 (the number of trailing spatial axes), got {spatial_ndim!r}"
        )
    if not p.exists():
        raise DataFormatError(f"file not found: {p}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad files
        raise DataFormatError(
            f"cannot load {p} as a torch file with weights_only=True (not a .pt file, truncated, or it "
            f"contains pickled Python objects): {type(e).__name__}: {e}"
        ) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{p}: expected a dict of tensors, got {type(data).__name__}")
    for key in (input_key, output_key):
        if key not in data:
            raise DataFormatError(f"{p}: missing key {key!r}; available keys: {sorted(map(str, data))}")
        if not isinstance(data[key], torch.Tensor):
            raise DataFormatError(f"{p}: {key!r} is a {type(data[key]).__name__}, expected a tensor")
    x, y = data[input_key], data[output_key]
    for key, t in ((input_key, x), (output_key, y)):
        if t.ndim and t.shape[0] == 0:
            raise DataFormatError(f"{p}: {key!r} is empty (shape {tuple(t.shape)}, 0 samples)")
    if x.ndim and y.ndim and x.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{p}: inputs {input_key!r} have {x.shape[0]} samples but outputs {output_key!r} have {y.shape[0]}; "
            "they must be paired one to one"
        )
    out = {}
    grid = None
    for role, key in (("input", input_key), ("output", output_key)):
        t = data[key]
        if t.ndim == spatial_ndim + 1:
            t = t.unsqueeze(1)
        elif t.ndim != spatial_ndim + 2:
            raise ShapeError(
                f"{p}: {key!r} has shape {tuple(t.shape)}; expected (n, *spatial) or (n, c, *spatial) with "
                f"{spatial_ndim} spatial axes"
            )
        rows = normalize_index(index, t.shape[0], "sample")
        t = t[rows if isinstance(rows, slice) else torch.as_tensor(rows)]
        shape = tuple(t.shape[2:])
        if grid is None or grid.shape != shape:
            grid = Grid.uniform(shape, bounds=bounds, periodic=periodic, names=list(_AXES[:spatial_ndim]))
        names = [key] if t.shape[1] == 1 else [f"{key}{i}" for i in range(t.shape[1])]
        out[role] = Field(t, grid, names, attrs={"source": str(p), "format": "neuralop_pt", "key": key})
    return out


def read_xarray_file(path: str | os.PathLike, variables: Sequence[str] | None = None, **kw: Any) -> Field:
    """A Field from a netCDF file or zarr store, opened lazily with xarray (``Field.from_xarray``'s conventions)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"file {str(path)!r} does not exist")
    try:
        ds = xr.open_zarr(path) if path.is_dir() or path.suffix == ".zarr" else xr.open_dataset(path)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"cannot open {str(path)!r} with xarray: {e}") from None
    from sciml.fields.xarray_io import read_xarray

    with located(path):
        args = read_xarray(ds, variables=variables, **kw)
        # a zarr store stays lazy: its NaN check runs when the values are computed and names the store
        args["attrs"] = {**args["attrs"], "source": str(path)}
        return Field(**args)


READERS = Registry(
    "reader",
    {
        "sciml": "sciml.fields.hdf5:read_field",
        "pdebench": "sciml.fields.readers:read_pdebench",
        "the_well": "sciml.fields.readers:read_the_well",
        "neuralop_pt": "sciml.fields.readers:read_neuralop_pt",
        "xarray": "sciml.fields.readers:read_xarray_file",
    },
)


def read(format: str, path: str | os.PathLike, **options: Any):
    """Read ``path`` with the reader registered as ``format`` (``READERS.available()``); unknown options are
    refused naming the allowed ones."""
    return READERS.build(format, path=path, **options)
