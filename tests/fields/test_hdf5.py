"""sciml HDF5 schema: exact round trips, partial reads, trajectories, schema layout and atomic writes."""

import json

import h5py
import numpy as np
import pytest
import torch

import sciml.fields.storage.hdf5 as h5store
from sciml.core.errors import DataFormatError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.hdf5 import (
    describe,
    list_groups,
    read_field,
    read_provenance,
    read_trajectories,
    write_fields,
    write_trajectories,
)


def assert_same(a: Field, b: Field) -> None:
    assert a.values.dtype == b.values.dtype
    assert torch.equal(torch.nan_to_num(a.values), torch.nan_to_num(b.values))
    assert torch.equal(torch.isnan(a.values), torch.isnan(b.values))
    assert type(a.grid) is type(b.grid) and a.grid == b.grid
    assert a.grid.bounds == b.grid.bounds and a.grid.periodic == b.grid.periodic and a.grid.names == b.grid.names
    if isinstance(a.grid, PointCloud):
        np.testing.assert_array_equal(a.grid.quadrature_weights(), b.grid.quadrature_weights())
    assert a.variables == b.variables and a.units == b.units and a.standard_names == b.standard_names
    assert a.attrs == b.attrs
    assert (a.mask is None) == (b.mask is None) and (a.mask is None or torch.equal(a.mask, b.mask))
    assert (a.time is None) == (b.time is None) and (a.time is None or torch.equal(a.time, b.time))


