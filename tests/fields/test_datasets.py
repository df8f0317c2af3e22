"""Lazy datasets: items equal the file's slices, resolution rules, trajectory windows, workers, xarray, errors."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciml.core.errors import DataFormatError, GridError, InvalidValueError, ShapeError
from sciml.fields import field as field_mod
from sciml.fields import hdf5
from sciml.fields.datasets import OperatorDataset, TrajectoryDataset, channel_stats, split_indices
from sciml.fields.grid import Grid


# ---------------------------------------------------------------------------- fixture files (h5py, schema v1)
def write_group(f: h5py.File, name: str, values: np.ndarray, grid: Grid, variables, kind="field", time=None):
    g = f.create_group(name)
    g.attrs["kind"] = kind
    g.attrs["variables"] = json.dumps(list(variables))
    g.attrs["units"] = json.dumps(["m"] * len(variables))
    g.attrs["standard_names"] = json.dumps([""] * len(variables))
    g.attrs["attrs"] = json.dumps({})
    lead = 1 if kind == "field" else 2
    g.create_dataset("values", data=values, chunks=(1,) * lead + values.shape[lead:] if values.size else None)
    gg = g.create_group("grid")
    gg.attrs["kind"] = "grid"
    gg.attrs["names"] = json.dumps(list(grid.names))
    gg.attrs["periodic"] = json.dumps(list(grid.periodic))
    gg.create_dataset("bounds", data=np.asarray(grid.bounds, dtype=np.float64))
    for i, c in enumerate(grid.coords):
        gg.create_dataset(f"coord_{i}", data=c)
    if time is not None:
        g.create_dataset("time", data=np.asarray(time, dtype=np.float64))


def write_file(path, groups: dict):
    with h5py.File(path, "w") as f:
        f.attrs["sciml_format"] = "sciml-hdf5"
        f.attrs["sciml_format_version"] = 1
        for name, (values, grid, variables, *rest) in groups.items():
            write_group(f, name, values, grid, variables, *rest)
    return path


@pytest.fixture
def pair_file(tmp_path):
    rng = np.random.default_rng(0)
    grid = Grid.uniform((16, 12), periodic=(True, False))
    a = rng.standard_normal((7, 2, 16, 12)).astype(np.float32)
    u = rng.standard_normal((7, 1, 16, 12)).astype(np.float32)
    path = write_file(tmp_path / "pairs.h5", {"input": (a, grid, ["a", "b"]), "output": (u, grid, ["u"])})
    return path, a, u, grid


# ---------------------------------------------------------------------------- OperatorDataset over HDF5
def test_items_equal_file_slices(pair_file):
    path, a, u, grid = pair_file
    ds = OperatorDataset(path)
    assert len(ds) == 7 and ds.grid == grid
    assert ds.input_variables == ["a", "b"] and ds.output_variables == ["u"]
    for k in range(7):
        x, y = ds[k]
        assert x.dtype == torch.float32 and x.shape == (2, 16, 12) and y.shape == (1, 16, 12)
        assert torch.equal(x, torch.from_numpy(a[k])) and torch.equal(y, torch.from_numpy(u[k]))
    # subset, reordered variable selection, negative item index, float64
    sub = OperatorDataset(path, input_variables=["b", "a"], indices=[5, 1], dtype=torch.float64)
    assert len(sub) == 2 and sub.input_variables == ["b", "a"]
    x, y = sub[-1]
    assert x.dtype == torch.float64
    assert torch.equal(x, torch.from_numpy(a[1][[1, 0]]).double()) and torch.equal(y, torch.from_numpy(u[1]).double())
    view = ds.subset([6, 0])
    assert torch.equal(view[0][0], torch.from_numpy(a[6])) and len(view) == 2
    with pytest.raises(IndexError):
        sub[2]


def test_strided_resolution_equals_slicing(pair_file):
    path, a, u, grid = pair_file
    # periodic 16 -> 8 (stride 2), non-periodic linspace 12 points: 12 -> 12 keeps, via tuple
    ds = OperatorDataset(path, resolution=(8, 12))
    assert ds.grid == Grid.uniform((8, 12), periodic=(True, False))
    for k in (0, 6):
        x, y = ds[k]
        assert torch.equal(x, torch.from_numpy(a[k][:, ::2, :])) and torch.equal(y, torch.from_numpy(u[k][:, ::2]))
    # a strided Grid target on a non-periodic axis: 17 nodes -> 9 nodes and 5 nodes
    g17 = Grid.uniform((17, 17), bounds=[(0, 2), (-1, 1)])
    v = np.random.default_rng(1).standard_normal((3, 1, 17, 17)).astype(np.float32)
    p2 = write_file(path.parent / "np.h5", {"input": (v, g17, ["v"]), "output": (v, g17, ["v"])})
    ds2 = OperatorDataset(p2, resolution=g17.coarsen((2, 4)))
    assert ds2.grid.shape == (9, 5)
    assert torch.equal(ds2[2][0], torch.from_numpy(v[2][:, ::2, ::4]))
    assert torch.equal(OperatorDataset(p2, resolution=9)[1][1], torch.from_numpy(v[1][:, ::2, ::2]))


def _band_limited(grid: Grid) -> np.ndarray:
    x, y = grid.meshgrid(dtype=torch.float64).numpy()
    return np.sin(2 * np.pi * x) * np.cos(4 * np.pi * y) + 0.5 * np.cos(2 * np.pi * (3 * x + y)) + 0.25


def test_resampled_resolution_matches_analytic_field(tmp_path):
    g = Grid.uniform((32, 32), periodic=True)
    f = _band_limited(g)[None, None].astype(np.float32)
    values = np.concatenate([f, 2 * f])  # 2 samples
    path = write_file(tmp_path / "bl.h5", {"input": (values, g, ["f"]), "output": (values, g, ["f"])})
    for n in (48, 20, (24, 40)):  # not strided subsets: trigonometric interpolation / truncation
        ds = OperatorDataset(path, resolution=n)
        exact = torch.from_numpy(_band_limited(ds.grid)).float()
        x, y = ds[1]
        assert x.shape == (1, *ds.grid.shape)
        err = (x[0] - 2 * exact).abs().max().item()
        assert err < 1e-6 * 2 * exact.abs().max().item() + 1e-6, f"resolution {n}: max error {err}"
    # non-periodic axes: linear interpolation reproduces a linear function exactly
    gl = Grid.uniform((17, 9), bounds=[(0, 1), (0, 2)])
    xx, yy = gl.meshgrid(dtype=torch.float64).numpy()
    lin = (1 + 2 * xx - 3 * yy)[None, None].astype(np.float32)
    pl = write_file(tmp_path / "lin.h5", {"input": (lin, gl, ["p"]), "output": (lin, gl, ["p"])})
    ds = OperatorDataset(pl, resolution=(10, 7))
    X, Y = ds.grid.meshgrid(dtype=torch.float64)
    assert (ds[0][0][0].double() - (1 + 2 * X - 3 * Y)).abs().max() < 1e-5
    with pytest.raises(GridError, match="leave the source domain"):
        OperatorDataset(pl, resolution=Grid.uniform((5, 5), bounds=[(0, 1.5), (0, 2)]))


# ---------------------------------------------------------------------------- TrajectoryDataset
@pytest.fixture
def traj_file(tmp_path):
    n_traj, n_time, C = 3, 11, 2
    v = np.zeros((n_traj, n_time, C, 4, 6), dtype=np.float32)
    for j in range(n_traj):
        for t in range(n_time):
            for c in range(C):
                v[j, t, c] = 1000 * j + 10 * t + c  # value encodes (trajectory, time, channel)
    grid = Grid.uniform((4, 6), periodic=True)
    time = 0.1 * np.arange(n_time)
    path = write_file(tmp_path / "traj.h5", {"trajectory": (v, grid, ["u", "v"], "trajectory", time)})
    return path, v


def _decode(frames: torch.Tensor):
    """(n, C, ...) constant-in-space frames -> list of (traj, time, channel) per frame and channel."""
    vals = frames[..., 0, 0].round().long().tolist()
    return [[(q // 1000, (q % 1000) // 10, q % 10) for q in row] for row in vals]


def test_trajectory_windows_are_the_right_frames(traj_file):
    path, v = traj_file
    ds = TrajectoryDataset(path, n_in=2, n_out=3, stride=2, step=2, fold_time=False)
    span = (2 + 3 - 1) * 2  # 8 -> starts 0, 2 (0 + 8 <= 10, 2 + 8 <= 10)
    assert ds.windows_per_trajectory == 2 and len(ds) == 6 and span == 8
    np.testing.assert_allclose(ds.time, 0.1 * np.arange(11))
    for k in range(len(ds)):
        x, y = ds[k]
        j, w = divmod(k, 2)
        t0 = 2 * w
        assert x.shape == (2, 2, 4, 6) and y.shape == (3, 2, 4, 6)
        assert _decode(x) == [[(j, t0 + 2 * m, c) for c in range(2)] for m in range(2)]
        assert _decode(y) == [[(j, t0 + 2 * m, c) for c in range(2)] for m in range(2, 5)]
        assert torch.equal(x, torch.from_numpy(v[j, t0 : t0 + 4 : 2]))  # exactly the file's frames
    # folded, time-major channels; trajectory subset; variable selection
    ds2 = TrajectoryDataset(path, n_in=3, n_out=1, variables=["v"], indices=[2])
    assert len(ds2) == 11 - 3 and ds2.variables == ["v"]
    x, y = ds2[4]
    assert x.shape == (3, 4, 6) and y.shape == (1, 4, 6)
    assert x[:, 0, 0].tolist() == [2041.0, 2051.0, 2061.0] and y[:, 0, 0].tolist() == [2071.0]
    x, _ = TrajectoryDataset(path, n_in=2)[0]
    assert x[:, 0, 0].tolist() == [0.0, 1.0, 10.0, 11.0]  # [t0 c0, t0 c1, t1 c0, t1 c1]
    assert torch.equal(TrajectoryDataset(path, resolution=2)[3][1], torch.from_numpy(v[0, 4, :, ::2, ::3]))
    with pytest.raises(DataFormatError, match="fewer than a window needs"):
        TrajectoryDataset(path, n_in=6, n_out=6)


def test_rewindow_equals_a_freshly_opened_dataset(traj_file):
    path, v = traj_file
    base = TrajectoryDataset(path, n_in=1, n_out=1, indices=[1, 2])
    whole = base.rewindow(n_out=5, step=2, stride=11, fold_time=False)  # frame 0, then 2, 4, ..., 10
    fresh = TrajectoryDataset(path, n_in=1, n_out=5, step=2, stride=11, fold_time=False, indices=[1, 2])
    assert len(whole) == len(fresh) == 2 and len(base) == 2 * 10  # the original view is unchanged
    for k in range(2):
        assert all(torch.equal(a, b) for a, b in zip(whole[k], fresh[k]))
    assert _decode(whole[1][1]) == [[(2, t, c) for c in range(2)] for t in range(2, 11, 2)]
    with pytest.raises(DataFormatError, match="fewer than a window needs"):
        base.rewindow(n_out=11)


# ---------------------------------------------------------------------------- processes
def test_dataloader_workers_match_single_process_and_pickle(pair_file):
    path, a, u, _ = pair_file
    ds = OperatorDataset(path, resolution=(8, 12))
    _ = ds[0]  # the parent has an open handle now: workers must reopen their own
    ref = list(DataLoader(ds, batch_size=3, num_workers=0))
    ctx = mp.get_context("fork")
    got = list(DataLoader(ds, batch_size=3, num_workers=2, multiprocessing_context=ctx))
    assert len(got) == len(ref) == 3
    for (x0, y0), (x1, y1) in zip(ref, got):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert torch.equal(torch.cat([b[0] for b in got]), torch.from_numpy(a[:, :, ::2]))
    clone = pickle.loads(pickle.dumps(ds))  # no open handle inside the pickle
    assert torch.equal(clone[4][1], ds[4][1])


# ---------------------------------------------------------------------------- xarray / zarr
def _xr_dataset(a, u, grid):
    xr = pytest.importorskip("xarray")
    coords = {
        n: xr.DataArray(c, dims=n, attrs={"periodic": p, "bounds": list(b)})
        for n, c, p, b in zip(grid.names, grid.coords, grid.periodic, grid.bounds)
    }
    dims = ("sample", *grid.names)
    data = {"a": (dims, a[:, 0]), "b": (dims, a[:, 1]), "u": (dims, u[:, 0])}
    return xr.Dataset(data, coords=coords)


def test_xarray_zarr_source_matches_hdf5(pair_file, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("zarr")
    path, a, u, grid = pair_file
    store = tmp_path / "pairs.zarr"
    _xr_dataset(a, u, grid).chunk({"sample": 1}).to_zarr(store, consolidated=False)
    lazy = xr.open_zarr(store, chunks={"sample": 1}, consolidated=False)
    assert lazy["a"].chunks is not None  # dask-backed
    h5 = OperatorDataset(path, resolution=(8, 12), indices=[0, 3, 6])
    for src in (lazy, str(store)):
        zs = OperatorDataset(src, input=["a", "b"], output="u", resolution=(8, 12), indices=[0, 3, 6])
        assert zs.grid == h5.grid and zs.input_variables == ["a", "b"] and len(zs) == 3
        for k in range(3):
            assert all(torch.equal(p, q) for p, q in zip(zs[k], h5[k]))
    ref = list(DataLoader(OperatorDataset(str(store), input=["a", "b"], output="u"), batch_size=4))
    got = list(
        DataLoader(
            OperatorDataset(str(store), input=["a", "b"], output="u"),
            batch_size=4,
            num_workers=2,
            multiprocessing_context=mp.get_context("fork"),
        )
    )
    assert all(torch.equal(p[0], q[0]) for p, q in zip(ref, got))
    with pytest.raises(DataFormatError, match=r"no data variable\(s\) \['p'\].*present: \['a', 'b', 'u'\]"):
        OperatorDataset(lazy, input=["a", "p"], output="u")


def test_xarray_trajectory_source(traj_file):
    xr = pytest.importorskip("xarray")
    path, v = traj_file
    ds = xr.Dataset(
        {"u": (("sample", "time", "x", "y"), v[:, :, 0]), "v": (("sample", "time", "x", "y"), v[:, :, 1])},
        coords={"time": 0.1 * np.arange(11), "x": np.arange(4) / 4, "y": np.arange(6) / 6},
    ).chunk({"sample": 1, "time": 1})
    a = TrajectoryDataset(ds, group=["u", "v"], n_in=2, n_out=2, step=3, stride=1)
    b = TrajectoryDataset(path, n_in=2, n_out=2, step=3, stride=1)
    assert len(a) == len(b) == 3 * 2
    for k in range(len(a)):
        assert torch.equal(a[k][0], b[k][0]) and torch.equal(a[k][1], b[k][1])
    single = TrajectoryDataset(ds.isel(sample=2), group=["u", "v"], n_in=1, n_out=1)  # no sample dim
    assert len(single) == 10 and torch.equal(single[3][1], b_item(v, 2, 4))


def b_item(v, j, t):
    return torch.from_numpy(v[j, t])


# ---------------------------------------------------------------------------- errors
def test_errors_name_file_and_missing_pieces(pair_file, tmp_path):
    path, *_ = pair_file
    with pytest.raises(DataFormatError, match=r"pairs\.h5.*no group 'target'.*\['input', 'output'\]"):
        OperatorDataset(path, output="target")
    with pytest.raises(DataFormatError, match=r"pairs\.h5.*group 'input'.*no variable\(s\) \['c'\].*\['a', 'b'\]"):
        OperatorDataset(path, input_variables=["a", "c"])
    with pytest.raises(DataFormatError, match="empty"):
        OperatorDataset(path, indices=[])
    with pytest.raises(InvalidValueError, match=r"\[7\] are out of range"):
        OperatorDataset(path, indices=[0, 7])
    with pytest.raises(DataFormatError, match="does not exist"):
        OperatorDataset(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataFormatError, match=r"junk\.h5.*not a readable HDF5"):
        OperatorDataset(tmp_path / "junk.h5")
    g = Grid.uniform(4)
    empty = write_file(
        tmp_path / "empty.h5", {"input": (np.zeros((0, 1, 4)), g, ["a"]), "output": (np.zeros((0, 1, 4)), g, ["b"])}
    )
    with pytest.raises(DataFormatError, match=r"empty\.h5.*empty"):
        OperatorDataset(empty)
    bad = np.zeros((2, 1, 4), np.float32)
    bad[1, 0, 2] = np.nan
    p = write_file(tmp_path / "nan.h5", {"input": (bad, g, ["a"]), "output": (bad, g, ["b"])})
    ds = OperatorDataset(p)
    ds[0]
    with pytest.raises(InvalidValueError, match=r"nan\.h5.*sample 1 contains 1 NaN"):
        ds[1]


def _corrupt_chunk(path, dataset: str, chunk: int) -> None:
    """Overwrite 30 bytes in the middle of one stored (gzip) chunk, so decompressing it fails."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(b"\xff" * 30)


