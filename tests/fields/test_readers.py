"""Readers of community formats, checked on small files written here in each layout."""

import h5py
import numpy as np
import pytest
import torch

from sciml.core.errors import DataFormatError, ShapeError
from sciml.fields.grid import Grid
from sciml.fields.hdf5 import read_trajectories, write_trajectories
from sciml.fields.readers import read_neuralop_pt, read_pdebench, read_the_well

RNG = np.random.default_rng(0)


def cell_centres(n):
    return (np.arange(n) + 0.5) / n


def test_pdebench_1d_tensor(tmp_path):
    n, nt, nx = 3, 4, 16
    u = RNG.standard_normal((n, nt, nx)).astype(np.float32)
    x, t = cell_centres(nx), np.linspace(0, 2, nt + 1)  # PDEBench stores one more time than steps
    path = tmp_path / "1D_Advection_Sols_beta0.1.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = u, x, t
    d = read_pdebench(path)
    assert d["values"].shape == (n, nt, 1, nx) and d["values"].dtype == torch.float32
    np.testing.assert_array_equal(d["values"][:, :, 0].numpy(), u)
    np.testing.assert_array_equal(d["grid"].coords[0], x)
    assert d["grid"].periodic == (True,)  # advection files are periodic
    np.testing.assert_array_equal(d["time"].numpy(), t[:nt])
    snap = read_pdebench(path, time_index=2, index=[2, 0])
    assert snap.shape == (2, 1, nx) and snap.variables == ("u",)
    np.testing.assert_array_equal(snap.values[:, 0].numpy(), u[[2, 0], 2])
    assert snap.time.tolist() == [t[2], t[2]]
    traj = read_pdebench(path, trajectory=1)
    np.testing.assert_array_equal(traj.values[:, 0].numpy(), u[1])
    # convertible into sciml's schema
    write_trajectories(tmp_path / "conv.h5", **d)
    assert torch.equal(read_trajectories(tmp_path / "conv.h5")["values"], d["values"])


def test_pdebench_2d_cfd_per_variable(tmp_path):
    n, nt, nx, ny = 2, 3, 8, 6
    data = {k: RNG.standard_normal((n, nt, nx, ny)) for k in ("Vx", "Vy", "density", "pressure")}
    path = tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5"
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f[k] = v
        f["x-coordinate"], f["y-coordinate"], f["t-coordinate"] = cell_centres(nx), cell_centres(ny), np.arange(nt)
    d = read_pdebench(path)
    assert d["variables"] == ("density", "pressure", "Vx", "Vy")
    assert d["values"].shape == (n, nt, 4, nx, ny) and d["grid"].periodic == (True, True)
    for i, k in enumerate(d["variables"]):
        np.testing.assert_array_equal(d["values"][:, :, i].numpy(), data[k])
    sel = read_pdebench(path, variables=["Vy"], time_index=1, periodic=False)
    np.testing.assert_array_equal(sel.values[:, 0].numpy(), data["Vy"][:, 1])
    assert sel.grid.periodic == (False, False)
    with pytest.raises(DataFormatError, match=r"\['Vz'\] not in the file; available: \['density', 'pressure'"):
        read_pdebench(path, variables=["Vz"])


def test_pdebench_per_seed_groups(tmp_path):
    nt, nx, ny, c = 5, 8, 4, 2
    path = tmp_path / "2D_diff-react_NA_NA.h5"
    seeds = {}
    with h5py.File(path, "w") as f:
        for s in ("0000", "0001", "0002"):
            seeds[s] = RNG.standard_normal((nt, nx, ny, c)).astype(np.float32)
            f[f"{s}/data"] = seeds[s]
            f[f"{s}/grid/x"], f[f"{s}/grid/y"] = np.linspace(-1, 1, nx), np.linspace(-1, 1, ny)
            f[f"{s}/grid/t"] = np.linspace(0, 5, nt)
    d = read_pdebench(path, variables=["u", "v"], index=slice(1, 3))
    assert d["values"].shape == (2, nt, c, nx, ny) and d["variables"] == ("u", "v")
    np.testing.assert_array_equal(d["values"][0].numpy(), np.moveaxis(seeds["0001"], -1, 1))
    np.testing.assert_array_equal(d["grid"].coords[1], np.linspace(-1, 1, ny))
    assert d["grid"].periodic == (False, False) and d["attrs"]["seeds"] == ["0001", "0002"]
    np.testing.assert_array_equal(d["time"].numpy(), np.linspace(0, 5, nt))


