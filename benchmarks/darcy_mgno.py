"""MgNO versus neuraloperator's FNO on Darcy flow, matched parameters and matched training time, in one run.

Both models train on the same sciml Darcy data (piecewise-constant 12/3 coefficients, f = 1, u = 0 on the
boundary) at ``--resolution`` with the same loss, optimiser, batch size and wall-clock budget: epochs of the two
models are interleaved (the one with less training time so far goes next), so machine noise hits both alike,
and the learning rate follows a cosine decay over the *time* budget. The FNO width is chosen so its parameter
count is closest to MgNO's. Reported: test relative L2 and H1 (quadrature, sciml.metrics.losses) at each
``--eval-resolutions`` (zero-shot transfer of the weights trained at ``--resolution``; MgNO additionally with
``scale_stencils`` switched on at evaluation, which is the identity at the training resolution, and with the
discretization-consistent V-cycle ``consistent=True``, restriction "interp" and "average": also the identity at
the training resolution, so one training run gives every transfer column; MgNO is built with it switched on,
the model default, and ``--no-consistent`` builds the native cycle, which changes nothing at the training
resolution), median seconds
per epoch, parameters, and memory (CUDA peak on a GPU; on CPU the bytes of tensors saved for backward in one
training batch). ``--smoke`` runs a tiny CI-sized version. MgNO defaults: width 16, 4 layers, 5 levels,
``--norm none`` (measured best on Darcy; docs/models/mgno.md has the comparison).

    python benchmarks/darcy_mgno.py --resolution 64 --n-train 500 --budget 240
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import current_command, save_results  # noqa: E402

import sciml.models  # noqa: E402
from sciml.data.darcy import generate  # noqa: E402
from sciml.fields.grid import Grid  # noqa: E402
from sciml.metrics.losses import relative_h1, relative_l2  # noqa: E402


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def saved_bytes(model, x, y, grid) -> int:
    """Bytes of the tensors autograd saves for backward in one training step (CPU memory proxy)."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = relative_l2(model(x, grid), y, grid)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return total


def build_models(args):
    torch.manual_seed(args.seed)
    mgno = sciml.models.build(
        "mgno",
        width=args.width,
        n_layers=args.n_layers,
        levels=args.levels,
        norm=args.norm,
        padding="zeros",
        bias="function",
        reference_resolution=args.resolution,
        consistent=args.consistent,
    )
    target = n_params(mgno)
    best = None
    for h in range(4, 129, 2):
        torch.manual_seed(args.seed)
        cand = sciml.models.build(
            "fno", in_channels=1, out_channels=1, n_modes=[args.modes, args.modes], hidden_channels=h, n_layers=4
        )
        diff = abs(n_params(cand) - target)
        if best is None or diff < best[0]:
            best = (diff, h, cand)
        if n_params(cand) > target:
            break
    return {"mgno": mgno, "fno": best[2]}, {"fno_hidden_channels": best[1]}


