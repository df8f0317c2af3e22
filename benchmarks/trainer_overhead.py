"""Trainer overhead: time per optimizer step of ``sciml.training.Trainer`` versus a bare PyTorch loop.

Both run the same model (sciml's FNO, 64x64, batch 16 by default), the same data, the same Adam optimizer
and the same quadrature relative L2 loss, in the same process, alternating which goes first in each
repeat. The Trainer's time is a whole ``fit()`` of one epoch with a run directory (so it includes the
metrics line and the atomic ``last.pt`` write) divided by its steps; the bare loop's is one epoch of
``zero_grad / forward / loss / backward / step`` over a DataLoader with the same shuffling. Reported: the
median over repeats of each and their ratio (target <= 1.05).

    python benchmarks/trainer_overhead.py            # full size
    python benchmarks/trainer_overhead.py --smoke    # tiny, seconds (CI)
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

import sciml.models
from sciml.fields.grid import Grid
from sciml.metrics.losses import relative_l2
from sciml.training import Trainer


class _Data(TensorDataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, grid: Grid) -> None:
        super().__init__(x, y)
        self.grid = grid


def _problem(n_samples: int, n: int) -> _Data:
    g = torch.Generator().manual_seed(0)
    grid = Grid.uniform((n, n), periodic=True)
    x = torch.randn(n_samples, 1, n, n, generator=g)
    y = torch.roll(x, 1, dims=-1) * 0.5
    return _Data(x, y, grid)


def _bare_epoch(model: torch.nn.Module, data: _Data, batch_size: int, lr: float) -> tuple[float, int]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    grid = data.grid
    model.train()
    steps = 0
    t0 = time.perf_counter()
    for x, y in loader:
        opt.zero_grad(set_to_none=True)
        loss = relative_l2(model(x, grid), y, grid)
        loss.backward()
        opt.step()
        steps += 1
    return time.perf_counter() - t0, steps


def _trainer_epoch(model: torch.nn.Module, data: _Data, batch_size: int, lr: float, run_dir: str | None):
    cfg = {"epochs": 1, "batch_size": batch_size, "lr": lr, "device": "cpu", "progress": False, "log_every": 10**6}
    trainer = Trainer(model, data, config=cfg, run_dir=run_dir)
    t0 = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - t0, trainer.global_step


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per timed epoch")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "trainer_overhead.json"))
    args = p.parse_args(argv)
    if args.smoke:
        args.resolution, args.batch_size, args.steps, args.repeats = 16, 4, 2, 2
    if args.threads:
        torch.set_num_threads(args.threads)

    n = args.resolution
    data = _problem(args.batch_size * args.steps, n)
    torch.manual_seed(0)
    modes = max(2, n // 4)
    base = sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[modes, modes], hidden_channels=32)
    lr = 1e-3

    # warm-up (allocator, kernels) for both paths
    _bare_epoch(copy.deepcopy(base), data, args.batch_size, lr)
    _trainer_epoch(copy.deepcopy(base), data, args.batch_size, lr, None)

    bare, trainer, trainer_nodir = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            order = ["bare", "trainer", "nodir"] if r % 2 == 0 else ["nodir", "trainer", "bare"]
            for which in order:
                m = copy.deepcopy(base)
                if which == "bare":
                    t, s = _bare_epoch(m, data, args.batch_size, lr)
                    bare.append(t / s)
                elif which == "trainer":
                    t, s = _trainer_epoch(m, data, args.batch_size, lr, f"{tmp}/run{r}")
                    trainer.append(t / s)
                else:
                    t, s = _trainer_epoch(m, data, args.batch_size, lr, None)
                    trainer_nodir.append(t / s)

    med = {k: statistics.median(v) for k, v in (("bare", bare), ("trainer", trainer), ("nodir", trainer_nodir))}
    rows = [
        {"variant": "bare loop", "step_s_median": med["bare"], "step_s_all": bare, "ratio": 1.0},
        {
            "variant": "Trainer (run_dir: metrics + last.pt)",
            "step_s_median": med["trainer"],
            "step_s_all": trainer,
            "ratio": med["trainer"] / med["bare"],
        },
        {
            "variant": "Trainer (no run_dir)",
            "step_s_median": med["nodir"],
            "step_s_all": trainer_nodir,
            "ratio": med["nodir"] / med["bare"],
        },
    ]
    summary = {
        "ratio_trainer_vs_bare": med["trainer"] / med["bare"],
        "ratio_trainer_no_run_dir_vs_bare": med["nodir"] / med["bare"],
        "target": "<= 1.05",
        "target_met": med["trainer"] / med["bare"] <= 1.05,
        "model": f"sciml fno, hidden 32, modes {modes}, {n}x{n}, batch {args.batch_size}, {args.steps} steps/epoch",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "smoke": args.smoke,
    }
    line = (
        f"FNO {n}x{n} batch {args.batch_size}, CPU {summary['threads']} thread(s): Trainer/bare step time "
        f"{summary['ratio_trainer_vs_bare']:.3f} (no run_dir {summary['ratio_trainer_no_run_dir_vs_bare']:.3f}); "
        f"target <= 1.05{' (smoke)' if args.smoke else ''}"
    )
    _save("trainer_overhead", {"summary": summary, "rows": rows}, line, args.out)
    print(json.dumps(summary, indent=1))
    return summary


def _save(name: str, results: dict, line: str, out: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from _common import current_command, save_results  # shared harness: JSON + a row in RESULTS.md
    except ImportError:  # running from a copy without the harness: JSON only
        from sciml.core.files import atomic_path

        with atomic_path(out) as tmp:
            Path(tmp).write_text(json.dumps({"command": " ".join(sys.argv), **results}, indent=1))
        return
    save_results(name, results, current_command(), line)


if __name__ == "__main__":
    main()