def test_corrupt_chunk_raises_data_format_error_naming_file_group_and_item(tmp_path):
    g = Grid.uniform((16, 16))
    a = np.random.default_rng(5).standard_normal((6, 1, 16, 16)).astype(np.float32)
    p = hdf5.write_fields(
        tmp_path / "gz.h5", {"input": field_mod.Field(a, g), "output": field_mod.Field(-a, g)}, compression="gzip"
    )
    _corrupt_chunk(p, "input/values", 3)
    ds = OperatorDataset(p)
    assert torch.equal(ds[2][0], torch.from_numpy(a[2]))  # other samples still read
    with pytest.raises(DataFormatError, match=r"gz\.h5', group 'input': cannot read sample 3: corrupt"):
        ds[3]
    v = np.random.default_rng(6).standard_normal((2, 4, 1, 16, 16))
    t = hdf5.write_trajectories(tmp_path / "tr.h5", v, g, np.arange(4.0), compression="gzip")
    _corrupt_chunk(t, "trajectory/values", 5)  # chunk (traj 1, time 1)
    with pytest.raises(DataFormatError, match=r"tr\.h5', group 'trajectory': cannot read trajectory 1 .*corrupt"):
        TrajectoryDataset(t)[3]  # window 0 of trajectory 1: frames 0, 1