def grid_field(dtype, periodic):
    rng = np.random.default_rng(0)
    # non-uniform coordinates on the non-periodic axis exercise exact float64 coordinates
    g = Grid(
        [np.arange(6) / 6 * np.pi, np.sort(rng.random(5))],
        bounds=[(0, np.pi), (0, 1)],
        periodic=[periodic, False],
        names=["theta", "r"],
    )
    v = rng.standard_normal((3, 2, 6, 5)).astype(dtype)
    mask = rng.random((3, 1, 6, 5)) > 0.2
    v = np.where(mask, v, np.nan).astype(dtype)
    return Field(
        v,
        g,
        variables=["u", "p"],
        units=["m/s", "Pa"],
        standard_names=["eastward_wind", ""],
        mask=mask,
        time=[0.0, 0.1, 1 / 3],
        attrs={"nu": 1e-3, "nested": {"a": [1, 2]}, "label": "test"},
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("periodic", [True, False])
def test_grid_round_trip_exact(tmp_path, dtype, periodic):
    f = grid_field(dtype, periodic)
    f.to_hdf5(tmp_path / "f.h5")
    assert_same(Field.from_hdf5(tmp_path / "f.h5"), f)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_point_cloud_round_trip_exact(tmp_path, dtype):
    rng = np.random.default_rng(1)
    pc = PointCloud(rng.random((7, 3)), weights=rng.random(7), bounds=[(0, 1)] * 3, names=["x", "y", "z"])
    f = Field(rng.standard_normal((2, 1, 7)).astype(dtype), pc, variables=["T"], units="K", mask=np.ones(7, bool))
    write_fields(tmp_path / "p.h5", {"cloud": f})
    assert_same(read_field(tmp_path / "p.h5"), f)


def test_schema_layout_readable_with_plain_h5py(tmp_path):
    f = grid_field(np.float32, True)
    write_fields(tmp_path / "s.h5", {"input": f, "output": f.select("p")}, provenance={"generator": "t", "seed": 3})
    with h5py.File(tmp_path / "s.h5") as h:
        assert h.attrs["sciml_format"] == "sciml-hdf5" and h.attrs["sciml_format_version"] == 1
        prov = json.loads(h.attrs["provenance"])
        assert prov["seed"] == 3 and prov["generator"] == "t" and "created" in prov and "sciml_version" in prov
        g = h["input"]
        assert g.attrs["kind"] == "field" and json.loads(g.attrs["variables"]) == ["u", "p"]
        assert g["values"].shape == (3, 2, 6, 5) and g["values"].chunks == (1, 2, 6, 5)
        assert g["values"].dtype == np.float32
        assert g["grid"].attrs["kind"] == "grid" and json.loads(g["grid"].attrs["periodic"]) == [True, False]
        assert g["grid/coord_0"].dtype == np.float64 and g["grid/bounds"].shape == (2, 2)
        assert g["mask"].dtype == bool and g["time"].dtype == np.float64
    assert list_groups(tmp_path / "s.h5") == {"input": "field", "output": "field"}
    assert read_provenance(tmp_path / "s.h5")["seed"] == 3
    with pytest.raises(DataFormatError, match=r"2 sciml groups \['input', 'output'\]"):
        read_field(tmp_path / "s.h5")
    assert read_field(tmp_path / "s.h5", "output").variables == ("p",)


def test_partial_reads_by_index(tmp_path):
    f = grid_field(np.float64, False)
    f.to_hdf5(tmp_path / "f.h5")
    assert_same(read_field(tmp_path / "f.h5", index=1), f[1])
    assert_same(read_field(tmp_path / "f.h5", index=slice(1, 3)), f[1:3])
    assert_same(read_field(tmp_path / "f.h5", index=[2, 0]), f[[2, 0]])


def test_trajectories_round_trip(tmp_path):
    g = Grid.uniform((8, 4), periodic=True)
    vals = np.random.default_rng(2).standard_normal((3, 5, 2, 8, 4)).astype(np.float32)
    t = np.linspace(0, 1, 5)
    write_trajectories(tmp_path / "t.h5", vals, g, t, variables=["w", "T"], units=["1/s", "K"], provenance={"seed": 1})
    with h5py.File(tmp_path / "t.h5") as h:
        assert h["trajectory"].attrs["kind"] == "trajectory"
        assert h["trajectory/values"].chunks == (1, 1, 2, 8, 4)
    d = read_trajectories(tmp_path / "t.h5")
    assert torch.equal(d["values"], torch.from_numpy(vals)) and d["grid"] == g
    assert d["variables"] == ("w", "T") and torch.equal(d["time"], torch.from_numpy(t))
    one = read_field(tmp_path / "t.h5", index=2)
    assert one.batch_size == 5 and torch.equal(one.values, torch.from_numpy(vals[2]))
    assert torch.equal(one.time, torch.from_numpy(t)) and one.units == ("1/s", "K")
    with pytest.raises(DataFormatError, match="holds trajectories"):
        read_field(tmp_path / "t.h5")


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "data.h5"
    old = grid_field(np.float64, True)
    old.to_hdf5(path)
    real = h5store.write_field_group
    calls = []

    def boom(f, name, field, compression):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("disk full (simulated)")
        real(f, name, field, compression)

    monkeypatch.setattr(h5store, "write_field_group", boom)
    new = grid_field(np.float32, False)
    with pytest.raises(RuntimeError, match="simulated"):
        write_fields(path, {"a": new, "b": new})
    assert_same(read_field(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.h5"]  # no temporary file left behind


def test_malformed_files_raise_data_format_errors_naming_file_and_variable(tmp_path):
    g = Grid.uniform((4,))
    write_fields(tmp_path / "v.h5", {"f": Field(np.zeros((2, 1, 4)), g)})
    with h5py.File(tmp_path / "v.h5", "a") as h:
        h.attrs["sciml_format_version"] = "1.x"
    for read in (read_field, list_groups, describe):
        with pytest.raises(
            DataFormatError, match=r"v\.h5: root attribute sciml_format_version='1\.x' is not an integer"
        ):
            read(tmp_path / "v.h5")
    write_trajectories(tmp_path / "t.h5", np.zeros((2, 3, 1, 4)), g, [0.0, 1.0, 2.0])
    with h5py.File(tmp_path / "t.h5", "a") as h:
        del h["trajectory/time"]
        h["trajectory"].create_dataset("time", data=np.array([b"a", b"b", b"c"]))
    with pytest.raises(DataFormatError, match=r"t\.h5:/trajectory: dataset 'time' has dtype \|S1, expected numbers"):
        read_trajectories(tmp_path / "t.h5")
    with pytest.raises(DataFormatError, match=r"t\.h5:/trajectory: dataset 'time' has dtype \|S1"):
        read_field(tmp_path / "t.h5", index=0)
    write_trajectories(tmp_path / "m.h5", np.zeros((2, 3, 1, 4)), g, [0.0, 1.0, 2.0])
    with h5py.File(tmp_path / "m.h5", "a") as h:
        h["trajectory"].create_dataset("mask", data=np.ones((3, 1, 4), bool))
    with pytest.raises(ShapeError, match=r"m\.h5:/trajectory: mask has shape \(3, 1, 4\); expected \(4,\)"):
        read_trajectories(tmp_path / "m.h5")
