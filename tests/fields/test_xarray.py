"""xarray conversion: exact round trips, Datasets as channels, lazy dask input, coordinate checks."""

import dask.array as dsa
import numpy as np
import pytest
import torch
import xarray as xr

from sciml.core.errors import DataFormatError, GridError, InvalidValueError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud


def assert_same(a: Field, b: Field) -> None:
    assert a.values.dtype == b.values.dtype
    assert torch.equal(torch.nan_to_num(a.values), torch.nan_to_num(b.values))
    assert type(a.grid) is type(b.grid) and a.grid == b.grid
    assert a.grid.bounds == b.grid.bounds and a.grid.periodic == b.grid.periodic and a.grid.names == b.grid.names
    assert a.variables == b.variables and a.units == b.units and a.standard_names == b.standard_names
    assert a.attrs == b.attrs
    assert (a.mask is None) == (b.mask is None) and (a.mask is None or torch.equal(a.mask, b.mask))
    assert (a.time is None) == (b.time is None) and (a.time is None or torch.equal(a.time, b.time))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("mask_kind", ["spatial", "sample", "full"])
def test_grid_round_trip_exact(dtype, periodic, mask_kind):
    rng = np.random.default_rng(0)
    g = Grid([np.arange(6) * 0.5, np.sort(rng.random(4))], bounds=[(0, 3), (0, 1)], periodic=[periodic, False])
    shape = {"spatial": (6, 4), "sample": (2, 1, 6, 4), "full": (2, 3, 6, 4)}[mask_kind]
    mask = rng.random(shape) > 0.3
    v = np.where(mask, rng.standard_normal((2, 3, 6, 4)), np.nan).astype(dtype)
    f = Field(
        v, g, ["a", "b", "c"], ["m", "s", "K"], mask, [0.5, 2.0], {"k": [1, {"x": None}]}, ["air_temperature", "", ""]
    )
    da = f.to_xarray()
    assert da.dims == ("batch", "variable", "x0", "x1")
    assert list(da.coords["variable"].values) == ["a", "b", "c"]
    np.testing.assert_array_equal(da.coords["x1"].values, g.coords[1])
    assert_same(Field.from_xarray(da), f)


def test_point_cloud_round_trip_exact():
    rng = np.random.default_rng(1)
    pc = PointCloud(rng.random((9, 2)), weights=rng.random(9), bounds=[(0, 1), (0, 1)], names=["lon", "lat"])
    f = Field(rng.standard_normal((2, 1, 9)), pc, variables=["h"], units="m")
    back = Field.from_xarray(f.to_xarray())
    assert_same(back, f)
    np.testing.assert_array_equal(back.grid.quadrature_weights(), pc.quadrature_weights())


def test_netcdf_file_round_trip(tmp_path):
    g = Grid.uniform((4, 8), bounds=[(-1, 1), (0, 2)], periodic=[False, True], names=["y", "x"])
    f = Field(np.random.default_rng(2).standard_normal((3, 2, 4, 8)), g, ["u", "v"], "m/s", time=[0.0, 1.0, 2.0])
    f.to_xarray().to_netcdf(tmp_path / "f.nc", engine="h5netcdf")
    with xr.open_dataarray(tmp_path / "f.nc", engine="h5netcdf") as da:
        assert_same(Field.from_xarray(da), f)


def test_dataset_variables_become_channels_with_units():
    t = np.array(["2020-01-01T00", "2020-01-01T06", "2020-01-01T12"], dtype="datetime64[ns]")
    lat, lon = np.array([-30.0, 0.0, 30.0]), np.arange(8) * 45.0
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {
            "t2m": (("time", "lat", "lon"), rng.random((3, 3, 8)), {"units": "K", "standard_name": "air_temperature"}),
            "u10": (("time", "lat", "lon"), rng.random((3, 3, 8)), {"units": "m s-1"}),
        },
        coords={"time": t, "lat": lat, "lon": lon},
        attrs={"source": "synthetic", "level": np.int64(500)},
    )
    f = Field.from_xarray(ds, variables=["u10", "t2m"], periodic={"lon": True}, bounds={"lon": (0, 360)})
    assert f.variables == ("u10", "t2m") and f.units == ("m s-1", "K") and f.standard_names == ("", "air_temperature")
    assert f.shape == (3, 2, 3, 8) and f.grid.names == ("lat", "lon") and f.grid.periodic == (False, True)
    assert f.grid.bounds[1] == (0.0, 360.0)
    np.testing.assert_array_equal(f.values[:, 1].numpy(), ds["t2m"].values)
    assert f.time.tolist() == [1577836800.0, 1577836800.0 + 6 * 3600, 1577836800.0 + 12 * 3600]
    assert f.attrs["source"] == "synthetic" and f.attrs["level"] == 500
    assert f.attrs["time_units"] == "seconds since 1970-01-01"


def test_dataarray_without_variable_dim_is_one_channel():
    da = xr.DataArray(np.ones((2, 5)), dims=["sample", "x"], coords={"x": np.linspace(0, 1, 5)}, name="rho")
    f = Field.from_xarray(da, batch_dim="sample")
    assert f.variables == ("rho",) and f.shape == (2, 1, 5)
    single = Field.from_xarray(da.isel(sample=0))
    assert single.shape == (1, 1, 5)


