"""Weather records as forecasting data: WeatherBench 1 (netCDF) and WeatherBench 2 / ERA5 (zarr) readers, one alias
table for variable names, time windows T_in -> T_out, normalisation from the training years, fast window loading.

``open_weather(sources, variables)`` opens one or more netCDF files or zarr stores lazily (xarray + dask) and returns
a Dataset in one canonical form whatever the layout:

* dims ``(time, lat, lon)``, latitude ascending (ERA5's 90 -> -90 is flipped), longitude as stored;
* variables under the names the caller asked for (``t2m`` or ``2m_temperature``, any alias of ``ALIASES``); a
  variable on pressure levels is asked for as ``<name>_<level>`` (``temperature_850``, ``t_850``, ``t850``) and
  becomes one field per level, so levels are named channels and never a third spatial axis;
* a missing variable, level or a time axis that is not strictly increasing is a ``DataFormatError`` naming it and
  what the file holds.

``WeatherWindows(ds, variables, t_in, t_out, stride, period)`` is a map-style dataset of windows whose target
steps all fall in ``period`` (years, or a pair of dates): item ``i`` is ``(x, y)`` with ``x`` ``(C, T_in, H, W)``
and ``y`` ``(C, T_out, H, W)`` in physical units. It reads the record in blocks of ``block`` time steps (every
variable at once, stored time-major so a window is a contiguous slice) and keeps at most ``cache_mb`` megabytes of
blocks in memory (least recently used first out), so a window costs one array slice instead of one xarray/zarr read
per variable, and memory stays bounded whatever the record length (a record smaller than the budget is read once).
``weather_stats(ds, variables, period)`` gives per-variable means and standard deviations over the training period
only; ``Climatology`` the mean state per (month, hour) over it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.core.errors import ConfigError, DataFormatError
from sciml.fields.grid import Grid

__all__ = [
    "ALIASES",
    "canonical_name",
    "open_weather",
    "WeatherWindows",
    "weather_stats",
    "select_period",
    "Climatology",
]

# short (WeatherBench 1 / ECMWF) name -> long (WeatherBench 2 / ERA5 on the CDS) name
ALIASES = {
    "t2m": "2m_temperature",
    "u10": "10m_u_component_of_wind",
    "v10": "10m_v_component_of_wind",
    "tcc": "total_cloud_cover",
    "tp": "total_precipitation",
    "msl": "mean_sea_level_pressure",
    "sp": "surface_pressure",
    "tisr": "toa_incident_solar_radiation",
    "r": "relative_humidity",
    "t": "temperature",
    "z": "geopotential",
    "q": "specific_humidity",
    "u": "u_component_of_wind",
    "v": "v_component_of_wind",
    "w": "vertical_velocity",
}
_LONG_TO_SHORT = {v: k for k, v in ALIASES.items()}
_LAT, _LON, _LEVEL = ("lat", "latitude"), ("lon", "longitude"), ("level", "pressure_level", "plev", "isobaricInhPa")


def canonical_name(name: str) -> tuple[str, int | None]:
    """``(long variable name, level or None)`` for a requested name: ``t2m`` -> ``("2m_temperature", None)``,
    ``temperature_850`` / ``t_850`` / ``t850`` -> ``("temperature", 850)``."""
    if name in ALIASES or name in _LONG_TO_SHORT:
        return ALIASES.get(name, name), None
    m = re.fullmatch(r"(.+?)_?(\d+)", name)
    if m and (m.group(1) in ALIASES or m.group(1) in _LONG_TO_SHORT):
        return ALIASES.get(m.group(1), m.group(1)), int(m.group(2))
    return name, None


def _find(ds, names: Sequence[str], what: str, where: str) -> str | None:
    found = [n for n in names if n in ds.dims or n in ds.coords]
    return found[0] if found else None


def open_weather(sources: Any, variables: Sequence[str], where: str | None = None):
    """The requested ``variables`` of a WeatherBench-like record in the canonical form (module docstring)."""
    import xarray as xr

    if isinstance(sources, xr.Dataset):
        ds, where = sources, where or "xarray Dataset"
    else:
        given = [sources] if isinstance(sources, (str, Path)) else list(sources)
        paths = _expand_sources(given)
        where = where or ", ".join(map(str, given))
        try:
            parts = [(p, xr.open_zarr(p) if _is_zarr(p) else _open_nc(p)) for p in paths]
        except (OSError, ValueError, KeyError) as e:
            raise DataFormatError(f"cannot open weather data {where}: {e}") from None
        ds = _combine(parts, where)
    if not variables:
        raise ConfigError("weather: give at least one variable (e.g. [t2m, u10])")
    rename = {}
    lat, lon = _find(ds, _LAT, "latitude", where), _find(ds, _LON, "longitude", where)
    if lat is None or lon is None or "time" not in ds.dims:
        raise DataFormatError(
            f"{where}: a weather record needs dims time, lat/latitude and lon/longitude; "
            f"found {sorted(map(str, ds.dims))}"
        )
    rename.update({lat: "lat", lon: "lon"} if (lat, lon) != ("lat", "lon") else {})
    ds = ds.rename(rename) if rename else ds
    time = ds["time"].values
    if time.size > 1 and not np.all(time[1:] > time[:-1]):
        bad = int(np.argmin(time[1:] > time[:-1]))
        raise DataFormatError(
            f"{where}: the time axis is not strictly increasing at index {bad} ({time[bad]} then {time[bad + 1]}); "
            "sort it (ds.sortby('time')) and drop duplicates"
        )
    for axis in ("lat", "lon"):
        c = np.asarray(ds[axis].values, dtype=np.float64).reshape(-1)
        step = np.diff(c) if c.size < 2 or c[0] <= c[-1] else -np.diff(c)
        if not np.all(np.isfinite(c)) or not np.all(step > 0):
            raise DataFormatError(
                f"{where}: coordinate {axis!r} must be finite and strictly monotonic (no repeated or unsorted values); "
                f"got {c.tolist() if c.size <= 12 else f'{c.size} values'}"
            )
    lat_values = ds["lat"].values
    if lat_values.size > 1 and lat_values[0] > lat_values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))  # ERA5 / WeatherBench 2 store latitude from north to south
    level_dim = _find(ds, _LEVEL, "level", where)
    out = {}
    for name in variables:
        long, level = canonical_name(name)
        stored = next((n for n in (long, _LONG_TO_SHORT.get(long)) if n is not None and n in ds.data_vars), None)
        if stored is None:
            raise DataFormatError(
                f"{where}: variable {name!r} (stored as {long!r} or {_LONG_TO_SHORT.get(long, long)!r}) is missing; "
                f"the record holds {sorted(map(str, ds.data_vars))}"
            )
        da = ds[stored]
        has_level = level_dim is not None and level_dim in da.dims
        if level is not None and not has_level:
            raise DataFormatError(f"{where}: {name!r} asks for level {level} but {stored!r} has no level dimension")
        if has_level:
            if level is None:
                levels = [int(v) for v in ds[level_dim].values]
                raise DataFormatError(
                    f"{where}: {stored!r} is on pressure levels {levels}; ask for one as '{name}_<level>', "
                    f"e.g. '{name}_{levels[0]}'"
                )
            if level not in set(int(v) for v in ds[level_dim].values):
                raise DataFormatError(
                    f"{where}: level {level} of {stored!r} is missing; levels: {[int(v) for v in ds[level_dim].values]}"
                )
            da = da.sel({level_dim: level}).drop_vars(level_dim)
        extra = sorted(set(da.dims) - {"time", "lat", "lon"})
        if extra:
            raise DataFormatError(f"{where}: {stored!r} has dims {da.dims}; only time, lat, lon (and a level) are read")
        out[name] = da.transpose("time", "lat", "lon")
    return xr.Dataset(out, attrs={"sciml_source": where})


def _is_zarr(path: Path) -> bool:
    markers = (".zgroup", ".zattrs", ".zmetadata", "zarr.json")
    return path.suffix == ".zarr" or (path.is_dir() and any((path / m).exists() for m in markers))


def _expand_sources(given: Sequence[Any]) -> list[Path]:
    """Files and stores to open: glob patterns expanded, and a directory that is not a zarr store replaced by the
    netCDF files below it (WeatherBench 1 ships one folder per variable holding one file per year)."""
    import glob

    paths: list[Path] = []
    for src in given:
        text = str(src)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise DataFormatError(f"weather data pattern {text!r} matches no file")
            paths += [Path(f) for f in found]
            continue
        path = Path(src)
        if not path.exists():
            raise DataFormatError(f"weather data {text!r} does not exist")
        if path.is_dir() and not _is_zarr(path):
            files = sorted(path.rglob("*.nc"))
            if not files:
                raise DataFormatError(f"weather data {text!r} is a directory with neither a zarr store nor .nc files")
            paths += files
        else:
            paths.append(path)
    return paths


def _span(ds) -> str:
    t = ds["time"].values
    return f"{t[0]} .. {t[-1]} ({t.size} steps)" if t.size else "no time steps"


def _combine(parts: list[tuple[Path, Any]], where: str):
    """One Dataset from several files: files holding the same variables (WeatherBench 1's one file per variable per
    year) are joined along time, then the variables are merged. Every variable must cover the same times on the same
    grid; otherwise a ``DataFormatError`` names the files and their time spans (nothing is filled with NaN)."""
    import xarray as xr

    if len(parts) == 1:
        return parts[0][1]
    groups: dict[frozenset, list[tuple[Path, Any]]] = {}
    for path, ds in parts:
        groups.setdefault(frozenset(map(str, ds.data_vars)), []).append((path, ds))
    joined = []
    for names, group in groups.items():
        if len(group) > 1:
            if any("time" not in ds.dims for _, ds in group):
                raise DataFormatError(
                    f"{where}: {len(group)} files hold {sorted(names)} and not all have a time axis to join them "
                    "along: " + ", ".join(str(p) for p, _ in group)
                )
            group = sorted(group, key=lambda item: item[1]["time"].values[0])
            for (p0, a), (p1, b) in zip(group, group[1:]):
                if not a["time"].values[-1] < b["time"].values[0]:
                    raise DataFormatError(
                        f"{where}: {p0} ({_span(a)}) and {p1} ({_span(b)}) hold {sorted(names)} at overlapping times; "
                        "give each year once"
                    )
            try:
                ds = xr.concat([d for _, d in group], dim="time", data_vars="minimal", coords="minimal", join="exact")
            except ValueError as e:
                raise DataFormatError(
                    f"{where}: the files holding {sorted(names)} are not on the same grid ({e}): "
                    + ", ".join(str(p) for p, _ in group)
                ) from None
            joined.append((f"{sorted(names)} from {len(group)} files", ds))
        else:
            joined.append((str(group[0][0]), group[0][1]))
    # compare with a part that has a time axis when there is one (a constants file, such as orography, has none)
    ref_label, ref = next(((label, ds) for label, ds in joined if "time" in ds.coords), joined[0])
    for label, ds in joined:
        for axis in ("time", *_LAT, *_LON):
            if axis not in ds.coords or axis not in ref.coords or np.array_equal(ds[axis].values, ref[axis].values):
                continue
            if axis == "time":
                raise DataFormatError(
                    f"{where}: the variables cover different times: {ref_label} {_span(ref)}, but {label} "
                    f"{_span(ds)}; give the same years for every variable"
                )
            raise DataFormatError(
                f"{where}: {label} and {ref_label} are on different grids (coordinate {axis!r} differs); "
                "regrid them to one grid first"
            )
    try:  # only the level axes may differ (one variable on more levels than another): outer join on those
        return xr.merge([ds for _, ds in joined], compat="override", join="outer")
    except ValueError as e:
        raise DataFormatError(f"cannot combine the weather files of {where}: {e}") from None


def _open_nc(path: Path):
    import xarray as xr

    try:
        return xr.open_dataset(path, engine="h5netcdf", chunks={})
    except (OSError, ValueError) as first:
        try:
            return xr.open_dataset(path, chunks={})  # netCDF3 and others need scipy or netCDF4
        except (OSError, ValueError):
            raise DataFormatError(
                f"cannot read {str(path)!r}: {first}. netCDF4/HDF5 files are read with h5netcdf; a netCDF3 file needs "
                "scipy (installed) or netCDF4 (pip install 'sciml[netcdf]')"
            ) from None


def select_period(times: np.ndarray, period: Any, what: str) -> np.ndarray:
    """Boolean mask of ``times`` in ``period``: a list of years ``[2010, 2011]`` or ``[start, end]`` dates."""
    if period is None:
        return np.ones(times.shape, dtype=bool)
    if not isinstance(period, (list, tuple)) or not period:
        raise ConfigError(f"{what} must be a list of years or a [start, end] pair of dates, got {period!r}")
    if all(isinstance(p, int) and not isinstance(p, bool) for p in period):
        years = times.astype("datetime64[Y]").astype(int) + 1970
        return np.isin(years, list(period))
    if len(period) == 2:
        try:
            lo, hi = (np.datetime64(str(p)) for p in period)
        except ValueError:
            raise ConfigError(f"{what}: cannot read {period!r} as dates") from None
        return (times >= lo) & (times <= hi)
    raise ConfigError(f"{what} must be a list of years or a [start, end] pair of dates, got {period!r}")


def weather_stats(ds, variables: Sequence[str], period: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-variable mean and standard deviation over the time steps in ``period`` (the training years only)."""
    mask = select_period(ds["time"].values, period, "train period")
    if not mask.any():
        raise DataFormatError(f"no time step of {ds.attrs.get('sciml_source', 'the record')} falls in {period}")
    sub = ds.isel(time=np.flatnonzero(mask))
    mean = np.array([float(sub[v].mean()) for v in variables])
    std = np.array([float(sub[v].std()) for v in variables])
    return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)


