"""Lazy reading: iterating an OperatorDataset over a ~420 MB file keeps the peak RSS far below the file size.

The file is written in pieces (the writer stays small) and read in a fresh subprocess, whose peak resident
set size (VmHWM in /proc/self/status) is recorded after a warm-up batch and again after the whole epoch.
An implementation that loads a group into memory would grow the peak by >= 210 MB; as a control, the same
subprocess then loads one group eagerly and the measurement must see that growth.
"""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np

N_SAMPLES, N = 800, 256  # per group: 800 x 1 x 256 x 256 float32 = 210 MB; input + output = 420 MB
PIECE = 50

_READER = r"""
import json, sys
import torch
from torch.utils.data import DataLoader
from sciml.fields.datasets import OperatorDataset

torch.set_num_threads(1)  # the collate's torch.stack thrashes a thread pool on a busy 2-core machine

from sciml.testing.memory import peak_rss_mb as peak_mb

ds = OperatorDataset(sys.argv[1])
it = iter(DataLoader(ds, batch_size=16, num_workers=0))
x, y = next(it)  # warm-up: allocator, collate buffers, HDF5 chunk cache
baseline = peak_mb()
n, total = x.shape[0], float((x[:, 0, 0, 0] + y[:, 0, -1, -1]).sum())
for x, y in it:
    n += x.shape[0]
    total += float((x[:, 0, 0, 0] + y[:, 0, -1, -1]).sum())
peak = peak_mb()
import h5py  # control: an eager read of one group must show up in the measurement
with h5py.File(sys.argv[1], "r") as f:
    eager = f["input/values"][()]
print(json.dumps({"baseline_mb": baseline, "peak_mb": peak, "eager_mb": peak_mb(), "n": n, "total": total}))
"""


def _write_big_file(path) -> int:
    shape = (N_SAMPLES, 1, N, N)
    with h5py.File(path, "w") as f:
        f.attrs["sciml_format"] = "sciml-hdf5"
        f.attrs["sciml_format_version"] = 1
        for name, sign in (("input", 1.0), ("output", -2.0)):
            g = f.create_group(name)
            g.attrs["kind"] = "field"
            g.attrs["variables"] = json.dumps([name[0]])
            d = g.create_dataset("values", shape=shape, dtype=np.float32, chunks=(1, 1, N, N))
            piece = np.empty((PIECE, 1, N, N), dtype=np.float32)
            for s in range(0, N_SAMPLES, PIECE):
                piece[:] = sign * np.arange(s, s + PIECE, dtype=np.float32)[:, None, None, None]
                d[s : s + PIECE] = piece
            gg = g.create_group("grid")
            gg.attrs["kind"] = "grid"
            gg.attrs["names"] = json.dumps(["x", "y"])
            gg.attrs["periodic"] = json.dumps([True, True])
            gg.create_dataset("bounds", data=np.array([[0.0, 1.0], [0.0, 1.0]]))
            for i in range(2):
                gg.create_dataset(f"coord_{i}", data=np.arange(N) / N)
    return 2 * int(np.prod(shape)) * 4


def test_iterating_a_large_file_keeps_memory_bounded(tmp_path):
    path = tmp_path / "big.h5"
    nbytes = _write_big_file(path)
    assert path.stat().st_size >= nbytes  # really on disk: ~420 MB
    out = subprocess.run([sys.executable, "-c", _READER, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    growth = r["peak_mb"] - r["baseline_mb"]
    msg = (
        f"file {path.stat().st_size / 2**20:.0f} MiB; peak RSS {r['baseline_mb']:.0f} MiB after the first batch, "
        f"{r['peak_mb']:.0f} MiB after the epoch (growth {growth:.1f} MiB)"
    )
    print(msg)
    assert r["n"] == N_SAMPLES, msg
    # every sample was read with its own values: sum_i (i + (-2 i)) = -sum_i i
    assert r["total"] == -N_SAMPLES * (N_SAMPLES - 1) / 2, msg
    assert growth < 120, msg
    assert r["eager_mb"] - r["peak_mb"] > 150, f"control: eager read of 210 MB not seen by the measurement; {msg}"
