"""DDP scaling: samples/s of sciml's Trainer with 1 vs 2 processes (gloo on CPU, NCCL when CUDA is there).

Weak scaling, the way a user scales out: every process keeps the per-process batch ``--batch``, so 2 processes
take a global batch twice as large and an epoch of ``--samples`` samples has half as many steps. Each
configuration is a ``torchrun --nproc_per_node=P`` launch of this script in worker mode; the worker trains
sciml's FNO (``--res`` x ``--res``, relative L2, Adam) with the Trainer for ``--epochs`` epochs and reports the
median epoch time after the first (warm-up) epoch; samples/s = samples / epoch time. Repeated ``--repeats``
times alternating the order; reported: median samples/s per P and the ratio (2 processes / 1 process; ideal 2 on
an idle machine with 2 free cores).

Correctness in the same run: one optimizer step (plain SGD) from the same weights with 2 processes at batch B
each against 1 process at batch 2B; the largest parameter difference is reported (the test suite asserts the
same equality to 1e-6 in ``tests/training/test_training_ddp.py``).

    python benchmarks/ddp_scaling.py            # full size
    python benchmarks/ddp_scaling.py --smoke    # tiny, seconds (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Data(TensorDataset):
    def __init__(self, x, y, grid) -> None:
        super().__init__(x, y)
        self.grid = grid


def _problem(n_samples: int, res: int) -> _Data:
    """A smooth periodic input -> its smoothed, shifted copy (cheap, same on every process)."""
    from sciml.fields.grid import Grid

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_samples, 1, res, res, generator=g)
    k = torch.fft.fftfreq(res, d=1.0 / res)
    damp = torch.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / 16.0)
    x = torch.fft.ifft2(torch.fft.fft2(x) * damp).real
    y = torch.roll(torch.fft.ifft2(torch.fft.fft2(x) * damp).real, shifts=3, dims=-1)
    return _Data(x, y, Grid.uniform((res, res), periodic=True))


def _model(width: int, modes: int):
    import sciml.models

    torch.manual_seed(0)
    return sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[modes, modes], hidden_channels=width)


def worker(args) -> None:
    """Run inside torchrun: timed training, then (mode "step") one SGD step for the correctness check."""
    from sciml.training import Trainer, is_main

    torch.set_num_threads(args.threads)
    data = _problem(args.samples, args.res)
    if args.mode == "time":
        model = _model(args.width, args.modes)
        cfg = {"epochs": args.epochs, "batch_size": args.batch, "lr": 1e-3, "seed": 0, "progress": False}
        trainer = Trainer(model, data, config=cfg, device=args.device)
        trainer.fit()
        times = [r["time"] for r in trainer.history[1:]] or [trainer.history[0]["time"]]
        out = {"epoch_s": statistics.median(times), "world_size": trainer.world_size, "samples": args.samples}
    else:  # one SGD step on the first global batch, compared across launches
        model = _model(args.width, args.modes)
        n = args.batch * int(os.environ.get("WORLD_SIZE", "1"))
        sub = _Data(data.tensors[0][:n], data.tensors[1][:n], data.grid)
        cfg = {"epochs": 1, "batch_size": args.batch, "lr": 1e-2, "seed": 0, "progress": False, "optimizer": "adam"}
        trainer = Trainer(model, sub, config=cfg, device=args.device)
        trainer.optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
        trainer.fit()
        out = {"params": {k: v.detach().cpu().tolist() for k, v in model.state_dict().items() if v.is_floating_point()}}
    if is_main():
        Path(args.out).write_text(json.dumps(out))


def _launch(nproc: int, mode: str, batch: int, args, tmp: Path) -> dict:
    out = tmp / f"{mode}_{nproc}_{batch}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1"]
    cmd += ["--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(Path(__file__).resolve()), "--worker"]
    cmd += ["--mode", mode, "--out", str(out), "--batch", str(batch), "--samples", str(args.samples)]
    cmd += ["--res", str(args.res), "--width", str(args.width), "--modes", str(args.modes)]
    cmd += ["--epochs", str(args.epochs), "--threads", str(args.threads), "--device", args.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return json.loads(out.read_text())


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=16, help="per-process batch")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--modes", type=int, default=12)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    if args.smoke:
        args.batch, args.samples, args.res, args.width, args.modes, args.epochs, args.repeats = 4, 16, 16, 8, 4, 2, 1
    sys.path.insert(0, str(HERE))
    from _common import current_command, save_results

    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rep in range(args.repeats):
            for nproc in (1, 2) if rep % 2 == 0 else (2, 1):
                r = _launch(nproc, "time", args.batch, args, tmp)
                rates[nproc].append(r["samples"] / r["epoch_s"])
                print(f"repeat {rep}: {nproc} process(es) {rates[nproc][-1]:.1f} samples/s", flush=True)
        one = _launch(1, "step", 2 * args.batch, args, tmp)["params"]
        two = _launch(2, "step", args.batch, args, tmp)["params"]
    diff = max(
        float((torch.tensor(one[k]) - torch.tensor(two[k])).abs().max()) for k in one if torch.tensor(one[k]).numel()
    )
    med = {n: statistics.median(v) for n, v in rates.items()}
    results = {
        "config": {k: v for k, v in vars(args).items() if k not in ("worker", "mode", "out")},
        "backend": "nccl" if args.device == "cuda" else "gloo",
        "samples_per_s": {str(n): v for n, v in rates.items()},
        "median_samples_per_s": {str(n): v for n, v in med.items()},
        "speedup_2_vs_1": med[2] / med[1],
        "max_param_diff_one_step_2x_batch_vs_2_processes": diff,
    }
    summary = (
        f"FNO {args.res}x{args.res}, per-process batch {args.batch}, {results['backend']}: "
        f"1 process {med[1]:.1f} samples/s, 2 processes {med[2]:.1f} samples/s, speedup {med[2] / med[1]:.2f}x; "
        f"one step 2 procs vs 1 proc at 2x batch: max param diff {diff:.1e}"
    )
    save_results("ddp_scaling" + ("_smoke" if args.smoke else ""), results, current_command(), summary)
    print(summary)
    return results


if __name__ == "__main__":
    main()
