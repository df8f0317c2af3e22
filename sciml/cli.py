"""The ``sciml`` command line.

    sciml data generate datasets/darcy.yaml -o data/darcy.h5 [--set n_samples=64 --set resolution=32]
    sciml data info data/darcy.h5
    sciml train examples/configs/fno_darcy.yaml [--set train.lr=1e-3 ...] [--out RUN_DIR] [--resume]
    sciml evaluate RUN_DIR --resolutions 32 64 128 [--data PATH] [--checkpoint best|last]
    sciml plot RUN_DIR
    sciml bench NAME [ARGS...]          (runs benchmarks/NAME.py from a source checkout)
    sciml demo [--out DIR] [--small]

Every sciml error is reported as one line ``sciml: error: <message>`` with exit status 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

from sciml.core.errors import SciMLError


def _cmd_data_generate(args) -> int:
    from sciml.data.recipes import run_recipe

    path = run_recipe(args.recipe, args.output, overrides=args.set or [], progress=not args.quiet)
    print(f"wrote {path}")
    return 0


def _cmd_data_info(args) -> int:
    from sciml.fields.hdf5 import describe

    print(json.dumps(describe(args.path), indent=2))
    return 0


def _cmd_train(args) -> int:
    from sciml.runs import load_config, train_run

    cfg = load_config(args.config, overrides=args.set or [])
    run_dir = args.out or cfg.run_dir or f"runs/{Path(args.config).stem}"
    train_run(cfg, run_dir, resume=args.resume)
    print(f"run directory: {run_dir}")
    return 0


def _cmd_evaluate(args) -> int:
    from sciml.runs import evaluate_run, get_task

    results = evaluate_run(args.run_dir, which=args.checkpoint, resolutions=args.resolutions, data=args.data)
    for line in get_task(results["task"]).report(results):
        print(line)
    print(f"wrote {Path(args.run_dir) / 'eval.json'}")
    return 0


def _cmd_plot(args) -> int:
    from sciml.runs import plot_run

    for p in plot_run(args.run_dir):
        print(f"wrote {p}")
    return 0


def _cmd_bench(args) -> int:
    script = Path("benchmarks") / f"{args.name}.py"
    if not script.exists():
        available = sorted(p.stem for p in Path("benchmarks").glob("*.py") if not p.stem.startswith("_"))
        raise SciMLError(
            f"no benchmark {args.name!r} in {Path('benchmarks').resolve()} (run from a source checkout); "
            f"available: {', '.join(available) or 'none'}"
        )
    return subprocess.call([sys.executable, str(script), *args.args])


def _cmd_demo(args) -> int:
    from sciml.demo import run_demo

    run_demo(args.out, small=args.small, echo=lambda m: print(m, flush=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sciml", description="Neural operators and stable learned dynamics.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="generate or inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    gen = dsub.add_parser("generate", help="run a dataset recipe (datasets/NAME.yaml) into an HDF5 file")
    gen.add_argument("recipe")
    gen.add_argument("-o", "--output", default=None, help="output file (default: the recipe's output)")
    gen.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe parameter")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_data_generate)
    info = dsub.add_parser("info", help="describe an HDF5 file in sciml's schema")
    info.add_argument("path")
    info.set_defaults(func=_cmd_data_info)

    tr = sub.add_parser("train", help="train a model from a YAML config")
    tr.add_argument("config")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. train.lr=1e-3")
    tr.add_argument("--out", default=None, help="run directory (default: config run_dir or runs/<config name>)")
    tr.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/last.pt")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a run at several resolutions")
    ev.add_argument("run_dir")
    ev.add_argument("--resolutions", type=int, nargs="+", default=None)
    ev.add_argument("--data", default=None, help="test file (may contain {res}); default: the config's data.test")
    ev.add_argument("--checkpoint", choices=["best", "last"], default="best")
    ev.set_defaults(func=_cmd_evaluate)

    pl = sub.add_parser("plot", help="write PNG plots of a run")
    pl.add_argument("run_dir")
    pl.set_defaults(func=_cmd_plot)

    be = sub.add_parser("bench", help="run benchmarks/NAME.py")
    be.add_argument("name")
    be.add_argument("args", nargs=argparse.REMAINDER)
    be.set_defaults(func=_cmd_bench)

    de = sub.add_parser("demo", help="generate Darcy data, train FNO, evaluate at 32/64/128, write plots")
    de.add_argument("--out", default="demo_run")
    de.add_argument("--small", action="store_true", help="tiny sizes (seconds; used by the tests)")
    de.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except SciMLError as e:
        print(f"sciml: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