def test_pdebench_darcy(tmp_path):
    n, nx = 3, 7
    nu, u = RNG.random((n, nx, nx)), RNG.random((n, 1, nx, nx))
    path = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    with h5py.File(path, "w") as f:
        f["nu"], f["tensor"] = nu, u
        f["x-coordinate"] = f["y-coordinate"] = cell_centres(nx)
    d = read_pdebench(path)
    np.testing.assert_array_equal(d["input"].values[:, 0].numpy(), nu)
    np.testing.assert_array_equal(d["output"].values.numpy(), u)
    assert d["input"].variables == ("nu",) and d["output"].variables == ("u",)


def test_pdebench_missing_coordinate_and_unknown_layout(tmp_path):
    path = tmp_path / "bad.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"] = np.zeros((1, 2, 4))
    with pytest.raises(DataFormatError, match="missing coordinate dataset 'x-coordinate'"):
        read_pdebench(path)
    with h5py.File(path, "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(DataFormatError, match=r"not a PDEBench layout.*\['something'\]"):
        read_pdebench(path)


def write_well(path, n_traj=2, n_time=3, nx=8, ny=4):
    x, y, t = cell_centres(nx), np.linspace(0, 1, ny), np.linspace(0, 0.2, n_time)
    fields = {
        "density": RNG.standard_normal((n_traj, n_time, nx, ny)).astype(np.float32),
        "velocity": RNG.standard_normal((n_traj, n_time, nx, ny, 2)).astype(np.float32),
        "stress": RNG.standard_normal((n_traj, n_time, nx, ny, 2, 2)).astype(np.float32),
        "buoyancy": RNG.standard_normal((nx, ny)).astype(np.float32),  # static, shared field
    }
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="toy", n_spatial_dims=2, grid_type="cartesian", n_trajectories=n_traj)
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["x"], dims["y"], dims["time"] = x, y, t
        bc = f.create_group("boundary_conditions")
        px = bc.create_group("x_periodic")
        px.attrs.update(bc_type="PERIODIC", associated_dims=["x"])
        wy = bc.create_group("y_wall")
        wy.attrs.update(bc_type="WALL", associated_dims=["y"])
        for grp, names in (
            ("t0_fields", ["density", "buoyancy"]),
            ("t1_fields", ["velocity"]),
            ("t2_fields", ["stress"]),
        ):
            g = f.create_group(grp)
            for k in names:
                ds = g.create_dataset(k, data=fields[k])
                static = k == "buoyancy"
                ds.attrs.update(time_varying=not static, sample_varying=not static)
    return fields, (x, y, t)


def test_the_well(tmp_path):
    path = tmp_path / "toy.hdf5"
    fields, (x, y, t) = write_well(path)
    d = read_the_well(path)
    assert d["variables"] == (
        "buoyancy",  # h5py lists datasets in name order
        "density",
        "velocity_x",
        "velocity_y",
        "stress_xx",
        "stress_xy",
        "stress_yx",
        "stress_yy",
    )
    assert d["values"].shape == (2, 3, 8, 8, 4)
    v = d["values"].numpy()
    np.testing.assert_array_equal(v[:, :, 1], fields["density"])
    np.testing.assert_array_equal(v[1, 2, 0], fields["buoyancy"])
    np.testing.assert_array_equal(v[:, :, 3], fields["velocity"][..., 1])
    np.testing.assert_array_equal(v[:, :, 5], fields["stress"][..., 0, 1])
    assert d["grid"].periodic == (True, False) and d["grid"].names == ("x", "y")
    np.testing.assert_array_equal(d["grid"].coords[0], x)
    np.testing.assert_array_equal(d["time"].numpy(), t)
    assert d["attrs"]["boundary_conditions"]["x_periodic"]["bc_type"] == "PERIODIC"
    snap = read_the_well(path, fields=["velocity"], time_index=1)
    assert snap.variables == ("velocity_x", "velocity_y") and snap.shape == (2, 2, 8, 4)
    np.testing.assert_array_equal(snap.values[:, 0].numpy(), fields["velocity"][:, 1, ..., 0])
    with pytest.raises(DataFormatError, match=r"\['pressure'\] not in the file; available: \['buoyancy', 'density'"):
        read_the_well(path, fields=["pressure"])