def evaluate(model, a, u, grid, bs=16):
    model.eval()
    l2, h1 = [], []
    with torch.no_grad():
        for i in range(0, a.shape[0], bs):
            p = model(a[i : i + bs], grid)
            l2.append(relative_l2(p, u[i : i + bs], grid, reduction="none"))
            h1.append(relative_h1(p, u[i : i + bs], grid, reduction="none"))
    model.train()
    return float(torch.cat(l2).mean()), float(torch.cat(h1).mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--eval-resolutions", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--n-train", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--budget", type=float, default=240.0, help="training seconds per model")
    ap.add_argument("--max-epochs", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--loss", choices=["l2", "h1"], default="h1")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--norm", choices=["none", "layer", "instance"], default="none")
    ap.add_argument("--modes", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--consistent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build MgNO with consistent=True (the default; --no-consistent: the native cycle)",
    )
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--name", default="darcy_mgno")
    args = ap.parse_args(argv)
    if args.smoke:
        args.resolution, args.eval_resolutions, args.n_train, args.n_test = 16, [16, 31], 16, 8
        args.budget, args.width, args.n_layers, args.levels, args.modes = 2.0, 4, 2, 2, 4
        args.name = "darcy_mgno_smoke"
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    t0 = time.perf_counter()
    train = generate(n_samples=args.n_train, resolution=args.resolution, seed=args.seed, progress=False)
    tests = {
        r: generate(n_samples=args.n_test, resolution=r, seed=args.seed + 1000, progress=False)
        for r in args.eval_resolutions
    }
    data_seconds = time.perf_counter() - t0
    a_tr, u_tr = train["input"].values.float(), train["output"].values.float()
    a_mean, a_std, u_std = float(a_tr.mean()), float(a_tr.std()), float(u_tr.std())

    def prep(d):
        return ((d["input"].values.float() - a_mean) / a_std).to(device), (d["output"].values.float() / u_std).to(
            device
        )

    a_tr, u_tr = prep(train)
    grid = Grid.uniform((args.resolution, args.resolution))
    models, info = build_models(args)
    state = {}
    for name, m in models.items():
        m.to(device)
        opt = torch.optim.AdamW(m.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        state[name] = {"opt": opt, "time": 0.0, "epochs": [], "gen": torch.Generator().manual_seed(args.seed)}

    def loss_fn(p, t):
        return relative_h1(p, t, grid) if args.loss == "h1" else relative_l2(p, t, grid)

    n = a_tr.shape[0]
    while True:
        live = [k for k in state if state[k]["time"] < args.budget and len(state[k]["epochs"]) < args.max_epochs]
        if not live:
            break
        name = min(live, key=lambda k: state[k]["time"])
        st, m = state[name], models[name]
        perm = torch.randperm(n, generator=st["gen"])
        t_ep = time.perf_counter()
        for i in range(0, n - args.batch_size + 1, args.batch_size):
            frac = min(1.0, (st["time"] + time.perf_counter() - t_ep) / args.budget)
            for gparam in st["opt"].param_groups:
                gparam["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * frac))
            idx = perm[i : i + args.batch_size]
            loss = loss_fn(m(a_tr[idx], grid), u_tr[idx])
            st["opt"].zero_grad(set_to_none=True)
            loss.backward()
            st["opt"].step()
        dt = time.perf_counter() - t_ep
        st["time"] += dt
        st["epochs"].append(dt)

    results = {"config": vars(args), "data_seconds": data_seconds, **info, "models": {}}
    for name, m in models.items():
        row = {
            "params": n_params(m),
            "epochs": len(state[name]["epochs"]),
            "train_seconds": state[name]["time"],
            "seconds_per_epoch": statistics.median(state[name]["epochs"]),
            "test": {},
        }
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            saved_bytes(m, a_tr[: args.batch_size], u_tr[: args.batch_size], grid)
            row["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        else:
            row["saved_activations_mb"] = saved_bytes(m, a_tr[: args.batch_size], u_tr[: args.batch_size], grid) / 2**20
        for r, d in tests.items():
            a_te, u_te = prep(d)
            g = Grid.uniform((r, r))
            l2, h1 = evaluate(m, a_te, u_te, g)
            row["test"][str(r)] = {"relative_l2": l2, "relative_h1": h1}
            if name == "mgno" and r != args.resolution:
                # the same trained weights with each transfer option (all the identity at the training grid)
                variants = {
                    "native": {"consistent": False, "scale_stencils": False},
                    "scaled_stencils": {"consistent": False, "scale_stencils": True},
                    "consistent_interp": {"consistent": True, "restriction": "interp", "scale_stencils": False},
                    "consistent_average": {"consistent": True, "restriction": "average", "scale_stencils": False},
                }
                saved = [(c.consistent, c.restriction, c.scale_stencils) for c in m.cycles]
                for vname, attrs in variants.items():
                    for c in m.cycles:
                        for k, v in attrs.items():
                            setattr(c, k, v)
                        c._transfer_cache = None
                    l2v, h1v = evaluate(m, a_te, u_te, g)
                    row["test"][str(r)].update({f"relative_l2_{vname}": l2v, f"relative_h1_{vname}": h1v})
                for c, (cons, restr, sc) in zip(m.cycles, saved):
                    c.consistent, c.restriction, c.scale_stencils = cons, restr, sc
                    c._transfer_cache = None
        results["models"][name] = row

    r0 = str(args.resolution)
    mg, fn = results["models"]["mgno"], results["models"]["fno"]
    ratio = mg["test"][r0]["relative_l2"] / fn["test"][r0]["relative_l2"]
    results["mgno_over_fno_l2"] = ratio
    summary = (
        f"N={args.resolution}, n_train={args.n_train}, {args.budget:.0f}s each: rel L2 MgNO "
        f"{mg['test'][r0]['relative_l2']:.4f} ({mg['params']} params, {mg['epochs']} ep) vs FNO "
        f"{fn['test'][r0]['relative_l2']:.4f} ({fn['params']} params, {fn['epochs']} ep), ratio {ratio:.2f} "
        f"(target <= 0.5); transfer MgNO L2 "
        + ", ".join(f"{r}:{mg['test'][str(r)]['relative_l2']:.3f}" for r in args.eval_resolutions)
        + "; FNO "
        + ", ".join(f"{r}:{fn['test'][str(r)]['relative_l2']:.3f}" for r in args.eval_resolutions)
        + "; MgNO consistent interp/average "
        + ", ".join(
            f"{r}:{mg['test'][str(r)]['relative_l2_consistent_interp']:.3f}/"
            f"{mg['test'][str(r)]['relative_l2_consistent_average']:.3f}"
            for r in args.eval_resolutions
            if r != args.resolution
        )
    )
    path = save_results(args.name, results, current_command(), summary)
    print(summary)
    print(f"results written to {path}")
    return results


if __name__ == "__main__":
    main()