@pytest.mark.parametrize(
    "mask, error, message",
    [
        (np.ones((3, 3), bool), ShapeError, r"mask has shape \(3, 3\); expected \(16, 16\)"),
        (np.ones((3, 1, 16, 16), bool), ShapeError, r"mask has shape \(3, 1, 16, 16\).*\(8, 1, 16, 16\)"),
        (np.ones((16, 16), np.float32), InvalidValueError, r"mask must be boolean.*float32"),
    ],
)
def test_bad_mask_rejected_when_the_file_is_opened(tmp_path, mask, error, message):
    g = Grid.uniform((16, 16))
    a = np.zeros((8, 1, 16, 16), np.float32)
    p = write_file(tmp_path / "m.h5", {"input": (a, g, ["a"]), "output": (a, g, ["u"])})
    with h5py.File(p, "a") as f:
        f["input"].create_dataset("mask", data=mask)
    with pytest.raises(error, match=r"m\.h5', group 'input': " + message):
        OperatorDataset(p)
    with pytest.raises(error, match=r"m\.h5:/input: " + message):  # the same check as read_field
        hdf5.read_field(p, "input")


def test_values_group_string_dtypes_and_bad_version_are_data_format_errors(tmp_path):
    g = Grid.uniform(4)
    a = np.zeros((2, 1, 4), np.float32)

    def make(name, edit):
        p = write_file(tmp_path / name, {"input": (a, g, ["a"]), "output": (a, g, ["u"])})
        with h5py.File(p, "a") as f:
            edit(f)
        return p

    def values_group(f):
        del f["input/values"]
        f["input"].create_group("values")

    def str_values(f):
        del f["input/values"]
        f["input"].create_dataset("values", data=np.full((2, 1, 4), b"x"))

    def str_coord(f):
        del f["input/grid/coord_0"]
        f["input/grid"].create_dataset("coord_0", data=np.array([b"a", b"b", b"c", b"d"]))

    cases = [
        (values_group, r"'values' is an HDF5 Group, expected a dataset"),
        (str_values, r"dataset 'values' has dtype \|S1, expected numbers"),
        (lambda f: f["input"].create_dataset("time", data=np.array([b"t0", b"t1"])), r"dataset 'time' has dtype \|S2"),
        (str_coord, r"grid: dataset 'coord_0' has dtype \|S1"),
        (lambda f: f.attrs.__setitem__("sciml_format_version", "one"), r"sciml_format_version='one' is not an integer"),
    ]
    for k, (edit, message) in enumerate(cases):
        with pytest.raises(DataFormatError, match=rf"bad{k}\.h5.*{message}"):
            OperatorDataset(make(f"bad{k}.h5", edit))


