"""Data throughput: can sciml's lazy datasets feed a model, and is their memory bounded?

Measured side by side in one run (median of repeats; CPU numbers are only meaningful as ratios):

1. samples/s of ``OperatorDataset`` over HDF5 with 0 and 2 DataLoader workers, over a zarr store (dask-backed
   xarray, one chunk per sample) with 0 and 2 workers, and of an in-memory ``TensorDataset`` (the baseline),
   shuffled, batch 16, 1 x 64 x 64 input and output;
2. the consumption rate of a small FNO (sciml.models.build("fno"), else neuralop's FNO): samples/s of
   forward + backward + Adam step at batch 16 on 64 x 64, and the train-step rate when the same loop is fed by
   each loader (the loader is "never the bottleneck" when these rates match the in-memory one);
3. peak RSS while iterating a file larger than a memory cap: a subprocess limits its address space
   (RLIMIT_AS) to its size after the first batch plus the cap, then reads the whole file.

    python benchmarks/data_throughput.py            # full run (a few minutes on 2 cores)
    python benchmarks/data_throughput.py --smoke    # CI-sized

Results go to benchmarks/results/data_throughput.json (data_throughput_smoke.json for --smoke) and a row of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import current_command, save_results  # noqa: E402

from sciml.fields.datasets import OperatorDataset  # noqa: E402
from sciml.fields.grid import Grid  # noqa: E402

BATCH = 16


def write_schema_file(path: Path, n: int, res: int, piece: int = 64) -> int:
    """sciml HDF5 file with groups input/output of n x 1 x res x res float32, written piece by piece."""
    grid = Grid.uniform((res, res), periodic=True, names=["x", "y"])
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.attrs["sciml_format"] = "sciml-hdf5"
        f.attrs["sciml_format_version"] = 1
        for name in ("input", "output"):
            g = f.create_group(name)
            g.attrs["kind"] = "field"
            g.attrs["variables"] = json.dumps([name[0]])
            d = g.create_dataset("values", shape=(n, 1, res, res), dtype=np.float32, chunks=(1, 1, res, res))
            for s in range(0, n, piece):
                e = min(n, s + piece)
                d[s:e] = rng.standard_normal((e - s, 1, res, res), dtype=np.float32)
            gg = g.create_group("grid")
            gg.attrs["kind"] = "grid"
            gg.attrs["names"] = json.dumps(list(grid.names))
            gg.attrs["periodic"] = json.dumps(list(grid.periodic))
            gg.create_dataset("bounds", data=np.asarray(grid.bounds))
            for i, c in enumerate(grid.coords):
                gg.create_dataset(f"coord_{i}", data=c)
    return 2 * n * res * res * 4


def write_zarr(h5path: Path, store: Path) -> None:
    import xarray as xr

    with h5py.File(h5path, "r") as f:
        a, u = f["input/values"][:, 0], f["output/values"][:, 0]
        res = a.shape[-1]
    coords = {n: ("x" if n == "x" else "y", np.arange(res) / res, {"periodic": True}) for n in ("x", "y")}
    ds = xr.Dataset({"a": (("sample", "x", "y"), a), "u": (("sample", "x", "y"), u)}, coords=coords)
    ds.chunk({"sample": 1}).to_zarr(store, mode="w", consolidated=False)


def loader_rate(ds, workers: int, epochs: int) -> float:
    """Median samples/s over ``epochs`` shuffled passes (persistent workers, after a warm-up pass)."""
    kw = {"num_workers": workers}
    if workers:
        kw.update(multiprocessing_context=mp.get_context("fork"), persistent_workers=True)
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0), **kw)
    rates = []
    for epoch in range(epochs + 1):
        t0, n = time.perf_counter(), 0
        for x, _ in loader:
            n += x.shape[0]
        if epoch:  # the first pass warms caches and starts workers
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def build_fno(modes: int, width: int) -> torch.nn.Module:
    try:
        import sciml.models

        return sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[modes, modes], hidden_channels=width)
    except Exception as e:  # the sciml wrapper may not be available yet: fall back to neuraloperator
        print(f"sciml FNO unavailable ({e}); using neuralop.models.FNO")
        from neuralop.models import FNO

        return FNO(n_modes=(modes, modes), in_channels=1, out_channels=1, hidden_channels=width)


def model_rates(loaders: dict, res: int, steps: int, modes: int = 12, width: int = 32) -> dict:
    """samples/s of FNO forward+backward+Adam at batch 16: synthetic tensors, then fed by each loader."""
    torch.manual_seed(0)
    model = build_fno(modes, width)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    grid = Grid.uniform((res, res), periodic=True, names=["x", "y"])

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        try:
            pred = model(x, grid)
        except TypeError:
            pred = model(x)
        loss = torch.mean((pred - y) ** 2)
        loss.backward()
        opt.step()

    x = torch.randn(BATCH, 1, res, res)
    y = torch.randn(BATCH, 1, res, res)
    for _ in range(2):
        step(x, y)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    out = {"model_only": BATCH / statistics.median(times)}
    for name, (ds, workers) in loaders.items():
        kw = {"num_workers": workers}
        if workers:
            kw["multiprocessing_context"] = mp.get_context("fork")
        loader = DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True, **kw)
        it = iter(loader)
        step(*next(it))  # warm-up (starts the workers)
        t0, n = time.perf_counter(), 0
        for _ in range(steps):
            xb, yb = next(it)
            step(xb, yb)
            n += xb.shape[0]
        out[f"fed_by_{name}"] = n / (time.perf_counter() - t0)
        del it
    return out


_CAPPED_READER = r"""
import json, resource, sys
import torch
from torch.utils.data import DataLoader
from sciml.fields.datasets import OperatorDataset

