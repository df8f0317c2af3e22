"""Weather windows per second: can the forecast loader feed a GPU? Before (one xarray read per window) and after
(``sciml.fields.weather.WeatherWindows``: whole windows from a bounded cache of time blocks), in one run.

The record is a zarr store written by the weather generator (5 variables, 32 x 64, chunked 24 time steps per chunk,
``--years`` years of 12-hourly steps); windows are T_in = 12 -> T_out = 12 (the paper's setting), stride 1, read
shuffled through a DataLoader at batch 16 with no workers (the cost a training loop sees on its own process).

* before: each item opens nothing new but reads its window with ``ds[v].isel(time=slice(...)).values`` for every
  variable (what a plain xarray Dataset wrapper does);
* after: ``WeatherWindows`` with its default block cache, the memory it holds reported as the cache's bytes.

    python benchmarks/weather_throughput.py            # 4 years (2920 steps)
    python benchmarks/weather_throughput.py --smoke    # CI-sized

Results: benchmarks/results/weather_throughput.json and a row of benchmarks/RESULTS.md. Torch runs one thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import current_command, save_results  # noqa: E402

from sciml.data.weather import generate  # noqa: E402
from sciml.fields.weather import WeatherWindows, open_weather  # noqa: E402

VARIABLES = ["u10", "v10", "t2m", "r", "tcc"]


class PerWindowXarray(Dataset):
    """The baseline: every item reads its window from the dask-backed Dataset, variable by variable."""

    def __init__(self, ds, starts: np.ndarray, t_in: int, t_out: int) -> None:
        self.ds, self.starts, self.t_in, self.t_out = ds, starts, t_in, t_out

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i):
        s = int(self.starts[i])
        w = np.stack([self.ds[v].isel(time=slice(s, s + self.t_in + self.t_out)).values for v in VARIABLES])
        w = torch.from_numpy(w.astype(np.float32))
        return w[:, : self.t_in], w[:, self.t_in :]


def rate(ds: Dataset, n_batches: int, seed: int = 0) -> float:
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed))
    it = iter(loader)
    next(it)  # warm-up: first block reads, imports
    t0, n = time.perf_counter(), 0
    for _ in range(n_batches):
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(loader)
            x, _ = next(it)
        n += x.shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--years", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n_steps = 200 if args.smoke else args.years * 730
    t_in = t_out = 12
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "weather.zarr"
        record = generate(n_steps=n_steps, seed=0).chunk({"time": 24, "lat": -1, "lon": -1})
        record.to_zarr(store, mode="w")
        ds = open_weather(store, VARIABLES)
        after = WeatherWindows(ds, VARIABLES, t_in, t_out)
        before = PerWindowXarray(ds, after.starts, t_in, t_out)
        n_before, n_after = (3, 10) if args.smoke else (20, 400)
        r_before = rate(before, n_before)
        r_after = rate(after, n_after)
        cache_mb = after.cache_bytes / 2**20
        record_mb = len(VARIABLES) * n_steps * 32 * 64 * 4 / 2**20
    results = {
        "windows_per_s": {"before_per_window_xarray": r_before, "after_weather_windows": r_after},
        "speedup": r_after / r_before,
        "target_windows_per_s": 2000,
        "cache_mb": cache_mb,
        "record_mb": record_mb,
        "settings": {
            "variables": VARIABLES,
            "grid": [32, 64],
            "steps": n_steps,
            "zarr_time_chunk": 24,
            "t_in": t_in,
            "t_out": t_out,
            "batch": 16,
            "workers": 0,
            "torch_threads": 1,
        },
    }
    name = "weather_throughput_smoke" if args.smoke else "weather_throughput"
    summary = (
        f"{'smoke ' if args.smoke else ''}weather windows {t_in}->{t_out}, 5 vars 32x64, batch 16: before "
        f"{r_before:.0f}/s, after {r_after:.0f}/s ({r_after / r_before:.0f}x; target 2000/s); cache {cache_mb:.0f} MB "
        f"of a {record_mb:.0f} MB record"
    )
    save_results(name, results, current_command(), summary)
    print(summary)


if __name__ == "__main__":
    main()
