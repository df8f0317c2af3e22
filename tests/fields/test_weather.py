"""WeatherBench readers: both layouts give the same fields; windows, periods and statistics; named errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from sciml.core.errors import DataFormatError
from sciml.fields.weather import Climatology, WeatherWindows, canonical_name, open_weather, weather_stats

LEVELS = [500, 850, 1000]


def _record(n=30, seed=0):
    rng = np.random.default_rng(seed)
    lat = -90 + (np.arange(8) + 0.5) * 180 / 8
    lon = np.arange(16) * 22.5
    time = np.datetime64("2010-12-25T00") + np.arange(n) * np.timedelta64(12, "h")
    t2m = rng.normal(280, 10, (n, 8, 16)).astype(np.float32)
    temp = rng.normal(250, 10, (n, len(LEVELS), 8, 16)).astype(np.float32)
    return time, lat, lon, t2m, temp


def _wb1(tmp_path):
    """WeatherBench 1: one netCDF per variable, short names, dims lat/lon, latitude ascending."""
    time, lat, lon, t2m, temp = _record()
    a = xr.Dataset({"t2m": (("time", "lat", "lon"), t2m)}, coords={"time": time, "lat": lat, "lon": lon})
    b = xr.Dataset(
        {"t": (("time", "level", "lat", "lon"), temp)}, coords={"time": time, "level": LEVELS, "lat": lat, "lon": lon}
    )
    a.to_netcdf(tmp_path / "2m_temperature.nc", engine="h5netcdf")
    b.to_netcdf(tmp_path / "temperature.nc", engine="h5netcdf")
    return [tmp_path / "2m_temperature.nc", tmp_path / "temperature.nc"]


def _wb2(tmp_path):
    """WeatherBench 2 / ERA5: one zarr store, long names, latitude/longitude, latitude descending, levels."""
    time, lat, lon, t2m, temp = _record()
    ds = xr.Dataset(
        {
            "2m_temperature": (("time", "latitude", "longitude"), t2m[:, ::-1]),
            "temperature": (("time", "level", "latitude", "longitude"), temp[:, :, ::-1]),
        },
        coords={"time": time, "level": LEVELS, "latitude": lat[::-1], "longitude": lon},
    )
    ds.to_zarr(tmp_path / "era5.zarr", mode="w")
    return tmp_path / "era5.zarr"


def test_both_layouts_give_the_same_fields(tmp_path):
    names = ["t2m", "temperature_850", "t_500"]
    one = open_weather(_wb1(tmp_path), names)
    two = open_weather(_wb2(tmp_path), ["2m_temperature", "t850", "temperature_500"])
    _, lat, _, t2m, temp = _record()
    assert list(one.data_vars) == names and tuple(one["t2m"].dims) == ("time", "lat", "lon")
    np.testing.assert_array_equal(one["lat"].values, lat)
    np.testing.assert_array_equal(two["lat"].values, lat)  # the descending store is flipped
    for a, b in zip(names, ["2m_temperature", "t850", "temperature_500"]):
        np.testing.assert_array_equal(one[a].values, two[b].values)
    np.testing.assert_array_equal(one["temperature_850"].values, temp[:, 1])
    assert canonical_name("t850") == ("temperature", 850) and canonical_name("u10") == ("10m_u_component_of_wind", None)
    w = WeatherWindows(one, names, 2, 3, stride=2)
    assert w.latlon_grid.metric == "sphere" and w.latlon_grid.periodic == (False, True)
    x, y = w[1]
    assert x.shape == (3, 2, 8, 16) and y.shape == (3, 3, 8, 16)
    np.testing.assert_array_equal(x[0].numpy(), t2m[2:4])
    np.testing.assert_array_equal(y[0].numpy(), t2m[4:7])


def test_missing_variables_levels_times_and_disorder_are_named(tmp_path):
    files = _wb1(tmp_path)
    with pytest.raises(DataFormatError, match="variable 'tcc'.*missing.*holds \\['t', 't2m'\\]"):
        open_weather(files, ["tcc"])
    with pytest.raises(DataFormatError, match="level 700 of 't' is missing; levels: \\[500, 850, 1000\\]"):
        open_weather(files, ["t_700"])
    with pytest.raises(DataFormatError, match="pressure levels.*'t_500'"):
        open_weather(files, ["t"])
    ds = open_weather(files, ["t2m"])
    with pytest.raises(DataFormatError, match="target in \\[2015\\].*2010-12-25"):
        WeatherWindows(ds, ["t2m"], 2, 2, period=[2015])
    time, lat, lon, t2m, _ = _record()
    shuffled = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), t2m)},
        coords={"time": time[[0, 2, 1, *range(3, time.size)]], "lat": lat, "lon": lon},
    )
    with pytest.raises(DataFormatError, match="time axis is not strictly increasing at index 1"):
        open_weather(shuffled, ["t2m"])
    with pytest.raises(DataFormatError, match="does not exist"):
        open_weather(tmp_path / "nope.zarr", ["t2m"])


def test_statistics_and_climatology_use_the_training_period_only(tmp_path):
    ds = open_weather(_wb1(tmp_path), ["t2m"])
    poisoned = ds.copy(deep=True)
    poisoned["t2m"][{"time": slice(14, None)}] = 1e6  # every step of 2011 (the record starts 2010-12-25)
    years = ds["time"].values.astype("datetime64[Y]").astype(int) + 1970
    assert (years[:14] == 2010).all() and (years[14:] == 2011).all()
    mean, std = weather_stats(poisoned, ["t2m"], [2010])
    ref = ds["t2m"].values[:14]
    assert float(mean) == pytest.approx(float(ref.mean()), rel=1e-5) and float(std) == pytest.approx(
        ref.std(), rel=1e-4
    )
    clim = Climatology(poisoned, ["t2m"], [2010])
    at = clim.at(ds["time"].values[14:16])
    assert at.shape == (2, 1, 8, 16) and float(at.abs().max()) < 1e3
    hours = ds["time"].values[:14].astype("datetime64[h]")
    noon = (hours - hours.astype("datetime64[D]")).astype(int) == 12
    torch.testing.assert_close(clim.at(ds["time"].values[1:2])[0, 0], torch.as_tensor(ref[noon].mean(0)))


def test_windows_read_through_a_bounded_block_cache(tmp_path):
    ds = open_weather(_wb1(tmp_path), ["t2m", "t_1000"])
    w = WeatherWindows(ds, ["t2m", "t_1000"], 3, 2, block=5, cache_mb=1e-3)  # the floor: two blocks
    direct = np.stack([ds["t2m"].values, ds["t_1000"].values])
    for i in range(len(w)):  # windows that cross block boundaries too
        x, y = w[i]
        s = int(w.starts[i])
        np.testing.assert_array_equal(torch.cat([x, y], 1).numpy(), direct[:, s : s + 5])
        assert len(w._cache) <= 2 and w.cache_bytes <= 2 * 5 * 2 * 8 * 16 * 4


def _wb1_per_year(root):
    """WeatherBench 1 as shipped: one folder per variable, one netCDF per variable and year."""
    time, lat, lon, t2m, temp = _record()
    years = time.astype("datetime64[Y]").astype(int) + 1970
    for year in np.unique(years):
        sel = years == year
        coords = {"time": time[sel], "lat": lat, "lon": lon}
        (root / "2m_temperature").mkdir(parents=True, exist_ok=True)
        (root / "temperature").mkdir(parents=True, exist_ok=True)
        xr.Dataset({"t2m": (("time", "lat", "lon"), t2m[sel])}, coords=coords).to_netcdf(
            root / "2m_temperature" / f"2m_temperature_{year}_5.625deg.nc", engine="h5netcdf"
        )
        xr.Dataset({"t": (("time", "level", "lat", "lon"), temp[sel])}, coords={**coords, "level": LEVELS}).to_netcdf(
            root / "temperature" / f"temperature_{year}_5.625deg.nc", engine="h5netcdf"
        )
    return years


def test_one_file_per_variable_and_year_keeps_every_year(tmp_path):
    years = _wb1_per_year(tmp_path)
    assert len(np.unique(years)) == 2  # the record spans a new year: two files per variable
    _, _, _, t2m, temp = _record()
    by_dir = open_weather(tmp_path, ["t2m", "t_850"])
    by_glob = open_weather([str(tmp_path / "*" / "*.nc")], ["t2m", "t_850"])
    for ds in (by_dir, by_glob):
        np.testing.assert_array_equal(ds["t2m"].values, t2m)  # no year lost or filled with NaN
        np.testing.assert_array_equal(ds["t_850"].values, temp[:, LEVELS.index(850)])


def test_files_that_do_not_fit_together_are_named(tmp_path):
    _wb1_per_year(tmp_path)
    late = sorted((tmp_path / "2m_temperature").glob("*.nc"))[-1]
    with pytest.raises(DataFormatError, match=r"cover different times: .*give the same years for every variable"):
        open_weather([*sorted((tmp_path / "temperature").glob("*.nc")), late], ["t2m", "t_850"])
    twice = sorted((tmp_path / "2m_temperature").glob("*.nc"))
    copy = tmp_path / "copy.nc"
    copy.write_bytes(twice[0].read_bytes())
    with pytest.raises(DataFormatError, match=r"overlapping times; give each year once"):
        open_weather([*twice, copy], ["t2m"])
    with pytest.raises(DataFormatError, match=r"pattern .* matches no file"):
        open_weather([str(tmp_path / "nothing" / "*.nc")], ["t2m"])


def test_windows_of_adjacent_periods_never_share_a_target_step(tmp_path):
    ds = open_weather(_wb1(tmp_path), ["t2m"])  # 30 12-hourly steps from 2010-12-25: 14 in 2010, 16 in 2011
    t_in, t_out = 2, 3
    train = WeatherWindows(ds, ["t2m"], t_in, t_out, period=[2010])
    test = WeatherWindows(ds, ["t2m"], t_in, t_out, period=[2011])
    years = ds["time"].values.astype("datetime64[Y]").astype(int) + 1970

    def targets(w):
        return {int(s) + t_in + k for s in w.starts for k in range(t_out)}

    assert {int(years[i]) for i in targets(train)} == {2010}
    assert {int(years[i]) for i in targets(test)} == {2011}
    # every window whose targets fit in the period is kept: 2010 holds steps 0..13, targets start at s + 2
    assert train.starts.tolist() == list(range(0, 14 - t_in - t_out + 1))
    assert test.starts.min() == 14 - t_in  # inputs from 2010 may start a 2011 window