def test_dask_input_stays_lazy_until_values_are_needed():
    computed = []

    def tracked(block):
        if block.size:  # dask probes the function on empty arrays to infer metadata
            computed.append(block.shape)
        return block

    base = np.random.default_rng(4).standard_normal((4, 2, 6, 5))
    lazy = dsa.from_array(base, chunks=(1, 2, 6, 5)).map_blocks(tracked, dtype=base.dtype)
    da = xr.DataArray(
        lazy,
        dims=["batch", "variable", "x", "y"],
        coords={"variable": ["p", "q"], "x": np.linspace(0, 1, 6), "y": np.linspace(0, 2, 5)},
    )
    f = Field.from_xarray(da)
    part = f[1:3].select("q")
    assert computed == [] and f.is_lazy and part.is_lazy
    assert part.shape == (2, 1, 6, 5) and part.dtype == torch.float64
    np.testing.assert_array_equal(part.values.numpy(), base[1:3, 1:2])
    assert len(computed) == 2  # only the two chunks that were selected
    assert f.is_lazy


def test_lazy_nan_is_reported_when_computed():
    base = np.zeros((2, 1, 4))
    base[1, 0, 2] = np.nan
    da = xr.DataArray(dsa.from_array(base, chunks=1), dims=["batch", "variable", "x"])
    f = Field.from_xarray(da)
    with pytest.raises(InvalidValueError, match="NaN/Inf"):
        _ = f.values


def test_non_monotonic_coordinate_names_it():
    da = xr.DataArray(np.zeros((1, 3)), dims=["batch", "lat"], coords={"lat": [10.0, 0.0, -10.0]})
    with pytest.raises(GridError, match=r"coordinate 'lat' is not strictly increasing.*sortby\('lat'\)"):
        Field.from_xarray(da)
    sorted_ok = Field.from_xarray(da.sortby("lat"))
    assert sorted_ok.grid.coords[0].tolist() == [-10.0, 0.0, 10.0]


def test_missing_variable_and_bad_dims_are_named():
    ds = xr.Dataset({"u": (("x",), np.zeros(3)), "v": (("x",), np.zeros(3))}, coords={"x": [0.0, 1.0, 2.0]})
    with pytest.raises(DataFormatError, match=r"\['w'\] not in the Dataset; available: \['u', 'v'\]"):
        Field.from_xarray(ds, variables=["u", "w"])
    with pytest.raises(DataFormatError, match="batch_dim 'sample' is not a dimension"):
        Field.from_xarray(ds, batch_dim="sample")
    with pytest.raises(DataFormatError, match="DataArray or Dataset"):
        Field.from_xarray(np.zeros(3))


@pytest.mark.parametrize("shape", [(4,), (4, 3), (4, 3, 2)])
def test_bounds_pair_applies_to_every_axis(shape):
    dims = ["x", "y", "z"][: len(shape)]
    da = xr.DataArray(np.zeros((2, *shape)), dims=["batch", *dims])  # coordinates 0, 1, ..., n - 1
    for bounds in ((-1, 5), [-1.0, 5.0], np.array([-1.0, 5.0])):
        f = Field.from_xarray(da, bounds=bounds)
        assert f.grid.bounds == ((-1.0, 5.0),) * len(shape)
    per_axis = [(-1, 5 + i) for i in range(len(shape))]  # a sequence of pairs: one per axis
    assert Field.from_xarray(da, bounds=per_axis).grid.bounds == tuple((-1.0, 5.0 + i) for i in range(len(shape)))
    if len(shape) == 2:
        assert Field.from_xarray(da, bounds=[None, (0, 7)]).grid.bounds == ((0.0, 3.0), (0.0, 7.0))
    f = Field.from_xarray(da, bounds=(-1, 4), periodic=True)
    assert f.grid.periodic == (True,) * len(shape) and f.grid.bounds[0] == (-1.0, 4.0)
    with pytest.raises(DataFormatError, match=f"bounds has {len(shape) + 1} entries"):
        Field.from_xarray(da, bounds=[(0, 5)] * (len(shape) + 1))


def test_float32_coordinates_give_a_uniform_grid():
    x = np.linspace(0, 2 * np.pi, 128, endpoint=False).astype(np.float32)
    da = xr.DataArray(np.sin(3 * x.astype(np.float64))[None], dims=["batch", "x"], coords={"x": x})
    f = Field.from_xarray(da, periodic=True, bounds=(0, 2 * np.pi))
    assert f.grid.is_uniform
    t = Grid.uniform(192, bounds=[(0, 2 * np.pi)], periodic=True)
    for method in (None, "spectral"):
        err = np.abs(f.resample(t, method=method).values[0, 0].numpy() - np.sin(3 * t.coords[0])).max()
        assert err < 2e-6
    # without bounds: the period is 128 mean spacings, close to 2 pi
    g = Field.from_xarray(da, periodic=True).grid
    assert g.is_uniform and g.lengths[0] == pytest.approx(2 * np.pi, rel=1e-7)
