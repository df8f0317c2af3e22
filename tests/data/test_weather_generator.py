"""The synthetic weather record: its advection step, its couplings, its ranges, its layout."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.core.errors import ConfigError
from sciml.data.weather import _EARTH_RADIUS, _advect, generate


def test_the_advection_step_is_exact_for_whole_cell_shifts():
    rng = np.random.default_rng(0)
    lat = -90 + (np.arange(8) + 0.5) * 22.5
    field = rng.normal(size=(8, 16))
    zero = np.zeros_like(field)
    np.testing.assert_allclose(_advect(field, zero, zero, lat, 3600.0), field, atol=1e-12)
    # an eastward wind moving every row by exactly one longitude cell in dt: values arrive from the west
    dt = 3600.0
    u = np.deg2rad(22.5) * _EARTH_RADIUS * np.maximum(np.cos(np.deg2rad(lat)), 0.05)[:, None] / dt * np.ones((8, 16))
    np.testing.assert_allclose(_advect(field, u, zero, lat, dt), np.roll(field, 1, axis=1), atol=1e-9)


def test_the_record_is_seeded_coupled_and_physical():
    a = generate(n_steps=60, n_lat=16, n_lon=32, seed=3)
    b = generate(n_steps=60, n_lat=16, n_lon=32, seed=3)
    c = generate(n_steps=60, n_lat=16, n_lon=32, seed=4)
    assert all(np.array_equal(a[v].values, b[v].values) for v in a.data_vars)
    assert not np.array_equal(a["t2m"].values, c["t2m"].values)
    assert list(a.data_vars) == ["u10", "v10", "t2m", "r", "tcc"] and a["t2m"].dims == ("time", "lat", "lon")
    assert a["lat"].values[0] < 0 < a["lat"].values[-1] and a["t2m"].attrs["units"] == "K"
    assert 0 <= float(a["r"].min()) and float(a["r"].max()) <= 100 and 0 <= float(a["tcc"].min()) <= 1
    t, r, tcc = (a[v].values for v in ("t2m", "r", "tcc"))
    anomaly = (t - t.mean(0)).ravel()
    assert np.corrcoef(anomaly, (r - r.mean(0)).ravel())[0, 1] < -0.3  # warmer air at the same moisture is drier
    assert np.corrcoef(r.ravel(), tcc.ravel())[0, 1] > 0.6  # clouds follow humidity
    step = np.diff(a["time"].values).astype("timedelta64[h]").astype(int)
    assert (step == 12).all()
    with pytest.raises(ConfigError, match="even grid"):
        generate(n_steps=2, n_lat=15)
