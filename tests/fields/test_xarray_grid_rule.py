"""One grid rule for xarray data: ``Field.from_xarray`` and the lazy datasets agree on axes, channels and errors."""

import numpy as np
import pytest
import torch

from sciml.core.errors import GridError
from sciml.fields.datasets import OperatorDataset, TrajectoryDataset
from sciml.fields.field import Field

xr = pytest.importorskip("xarray")


def _weather(lat, levels=(500, 850), n=3, seed=0):
    rng = np.random.default_rng(seed)
    lon = np.arange(8) * 45.0
    return xr.Dataset(
        {
            "temperature": (
                ("sample", "level", "lat", "lon"),
                rng.random((n, len(levels), lat.size, 8)),
                {"units": "K"},
            ),
            "t2m": (("sample", "lat", "lon"), rng.random((n, lat.size, 8)), {"units": "K"}),
        },
        coords={"level": list(levels), "lat": lat, "lon": ("lon", lon, {"periodic": 1, "bounds": "[0, 360]"})},
    )


def test_descending_coordinate_gives_the_same_error_on_every_path(tmp_path):
    pytest.importorskip("h5netcdf")
    ds = _weather(np.linspace(87.19, -87.19, 4))
    path = tmp_path / "era.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    msg = r"coordinate 'lat' is not strictly increasing \(descending\): lat\[0\]=87\.19 >= .*ds\.sortby\('lat'\)"
    with pytest.raises(GridError, match=rf"file '.*era\.nc': {msg}") as by_path:
        OperatorDataset(str(path), input="temperature", output="t2m")
    with xr.open_dataset(path, engine="h5netcdf") as opened:
        with pytest.raises(GridError, match=rf"file '.*era\.nc': {msg}") as by_field:
            Field.from_xarray(opened, batch_dim="sample")
    assert str(by_path.value) == str(by_field.value)
    with pytest.raises(GridError, match=rf"xarray Dataset: {msg}") as in_memory:
        OperatorDataset(ds, input="temperature", output="t2m")
    with pytest.raises(GridError, match=rf"xarray Dataset: {msg}") as in_memory_field:
        Field.from_xarray(ds, batch_dim="sample")
    assert str(in_memory.value) == str(in_memory_field.value)
    # sorted as suggested, both paths read it
    fixed = ds.sortby("lat")
    od = OperatorDataset(fixed, input="temperature", output="t2m")
    assert od.grid == Field.from_xarray(fixed, batch_dim="sample").grid
    assert od.grid.periodic == (False, True) and od.grid.bounds[1] == (0.0, 360.0)


@pytest.mark.parametrize("levels", [(500, 850), (500.0, 850.0)])
def test_pressure_levels_are_channels_named_variable_level(levels):
    ds = _weather(np.array([-30.0, 0.0, 30.0]), levels=levels)
    names = ["temperature_500", "temperature_850"]
    f = Field.from_xarray(ds, batch_dim="sample")
    assert f.variables == (*names, "t2m") and f.grid.names == ("lat", "lon") and f.units == ("K", "K", "K")
    da = Field.from_xarray(ds["temperature"], batch_dim="sample", variable_dim="level")
    assert da.variables == tuple(names) and da.shape == (3, 2, 3, 8)
    assert Field.from_xarray(ds["temperature"], batch_dim="sample").variables == tuple(names)  # never a 3rd axis
    for kw in ({}, {"channel_dim": "level"}):
        od = OperatorDataset(ds, input="temperature", output="t2m", dtype=torch.float64, **kw)
        assert od.input_variables == names and od.grid == f.grid
        x, y = od[1]
        assert torch.equal(x, f.values[1, :2]) and torch.equal(y, f.values[1, 2:])
    one = OperatorDataset(ds, input="temperature", output="t2m", input_variables=["temperature_850"])
    assert one.input_variables == ["temperature_850"]
    traj = TrajectoryDataset(ds.rename(sample="time"), group=["temperature", "t2m"], n_in=1, n_out=1)
    assert traj.variables == [*names, "t2m"] and traj.grid == f.grid


def test_level_and_variable_dims_together_are_refused_by_name():
    da = xr.DataArray(np.zeros((1, 2, 2, 3)), dims=["batch", "variable", "level", "x"], coords={"level": [1, 2]})
    with pytest.raises(Exception, match=r"several channel/level dimensions \['variable', 'level'\]"):
        Field.from_xarray(da)