torch.set_num_threads(1)
path, cap_mb = sys.argv[1], float(sys.argv[2])
def vm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1])
from sciml.testing.memory import peak_rss_mb as peak_mb
it = iter(DataLoader(OperatorDataset(path), batch_size=16, num_workers=0))
n = next(it)[0].shape[0]
limit = vm_kb() * 1024 + int(cap_mb * 2**20)
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
base = peak_mb()
ok, err = True, None
try:
    for x, y in it:
        n += x.shape[0]
except MemoryError as e:
    ok, err = False, repr(e)
print(json.dumps({"ok": ok, "error": err, "samples": n, "baseline_rss_mb": base, "peak_rss_mb": peak_mb(),
                  "address_space_limit_mb": limit / 2**20}))
"""


def capped_read(path: Path, cap_mb: float) -> dict:
    out = subprocess.run([sys.executable, "-c", _CAPPED_READER, str(path), str(cap_mb)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"ok": False, "error": out.stderr[-2000:]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["rss_growth_mb"] = r["peak_rss_mb"] - r["baseline_rss_mb"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    args = ap.parse_args()
    if args.smoke:
        n, res, epochs, steps, big_n, big_res, cap_mb = 64, 32, 1, 2, 64, 64, 64.0
    else:
        n, res, epochs, steps, big_n, big_res, cap_mb = 1024, 64, 3, 10, 1200, 256, 256.0
    results: dict = {"config": {"n": n, "res": res, "batch": BATCH, "epochs": epochs, "steps": steps}}
    with tempfile.TemporaryDirectory(prefix="sciml_bench_") as tmp:
        tmp = Path(tmp)
        h5 = tmp / "pairs.h5"
        write_schema_file(h5, n, res)
        store = tmp / "pairs.zarr"
        write_zarr(h5, store)
        with h5py.File(h5, "r") as f:
            mem = TensorDataset(torch.from_numpy(f["input/values"][()]), torch.from_numpy(f["output/values"][()]))
        h5ds = OperatorDataset(h5)
        zds = OperatorDataset(str(store), input="a", output="u")
        rates = {
            "in_memory": loader_rate(mem, 0, epochs),
            "hdf5_workers0": loader_rate(h5ds, 0, epochs),
            "hdf5_workers2": loader_rate(h5ds, 2, epochs),
            "zarr_workers0": loader_rate(zds, 0, epochs),
            "zarr_workers2": loader_rate(zds, 2, epochs),
        }
        results["loader_samples_per_s"] = rates
        print("loader samples/s:", {k: round(v) for k, v in rates.items()})
        feeds = {"in_memory": (mem, 0), "hdf5_workers0": (h5ds, 0), "hdf5_workers2": (h5ds, 2)}
        fno = {"modes": 4, "width": 8} if args.smoke else {"modes": 12, "width": 32}
        results["config"]["fno"] = fno
        results["fno_train_samples_per_s"] = model_rates(feeds, res, steps, **fno)
        print("FNO train samples/s:", {k: round(v, 1) for k, v in results["fno_train_samples_per_s"].items()})

        big = tmp / "big.h5"
        nbytes = write_schema_file(big, big_n, big_res)
        cap = capped_read(big, cap_mb)
        cap.update({"file_mb": big.stat().st_size / 2**20, "values_mb": nbytes / 2**20, "cap_mb": cap_mb})
        results["capped_read"] = cap
        print("capped read:", cap)

    model = results["fno_train_samples_per_s"]["model_only"]
    results["ratios"] = {
        "hdf5_workers0_over_model": rates["hdf5_workers0"] / model,
        "hdf5_workers2_over_model": rates["hdf5_workers2"] / model,
        "zarr_workers0_over_model": rates["zarr_workers0"] / model,
        "hdf5_workers0_over_in_memory": rates["hdf5_workers0"] / rates["in_memory"],
        "fed_by_hdf5_workers0_over_fed_in_memory": results["fno_train_samples_per_s"]["fed_by_hdf5_workers0"]
        / results["fno_train_samples_per_s"]["fed_by_in_memory"],
    }
    summary = (
        f"{'smoke ' if args.smoke else ''}{res}x{res} batch {BATCH}: hdf5 {rates['hdf5_workers0']:.0f}/"
        f"{rates['hdf5_workers2']:.0f} (0/2 workers), zarr {rates['zarr_workers0']:.0f}/{rates['zarr_workers2']:.0f}"
        f", in-memory {rates['in_memory']:.0f} samples/s vs FNO train {model:.0f} samples/s; "
        f"{cap.get('file_mb', 0):.0f} MB file under a {cap_mb:.0f} MB cap: "
        f"{'ok' if cap.get('ok') else 'FAILED'}, RSS +{cap.get('rss_growth_mb', float('nan')):.0f} MB"
    )
    name = "data_throughput_smoke" if args.smoke else "data_throughput"  # a smoke run never hides a full one
    path = save_results(name, results, current_command(), summary)
    print(summary)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
