"""Resolution transfer: rel L2 trained at N, tested at N/2, N, 2N, 4N; untrained discretization gap d(N, 2N).

Two parts, both in one run (spec row ``resolution``: target error at 2N <= 1.1x error at N; gap shrinking with N).

1. **Trained transfer.** Data: ``navier_stokes`` one-step pairs w(t_start) -> w(t_start + T) (nu 1e-3, FNO
   forcing, ``sciml.data.generate``), solved once on the ``--solver-res`` grid (default 4N = 128) and sampled at
   every test resolution by striding, which is exactly what the generator's ``resolution`` + ``solver_resolution``
   options do (checked in the run against a direct ``generate(resolution=N, solver_resolution=4N)`` call), so the
   truth is the same flow at every N. Models: sciml FNO, MgNO (circular padding), sciml CoDA-NO (one variable
   "vorticity") and neuraloperator's CODANO (``sciml.testing.baselines.neuralop_codano``), each trained at N on
   the same minibatches with the same budget (Adam, cosine schedule, ``--steps`` steps, relative L2 loss), then
   evaluated zero-shot on the held-out flows at N/2, N, 2N, 4N (the input sampled at that resolution, the truth
   at that resolution). Reported per model: test rel L2 at each resolution, err(2N)/err(N) and whether it is
   <= 1.1. A model that cannot run at a size gets the reason recorded instead of a number.
2. **Untrained discretization gap** (same protocol as the shared suite, ``discretization_gaps``): one set of
   (untrained, seeded) weights per model, float64, band-limited random inputs with 4 modes per axis sampled
   exactly on periodic 32, 64, 128 grids; outputs restricted to the shared points; relative L2 difference per
   refinement. The MgNO row is the suite's registered case ``mgno`` (loaded from ``tests/resolution/
   cases_mgno.py``); the CoDA-NO, CODANO and FNO rows are configured here (two variables, width 8) and are not the
   suite's cases (nor the trained models of part 1).

MgNO is also evaluated (same trained weights, no retraining) natively and with the discretization-consistent
V-cycle (``consistent=True``, restriction "interp" or "average", interpolation "linear" or "fourier"), all the
identity at the training resolution. MgNO is built with the option on (the model default;
``--no-mgno-consistent``: the native cycle, the same model at N). ``--models fno mgno`` runs only those rows (both
parts); ``--name`` names the results file.

Run: ``python benchmarks/resolution.py`` (about 7 minutes on 2 CPU cores, one thread, 74 s of it data, cached under
``data/resolution/``); ``--smoke`` for a seconds-long check.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

import sciml.models
from sciml.core.files import atomic_path
from sciml.data import generate
from sciml.fields.grid import Grid
from sciml.metrics.losses import relative_l2
from sciml.testing.baselines import neuralop_codano
from sciml.testing.resolution import CASES as SUITE_CASES
from sciml.testing.resolution import ResolutionCase, discretization_gaps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import train_adam_cosine  # noqa: E402

SUITE_DIR = Path(__file__).resolve().parent.parent / "tests" / "resolution"
VARS = ["a", "b"]
NS_VAR = ["vorticity"]
TARGET_RATIO = 1.1
MODELS = ["fno", "mgno", "sciml_codano", "neuralop_codano"]


# ---------------------------------------------------------------------------------- part 2: untrained gap
def _sciml_codano():
    torch.manual_seed(0)
    return sciml.models.build("codano", variables=VARS, n_modes=[8, 8], width=8, n_layers=2, cls_token=True)


def _neuralop_codano():
    torch.manual_seed(0)
    return neuralop_codano(VARS, width=8, modes=8, n_layers=2)


def _fno():
    torch.manual_seed(0)
    return sciml.models.build("fno", in_channels=2, out_channels=2, n_modes=[8, 8], hidden_channels=8, n_layers=2)


CASES = [
    ResolutionCase("sciml_codano", _sciml_codano, 2, [(32, 32)], forward=lambda m, x, g: m(x, g, VARS)),
    ResolutionCase(
        "neuralop_codano", _neuralop_codano, 2, [(32, 32)], forward=lambda m, x, g: m(x, input_variable_ids=VARS)
    ),
    ResolutionCase("fno", _fno, 2, [(32, 32)]),
]


def _suite_case(family: str, name: str) -> ResolutionCase:
    """A case registered in the shared suite (tests/resolution/cases_<family>.py), loaded as the suite loads it."""
    if name not in SUITE_CASES:
        path = SUITE_DIR / f"cases_{family}.py"
        spec = importlib.util.spec_from_file_location(f"_sciml_resolution_cases_{family}", path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return SUITE_CASES[name]


def untrained_gaps(log, models=MODELS):
    rows = []
    mgno = _suite_case("mgno", "mgno")
    assert mgno.periodic and (32, 32) in [tuple(b) for b in mgno.base_shapes]
    for case in [*CASES, mgno]:
        if case.name.split("-")[0] not in models:
            continue
        d = discretization_gaps(case, (32, 32))
        rows.append(
            {
                "model": case.name,
                "suite_case": case is mgno,
                "d_32_64": d[0],
                "d_64_128": d[1],
                "shrinking": d[1] <= d[0],
            }
        )
        log(f"untrained {case.name:18s} d(32,64)={d[0]:.3e} d(64,128)={d[1]:.3e}")
    return rows


# ------------------------------------------------------------------------------- part 1: trained transfer
def make_data(args, log):
    """Vorticity pairs ``(x, y)`` of shape (n, 1, S, S) on the solver grid S; cached unless ``--smoke``."""
    n = args.n_train + args.n_test
    params = dict(t_start=args.t_start, T=args.horizon, dt=args.dt, seed=args.data_seed, progress=False)
    key = f"ns_S{args.solver_res}_n{n}_t{args.t_start:g}_T{args.horizon:g}_dt{args.dt:g}_s{args.data_seed}"
    path = Path(args.cache) / f"{key}.pt"
    if path.exists() and not args.smoke:
        d = torch.load(path, weights_only=True)
        log(f"data: loaded {path}")
        return d["x"], d["y"], 0.0, d["check"]
    t0 = time.perf_counter()
    d = generate("navier_stokes", n_samples=n, resolution=args.solver_res, solver_resolution=args.solver_res, **params)
    x, y = d["input"].values.contiguous(), d["output"].values.contiguous()
    seconds = time.perf_counter() - t0
    # striding the solver-grid flows is what generate(resolution=N, solver_resolution=S) returns: check it on 2 flows
    s = args.solver_res // args.res
    c = generate("navier_stokes", n_samples=2, resolution=args.res, solver_resolution=args.solver_res, **params)
    check = max(
        float((c["input"].values - x[:2, :, ::s, ::s]).abs().max()),
        float((c["output"].values - y[:2, :, ::s, ::s]).abs().max()),
    )
    if not args.smoke:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save({"x": x, "y": y, "check": check}, tmp)
    return x, y, seconds, check


def model_makers(args):
    m = [args.modes, args.modes]
    cw = args.codano_width
    return {
        "fno": (
            lambda: sciml.models.build(
                "fno", in_channels=1, out_channels=1, n_modes=m, hidden_channels=args.width, n_layers=4
            ),
            lambda model, x, g: model(x, g),
        ),
        "mgno": (
            lambda: sciml.models.build(
                "mgno",
                in_channels=1,
                out_channels=1,
                width=args.width,
                n_layers=4,
                levels=args.mgno_levels,
                padding="circular",
                reference_resolution=args.res,
                consistent=args.mgno_consistent,
            ),
            lambda model, x, g: model(x, g),
        ),
        "sciml_codano": (
            lambda: sciml.models.build(
                "codano",
                variables=NS_VAR,
                n_modes=m,
                width=cw,
                n_layers=2,
                n_heads=2,
                head_width=cw // 2,
                cls_token=True,
                pe_channels=4,
                lifting_channels=2 * cw,
                projection_channels=2 * cw,
            ),
            lambda model, x, g: model(x, g, NS_VAR),
        ),
        "neuralop_codano": (
            lambda: neuralop_codano(
                NS_VAR,
                width=cw,
                modes=args.modes,
                n_layers=2,
                n_heads=2,
                lifting_channels=2 * cw,
                projection_channels=2 * cw,
                cls_token=True,
            ),
            lambda model, x, g: model(x, input_variable_ids=NS_VAR),
        ),
    }


@torch.no_grad()
def evaluate(model, fwd, x, y, grid, chunk=16):
    model.eval()
    errs = [
        relative_l2(fwd(model, x[i : i + chunk], grid), y[i : i + chunk], grid, reduction="none")
        for i in range(0, x.shape[0], chunk)
    ]
    model.train()
    return float(torch.cat(errs).mean())


def train_and_transfer(args, log):
    x, y, data_seconds, check = make_data(args, log)
    log(f"data: {x.shape[0]} flows on {args.solver_res}^2 in {data_seconds:.0f} s; strided == generator: {check:.1e}")
    scale = float(x[: args.n_train].std())  # one scalar: the same normalisation at every resolution
    x, y = x / scale, y / scale
    res = [args.res // 2, args.res, 2 * args.res, 4 * args.res]
    for r in res:
        if args.solver_res % r:
            raise SystemExit(f"--solver-res {args.solver_res} must be a multiple of every test resolution {res}")

    def at(t, r):
        s = args.solver_res // r
        return t[:, :, ::s, ::s].contiguous()

    grids = {r: Grid.uniform((r, r), periodic=True, names=("x", "y")) for r in res}
    x_tr, y_tr = at(x[: args.n_train], args.res), at(y[: args.n_train], args.res)
    tests = {r: (at(x[args.n_train :], r), at(y[args.n_train :], r)) for r in res}
    g = grids[args.res]
    persistence = {str(r): float(relative_l2(xt, yt, grids[r])) for r, (xt, yt) in tests.items()}
    log("persistence rel L2 " + " ".join(f"@{r}={v:.3f}" for r, v in persistence.items()))

    rows = []
    for name, (make, fwd) in model_makers(args).items():
        if name not in args.models:
            continue
        torch.manual_seed(args.seed)
        model = make()
        gen = torch.Generator().manual_seed(args.seed)  # the same minibatches for every model

        def loss_fn(model=model, fwd=fwd, gen=gen):
            idx = torch.randperm(args.n_train, generator=gen)[: args.batch]
            return relative_l2(fwd(model, x_tr[idx], g), y_tr[idx], g)

        t0 = time.perf_counter()
        step_time, _, losses = train_adam_cosine(model, args.steps, args.lr, loss_fn)
        train_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        errors, failures = {}, {}
        for r in res:
            try:
                errors[str(r)] = evaluate(model, fwd, *tests[r], grids[r])
            except Exception as exc:  # record why a model cannot run at a size instead of stopping the benchmark
                errors[str(r)] = None
                failures[str(r)] = f"{type(exc).__name__}: {exc}"[:300]
        variants = {}
        if name == "mgno":  # the same weights with each transfer option (identity at the training grid)
            saved = [(c.consistent, c.restriction, c.interpolation) for c in model.cycles]
            for vname, cons, restr, interp in [
                ("native", False, "interp", "linear"),
                ("consistent_interp", True, "interp", "linear"),
                ("consistent_average", True, "average", "linear"),
                ("consistent_fourier", True, "interp", "fourier"),
            ]:
                for c in model.cycles:
                    c.consistent, c.restriction, c.interpolation, c._transfer_cache = cons, restr, interp, None
                variants[vname] = {str(r): evaluate(model, fwd, *tests[r], grids[r]) for r in res}
                log(f"  mgno {vname:20s} " + " ".join(f"@{r}={v:.4f}" for r, v in variants[vname].items()))
            for c, (cons, restr, interp) in zip(model.cycles, saved):
                c.consistent, c.restriction, c.interpolation, c._transfer_cache = cons, restr, interp, None
        e_n = errors[str(args.res)]
        ratios = {
            f"{r}/{args.res}": (errors[str(r)] / e_n if errors[str(r)] is not None and e_n else None)
            for r in res
            if r != args.res
        }
        ratio = ratios[f"{2 * args.res}/{args.res}"]
        row = {
            "model": name,
            "params": sum(p.numel() for p in model.parameters()),
            "test_rel_l2": errors,
            "failures": failures,
            "variants_test_rel_l2": variants,
            "ratio_to_train_res": ratios,
            "ratio_2N_over_N": ratio,
            "target_met": ratio is not None and ratio <= TARGET_RATIO,
            "final_train_loss": statistics.fmean(losses[-10:]),
            "train_seconds": train_seconds,
            "step_time_s": step_time,
            "eval_seconds": time.perf_counter() - t0,
        }
        rows.append(row)
        log(
            f"trained {name:16s} "
            + " ".join(f"@{r}={v:.4f}" if v is not None else f"@{r}=n/a" for r, v in errors.items())
            + (f" 2N/N={ratio:.3f}" if ratio is not None else " 2N/N=n/a")
            + f" (target <= {TARGET_RATIO}: {row['target_met']}) train {train_seconds:.0f} s,"
            f" eval {row['eval_seconds']:.0f} s, {row['params']} params"
            + ("".join(f"; cannot run at {r}: {why}" for r, why in failures.items()))
        )
    info = {
        "problem": f"navier_stokes w(t={args.t_start:g}) -> w(t={args.t_start + args.horizon:g}), nu=1e-3, "
        f"dt={args.dt:g}, solved on {args.solver_res}^2, strided to each resolution",
        "train_resolution": args.res,
        "test_resolutions": res,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "optimizer": "Adam, cosine schedule, relative L2 loss",
        "normalisation_std": scale,
        "strided_vs_generator_max_abs_diff": check,
        "data_seconds": data_seconds,
        "persistence_rel_l2": persistence,
        "target": f"err(2N) <= {TARGET_RATIO} err(N)",
    }
    return rows, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="seconds-long run (tiny sizes, no cache, *_smoke.json)")
    ap.add_argument("--res", type=int, default=32, help="training resolution N (tests at N/2, N, 2N, 4N)")
    ap.add_argument("--solver-res", type=int, default=None, help="solver grid (default 4N)")
    ap.add_argument("--n-train", type=int, default=256)
    ap.add_argument("--n-test", type=int, default=48)
    ap.add_argument("--t-start", type=float, default=0.5)
    ap.add_argument("--horizon", type=float, default=1.0, help="time T between input and target")
    ap.add_argument("--dt", type=float, default=1e-2)
    ap.add_argument("--steps", type=int, default=200, help="Adam steps per model")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--width", type=int, default=24, help="FNO hidden channels and MgNO width")
    ap.add_argument("--codano-width", type=int, default=16, help="CoDA-NO / CODANO token width")
    ap.add_argument("--modes", type=int, default=12)
    ap.add_argument("--mgno-levels", type=int, default=3)
    ap.add_argument(
        "--mgno-consistent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="MgNO with consistent=True (the model default; --no-mgno-consistent: the native cycle)",
    )
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS, help="rows to run (both parts)")
    ap.add_argument("--name", default="resolution", help="results file name")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default=str(Path(__file__).resolve().parents[1] / "data" / "resolution"))
    args = ap.parse_args(argv)
    if args.smoke:
        args.res, args.n_train, args.n_test, args.steps, args.batch = 16, 8, 4, 2, 4
        args.t_start, args.horizon, args.width, args.codano_width, args.modes = 0.1, 0.1, 8, 8, 4
    args.solver_res = args.solver_res or 4 * args.res
    torch.set_num_threads(args.threads)

    def log(s):
        print(s, flush=True)

    t0 = time.perf_counter()
    trained, info = train_and_transfer(args, log)
    t_trained = time.perf_counter() - t0
    gaps = untrained_gaps(log, args.models)
    summary = {
        "seconds": time.perf_counter() - t0,
        "seconds_trained_part": t_trained,
        "device": f"cpu, {args.threads} thread(s)",
        "gap_grids": "periodic 32/64/128, inputs with 4 modes per axis",
        "trained": info,
        "config": vars(args),
    }
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    from _common import save_results

    n = args.res
    parts = []
    for r in trained:
        e = r["test_rel_l2"]
        errs = "/".join(f"{e[str(k)]:.3f}" if e[str(k)] is not None else "n/a" for k in info["test_resolutions"])
        ratio = f"{r['ratio_2N_over_N']:.2f}" if r["ratio_2N_over_N"] is not None else "n/a"
        parts.append(f"{r['model']} {errs} (2N/N {ratio}{' ok' if r['target_met'] else ' MISS'})")
        for vname, ve in r.get("variants_test_rel_l2", {}).items():
            v_ratio = ve[str(2 * n)] / ve[str(n)]
            v_errs = "/".join(f"{ve[str(k)]:.3f}" for k in info["test_resolutions"])
            parts.append(f"{r['model']}[{vname}] {v_errs} (2N/N {v_ratio:.2f})")
    res_txt = "/".join(str(k) for k in info["test_resolutions"])
    line = (
        f"trained at {n} (NS, {args.n_train} pairs, {args.steps} Adam steps), test rel L2 @{res_txt}: "
        + "; ".join(parts)
        + f" [target 2N/N <= {TARGET_RATIO}]; untrained gap d(32,64)/d(64,128): "
        + "; ".join(f"{r['model']} {r['d_32_64']:.2e}/{r['d_64_128']:.2e}" for r in gaps)
        + f"; {summary['seconds']:.0f} s"
    )
    results = {"trained_transfer": trained, "discretization_gap": gaps, "summary": summary}
    save_results(args.name + "_smoke" if args.smoke else args.name, results, command, line)
    log(line)
    return results


if __name__ == "__main__":
    main()