def test_xarray_coordinate_attributes(pair_file):
    xr = pytest.importorskip("xarray")
    _, a, u, grid = pair_file
    base = _xr_dataset(a, u, grid)  # coordinates x0 (periodic, bounds [0, 1]) and x1
    x0 = grid.coords[0]

    def with_x0(values=x0, **attrs):
        return base.assign_coords(x0=xr.DataArray(values, dims="x0", attrs={"periodic": True, **attrs}))

    def od(ds):
        return OperatorDataset(ds, input=["a", "b"], output="u")

    # CF: bounds names a variable of cell edges (its extent is the domain); a missing one is ignored. The cells
    # are centred on x0, so the domain is [-1/32, 31/32], which the default periodic bounds [0, 1] are not
    edges = np.stack([x0 - 1 / 32, x0 + 1 / 32], axis=1)
    cf = with_x0(bounds="x0_bnds").assign(x0_bnds=(("x0", "nv"), edges))
    assert od(cf).grid.bounds[0] == (-1 / 32, 31 / 32) and np.array_equal(od(cf).grid.coords[0], x0)
    assert od(with_x0(bounds="x0_bnds")).grid.bounds[0] == (0.0, 1.0)  # default periodic bounds
    assert od(with_x0(bounds="[0, 2]")).grid.bounds[0] == (0.0, 2.0)  # JSON string
    with pytest.raises(DataFormatError, match=r"coordinate 'x0' has bounds=\[0\.0\]; expected two numbers"):
        od(with_x0(bounds=[0.0]))
    with pytest.raises(DataFormatError, match=r"bounds variable 'x0_bnds' of coordinate 'x0' has shape \(16, 3\)"):
        od(with_x0(bounds="x0_bnds").assign(x0_bnds=(("x0", "nv"), np.zeros((16, 3)))))
    with pytest.raises(DataFormatError, match=r"coordinate 'x0' has dtype <U3, expected numbers"):
        od(with_x0(values=np.array([f"p{i:02d}" for i in range(16)])))
    with pytest.raises(DataFormatError, match=r"data variable 's' has dtype <U\d+, expected numbers"):
        OperatorDataset(base.assign(s=base["u"].astype(str)), input="s", output="u")


