"""A synthetic global weather record in the WeatherBench layout, with couplings that attention across variables
can learn.

On the equiangular latitude-longitude grid of WeatherBench (32 x 64 at 5.625 degrees by default; latitudes at
cell centres, ascending; longitudes 0..360, periodic), every ``hours`` hours from ``start``:

* winds ``u10``, ``v10`` (m/s): a zonal jet ``U(phi) = 12 cos(2 phi)`` plus travelling planetary waves
  (stream function ``a_k cos^2(phi) sin(k lambda - omega_k t)`` of zonal wavenumbers 2-4) and small noise;
* temperature ``t2m`` (K): ``288 - 40 sin^2 phi`` + a seasonal cycle ``-12 sin(phi) cos(2 pi (day - 15) / 365)``
  (opposite in the two hemispheres) + a diurnal cycle peaking at 14:00 local solar time + an anomaly that the
  winds advect (semi-Lagrangian step with bilinear interpolation, periodic in longitude), relaxing to zero over
  about 10 days and forced by white noise;
* relative humidity ``r`` (%): a moisture anomaly advected by the same winds, minus a Clausius-Clapeyron-like
  response to the temperature anomaly (warmer air at the same moisture is drier), clipped to [0, 100];
* total cloud cover ``tcc`` (0..1): a logistic function of humidity, so clouds follow moisture.

So temperature depends on the winds (advection), humidity on temperature and winds, clouds on humidity: a
forecaster that mixes variables has something to gain. The noise (``noise``, relative to each variable's spread)
makes the record stochastic. ``generate`` returns an ``xarray.Dataset`` with dims ``(time, lat, lon)`` and the
WeatherBench 1 short names; ``sciml data generate datasets/weather.yaml -o data/weather.zarr`` writes it as a zarr
store (or netCDF for ``.nc``). The record depends only on the parameters and ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sciml.core.errors import ConfigError

__all__ = ["generate", "VARIABLES"]

VARIABLES = {
    "u10": ("10 metre U wind component", "m s**-1"),
    "v10": ("10 metre V wind component", "m s**-1"),
    "t2m": ("2 metre temperature", "K"),
    "r": ("Relative humidity", "%"),
    "tcc": ("Total cloud cover", "(0 - 1)"),
}
_EARTH_RADIUS = 6.371e6


def _winds(lat: np.ndarray, lon: np.ndarray, t_days: float, rng_phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi, lam = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
    u = 12.0 * np.cos(2 * phi) * np.ones_like(lam)
    v = np.zeros_like(u)
    for k, (amp, speed) in enumerate(((3.0, 6.0), (2.0, 9.0), (1.5, 12.0)), start=2):
        phase = k * lam - 2 * np.pi * t_days / speed + rng_phase[k - 2]
        # stream function psi = amp cos^2(phi) sin(phase): u = -dpsi/dphi, v = dpsi / (cos(phi) dlambda)
        u += amp * 2 * np.cos(phi) * np.sin(phi) * np.sin(phase)
        v += amp * k * np.cos(phi) * np.cos(phase)
    return u, v


def _advect(field: np.ndarray, u: np.ndarray, v: np.ndarray, lat: np.ndarray, dt_s: float) -> np.ndarray:
    """One semi-Lagrangian step: the value arriving at each point comes from ``x - velocity * dt``."""
    n_lat, n_lon = field.shape
    phi = np.deg2rad(lat)[:, None]
    dlon = np.rad2deg(u * dt_s / (_EARTH_RADIUS * np.maximum(np.cos(phi), 0.05)))  # degrees
    dlat = np.rad2deg(v * dt_s / _EARTH_RADIUS)
    step_lon, step_lat = 360.0 / n_lon, 180.0 / n_lat
    src_j = (np.arange(n_lon)[None, :] - dlon / step_lon) % n_lon
    src_i = np.clip(np.arange(n_lat)[:, None] - dlat / step_lat, 0, n_lat - 1)
    # bilinear interpolation with a periodic longitude: pad one column and sample with grid_sample
    padded = torch.as_tensor(np.concatenate([field, field[:, :1]], axis=1))[None, None]
    gx = 2 * src_j / n_lon - 1  # n_lon + 1 columns: index j maps to 2 j / n_lon - 1
    gy = 2 * src_i / (n_lat - 1) - 1
    grid = torch.as_tensor(np.stack([gx, gy], -1))[None]
    return F.grid_sample(padded, grid, mode="bilinear", align_corners=True)[0, 0].numpy()


def generate(
    start: Any = "2010-01-01",
    n_steps: int = 2 * 365 * 2,
    hours: int = 12,
    n_lat: int = 32,
    n_lon: int = 64,
    noise: float = 0.02,
    seed: int = 0,
    dtype: str = "float32",
    progress: bool = False,
    n_samples: int | None = None,
    resolution: int | None = None,
):
    """The synthetic record as an ``xarray.Dataset`` (see the module docstring).

    ``n_steps`` time steps of ``hours`` hours from ``start``; ``resolution`` (if given) sets ``n_lat`` with
    ``n_lon = 2 n_lat``; ``n_samples`` is accepted as another name for ``n_steps`` (the generator contract).
    """
    import xarray as xr
    from tqdm.auto import tqdm

    if n_samples is not None:
        n_steps = n_samples
    if resolution is not None:
        n_lat, n_lon = int(resolution), 2 * int(resolution)
    if n_steps < 1 or hours < 1 or n_lat < 2 or n_lon < 4 or n_lat % 2 or n_lon % 2:
        raise ConfigError(
            f"weather: need n_steps >= 1, hours >= 1 and an even grid n_lat >= 2, n_lon >= 4; got n_steps={n_steps}, "
            f"hours={hours}, n_lat={n_lat}, n_lon={n_lon}"
        )
    if not 0 <= noise < 1:
        raise ConfigError(f"weather: noise must be in [0, 1), got {noise}")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"weather: dtype must be float32 or float64, got {dtype!r}")
    try:
        t0 = np.datetime64(str(start), "h")
    except ValueError:
        raise ConfigError(f"weather: start must be a date such as '2010-01-01', got {start!r}") from None
    rng = np.random.default_rng(seed)
    lat = -90.0 + (np.arange(n_lat) + 0.5) * 180.0 / n_lat
    lon = np.arange(n_lon) * 360.0 / n_lon
    phi = np.deg2rad(lat)[:, None]
    times = t0 + np.arange(n_steps) * np.timedelta64(hours, "h")
    wave_phase = rng.uniform(0, 2 * np.pi, 3)
    anomaly = rng.normal(0, 3.0, (n_lat, n_lon))
    moisture = rng.normal(0, 8.0, (n_lat, n_lon))
    out = {k: np.empty((n_steps, n_lat, n_lon), dtype=np.float64) for k in VARIABLES}
    dt_s = hours * 3600.0
    relax = np.exp(-hours / (24.0 * 10))  # anomalies relax over about 10 days
    for n in tqdm(range(n_steps), disable=not progress, desc="weather"):
        t_days = (times[n] - np.datetime64("2000-01-01T00", "h")).astype(float) / 24.0
        u, v = _winds(lat, lon, t_days, wave_phase)
        day_of_year = (times[n] - times[n].astype("datetime64[Y]")).astype(float) / 24.0
        utc_hour = (times[n] - times[n].astype("datetime64[D]")).astype(float)
        local_hour = (utc_hour + lon[None, :] / 15.0) % 24.0
        seasonal = -12.0 * np.sin(phi) * np.cos(2 * np.pi * (day_of_year - 15.0) / 365.0)
        diurnal = 5.0 * np.cos(phi) ** 2 * np.cos(2 * np.pi * (local_hour - 14.0) / 24.0)
        t2m = 288.0 - 40.0 * np.sin(phi) ** 2 + seasonal + diurnal + anomaly
        rh = np.clip(70.0 + 15.0 * np.cos(phi) ** 2 + moisture - 2.5 * (anomaly + diurnal), 0.0, 100.0)
        tcc = 1.0 / (1.0 + np.exp(-(rh - 75.0) / 6.0))
        for name, value, spread in (("u10", u, 8.0), ("v10", v, 5.0), ("t2m", t2m, 15.0), ("r", rh, 15.0)):
            out[name][n] = value + noise * spread * rng.standard_normal(value.shape)
        out["r"][n] = np.clip(out["r"][n], 0.0, 100.0)
        out["tcc"][n] = np.clip(tcc + noise * 0.3 * rng.standard_normal(tcc.shape), 0.0, 1.0)
        anomaly = relax * _advect(anomaly, u, v, lat, dt_s) + 0.8 * rng.standard_normal(anomaly.shape)
        moisture = relax * _advect(moisture, u, v, lat, dt_s) + 2.0 * rng.standard_normal(moisture.shape)
    data_vars = {
        k: (("time", "lat", "lon"), out[k].astype(dtype), {"long_name": VARIABLES[k][0], "units": VARIABLES[k][1]})
        for k in VARIABLES
    }
    coords = {
        "time": times.astype("datetime64[ns]"),
        "lat": ("lat", lat, {"units": "degrees_north", "long_name": "latitude"}),
        "lon": ("lon", lon, {"units": "degrees_east", "long_name": "longitude"}),
    }
    attrs = {"source": "sciml.data.weather (synthetic)", "seed": int(seed), "hours": int(hours)}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
