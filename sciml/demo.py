"""``sciml demo``: the main job end to end on a small default.

1. generate Darcy flow data (piecewise-constant 12/3 coefficients, f = 1, u = 0 on the boundary): a training
   set at 64x64 and test sets of the same test functions sampled at 32x32, 64x64 and 128x128 (the generator
   defines each sample as a continuous function, so the three test sets hold the same coefficients on three
   grids);
2. train an FNO at 64x64 for about a minute on CPU (relative H1 loss, normalised inputs/outputs);
3. evaluate the trained weights at 32, 64 and 128 (zero-shot resolution transfer);
4. write metrics and PNG plots (input/truth/prediction/error panels, loss curve, error vs resolution) into the run
   directory and print where they are.

``small=True`` shrinks everything (16x16 training, 64 samples, 10 epochs, about 15 s) for the test suite.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from sciml.core.config import from_dict
from sciml.runs.config import ExperimentConfig

log = logging.getLogger(__name__)

DEFAULT = {
    "train_resolution": 64,
    "test_resolutions": [32, 64, 128],
    "n_train": 400,
    "n_test": 40,
    "epochs": 12,
    "batch_size": 16,
    "width": 32,
    "modes": 12,
}
SMALL = {
    "train_resolution": 16,
    "test_resolutions": [8, 16, 32],
    "n_train": 64,
    "n_test": 8,
    "epochs": 10,
    "batch_size": 8,
    "width": 8,
    "modes": 4,
}


def _generate(out: Path, name: str, n: int, res: int, seed: int) -> Path:
    from sciml.data.recipes import generate_to_file

    params = {"n_samples": n, "resolution": res, "seed": seed, "progress": False}
    return generate_to_file("darcy", params, out / "data" / f"{name}.h5", description=f"sciml demo: {name}")


def demo_config(out: Path, p: dict) -> ExperimentConfig:
    return from_dict(
        ExperimentConfig,
        {
            "model": {
                "name": "fno",
                "in_channels": 1,
                "out_channels": 1,
                "n_modes": [p["modes"], p["modes"]],
                "hidden_channels": p["width"],
                "n_layers": 4,
            },
            "data": {
                "train": str(out / "data" / "darcy_train.h5"),
                "test": str(out / "data" / "darcy_test_{res}.h5"),
                "normalize": True,
            },
            "train": {
                "epochs": p["epochs"],
                "batch_size": p["batch_size"],
                "lr": 3e-3,
                "weight_decay": 1e-4,
                "scheduler": "onecycle",
                "loss": "relative_h1",
                "monitor": "relative_l2",
                "seed": 0,
            },
            "seed": 0,
            "run_dir": str(out / "run"),
        },
        where="demo",
    )


def run_demo(out: str | Path = "demo_run", small: bool = False, echo: Callable[[str], None] = log.info) -> dict:
    """Run the demo into ``out``; returns the evaluation results per resolution. ``echo`` reports progress."""
    from sciml.runs import evaluate_run, plot_run, train_run

    p = SMALL if small else DEFAULT
    out = Path(out)
    t0 = time.perf_counter()
    echo(f"[1/4] generating Darcy data in {out / 'data'} ...")
    _generate(out, "darcy_train", p["n_train"], p["train_resolution"], seed=1)
    for res in p["test_resolutions"]:
        _generate(out, f"darcy_test_{res}", p["n_test"], res, seed=2)
    cfg = demo_config(out, p)
    echo(f"[2/4] training FNO at {p['train_resolution']}x{p['train_resolution']} ({p['epochs']} epochs) ...")
    run_dir = train_run(cfg, out / "run")
    echo(f"[3/4] evaluating at {p['test_resolutions']} ...")
    results = evaluate_run(run_dir, resolutions=p["test_resolutions"])["results"]
    echo("[4/4] writing plots ...")
    plots = plot_run(run_dir)
    echo(f"\n{'resolution':>10} {'rel L2':>10} {'rel H1':>10}")
    for res, r in results.items():
        echo(f"{res:>10} {r['relative_l2']:>10.4f} {r['relative_h1']:>10.4f}")
    echo(f"\nrun directory: {run_dir}")
    echo(f"metrics: {run_dir / 'metrics.jsonl'}, {run_dir / 'eval.json'}")
    for pth in plots:
        echo(f"plot: {pth}")
    echo(f"total time: {time.perf_counter() - t0:.0f} s")
    summary = {"results": results, "seconds": time.perf_counter() - t0, "plots": [str(x) for x in plots]}
    (Path(run_dir) / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    return results
