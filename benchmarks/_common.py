"""Shared helpers for the benchmark scripts: machine description and result files.

API (keep it small; every benchmark imports it):

* ``machine_info() -> dict``: cpu model, logical cores, platform, python / torch / numpy / sciml versions and
  the GPU name when CUDA is available (``"gpu": None`` otherwise).
* ``save_results(name, results, command, summary) -> Path``: writes ``benchmarks/results/NAME.json``
  atomically (``{"name", "date", "machine", "command", "summary", "results"}``) and appends one row
  ``| date | name | summary | machine | versions | command |`` to ``benchmarks/RESULTS.md`` (created with a
  header if missing). ``results`` must be JSON-serialisable; ``summary`` is one line for the table.
* ``current_command() -> str``: the command line that is running (``python benchmarks/x.py --smoke``), the
  usual ``command`` argument.
* ``train_adam_cosine(model, steps, lr, loss_fn) -> (median step seconds, trainable parameters, losses)``: the
  fixed-budget training loop the model comparisons share (Adam on the trainable parameters, cosine schedule,
  ``loss_fn()`` draws its own minibatch).

Usage from a benchmark script (run as ``python benchmarks/NAME.py``)::

    from _common import current_command, save_results
    save_results("data_throughput", {"hdf5_samples_per_s": 1234.0}, current_command(), "hdf5 1234 samples/s")
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import shlex
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"

_HEADER = (
    "# Benchmark results\n\n"
    "One row per run, appended by `benchmarks/_common.py`; the JSON in `benchmarks/results/` has the details.\n"
    "CPU timings on shared machines are noisy: compare only ratios measured in the same run.\n\n"
    "| date (UTC) | benchmark | summary | machine | versions | command |\n"
    "|---|---|---|---|---|---|\n"
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Where and with what the benchmark ran (plain JSON types)."""
    import numpy
    import torch

    try:
        import sciml

        sciml_version = str(sciml.__version__)
    except ImportError:  # benchmarks run from a checkout without an install
        sciml_version = "unknown"
    gpu = None
    if torch.cuda.is_available():
        gpu = f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sciml": sciml_version,
    }


def current_command() -> str:
    """The running command line, e.g. ``python benchmarks/data_throughput.py --smoke``."""
    argv = [os.path.relpath(sys.argv[0]) if sys.argv and os.path.exists(sys.argv[0]) else "python"] + sys.argv[1:]
    return "python " + shlex.join(argv)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def save_results(name: str, results: dict, command: str, summary: str) -> Path:
    """Write ``results/NAME.json`` atomically and append a row to ``RESULTS.md``; returns the JSON path."""
    from sciml.core.files import atomic_path

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"benchmark name must be a plain file name, got {name!r}")
    machine = machine_info()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    record = {
        "name": name,
        "date": date,
        "machine": machine,
        "command": command,
        "summary": summary,
        "results": results,
    }
    text = json.dumps(record, indent=2, sort_keys=False, allow_nan=True) + "\n"
    out = RESULTS_DIR / f"{name}.json"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    where = machine["gpu"] or f"{machine['cpu']} ({machine['cpu_count']} cpus)"
    versions = f"sciml {machine['sciml']}, torch {machine['torch']}, numpy {machine['numpy']}"
    row = f"| {date} | {_cell(name)} | {_cell(summary)} | {_cell(where)} | {versions} | `{_cell(command)}` |\n"
    RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(RESULTS_MD.parent, os.O_RDONLY)  # lock the directory: serialises concurrent appenders
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        old = RESULTS_MD.read_text() if RESULTS_MD.exists() else _HEADER
        with atomic_path(RESULTS_MD) as tmp:
            tmp.write_text(old + row)
    finally:
        os.close(fd)
    return out


def train_adam_cosine(model, steps: int, lr: float, loss_fn) -> tuple[float, int, list[float]]:
    """Adam + cosine schedule for ``steps`` steps on the parameters that require grad.

    Returns the median step time (seconds, CUDA synchronised), the number of trained parameters and the loss of
    every step.
    """
    import statistics
    import time

    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    times, losses = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        sched.step()
        if loss.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    return statistics.median(times), sum(p.numel() for p in params), losses
