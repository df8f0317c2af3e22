"""Met2Net on the synthetic WeatherBench-layout record: two-stage vs end-to-end vs no variable attention, against
persistence and climatology, per variable and lead time, all in one run on the same data and splits.

Data: ``sciml.data.weather`` (u10, v10, t2m, r, tcc), 12-hourly, 4 years: 2010-2011 train, 2012 validation (the
checkpoint is chosen there only), 2013 test; ``--res`` latitude rows (longitudes = 2 x rows). Models (same network
and budget, ``--seeds`` seeds each), trained and scored through the run system (``sciml.runs``):

* ``met2net``: the implicit two-stage scheme (frozen copies, copy + EMA after each step);
* ``end_to_end``: the same network trained on one loss (``two_stage: false``);
* ``simvp``: the same encoders/decoders with a translator without attention across variables, end to end.

Scores (``sciml.metrics.weather``, physical units, test period): latitude-weighted RMSE (WeatherBench 1) and MSE
per variable and lead; persistence and climatology (per month and hour of the training years) on the same windows.
For reference the paper reports, on WeatherBench 5.625 deg (MSE, Met2Net vs its TAU baseline): u10/v10 1.5055 vs
1.5925, t2m 0.8271 vs 1.1620, tcc 0.0422 vs 0.0472, r 24.385 vs 31.831; on synthetic data only the ordering can be
compared.

    python benchmarks/met2net_weather.py             # default (under 10 minutes on 2 cores, 1 torch thread)
    python benchmarks/met2net_weather.py --smoke     # CI-sized

Results: benchmarks/results/met2net_weather.json, met2net_weather.md, met2net_skill.png, met2net_maps.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, current_command, save_results  # noqa: E402

from sciml.core.config import from_dict  # noqa: E402
from sciml.data.recipes import generate_to_file  # noqa: E402
from sciml.plotting import plot_forecast_maps, plot_skill_curves  # noqa: E402
from sciml.runs import ExperimentConfig, get_task, load_run, train_run  # noqa: E402
from sciml.runs.forecast import forecast_windows  # noqa: E402

VARIABLES = ["u10", "v10", "t2m", "r", "tcc"]
MODELS = {
    "met2net": {"two_stage": True, "variable_attention": True},
    "end_to_end": {"two_stage": False, "variable_attention": True},
    "simvp": {"two_stage": False, "variable_attention": False},
}


def config(store: Path, kind: str, seed: int, args) -> ExperimentConfig:
    model = {"name": "met2net", "hidden": args.hidden, "translator_width": args.width, "n_blocks": 2, "n_heads": 4}
    return from_dict(
        ExperimentConfig,
        {
            "model": {**model, **MODELS[kind]},
            "data": {
                "path": str(store),
                "variables": VARIABLES,
                "t_in": args.t_in,
                "t_out": args.t_out,
                "stride": args.stride,
                "train": args.train,
                "val": args.val,
                "test": args.test,
            },
            "train": {
                "epochs": args.epochs,
                "batch_size": args.batch,
                "lr": 2e-3,
                "scheduler": "cosine",
                "seed": seed,
                "progress": False,
                "device": "cpu",
            },
            "eval": {"max_windows": args.max_windows},
            "seed": seed,
        },
        where="",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--res", type=int, default=16)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stride", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=8)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--t-in", type=int, default=2)
    ap.add_argument("--t-out", type=int, default=4)
    ap.add_argument("--max-windows", type=int, default=160)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n_steps, start = 4 * 730, "2010-01-01"
    args.train, args.val, args.test = [2010, 2011], [2012], [2013]
    if args.smoke:
        n_steps, start, args.res, args.seeds, args.epochs, args.stride = 160, "2010-12-01", 8, [0], 1, 4
        args.train, args.val, args.test = ["2010-12-01", "2010-12-31"], ["2011-01-01", "2011-01-20"], [2011]
        args.max_windows = 8
    t0 = time.perf_counter()
    results: dict = {"settings": {k: v for k, v in vars(args).items()}, "torch_threads": 1, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "weather.zarr"
        params = {"n_steps": n_steps, "start": start, "n_lat": args.res, "n_lon": 2 * args.res, "seed": 0}
        generate_to_file("weather", params, store)
        results["settings"]["record"] = params
        for kind in MODELS:
            for seed in args.seeds:
                cfg = config(store, kind, seed, args)
                run = Path(tmp) / f"{kind}_{seed}"
                t1 = time.perf_counter()
                train_run(cfg, run)
                model, cfg, _ = load_run(run, "best")  # chosen on the validation year only
                ev = get_task("forecast").evaluate(model, cfg, {})
                results["runs"][f"{kind}/{seed}"] = {"scores": ev["scores"], "train_s": time.perf_counter() - t1}
                print(f"{kind} seed {seed}: {time.perf_counter() - t1:.0f} s", flush=True)
                if kind == "met2net" and seed == args.seeds[0]:
                    windows = forecast_windows(cfg, cfg.data.test)
                    x, y = windows[0]
                    with torch.no_grad():
                        pred = model(x[None])[0]
                    plot_forecast_maps(y, pred, windows.latlon_grid, VARIABLES, RESULTS_DIR / "met2net_maps.png")
                    results["lead_hours"] = ev["lead_hours"]
                    results["n_test_windows"] = ev["n_windows"]
                    baselines = {k: ev["scores"][k] for k in ("persistence", "climatology")}
    # mean and spread over seeds of every score; baselines are deterministic
    table: dict = {}
    for kind in MODELS:
        per_seed = [results["runs"][f"{kind}/{s}"]["scores"]["model"] for s in args.seeds]
        table[kind] = {
            v: {
                m: {
                    "mean": np.mean([p[v][m] for p in per_seed], 0).tolist(),
                    "std": np.std([p[v][m] for p in per_seed], 0).tolist(),
                }
                for m in ("rmse_lat", "mse", "acc")
            }
            for v in VARIABLES
        }
    for name, sc in baselines.items():
        table[name] = {
            v: {m: {"mean": sc[v][m], "std": [0.0] * args.t_out} for m in ("rmse_lat", "mse", "acc")} for v in VARIABLES
        }
    results["table"] = table
    results["seconds"] = time.perf_counter() - t0
    curves = {
        "variables": VARIABLES,
        "lead_hours": results["lead_hours"],
        "scores": {k: {v: {"rmse_lat": t[v]["rmse_lat"]["mean"]} for v in VARIABLES} for k, t in table.items()},
    }
    plot_skill_curves(curves, RESULTS_DIR / "met2net_skill.png")
    name = "met2net_weather_smoke" if args.smoke else "met2net_weather"
    avg = {
        k: float(
            np.mean(
                [
                    np.mean(t[v]["rmse_lat"]["mean"]) / np.mean(table["climatology"][v]["rmse_lat"]["mean"])
                    for v in VARIABLES
                ]
            )
        )
        for k, t in table.items()
    }
    summary = "mean RMSE / climatology RMSE over variables and leads: " + ", ".join(
        f"{k} {v:.3f}" for k, v in avg.items()
    )
    results["relative_to_climatology"] = avg
    write_markdown(results, args, RESULTS_DIR / f"{name}.md")
    save_results(name, results, current_command(), f"{'smoke ' if args.smoke else ''}{summary}")
    print(summary)


def write_markdown(results: dict, args, path: Path) -> None:
    leads = results["lead_hours"]
    lines = [
        "# Met2Net on the synthetic weather record",
        "",
        f"Command: `{current_command()}` ({results['seconds']:.0f} s, 1 torch thread, 2-core CPU).",
        f"Grid {args.res} x {2 * args.res}, 12-hourly, {args.t_in} -> {args.t_out} steps, {len(args.seeds)} seeds, "
        f"{results['n_test_windows']} test windows; latitude-weighted RMSE (WeatherBench 1), mean +- std over seeds.",
        "",
        "| variable | forecast | " + " | ".join(f"+{h:g} h" for h in leads) + " |",
        "|---|---|" + "---|" * len(leads),
    ]
    for v in VARIABLES:
        for kind, t in results["table"].items():
            cells = [
                f"{m:.4g} +- {s:.2g}" if s else f"{m:.4g}"
                for m, s in zip(t[v]["rmse_lat"]["mean"], t[v]["rmse_lat"]["std"])
            ]
            lines.append(f"| {v} | {kind} | " + " | ".join(cells) + " |")
    lines += ["", "Mean RMSE relative to climatology over variables and leads (lower is better):", ""]
    lines += [f"- {k}: {v:.3f}" for k, v in results.get("relative_to_climatology", {}).items()]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
