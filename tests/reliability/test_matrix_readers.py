"""The bad-input matrix of the readers: every reader of ``sciml.fields.readers.READERS`` and ``open_weather``.

Each case builds a small broken file in the test's own directory, reads it, and asserts a ``SciMLError`` subclass
whose message names the file, variable or argument, and that the read wrote nothing. Case ids are
``<reader>-<input>``; docs/reliability.md is generated from them (``tests/reliability/make_report.py``).
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch
import xarray as xr

from sciml.core.errors import ConfigError, DataFormatError, GridError, InvalidValueError, SciMLError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid
from sciml.fields.hdf5 import write_fields
from sciml.fields.readers import READERS, read
from sciml.fields.weather import open_weather

CASES: dict[str, tuple] = {}


def case(name: str, exc: type[SciMLError], match: str):
    """Register ``fn(tmp_path) -> thunk`` as case ``name``: ``thunk()`` must raise ``exc`` matching ``match``."""

    def deco(fn):
        assert name not in CASES, name
        CASES[name] = (fn, exc, match)
        return fn

    return deco


# ---------------------------------------------------------------------------------------------- helpers
G = Grid.uniform((6, 5))


def sciml_h5(path, edit=None):
    a = Field(np.random.default_rng(0).normal(size=(3, 1, 6, 5)), G, ["a"])
    u = Field(np.ones((3, 2, 6, 5), np.float32), G, ["u", "v"])
    write_fields(path, {"input": a, "output": u})
    if edit is not None:
        with h5py.File(path, "a") as f:
            edit(f)
    return path


def replace(group, key, data):
    del group[key]
    group[key] = data


def text_file(path, text="col1,col2\n1,2\n" * 50):
    path.write_text(text)
    return path


def truncated(path, make):
    full = make(path.with_name("full_" + path.name))
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    full.unlink()
    return path


def empty(path):
    path.write_bytes(b"")
    return path


def foreign_h5(path):
    with h5py.File(path, "w") as f:
        f["something"] = np.zeros((2, 3))
    return path


# ---------------------------------------------------------------------------------------------- sciml HDF5
def _sciml(**kw):
    return lambda p: lambda: read("sciml", p, **kw)


@case("sciml-missing_file", DataFormatError, r"not found: .*data\.h5")
def _(tmp):
    return _sciml(group="input")(tmp / "data.h5")


@case("sciml-empty_file", DataFormatError, r"data\.h5: (not an HDF5|truncated)")
def _(tmp):
    return _sciml(group="input")(empty(tmp / "data.h5"))


@case("sciml-foreign_text_file", DataFormatError, r"data\.h5: not an HDF5 file")
def _(tmp):
    return _sciml(group="input")(text_file(tmp / "data.h5"))


@case("sciml-truncated_file", DataFormatError, r"data\.h5.*truncated")
def _(tmp):
    return _sciml(group="input")(truncated(tmp / "data.h5", sciml_h5))


@case("sciml-foreign_hdf5", DataFormatError, r"data\.h5 is not a sciml HDF5 file")
def _(tmp):
    return _sciml()(foreign_h5(tmp / "data.h5"))


@case("sciml-future_format_version", DataFormatError, r"data\.h5.*version")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f.attrs.modify("sciml_format_version", 99)))


@case("sciml-missing_group", DataFormatError, r"no group 'target'.*available groups")
def _(tmp):
    return _sciml(group="target")(sciml_h5(tmp / "data.h5"))


@case("sciml-several_groups_none_named", DataFormatError, r"data\.h5.*'input', 'output'")
def _(tmp):
    return _sciml()(sciml_h5(tmp / "data.h5"))


@case("sciml-missing_values", DataFormatError, r"data\.h5.*missing dataset 'values'")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f["input"].__delitem__("values")))


@case("sciml-missing_grid_group", DataFormatError, r"data\.h5.*grid")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f["input"].__delitem__("grid")))


@case("sciml-missing_coordinate", DataFormatError, r"missing dataset 'coord_0'")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f["input/grid"].__delitem__("coord_0")))


@case("sciml-missing_variables_attr", DataFormatError, r"data\.h5.*missing attribute 'variables'")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f["input"].attrs.__delitem__("variables")))


@case("sciml-variables_attr_not_json", DataFormatError, r"data\.h5.*variables")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: f["input"].attrs.modify("variables", "[a")))


@case("sciml-wrong_rank", ShapeError, r"data\.h5.*values.*dimensions")
def _(tmp):
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: replace(f["input"], "values", np.zeros((3, 30)))))


@case("sciml-shape_vs_grid", ShapeError, r"data\.h5.*\(5, 6\).*\(6, 5\)")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: replace(f["input"], "values", np.zeros((3, 1, 5, 6))))
    )


@case("sciml-channels_vs_variables", ShapeError, r"data\.h5.*variables.*2 channels")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: replace(f["input"], "values", np.zeros((3, 2, 6, 5))))
    )


@case("sciml-string_dtype", DataFormatError, r"data\.h5.*values.*(dtype|numeric)")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: replace(f["input"], "values", np.full((3, 1, 6, 5), b"x")))
    )


@case("sciml-nan_values", InvalidValueError, r"data\.h5.*NaN")
def _(tmp):
    def edit(f):
        v = f["input/values"][()]
        v[1, 0, 2, 2] = np.nan
        f["input/values"][...] = v

    return _sciml(group="input")(sciml_h5(tmp / "data.h5", edit))


@case("sciml-inf_values", InvalidValueError, r"data\.h5.*Inf")
def _(tmp):
    def edit(f):
        v = f["output/values"][()]
        v[0, 1, 0, 0] = np.inf
        f["output/values"][...] = v

    return _sciml(group="output")(sciml_h5(tmp / "data.h5", edit))


@case("sciml-empty_values", DataFormatError, r"data\.h5:/input.*'values' is empty.*0 samples")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: replace(f["input"], "values", np.zeros((0, 1, 6, 5))))
    )


@case("sciml-non_monotonic_coordinate", GridError, r"data\.h5.*axis 0.*not strictly increasing")
def _(tmp):
    c = np.array([0.0, 0.2, 0.1, 0.6, 0.8, 1.0])
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: replace(f["input/grid"], "coord_0", c)))


@case("sciml-duplicated_coordinate", GridError, r"data\.h5.*axis 1.*not strictly increasing")
def _(tmp):
    c = np.array([0.0, 0.25, 0.25, 0.75, 1.0])
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: replace(f["input/grid"], "coord_1", c)))


@case("sciml-descending_coordinate", GridError, r"data\.h5.*axis 1.*not strictly increasing")
def _(tmp):
    c = np.linspace(1, 0, 5)
    return _sciml(group="input")(sciml_h5(tmp / "data.h5", lambda f: replace(f["input/grid"], "coord_1", c)))


@case("sciml-coordinate_length", ShapeError, r"data\.h5.*spatial shape \(6, 5\) does not match the grid shape \(7, 5\)")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: replace(f["input/grid"], "coord_0", np.linspace(0, 1, 7)))
    )


@case("sciml-mask_wrong_shape", ShapeError, r"data\.h5.*mask.*\(5, 6\)")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: f["input"].create_dataset("mask", data=np.ones((5, 6), bool)))
    )


@case("sciml-mask_not_boolean", InvalidValueError, r"data\.h5.*mask must be boolean")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: f["input"].create_dataset("mask", data=np.ones((6, 5))))
    )


@case("sciml-time_wrong_shape", ShapeError, r"data\.h5.*time")
def _(tmp):
    return _sciml(group="input")(
        sciml_h5(tmp / "data.h5", lambda f: f["input"].create_dataset("time", data=np.zeros(5)))
    )


@case("sciml-index_out_of_range", ShapeError, r"data\.h5.*index 7 out of range for 3 entries")
def _(tmp):
    return _sciml(group="input", index=7)(sciml_h5(tmp / "data.h5"))


@case("sciml-unknown_option", ConfigError, r"colour.*(allowed|accepted|available)")
def _(tmp):
    return _sciml(group="input", colour="red")(sciml_h5(tmp / "data.h5"))


# ---------------------------------------------------------------------------------------------- PDEBench
def pdebench_1d(path, edit=None, n=3, t=4, x=8):
    with h5py.File(path, "w") as f:
        f["tensor"] = np.random.default_rng(0).normal(size=(n, t, x)).astype(np.float32)
        f["x-coordinate"] = (np.arange(x) + 0.5) / x
        f["t-coordinate"] = np.linspace(0, 1, t + 1)
        if edit is not None:
            edit(f)
    return path


def pdebench_cfd(path, edit=None):
    with h5py.File(path, "w") as f:
        for v in ("density", "pressure", "Vx"):
            f[v] = np.ones((2, 3, 8), np.float32)
        f["x-coordinate"] = np.linspace(0, 1, 8)
        f["t-coordinate"] = np.linspace(0, 1, 3)
        if edit is not None:
            edit(f)
    return path


def _pde(**kw):
    return lambda p: lambda: read("pdebench", p, **kw)


@case("pdebench-missing_file", DataFormatError, r"not found: .*adv\.h5")
def _(tmp):
    return _pde()(tmp / "adv.h5")


@case("pdebench-empty_file", DataFormatError, r"adv\.h5: (not an HDF5|truncated)")
def _(tmp):
    return _pde()(empty(tmp / "adv.h5"))


@case("pdebench-foreign_text_file", DataFormatError, r"adv\.h5: not an HDF5 file")
def _(tmp):
    return _pde()(text_file(tmp / "adv.h5"))


@case("pdebench-truncated_file", DataFormatError, r"adv\.h5.*(truncated|corrupt)")
def _(tmp):
    return _pde(time_index=0)(truncated(tmp / "adv.h5", pdebench_1d))


@case("pdebench-foreign_hdf5", DataFormatError, r"adv\.h5: not a PDEBench layout.*'something'")
def _(tmp):
    return _pde()(foreign_h5(tmp / "adv.h5"))


@case("pdebench-wrong_rank", DataFormatError, r"adv\.h5: dataset 'tensor' must be \(n, t, \*spatial\)")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "tensor", np.zeros((3, 4)))))


@case("pdebench-missing_coordinate", DataFormatError, r"adv\.h5: missing coordinate dataset 'x-coordinate'")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: f.__delitem__("x-coordinate")))


@case("pdebench-coordinate_length", DataFormatError, r"'x-coordinate' has 9 entries but the data have 8")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "x-coordinate", np.linspace(0, 1, 9))))


@case("pdebench-non_monotonic_coordinate", DataFormatError, r"adv\.h5: coordinate 'x' is not strictly increasing")
def _(tmp):
    c = np.array([0.0, 0.1, 0.3, 0.2, 0.5, 0.6, 0.7, 0.8])
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "x-coordinate", c)))


@case("pdebench-duplicated_coordinate", DataFormatError, r"adv\.h5: coordinate 'x' is not strictly increasing")
def _(tmp):
    c = np.array([0.0, 0.1, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8])
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "x-coordinate", c)))


@case("pdebench-descending_coordinate", DataFormatError, r"adv\.h5: coordinate 'x' is not strictly increasing")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "x-coordinate", np.linspace(1, 0, 8))))


@case("pdebench-time_coordinate_length", DataFormatError, r"adv\.h5: time coordinate has 9 entries.*4 time steps")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "t-coordinate", np.linspace(0, 1, 9))))


@case("pdebench-non_monotonic_time", DataFormatError, r"adv\.h5.*time.*(increasing|monotonic)")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "t-coordinate", np.array([0, 0.5, 0.2, 0.7, 1.0]))))


@case("pdebench-nan_values", InvalidValueError, r"adv\.h5.*NaN")
def _(tmp):
    def edit(f):
        v = f["tensor"][()]
        v[1, 2, 3] = np.nan
        f["tensor"][...] = v

    return _pde()(pdebench_1d(tmp / "adv.h5", edit))


@case("pdebench-inf_values_one_step", InvalidValueError, r"adv\.h5.*(NaN|Inf)")
def _(tmp):
    def edit(f):
        v = f["tensor"][()]
        v[0, 1, 3] = np.inf
        f["tensor"][...] = v

    return _pde(time_index=1)(pdebench_1d(tmp / "adv.h5", edit))


@case("pdebench-empty_tensor", DataFormatError, r"adv\.h5.*(empty|no samples|0 samples)")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", n=0))


@case("pdebench-string_dtype", DataFormatError, r"adv\.h5.*tensor.*(dtype|numeric)")
def _(tmp):
    return _pde()(pdebench_1d(tmp / "adv.h5", lambda f: replace(f, "tensor", np.full((3, 4, 8), b"a"))))


@case("pdebench-time_index_out_of_range", ShapeError, r"adv\.h5.*time index 9 out of range for 4 entries")
def _(tmp):
    return _pde(time_index=9)(pdebench_1d(tmp / "adv.h5"))


@case("pdebench-missing_variable", DataFormatError, r"cfd\.h5: variable\(s\) \['Vy'\] not in the file")
def _(tmp):
    return _pde(variables=["density", "Vy"])(pdebench_cfd(tmp / "cfd.h5"))


@case("pdebench-variable_shape_mismatch", DataFormatError, r"cfd\.h5: 'pressure' has shape \(2, 3, 7\)")
def _(tmp):
    return _pde()(pdebench_cfd(tmp / "cfd.h5", lambda f: replace(f, "pressure", np.ones((2, 3, 7)))))


@case("pdebench-darcy_shape_mismatch", DataFormatError, r"darcy\.h5: Darcy 'nu' .* and 'tensor' .* do not match")
def _(tmp):
    def edit(f):
        f["nu"] = np.ones((2, 8, 8))
        f["tensor"] = np.ones((2, 1, 8, 7))
        f["x-coordinate"], f["y-coordinate"] = np.linspace(0, 1, 8), np.linspace(0, 1, 8)

    p = tmp / "darcy.h5"
    with h5py.File(p, "w") as f:
        edit(f)
    return _pde()(p)


@case("pdebench-seed_missing_grid", DataFormatError, r"seeds\.h5: missing group 0000/grid")
def _(tmp):
    p = tmp / "seeds.h5"
    with h5py.File(p, "w") as f:
        f["0000/data"] = np.ones((3, 8, 1))
    return _pde()(p)


@case("pdebench-wrong_number_of_variable_names", ShapeError, r"seeds\.h5: 3 variable names for 1 channels")
def _(tmp):
    p = tmp / "seeds.h5"
    with h5py.File(p, "w") as f:
        f["0000/data"] = np.ones((3, 8, 1))
        f["0000/grid/x"] = np.linspace(0, 1, 8)
    return _pde(variables=["a", "b", "c"])(p)


# ---------------------------------------------------------------------------------------------- The Well
def well(path, edit=None):
    with h5py.File(path, "w") as f:
        f.attrs["n_spatial_dims"] = 2
        f.attrs["n_trajectories"] = 2
        d = f.create_group("dimensions")
        d.attrs["spatial_dims"] = ["x", "y"]
        d["x"] = np.linspace(0, 1, 8, endpoint=False)
        d["y"] = np.linspace(0, 1, 6)
        d["time"] = np.linspace(0, 1, 3)
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs["bc_type"] = "PERIODIC"
        bc.attrs["associated_dims"] = ["x"]
        f["t0_fields/density"] = np.ones((2, 3, 8, 6), np.float32)
        f["t1_fields/velocity"] = np.ones((2, 3, 8, 6, 2), np.float32)
        if edit is not None:
            edit(f)
    return path


def _well(**kw):
    return lambda p: lambda: read("the_well", p, **kw)


@case("the_well-missing_file", DataFormatError, r"not found: .*well\.h5")
def _(tmp):
    return _well()(tmp / "well.h5")


@case("the_well-empty_file", DataFormatError, r"well\.h5: (not an HDF5|truncated)")
def _(tmp):
    return _well()(empty(tmp / "well.h5"))


@case("the_well-truncated_file", DataFormatError, r"well\.h5.*(truncated|corrupt)")
def _(tmp):
    return _well()(truncated(tmp / "well.h5", well))


@case("the_well-foreign_hdf5", DataFormatError, r"well\.h5: not a Well file, missing group 'dimensions'")
def _(tmp):
    return _well()(foreign_h5(tmp / "well.h5"))


@case("the_well-missing_spatial_dims_attr", DataFormatError, r"well\.h5: group 'dimensions' lacks .*'spatial_dims'")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: f["dimensions"].attrs.__delitem__("spatial_dims")))


@case("the_well-n_spatial_dims_mismatch", DataFormatError, r"well\.h5: n_spatial_dims=3 but")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: f.attrs.modify("n_spatial_dims", 3)))


@case("the_well-missing_coordinate", DataFormatError, r"well\.h5: missing coordinate dataset dimensions/y")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: f["dimensions"].__delitem__("y")))


@case("the_well-coordinate_rank", DataFormatError, r"well\.h5: dimensions/y must be 1-D")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: replace(f["dimensions"], "y", np.ones((2, 6)))))


@case("the_well-non_monotonic_coordinate", DataFormatError, r"well\.h5: coordinate 'y' is not strictly increasing")
def _(tmp):
    y = np.array([0.0, 0.2, 0.1, 0.5, 0.7, 1.0])
    return _well()(well(tmp / "well.h5", lambda f: replace(f["dimensions"], "y", y)))


@case("the_well-descending_coordinate", DataFormatError, r"well\.h5: coordinate 'y' is not strictly increasing")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: replace(f["dimensions"], "y", np.linspace(1, 0, 6))))


@case("the_well-field_shape", DataFormatError, r"well\.h5: field 'density' has shape \(2, 3, 8, 5\)")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: replace(f["t0_fields"], "density", np.ones((2, 3, 8, 5)))))


@case("the_well-missing_field", DataFormatError, r"well\.h5: field\(s\) \['pressure'\] not in the file")
def _(tmp):
    return _well(fields=["density", "pressure"])(well(tmp / "well.h5"))


@case("the_well-no_fields", DataFormatError, r"well\.h5: the file has no fields")
def _(tmp):
    def edit(f):
        del f["t0_fields/density"]
        del f["t1_fields"]

    return _well()(well(tmp / "well.h5", edit))


@case("the_well-bc_unknown_dim", DataFormatError, r"well\.h5: boundary condition 'x_periodic' names unknown dim 'z'")
def _(tmp):
    return _well()(
        well(tmp / "well.h5", lambda f: f["boundary_conditions/x_periodic"].attrs.modify("associated_dims", ["z"]))
    )


@case("the_well-nan_values", InvalidValueError, r"well\.h5.*NaN")
def _(tmp):
    def edit(f):
        v = f["t0_fields/density"][()]
        v[1, 2, 0, 0] = np.nan
        f["t0_fields/density"][...] = v

    return _well()(well(tmp / "well.h5", edit))


@case("the_well-time_length", DataFormatError, r"well\.h5: time coordinate has 5 entries but the data have 3")
def _(tmp):
    return _well()(well(tmp / "well.h5", lambda f: replace(f["dimensions"], "time", np.linspace(0, 1, 5))))


@case("the_well-both_selectors", DataFormatError, r"either time_index or trajectory")
def _(tmp):
    return _well(time_index=0, trajectory=0)(well(tmp / "well.h5"))


@case("the_well-trajectory_out_of_range", ShapeError, r"well\.h5.*trajectory index 5 out of range for 2 entries")
def _(tmp):
    return _well(trajectory=5)(well(tmp / "well.h5"))


# ---------------------------------------------------------------------------------------------- neuralop .pt
def pt_file(path, data=None):
    if data is None:
        data = {"x": torch.ones(3, 8, 8), "y": torch.ones(3, 8, 8)}
    torch.save(data, path)
    return path


def _pt(**kw):
    return lambda p: lambda: read("neuralop_pt", p, **kw)


@case("neuralop_pt-missing_file", DataFormatError, r"not found: .*darcy\.pt")
def _(tmp):
    return _pt()(tmp / "darcy.pt")


@case("neuralop_pt-empty_file", DataFormatError, r"cannot load .*darcy\.pt")
def _(tmp):
    return _pt()(empty(tmp / "darcy.pt"))


@case("neuralop_pt-foreign_text_file", DataFormatError, r"cannot load .*darcy\.pt")
def _(tmp):
    return _pt()(text_file(tmp / "darcy.pt"))


@case("neuralop_pt-truncated_file", DataFormatError, r"cannot load .*darcy\.pt")
def _(tmp):
    return _pt()(truncated(tmp / "darcy.pt", pt_file))


@case("neuralop_pt-not_a_dict", DataFormatError, r"darcy\.pt: expected a dict of tensors, got list")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", [torch.ones(2)]))


@case("neuralop_pt-missing_key", DataFormatError, r"darcy\.pt: missing key 'y'; available keys: \['a', 'x'\]")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(2, 4, 4), "a": torch.ones(2, 4, 4)}))


@case("neuralop_pt-not_a_tensor", DataFormatError, r"darcy\.pt: 'y' is a list, expected a tensor")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(2, 4, 4), "y": [1, 2]}))


@case("neuralop_pt-sample_count_mismatch", ShapeError, r"darcy\.pt: inputs 'x' have 3 samples but outputs 'y' have 2")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(3, 4, 4), "y": torch.ones(2, 4, 4)}))


@case("neuralop_pt-wrong_rank", ShapeError, r"darcy\.pt: 'x' has shape \(3, 2, 4, 4, 4\)")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(3, 2, 4, 4, 4), "y": torch.ones(3, 4, 4)}))


@case("neuralop_pt-scalar_tensor", ShapeError, r"darcy\.pt: 'x' has shape \(\)")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.tensor(1.0), "y": torch.ones(3, 4, 4)}))


@case("neuralop_pt-nan_values", InvalidValueError, r"darcy\.pt.*NaN")
def _(tmp):
    y = torch.ones(3, 4, 4)
    y[1, 2, 2] = float("nan")
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(3, 4, 4), "y": y}))


@case("neuralop_pt-empty_tensors", DataFormatError, r"darcy\.pt.*(empty|no samples|0 samples)")
def _(tmp):
    return _pt()(pt_file(tmp / "darcy.pt", {"x": torch.ones(0, 4, 4), "y": torch.ones(0, 4, 4)}))


@case("neuralop_pt-bad_spatial_ndim", ConfigError, r"spatial_ndim must be an int >= 1.*got 0")
def _(tmp):
    return _pt(spatial_ndim=0)(pt_file(tmp / "darcy.pt"))


# ---------------------------------------------------------------------------------------------- xarray
def nc(path, ds=None, **kw):
    if ds is None:
        ds = xr.Dataset(
            {"u": (("batch", "x", "y"), np.ones((2, 6, 5))), "v": (("batch", "x", "y"), np.zeros((2, 6, 5)))},
            coords={"x": np.linspace(0, 1, 6), "y": np.linspace(0, 2, 5)},
        )
    if path.suffix == ".zarr":
        ds.to_zarr(path, **kw)
    else:
        ds.to_netcdf(path, engine="h5netcdf", **kw)
    return path


def _xa(**kw):
    return lambda p: lambda: read("xarray", p, **kw)


def _ds(x=None, y=None, values=None, **extra):
    x = np.linspace(0, 1, 6) if x is None else np.asarray(x)
    y = np.linspace(0, 2, 5) if y is None else np.asarray(y)
    values = np.ones((2, x.size, y.size)) if values is None else values
    return xr.Dataset({"u": (("batch", "x", "y"), values), **extra}, coords={"x": x, "y": y})


@case("xarray-missing_file", DataFormatError, r"data\.nc' does not exist")
def _(tmp):
    return _xa()(tmp / "data.nc")


@case("xarray-empty_file", DataFormatError, r"cannot open '.*data\.nc' with xarray")
def _(tmp):
    return _xa()(empty(tmp / "data.nc"))


@case("xarray-foreign_text_file", DataFormatError, r"cannot open '.*data\.nc' with xarray")
def _(tmp):
    return _xa()(text_file(tmp / "data.nc"))


@case("xarray-truncated_file", DataFormatError, r"data\.nc.*(cannot open|truncated|corrupt)")
def _(tmp):
    return _xa()(truncated(tmp / "data.nc", nc))


@case("xarray-missing_variable", DataFormatError, r"data\.nc.*variable\(s\) \['w'\] not in the Dataset; available")
def _(tmp):
    return _xa(variables=["u", "w"])(nc(tmp / "data.nc"))


@case("xarray-no_variables", DataFormatError, r"data\.nc.*no data variables")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", xr.Dataset(coords={"x": np.arange(3.0)})))


@case("xarray-non_monotonic_coordinate", GridError, r"data\.nc.*coordinate 'x' is not strictly increasing")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(x=[0, 0.2, 0.1, 0.5, 0.7, 1.0])))


@case("xarray-duplicated_coordinate", GridError, r"data\.nc.*coordinate 'y' is not strictly increasing")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(y=[0, 0.5, 0.5, 1.0, 2.0])))


@case("xarray-descending_coordinate", GridError, r"data\.nc.*coordinate 'x' .*descending")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(x=np.linspace(1, 0, 6))))


@case("xarray-nan_coordinate", GridError, r"data\.nc.*coordinate 'y'.*(NaN|finite)")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(y=[0, 0.5, np.nan, 1.0, 2.0])))


@case("xarray-nan_values", InvalidValueError, r"data\.nc.*NaN")
def _(tmp):
    v = np.ones((2, 6, 5))
    v[1, 3, 3] = np.nan
    return _xa()(nc(tmp / "data.nc", _ds(values=v)))


@case("xarray-inf_values_zarr", InvalidValueError, r"data\.zarr.*Inf")
def _(tmp):
    v = np.ones((2, 6, 5))
    v[0, 0, 0] = -np.inf
    field = read("xarray", nc(tmp / "data.zarr", _ds(values=v)))  # lazy (dask): checked when computed
    return lambda: field.values


@case("xarray-variables_dims_differ", DataFormatError, r"data\.nc.*must share dims.*'u'.*'w'")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(w=(("batch", "x"), np.ones((2, 6))))))


@case("xarray-empty_axis", GridError, r"data\.nc.*coordinate of axis 0 is empty")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(x=np.zeros(0), values=np.ones((2, 0, 5)))))


@case("xarray-string_values", DataFormatError, r"data\.nc.*'u'.*(dtype|numeric)")
def _(tmp):
    return _xa()(nc(tmp / "data.nc", _ds(values=np.full((2, 6, 5), "a"))))


@case("xarray-missing_zarr_variable", DataFormatError, r"data\.zarr.*variable\(s\) \['w'\] not in the Dataset")
def _(tmp):
    return _xa(variables=["w"])(nc(tmp / "data.zarr"))


@case("xarray-mask_not_boolean", DataFormatError, r"data\.nc.*mask coordinate must be boolean")
def _(tmp):
    ds = _ds().assign_coords(mask=(("x", "y"), np.ones((6, 5))))
    return _xa()(nc(tmp / "data.nc", ds))


@case("xarray-mask_wrong_shape", ShapeError, r"data\.nc.*mask")
def _(tmp):
    ds = _ds().assign_coords(mask=(("x",), np.ones(6, bool)))
    return _xa()(nc(tmp / "data.nc", ds))


@case("xarray-spatial_dims_wrong", DataFormatError, r"spatial_dims \['x', 'z'\] must list exactly")
def _(tmp):
    return _xa(spatial_dims=["x", "z"])(nc(tmp / "data.nc"))


# ---------------------------------------------------------------------------------------------- weather
def weather_ds(time=None, lat=None, lon=None, level=False, **extra):
    time = np.arange(4).astype("timedelta64[h]") + np.datetime64("2020-01-01") if time is None else np.asarray(time)
    lat = np.linspace(-60, 60, 5) if lat is None else np.asarray(lat)
    lon = np.linspace(0, 300, 6) if lon is None else np.asarray(lon)
    shape = (time.size, lat.size, lon.size)
    data = {"t2m": (("time", "lat", "lon"), np.ones(shape))}
    if level:
        data["temperature"] = (("time", "level", "lat", "lon"), np.ones((time.size, 2, lat.size, lon.size)))
    data.update(extra)
    coords = {"time": time, "lat": lat, "lon": lon}
    if level:
        coords["level"] = [500, 850]
    return xr.Dataset(data, coords=coords)


def _wx(variables=("t2m",)):
    return lambda p: lambda: open_weather(p, list(variables))


T0 = np.datetime64("2020-01-01T00")


@case("weather-missing_file", DataFormatError, r"weather data '.*era5\.nc' does not exist")
def _(tmp):
    return _wx()(tmp / "era5.nc")


@case("weather-empty_file", DataFormatError, r"era5\.nc")
def _(tmp):
    return _wx()(empty(tmp / "era5.nc"))


@case("weather-foreign_text_file", DataFormatError, r"era5\.nc")
def _(tmp):
    return _wx()(text_file(tmp / "era5.nc"))


@case("weather-truncated_file", DataFormatError, r"era5\.nc")
def _(tmp):
    return _wx()(truncated(tmp / "era5.nc", lambda p: nc(p, weather_ds())))


@case("weather-missing_variable", DataFormatError, r"era5\.nc: variable 'u10' .* is missing; the record holds")
def _(tmp):
    return _wx(["t2m", "u10"])(nc(tmp / "era5.nc", weather_ds()))


@case("weather-no_variables", ConfigError, r"give at least one variable")
def _(tmp):
    return _wx([])(nc(tmp / "era5.nc", weather_ds()))


@case(
    "weather-missing_level", DataFormatError, r"era5\.nc: level 700 of 'temperature' is missing; levels: \[500, 850\]"
)
def _(tmp):
    return _wx(["temperature_700"])(nc(tmp / "era5.nc", weather_ds(level=True)))


@case("weather-level_not_given", DataFormatError, r"era5\.nc: 'temperature' is on pressure levels")
def _(tmp):
    return _wx(["temperature"])(nc(tmp / "era5.nc", weather_ds(level=True)))


@case("weather-missing_dims", DataFormatError, r"era5\.nc: a weather record needs dims time, lat")
def _(tmp):
    ds = xr.Dataset({"t2m": (("time", "y", "x"), np.ones((2, 3, 4)))}, coords={"time": [T0, T0 + 1]})
    return _wx()(nc(tmp / "era5.nc", ds))


@case("weather-non_monotonic_time", DataFormatError, r"era5\.nc: the time axis is not strictly increasing at index 1")
def _(tmp):
    return _wx()(nc(tmp / "era5.nc", weather_ds(time=[T0, T0 + 6, T0 + 3, T0 + 9])))


@case("weather-duplicated_time", DataFormatError, r"era5\.nc: the time axis is not strictly increasing at index 0")
def _(tmp):
    return _wx()(nc(tmp / "era5.nc", weather_ds(time=[T0, T0, T0 + 3, T0 + 9])))


@case("weather-non_monotonic_lat", DataFormatError, r"era5\.nc: .*'lat'.*(monotonic|increasing)")
def _(tmp):
    return _wx()(nc(tmp / "era5.nc", weather_ds(lat=[-60, 0, -30, 30, 60])))


@case("weather-duplicated_lon", DataFormatError, r"era5\.nc: .*'lon'.*(monotonic|increasing)")
def _(tmp):
    return _wx()(nc(tmp / "era5.nc", weather_ds(lon=[0, 60, 60, 180, 240, 300])))


@case("weather-extra_dims", DataFormatError, r"era5\.nc: 'msl' has dims .*only time, lat, lon")
def _(tmp):
    ds = weather_ds(msl=(("time", "lat", "lon", "member"), np.ones((4, 5, 6, 2))))
    return _wx(["msl"])(nc(tmp / "era5.nc", ds))


# ---------------------------------------------------------------------------------------------- the test
def _listing(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs} | {
        os.path.relpath(d, root) for d, _, _ in os.walk(root)
    }


def test_every_reader_is_in_the_matrix():
    covered = {name.split("-")[0] for name in CASES}
    assert set(READERS.available()) | {"weather"} <= covered


@pytest.mark.parametrize("name", sorted(CASES))
def test_reader(name, tmp_path):
    fn, exc, match = CASES[name]
    assert issubclass(exc, SciMLError)
    thunk = fn(tmp_path)
    before = _listing(tmp_path)
    with pytest.raises(exc, match=match):
        thunk()
    assert _listing(tmp_path) == before, "the failed read wrote files"