class Climatology:
    """Mean state per (month, hour of day) over a period (the training years): ``at(times) -> (T, C, H, W)``.

    A (month, hour) that the period lacks falls back to the period's mean for that hour, then to its overall mean.
    """

    def __init__(self, ds, variables: Sequence[str], period: Any) -> None:
        times = ds["time"].values
        mask = select_period(times, period, "climatology period")
        if not mask.any():
            raise DataFormatError(f"no time step falls in the climatology period {period}")
        idx = np.flatnonzero(mask)
        month, hour = _month_hour(times[idx])
        # group sums, read one block of time steps at a time: memory stays at a few fields, not the whole period
        sums: dict[tuple[int, int], np.ndarray] = {}
        counts: dict[tuple[int, int], int] = {}
        for lo in range(0, idx.size, 256):
            part = idx[lo : lo + 256]
            values = np.stack([np.asarray(ds[v].isel(time=part).values, dtype=np.float64) for v in variables], 1)
            for key in set(zip(month[lo : lo + 256].tolist(), hour[lo : lo + 256].tolist())):
                sel = (month[lo : lo + 256] == key[0]) & (hour[lo : lo + 256] == key[1])
                sums[key] = sums.get(key, 0.0) + values[sel].sum(0)
                counts[key] = counts.get(key, 0) + int(sel.sum())
        self.table = {k: sums[k] / counts[k] for k in sums}
        self.overall = sum(sums.values()) / sum(counts.values())
        hours = {h for _, h in sums}
        self.by_hour = {
            h: sum(v for k, v in sums.items() if k[1] == h) / sum(c for k, c in counts.items() if k[1] == h)
            for h in hours
        }

    def at(self, times: np.ndarray) -> torch.Tensor:
        month, hour = _month_hour(np.asarray(times))
        rows = [self.table.get((m, h), self.by_hour.get(h, self.overall)) for m, h in zip(month, hour)]
        return torch.as_tensor(np.stack(rows), dtype=torch.float32)