# ---------------------------------------------------------------------------- splits and statistics
def test_split_indices_partition():
    tr, va, te = split_indices(103, (0.8, 0.1, 0.1), seed=3)
    assert (len(tr), len(va), len(te)) == (83, 10, 10)  # largest remainder: 82.4, 10.3, 10.3 -> 83, 10, 10
    allidx = np.concatenate([tr, va, te])
    assert np.array_equal(np.sort(allidx), np.arange(103))
    again = split_indices(103, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(p, q) for p, q in zip((tr, va, te), again))
    assert not np.array_equal(split_indices(103, seed=4)[0], tr)
    assert [len(s) for s in split_indices(10, (0.5, 0.5))] == [5, 5]
    with pytest.raises(InvalidValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.3))


def test_channel_stats_match_full_computation(pair_file, tmp_path):
    path, a, u, _ = pair_file
    ds = OperatorDataset(path)
    mx, sx, my, sy = channel_stats(ds)
    a64, u64 = a.astype(np.float64), u.astype(np.float64)
    np.testing.assert_allclose(mx.numpy(), a64.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sx.numpy(), a64.std(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(sy.numpy(), u64.std(axis=(0, 2, 3)), rtol=1e-12)
    assert mx.dtype == torch.float64 and my.shape == (1,)
    m2, *_ = channel_stats(ds, max_samples=2)  # items 0 and 6
    np.testing.assert_allclose(m2.numpy(), a64[[0, 6]].mean(axis=(0, 2, 3)), atol=1e-12)
    # quadrature weights on a non-uniform grid: weighted mean of f(x) = x is the domain mean 1/2
    g = Grid([np.array([0.0, 0.1, 0.2, 0.3, 1.0])], bounds=[(0, 1)])
    vals = np.tile(g.coords[0], (3, 1, 1)).astype(np.float32)
    p = write_file(tmp_path / "nu.h5", {"input": (vals, g, ["x"]), "output": (vals, g, ["x"])})
    mw, sw, *_ = channel_stats(OperatorDataset(p, dtype=torch.float64), weighted=True)
    x = g.coords[0]
    assert abs(mw.item() - 0.5) < 1e-6  # trapezoid rule is exact for a linear function
    assert abs(sw.item() - np.sqrt(np.trapezoid((x - 0.5) ** 2, x))) < 1e-6
    assert abs(channel_stats(OperatorDataset(p))[0].item() - 0.32) < 1e-6  # unweighted is biased


# ---------------------------------------------------------------------------- files written by sciml itself
def test_reads_files_written_by_write_fields(tmp_path):
    g = Grid.uniform((8, 8), periodic=True)
    a = torch.randn(4, 1, 8, 8)
    u = torch.randn(4, 2, 8, 8)
    fa = field_mod.Field(a, g, variables=["k"], units=["1"])
    fu = field_mod.Field(u, g, variables=["p", "q"], units=["Pa", "Pa"], time=torch.arange(4.0))
    path = hdf5.write_fields(tmp_path / "w.h5", {"input": fa, "output": fu})
    ds = OperatorDataset(path, output_variables=["q"], return_fields=True, resolution=4)
    x, y = ds[2]
    assert x.variables == ("k",) and y.variables == ("q",) and y.units == ("Pa",)
    assert x.grid == ds.grid == g.coarsen(2) and x.values.shape == (1, 1, 4, 4)
    assert torch.equal(y.values, u[2:3, 1:2, ::2, ::2]) and y.time.tolist() == [2.0]
    fa.to_hdf5(tmp_path / "one.h5", group="input")
    with pytest.raises(DataFormatError, match=r"one\.h5.*no group 'output'.*\['input'\]"):
        OperatorDataset(tmp_path / "one.h5")


def test_xarray_written_by_field_to_xarray(tmp_path):
    g = Grid.uniform((8, 6), bounds=[(0, 2), (0, 1)], periodic=(True, False), names=["x", "y"])
    a = torch.randn(5, 2, 8, 6, dtype=torch.float64)
    ds = field_mod.Field(a, g, variables=["k", "f"]).to_xarray().to_dataset(name="a")
    ds["u"] = (("batch", "x", "y"), (2 * a[:, 0]).numpy())
    ds["u"].attrs.update({k: ds["a"].attrs[k] for k in ("sciml_periodic", "sciml_bounds")})
    od = OperatorDataset(ds.chunk({"batch": 1}), input="a", output="u", sample_dim="batch", dtype=torch.float64)
    assert od.grid == g and od.input_variables == ["k", "f"] and od.output_variables == ["u"]
    x, y = od[3]
    assert torch.equal(x, a[3]) and torch.equal(y, 2 * a[3, :1])
    x4, _ = OperatorDataset(ds, input="a", output="u", sample_dim="batch", resolution=(4, 6))[1]
    assert torch.equal(x4, a[1][:, ::2, :].float())  # periodic axis 8 -> 4 points: a strided read


def test_directory_of_shards_concatenates_samples_with_mask(tmp_path):
    g = Grid.uniform((8, 8), periodic=True)
    rng = np.random.default_rng(2)
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:6, 1:7] = True
    shards = tmp_path / "shards"
    shards.mkdir()
    parts = []
    for name, n in (("part0.h5", 3), ("part1.h5", 4)):
        a = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
        write_file(shards / name, {"input": (a, g, ["a"]), "output": (-a, g, ["u"])})
        with h5py.File(shards / name, "a") as f:
            f["input"].create_dataset("mask", data=mask)
            if name == "part1.h5":  # a NaN placeholder where the mask is False (sample 4 overall)
                f["input/values"][1, 0, 0, 0] = np.nan
        parts.append(a)
    full = np.concatenate(parts)
    ds = OperatorDataset(shards, resolution=4, return_fields=True)
    assert len(ds) == 7
    inside = mask[::2, ::2]
    for k in (0, 2, 3, 6):
        x, y = ds[k]  # values where the mask is False read as 0, as Field.resample does
        assert torch.equal(x.values[0], torch.from_numpy(np.where(inside, full[k][:, ::2, ::2], 0)))
        assert torch.equal(y.values[0], torch.from_numpy(-full[k][:, ::2, ::2]))
        assert torch.equal(x.mask, torch.from_numpy(inside)[None, None]) and y.mask is None
    x, _ = ds[4]  # the NaN placeholder outside the mask is read as 0
    x = x.values[0]
    assert x[0, 0, 0] == 0 and torch.equal(x[0], torch.from_numpy(np.where(inside, full[4][0, ::2, ::2], 0)))
    write_file(shards / "part2.h5", {"input": (parts[0], Grid.uniform((8, 8)), ["a"]), "output": (parts[0], g, ["u"])})
    with pytest.raises(DataFormatError, match=r"part2\.h5.*does not match"):
        OperatorDataset(shards)


# ---------------------------------------------------------------------------- masks, offset grids
@pytest.mark.parametrize("resolution", [24, 8, None])
def test_masked_items_equal_field_resample(tmp_path, resolution):
    # fill values (-999, not NaN) outside the mask must not leak into the resampled interior
    g = Grid.uniform((16,), periodic=True)
    x = g.coords[0]
    mask = (x > 0.25) & (x < 0.75)
    v = np.where(mask, np.sin(2 * np.pi * x), -999.0)[None, None]
    f = field_mod.Field(v, g, ["a"], mask=mask)
    path = hdf5.write_fields(tmp_path / "m.h5", {"input": f, "output": f})
    target = g if resolution is None else g.with_shape([resolution])
    ref = f.resample(target)
    ds = OperatorDataset(path, resolution=resolution, dtype=torch.float64)
    x_item, y_item = ds[0]
    np.testing.assert_allclose(x_item.numpy(), ref.values[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y_item.numpy(), ref.values[0].numpy(), rtol=0, atol=1e-12)
    a, _ = OperatorDataset(path, resolution=resolution, dtype=torch.float64, return_fields=True)[0]
    assert torch.equal(a.values, x_item[None]) and torch.equal(a.mask.reshape(-1), ref.mask.reshape(-1))
    assert np.abs(x_item.numpy()).max() < 2  # no trace of -999


@pytest.mark.parametrize("layout", ["spatial", "per_trajectory", "values"])
def test_trajectory_dataset_reads_the_mask(tmp_path, layout):
    g = Grid.uniform((8, 6), periodic=(True, False))
    rng = np.random.default_rng(3)
    v = rng.standard_normal((2, 5, 2, 8, 6))
    spatial = np.ones((8, 6), bool)
    spatial[0, :2] = False
    if layout == "spatial":
        mask = spatial
    elif layout == "per_trajectory":
        mask = np.broadcast_to(spatial, (2, 1, 8, 6)).copy()
        mask[1, 0, 3, 3] = False
    else:
        mask = np.broadcast_to(spatial, v.shape).copy()
        mask[1, 2, 1, 4, 5] = False
    lead = {2: mask[None, None, None], 4: mask[:, None], 5: mask}[mask.ndim]
    full = np.broadcast_to(lead, v.shape).copy()
    v = np.where(full, v, np.nan)  # NaN only where the mask is False: a valid file
    hdf5.write_trajectories(tmp_path / "t.h5", v, g, np.arange(5.0), ["u", "w"], mask=mask)
    ds = TrajectoryDataset(tmp_path / "t.h5", n_in=2, n_out=1, dtype=torch.float64)
    expect = np.where(full, v, 0.0)
    for k in range(len(ds)):
        traj, frames = ds.window(k)
        x, y = ds[k]
        assert torch.equal(x, torch.from_numpy(expect[traj, frames[:2]].reshape(4, 8, 6)))
        assert torch.equal(y, torch.from_numpy(expect[traj, frames[2:]].reshape(2, 8, 6)))
        mx, my = ds.item_mask(k)
        assert torch.equal(mx, torch.from_numpy(full[traj, frames[:2]].reshape(4, 8, 6)))
        assert torch.equal(my, torch.from_numpy(full[traj, frames[2:]].reshape(2, 8, 6)))
    # one channel, strided resolution: the mask follows the same read
    sub = TrajectoryDataset(tmp_path / "t.h5", variables=["w"], resolution=(4, 6), fold_time=False)
    x, _ = sub[5]
    traj, frames = sub.window(5)
    assert torch.equal(x, torch.from_numpy(expect[traj, frames[:1], 1:2, ::2]).float())
    assert torch.equal(sub.item_mask(5)[0], torch.from_numpy(full[traj, frames[:1], 1:2, ::2]))
    # resampled (8 -> 12 points): no NaN spreads, values agree with Field.resample of the zeroed frame
    up = TrajectoryDataset(tmp_path / "t.h5", resolution=(12, 6), dtype=torch.float64)
    x, _ = up[0]
    fr = field_mod.Field(torch.from_numpy(v[0, :1]), g, ["u", "w"], mask=torch.from_numpy(full[0, :1]))
    np.testing.assert_allclose(x.numpy(), fr.resample(up.grid).values[0].numpy(), rtol=0, atol=1e-12)
    assert not torch.isnan(x).any()


def test_cell_centred_data_keep_their_coordinates(tmp_path):
    # PDEBench stores float32 cell centres; with bounds (0, 1) the grid is a periodic grid offset by half a cell
    n = 32
    x = ((np.arange(n) + 0.5) / n).astype(np.float32)
    g = Grid([x], bounds=[(0, 1)], periodic=True)
    assert g.is_uniform
    u = np.sin(2 * np.pi * 3 * x.astype(np.float64))[None, None].repeat(3, axis=0)
    path = write_file(tmp_path / "cc.h5", {"input": (u, g, ["u"]), "output": (u, g, ["u"])})
    ds = OperatorDataset(path, resolution=24, dtype=torch.float64)  # resampled: cell centres of 24 cells
    np.testing.assert_allclose(ds.grid.coords[0], (np.arange(24) + 0.5) / 24, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ds[1][0][0].numpy(), np.sin(2 * np.pi * 3 * ds.grid.coords[0]), rtol=0, atol=1e-6)
    half = OperatorDataset(path, resolution=g.coarsen(2), dtype=torch.float64)  # strided read
    assert torch.equal(half[2][0], torch.from_numpy(u[2, :, ::2]))
    np.testing.assert_array_equal(half.grid.coords[0], g.coords[0][::2])