def test_neuralop_pt(tmp_path):
    x, y = torch.rand(4, 16, 16), torch.rand(4, 16, 16)
    torch.save({"x": x, "y": y}, tmp_path / "darcy_train_16.pt")
    d = read_neuralop_pt(tmp_path / "darcy_train_16.pt")
    assert torch.equal(d["input"].values[:, 0], x) and torch.equal(d["output"].values[:, 0], y)
    assert d["input"].grid == Grid.uniform((16, 16), names=["x", "y"])
    assert d["input"].grid.coords[0][-1] == 1.0  # end points included (FNO Darcy convention)
    torch.save({"x": torch.rand(2, 3, 8, 8), "y": torch.rand(2, 8, 8)}, tmp_path / "ns.pt")
    ns = read_neuralop_pt(tmp_path / "ns.pt", periodic=True, index=slice(0, 1))
    assert ns["input"].variables == ("x0", "x1", "x2") and ns["input"].batch_size == 1
    assert ns["output"].grid.periodic == (True, True)
    with pytest.raises(DataFormatError, match=r"missing key 'a'; available keys: \['x', 'y'\]"):
        read_neuralop_pt(tmp_path / "ns.pt", input_key="a")


def test_neuralop_pt_rejects_unpaired_sample_counts(tmp_path):
    torch.save({"x": torch.zeros(3, 8, 8), "y": torch.zeros(4, 8, 8)}, tmp_path / "bad.pt")
    with pytest.raises(ShapeError, match=r"bad\.pt: inputs 'x' have 3 samples but outputs 'y' have 4"):
        read_neuralop_pt(tmp_path / "bad.pt")


def test_pdebench_rejects_wrong_number_of_variable_names(tmp_path):
    path = tmp_path / "1D_Burgers.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"], f["x-coordinate"] = np.zeros((3, 4, 8), np.float32), cell_centres(8)
    with pytest.raises(ShapeError, match=r"Burgers\.hdf5: 2 variable names \['a', 'b'\] given for 1 channels"):
        read_pdebench(path, variables=["a", "b"])
    with pytest.raises(ShapeError, match=r"2 variable names \['a', 'b'\] given for 1 channels"):
        read_pdebench(path, variables=["a", "b"], trajectory=0)
    assert read_pdebench(path, variables="a")["variables"] == ("a",)


def test_pdebench_float32_cell_centres_are_a_uniform_grid(tmp_path):
    from sciml.fields.datasets import TrajectoryDataset

    n = 100
    x = cell_centres(n).astype(np.float32)  # PDEBench stores float32 coordinates
    u = np.sin(2 * np.pi * 3 * x.astype(np.float64))[None, None].repeat(2, axis=1).astype(np.float32)
    path = tmp_path / "1D_Advection_Sols_beta0.1.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = u, x, np.arange(3, dtype=np.float32)
    for bounds in (None, [(0, 1)]):
        fld = read_pdebench(path, time_index=0, bounds=bounds).to(torch.float64)
        g = fld.grid
        assert g.periodic == (True,) and g.is_uniform
        assert g.lengths[0] == pytest.approx(1.0, rel=1e-7)
        t = Grid.uniform(96, bounds=g.bounds, periodic=True)
        exact = np.sin(2 * np.pi * 3 * t.coords[0])
        assert np.abs(fld.resample(t, method="spectral").values[0, 0].numpy() - exact).max() < 1e-5
        r = fld.restrict(2)
        np.testing.assert_allclose(r.values[0, 0].numpy(), np.sin(2 * np.pi * 3 * r.grid.coords[0]), atol=1e-6)
        assert g.stride_to(g.coarsen(2)) == (2,)
    write_trajectories(tmp_path / "conv.h5", **read_pdebench(path))
    ds = TrajectoryDataset(tmp_path / "conv.h5", resolution=32, dtype=torch.float64)
    assert ds.grid.is_uniform and ds.grid.shape == (32,)
    np.testing.assert_allclose(ds[0][0][0].numpy(), np.sin(2 * np.pi * 3 * ds.grid.coords[0]), atol=1e-5)