def _month_hour(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = times.astype("datetime64[h]")
    month = t.astype("datetime64[M]").astype(int) % 12
    hour = (t - t.astype("datetime64[D]")).astype(int)
    return month, hour


class WeatherWindows(Dataset):
    """Forecast windows ``(x (C, T_in, H, W), y (C, T_out, H, W))`` of a canonical record (module docstring).

    Window ``i`` starts at time index ``starts[i]``: ``x`` = steps ``s .. s+T_in-1``, ``y`` = ``s+T_in ..
    s+T_in+T_out-1``; starts advance by ``stride`` and a window belongs to ``period`` when all its target steps do
    (its inputs may precede the period), so the windows of disjoint periods never share a target step.
    """

    def __init__(
        self,
        ds,
        variables: Sequence[str],
        t_in: int,
        t_out: int,
        stride: int = 1,
        period: Any = None,
        block: int = 256,
        cache_mb: float = 256.0,
    ) -> None:
        if t_in < 1 or t_out < 1 or stride < 1:
            raise ConfigError(f"t_in, t_out and stride must be >= 1, got {t_in}, {t_out}, {stride}")
        self.ds, self.variables = ds, list(variables)
        self.t_in, self.t_out, self.stride = int(t_in), int(t_out), int(stride)
        self.block = max(int(block), self.t_in + self.t_out)
        if not cache_mb > 0:
            raise ConfigError(f"cache_mb must be > 0, got {cache_mb}")
        block_bytes = 4 * self.block * len(self.variables) * ds["lat"].size * ds["lon"].size
        self.max_blocks = max(2, int(cache_mb * 2**20 // block_bytes))
        times = ds["time"].values
        span = self.t_in + self.t_out
        starts = np.arange(0, max(times.size - span + 1, 0), self.stride)
        in_period = select_period(times, period, "period")
        # every target step must lie in the period, so no target of a training window is a validation or test step
        # (inputs may precede the period: they are what a forecaster has at the start of the period)
        counts = np.concatenate([[0], np.cumsum(in_period)])
        targets_in = counts[starts + span] - counts[starts + self.t_in]
        self.starts = starts[targets_in == self.t_out] if starts.size else starts
        if self.starts.size == 0:
            raise DataFormatError(
                f"no {self.t_in}->{self.t_out} window of {ds.attrs.get('sciml_source', 'the record')} has its target "
                f"in {period} (record: {times[0] if times.size else '-'} .. {times[-1] if times.size else '-'}, "
                f"{times.size} steps)"
            )
        self.grid = None  # the trainer's quadrature grid: windows are (C, T, H, W), see latlon_grid
        self.latlon_grid = Grid(
            [ds["lat"].values, ds["lon"].values], periodic=[False, _periodic_lon(ds)], names=["lat", "lon"]
        )
        self.times = times
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def cache_bytes(self) -> int:
        """Bytes of record held in the block cache now (at most about ``cache_mb`` megabytes)."""
        return sum(a.nbytes for a in self._cache.values())

    def _block(self, b: int) -> np.ndarray:
        hit = self._cache.get(b)
        if hit is not None:
            self._cache.move_to_end(b)
            return hit
        sl = slice(b * self.block, min((b + 1) * self.block, self.times.size))
        arr = np.stack([np.asarray(self.ds[v].isel(time=sl).values, dtype=np.float32) for v in self.variables], 1)
        if not np.isfinite(arr).all():
            v = self.variables[int(np.argwhere(~np.isfinite(arr))[0][1])]
            raise DataFormatError(
                f"{self.ds.attrs.get('sciml_source', 'the record')}: {v!r} holds NaN/Inf in steps {sl}"
            )
        self._cache[b] = arr
        while len(self._cache) > self.max_blocks:
            self._cache.popitem(last=False)
        return arr

    def _steps(self, lo: int, hi: int) -> np.ndarray:
        b0, b1 = lo // self.block, (hi - 1) // self.block
        if b0 == b1:
            return self._block(b0)[lo - b0 * self.block : hi - b0 * self.block]
        n = self.block
        parts = [self._block(b)[max(lo - b * n, 0) : min(hi - b * n, n)] for b in range(b0, b1 + 1)]  # needed steps
        return np.concatenate(parts, axis=0)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = int(self.starts[i])
        w = torch.from_numpy(self._steps(s, s + self.t_in + self.t_out)).transpose(0, 1)  # views of the cache
        return w[:, : self.t_in], w[:, self.t_in :]

    def subset(self, indices) -> WeatherWindows:
        new = object.__new__(WeatherWindows)
        new.__dict__.update(self.__dict__)
        new.starts = self.starts[np.asarray(list(indices), dtype=int)]
        new._cache = OrderedDict()
        return new

    def target_times(self, i: int) -> np.ndarray:
        s = int(self.starts[i])
        return self.times[s + self.t_in : s + self.t_in + self.t_out]


def _periodic_lon(ds) -> bool:
    lon = ds["lon"].values
    if lon.size < 2:
        return False
    step = float(lon[1] - lon[0])
    return abs(step * lon.size - 360.0) < 1e-6 * 360.0
