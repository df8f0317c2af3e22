"""CoDA-NO few-shot learning curves: where does masked pretraining pay, and how does that move with its budget?

Question (issue 17): the paper's headline is >= 36% lower error than the best baseline at 5-10 shots. One shot
count and one pretraining budget (this script's earlier protocol, rows ``codano_fewshot*`` in RESULTS.md) could
not say whether pretraining was useless or just too short, so this script measures learning curves:

* pretraining: sciml CoDA-NO (2 CoDA blocks) learns masked reconstruction (whole-variable drops + boxes, clean
  target) of Navier-Stokes velocity (u_x, u_y) from a diverse set of flows: viscosity nu in {1e-3, 4e-4} x
  vorticity forcing amplitude in {0.1, -0.1, 0} (the FNO forcing, its mirror, free decay), 5 snapshots per
  flow between t = 0.5 and 2.5. Budgets (Adam steps, batch 16): 0 (= from scratch), short, long
  (``--budgets``, default 0 400 4000);
* targets: (a) ``ns``: the pretraining physics itself, next-state prediction (u_x, u_y)(t) -> (u_x, u_y)(t + 0.5)
  at nu = 1e-3, forcing 0.1 (initial conditions never seen in pretraining); (b) ``boussinesq``: a new variable,
  (u_x, u_y, T)(t) -> (u_x, u_y, T)(t + 0.5) (T gets a fresh positional encoding);
* shots 5, 10, 25, 50, 100, drawn as the first k of a seed-dependent permutation of a pool of 100 training pairs
  (nested subsets, so a curve is one draw growing); test on 100 held-out pairs;
* models, every one trained for ``--steps`` Adam steps (cosine schedule, batch min(shots, ``--batch``)) on the
  same minibatch sequence, loss = test metric = mean over variables of the per-variable relative L2:
  ``fno`` (neuraloperator FNO through sciml, width 32, ~ the CoDA-NO parameter count), ``codano_b0`` (CoDA-NO from
  scratch = pretraining budget 0), ``codano_b{S}`` for every budget S > 0 (loaded encoder, full finetuning, new
  1-block head) and ``codano_b{L}_frozen`` (the longest budget with the encoder frozen: the paper's protocol);
* 3 seeds (``--seeds``): a seed sets the model initialisation, the pretraining run, the masks and minibatches, and
  the draw of the shots; the tables give mean, min and max over seeds.

Reported (``results/codano_fewshot.json``, ``.md`` table, ``codano_fewshot.png`` curves):
error per (target, shots, model); the reduction of each pretrained variant against the best baseline (the better
of ``fno`` and ``codano_b0``) per seed; the shot count where the pretrained curve crosses FNO's (geometric
interpolation between the measured shot counts, or "none in 5-100"); the ratio pretrained / FNO per budget (how
the gap moves with pretraining budget).

Work is split into independent tasks (pretraining per (seed, budget), finetuning per (target, seed, shots)) run by
``--jobs`` worker processes of ``--threads`` torch threads each; each task's result is cached under ``--cache``
(keyed by every setting it depends on), so an interrupted run resumes where it stopped.

Run (CPU, 2 cores, ~45 min): ``python benchmarks/codano_fewshot.py --jobs 2``; ``--quick`` for a smoke run.
Full size on a GPU (one process, every task in sequence):
``python benchmarks/codano_fewshot.py --device cuda --jobs 1 --res 64 --solver-factor 2 --width 32 --modes 16
--budgets 0 2000 20000 --steps 1000 --name codano_fewshot_gpu``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import torch

import sciml.models
from sciml.core.files import atomic_path
from sciml.data import generate
from sciml.data.navier_stokes import VorticitySolver
from sciml.fields.grid import Grid
from sciml.metrics.losses import relative_l2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, current_command, save_results, train_adam_cosine  # noqa: E402

SHOTS = [5, 10, 25, 50, 100]
TARGETS = {"ns": ["u_x", "u_y"], "boussinesq": ["u_x", "u_y", "T"]}
PRETRAIN_CONFIGS = [(nu, amp) for nu in (1e-3, 4e-4) for amp in (0.1, -0.1, 0.0)]
POOL, N_TEST = 100, 100


# ----------------------------------------------------------------------------------------------- data
def _velocity(vorticity: torch.Tensor, res: int) -> torch.Tensor:
    """(n, ..., N, N) vorticity -> (n, ..., 2, N, N) velocity (u_x, u_y) through the stream function."""
    u, v = VorticitySolver(res, 1e-3).velocity(vorticity.double())
    return torch.stack([u, v], -3).float()


_LOADED: dict[Path, dict] = {}  # per process: every task of a worker reads the data file once


def make_data(args) -> dict:
    """Pretraining velocity snapshots and both targets' (input, output) pairs, cached on disk (and per process)."""
    key = f"curves_res{args.res}_s{args.solver_factor}_n{args.n_pretrain}" + ("_quick" if args.quick else "")
    path = Path(args.cache) / f"{key}.pt"
    if path in _LOADED:
        return _LOADED[path]
    if path.exists():
        _LOADED[path] = torch.load(path, weights_only=True)
        return _LOADED[path]
    res, sres = args.res, args.res * args.solver_factor
    common = dict(resolution=res, solver_resolution=sres, progress=False, dt=5e-3)
    pre = []
    for k, (nu, amp) in enumerate(PRETRAIN_CONFIGS):
        traj = generate(
            "navier_stokes",
            n_samples=args.n_pretrain,
            seed=10 + k,
            nu=nu,
            forcing_amplitude=amp,
            t_start=0.5,
            T=2.0,
            n_snapshots=4,
            trajectory=True,
            **common,
        )["trajectory"]["values"][:, :, 0]  # (n, 5, N, N)
        pre.append(_velocity(traj, res).flatten(0, 1))
    n_pairs = POOL + N_TEST
    ns = generate("navier_stokes", n_samples=n_pairs, seed=100, nu=1e-3, t_start=1.0, T=0.5, **common)
    bq = generate("boussinesq", n_samples=n_pairs, seed=200, T=0.5, **common)
    data = {
        "pre": torch.cat(pre),
        "ns_x": _velocity(ns["input"].values[:, 0], res),
        "ns_y": _velocity(ns["output"].values[:, 0], res),
        "boussinesq_x": bq["input"].values.contiguous(),
        "boussinesq_y": bq["output"].values.contiguous(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    _LOADED[path] = data
    return data


def normalised(data: dict) -> dict:
    """Scale every set to unit std per physical quantity.

    Velocity is divided by the pretraining velocity std in every set (target (a) is the pretraining physics, and
    the encoder should see velocities on the scale it learned), except Boussinesq, whose buoyancy-driven flows
    are several times faster: its velocity and T are scaled by their own std over the training pool.
    """
    su = float(data["pre"].std())
    out = {"pre": data["pre"] / su, "ns_x": data["ns_x"] / su, "ns_y": data["ns_y"] / su}
    xb = data["boussinesq_x"][:POOL]
    sb = torch.tensor([float(xb[:, :2].std())] * 2 + [float(xb[:, 2].std())]).view(1, 3, 1, 1)
    out["boussinesq_x"], out["boussinesq_y"] = data["boussinesq_x"] / sb, data["boussinesq_y"] / sb
    out["scales"] = {"velocity_std": su, "boussinesq_std_u_u_T": sb.flatten().tolist()}
    return out


def grid_of(res: int) -> Grid:
    return Grid.uniform((res, res), periodic=True, names=("x", "y"))


# ----------------------------------------------------------------------------------------------- models
def codano_cfg(args, **kw) -> dict:
    cfg = dict(n_modes=[args.modes] * 2, width=args.width, n_layers=2, n_heads=2, head_width=args.width // 2)
    cfg.update(pe_channels=4, cls_token=True, lifting_channels=32, projection_channels=32)
    cfg.update(kw)
    return cfg


def model_names(budgets) -> list[str]:
    longest = max(budgets)
    names = ["fno"] + [f"codano_b{b}" for b in budgets]
    return names + ([f"codano_b{longest}_frozen"] if longest > 0 else [])


def per_variable_l2(pred, target, grid):
    """Mean over the variables of the per-variable relative L2 (each variable counts equally, unit-free)."""
    return torch.stack(
        [relative_l2(pred[:, j : j + 1], target[:, j : j + 1], grid) for j in range(pred.shape[1])]
    ).mean()


def _task_key(args, *parts) -> str:
    deps = {k: getattr(args, k) for k in ("res", "solver_factor", "n_pretrain", "width", "modes", "lr", "quick")}
    deps.update({"pretrain_batch": args.pretrain_batch, "parts": parts})
    if parts[0] == "finetune":
        deps.update({"steps": args.steps, "batch": args.batch, "budgets": list(args.budgets)})
    return hashlib.sha1(json.dumps(deps, sort_keys=True).encode()).hexdigest()[:12]


def _setup(args):
    torch.set_num_threads(args.threads)
    return torch.device(args.device)


# ----------------------------------------------------------------------------------------------- tasks
def pretrain_task(args, seed: int, budget: int) -> str:
    """Masked pretraining of one (seed, budget); returns the path of the cached state dict (and its log)."""
    dev = _setup(args)
    path = Path(args.cache) / f"pretrain_{_task_key(args, 'pretrain', seed, budget)}.pt"
    if path.exists():
        return str(path)
    data = normalised(make_data(args))
    pre, grid = data["pre"].to(dev), grid_of(args.res)
    torch.manual_seed(seed)
    model = sciml.models.build("codano", **codano_cfg(args, variables=["u_x", "u_y"], mode="pretrain")).to(dev)
    gen = torch.Generator().manual_seed(seed)

    def loss_fn():
        idx = torch.randint(0, pre.shape[0], (args.pretrain_batch,), generator=gen)
        return model.objective(pre[idx], grid)[0]

    t0 = time.perf_counter()
    step, _, losses = train_adam_cosine(model, budget, args.lr, loss_fn)
    seconds = time.perf_counter() - t0
    with torch.no_grad():  # held-out reconstruction score: fixed masks on the last 64 snapshots
        torch.manual_seed(123)
        rec = float(model.objective(pre[-64:], grid)[0])
    info = {"seed": seed, "budget": budget, "seconds": seconds, "step_s": step, "reconstruction_rel_l2": rec}
    info["final_train_loss"] = statistics.fmean(losses[-50:])
    with atomic_path(path) as tmp:
        torch.save({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "info": json.dumps(info)}, tmp)
    print(f"pretrain seed {seed} budget {budget}: {seconds:.0f} s, held-out masked rel L2 {rec:.3f}", flush=True)
    return str(path)


def finetune_task(args, target: str, seed: int, shots: int, pretrained: dict) -> list[dict]:
    """Train every model on ``shots`` pairs of ``target`` and score it on the test pairs (cached)."""
    dev = _setup(args)
    path = Path(args.cache) / f"finetune_{_task_key(args, 'finetune', target, seed, shots)}.json"
    if path.exists():
        return json.loads(path.read_text())
    data = normalised(make_data(args))
    variables, grid = TARGETS[target], grid_of(args.res)
    x_all, y_all = data[f"{target}_x"].to(dev), data[f"{target}_y"].to(dev)
    order = torch.randperm(POOL, generator=torch.Generator().manual_seed(seed))[:shots]
    x, y = x_all[order], y_all[order]
    x_test, y_test = x_all[POOL:], y_all[POOL:]
    batch = min(shots, args.batch)
    rows = []
    for name in model_names(args.budgets):
        torch.manual_seed(seed)
        if name == "fno":
            n = len(variables)
            model = sciml.models.build(
                "fno", in_channels=n, out_channels=n, n_modes=[args.modes] * 2, hidden_channels=2 * args.width
            )

            def fwd(m, inp):
                return m(inp, grid)
        else:
            budget = int(name.split("_b")[1].split("_")[0])
            frozen = name.endswith("_frozen")
            cfg = codano_cfg(args, variables=variables, head_layers=1)
            if budget > 0:
                cfg.update(mode="finetune", finetune_encoder=not frozen)
            model = sciml.models.build("codano", **cfg)
            if budget > 0:
                state = torch.load(pretrained[(seed, budget)], map_location="cpu", weights_only=True)["model"]
                model.load_encoder(state)
                if frozen:
                    model.freeze_encoder()

            def fwd(m, inp):
                return m(inp, grid, variables)

        model = model.to(dev)
        bgen = torch.Generator().manual_seed(seed + 1000 * shots)  # the same minibatches for every model

        def loss_fn(model=model, fwd=fwd, bgen=bgen):
            idx = torch.randperm(shots, generator=bgen)[:batch]
            return per_variable_l2(fwd(model, x[idx]), y[idx], grid)

        t0 = time.perf_counter()
        step, trainable, losses = train_adam_cosine(model, args.steps, args.lr, loss_fn)
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            pred = torch.cat([fwd(model, x_test[i : i + 25]) for i in range(0, x_test.shape[0], 25)])
        err = float(per_variable_l2(pred, y_test, grid))
        per_var = {
            v: float(relative_l2(pred[:, j : j + 1], y_test[:, j : j + 1], grid)) for j, v in enumerate(variables)
        }
        rows.append(
            {
                "target": target,
                "seed": seed,
                "shots": shots,
                "model": name,
                "test_rel_l2": err,
                "test_rel_l2_per_variable": per_var,
                "final_train_loss": statistics.fmean(losses[-20:]),
                "step_time_s": step,
                "train_seconds": seconds,
                "params": sum(p.numel() for p in model.parameters()),
                "trainable_params": trainable,
            }
        )
        print(f"{target:10s} seed {seed} shots {shots:3d} {name:20s} test {err:.4f} ({seconds:.0f} s)", flush=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rows))
    return rows


# ----------------------------------------------------------------------------------------------- summary
def _stats(vals):
    return {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "values": vals}


def crossover(shots, pre, fno):
    """Shot count where the pretrained mean curve crosses FNO's (geometric interpolation), or a sentence."""
    d = [math.log(p / f) for p, f in zip(pre, fno)]  # < 0: pretrained better
    for i in range(len(d) - 1):
        if d[i] == 0:
            return float(shots[i])
        if d[i] * d[i + 1] < 0:
            w = d[i] / (d[i] - d[i + 1])
            return float(math.exp(math.log(shots[i]) + w * (math.log(shots[i + 1]) - math.log(shots[i]))))
    if all(v < 0 for v in d):
        return f"pretrained better at every shot count {shots[0]}-{shots[-1]}"
    return f"none in {shots[0]}-{shots[-1]}: pretrained worse at every shot count"


def budget_trend(table: dict, budgets) -> dict:
    """How the gap moves with pretraining budget, per shot count (full finetuning, the better pretrained variant).

    ``slope``: change of log10(error / FNO error) per decade of pretraining steps between the two largest budgets.
    When it is negative, the budgets at which the ratio would reach 1 (parity with FNO) and 0.64 (the paper's 36%
    below FNO) by extending that straight line in log-log: an extrapolation from two points, a prediction for the
    GPU run to test, not a measurement.
    """
    b1, b2 = sorted(b for b in budgets if b > 0)[-2:]
    out = {}
    for s, t in table.items():
        r1, r2 = (t[f"codano_b{b}"]["mean"] / t["fno"]["mean"] for b in (b1, b2))
        slope = (math.log10(r2) - math.log10(r1)) / (math.log10(b2) - math.log10(b1))
        entry = {"ratio_to_fno": {str(b): t[f"codano_b{b}"]["mean"] / t["fno"]["mean"] for b in budgets}}
        entry["slope_log10_ratio_per_decade"] = slope
        for label, goal in (("budget_for_parity", 1.0), ("budget_for_36pct_below_fno", 0.64)):
            if r2 <= goal:
                entry[label] = f"reached at {b2} steps"
            elif slope < 0:
                entry[label] = b2 * 10 ** ((math.log10(goal) - math.log10(r2)) / slope)
            else:
                entry[label] = "never on this trend (the ratio does not fall with budget)"
        out[s] = entry
    return out


def summarize(rows, args) -> dict:
    names = model_names(args.budgets)
    pretrained_names = [n for n in names if n.startswith("codano_b") and not n.startswith("codano_b0")]
    summary = {"test_rel_l2": {}, "reduction_vs_best_baseline": {}, "crossover_vs_fno": {}, "ratio_to_fno": {}}
    summary["reduction_vs_codano_scratch"] = {}  # what pretraining buys the same network
    for target in args.targets:
        table = {}
        for s in SHOTS:
            table[s] = {}
            for n in names:
                vals = [
                    r["test_rel_l2"]
                    for seed in args.seeds
                    for r in rows
                    if (r["target"], r["shots"], r["model"], r["seed"]) == (target, s, n, seed)
                ]
                table[s][n] = _stats(vals)
        summary["test_rel_l2"][target] = {str(s): t for s, t in table.items()}
        red, ratio, own = {}, {}, {}
        for s in SHOTS:
            t = table[s]
            best = min(("fno", "codano_b0"), key=lambda k: t[k]["mean"])
            red[str(s)] = {"best_baseline": best}
            for n in pretrained_names:
                per_seed = [
                    1.0 - t[n]["values"][i] / min(t["fno"]["values"][i], t["codano_b0"]["values"][i])
                    for i in range(len(args.seeds))
                ]
                red[str(s)][n] = {"mean_of_means": 1.0 - t[n]["mean"] / t[best]["mean"], "per_seed": per_seed}
            ratio[str(s)] = {n: t[n]["mean"] / t["fno"]["mean"] for n in names if n != "fno"}
            own[str(s)] = {n: 1.0 - t[n]["mean"] / t["codano_b0"]["mean"] for n in pretrained_names}
        summary["reduction_vs_best_baseline"][target] = red
        summary["ratio_to_fno"][target] = ratio
        summary["reduction_vs_codano_scratch"][target] = own
        fno_curve = [table[s]["fno"]["mean"] for s in SHOTS]
        summary["crossover_vs_fno"][target] = {
            n: crossover(SHOTS, [table[s][n]["mean"] for s in SHOTS], fno_curve) for n in names if n != "fno"
        }
    met = {
        target: {
            n: any(summary["reduction_vs_best_baseline"][target][str(s)][n]["mean_of_means"] >= 0.36 for s in (5, 10))
            for n in pretrained_names
        }
        for target in args.targets
    }
    summary["budget_trend"] = {t: budget_trend(summary["test_rel_l2"][t], args.budgets) for t in args.targets}
    summary["target"] = ">= 36% lower mean error than the best baseline (fno or codano_b0) at 5 or 10 shots"
    summary["target_met"] = met
    summary["median_step_time_s"] = {
        n: statistics.median([r["step_time_s"] for r in rows if r["model"] == n]) for n in names
    }
    summary["params"] = {
        t: {n: next(r["params"] for r in rows if r["model"] == n and r["target"] == t) for n in names}
        for t in args.targets
    }
    return summary


def _fmt_budget(v) -> str:
    return f"{v:.2g} steps" if isinstance(v, float) else str(v)


def write_table(summary, args, path: Path) -> None:
    names = model_names(args.budgets)
    lines = [
        "# CoDA-NO few-shot learning curves",
        "",
        f"Command: `{current_command()}` ({summary['device']}; {summary['seconds']['task_compute'] / 60:.0f} min of "
        "training summed over the tasks). Test "
        f"error = mean over variables of the per-variable relative L2 on {N_TEST} held-out pairs; mean [min, max] "
        f"over seeds {args.seeds}. Pretraining budgets (Adam steps, batch {args.pretrain_batch}): {args.budgets}; "
        f"{args.steps} training steps per model. Persistence (predict the input): "
        + ", ".join(f"{t} {v:.3f}" for t, v in summary["persistence_rel_l2"].items())
        + ".",
        "",
    ]
    for target in args.targets:
        lines += [f"## Target: {target}", "", "| shots | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for s in SHOTS:
            t = summary["test_rel_l2"][target][str(s)]
            cells = [f"{t[n]['mean']:.4f} [{t[n]['min']:.4f}, {t[n]['max']:.4f}]" for n in names]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines += ["", "Ratio to FNO (mean error / FNO mean error; < 1: better than FNO):", ""]
        lines += ["| shots | " + " | ".join(names[1:]) + " |", "|---" * len(names) + "|"]
        for s in SHOTS:
            r = summary["ratio_to_fno"][target][str(s)]
            lines.append(f"| {s} | " + " | ".join(f"{r[n]:.2f}" for n in names[1:]) + " |")
        lines += ["", "Error reduction by pretraining against the same network from scratch (codano_b0):", ""]
        pre_names = names[2:]
        lines += ["| shots | " + " | ".join(pre_names) + " |", "|---" * (len(pre_names) + 1) + "|"]
        for s in SHOTS:
            r = summary["reduction_vs_codano_scratch"][target][str(s)]
            lines.append(f"| {s} | " + " | ".join(f"{r[n]:+.0%}" for n in pre_names) + " |")
        lines += [
            "",
            "How the gap moves with pretraining budget (full finetuning; extrapolated from the two largest "
            "budgets, a prediction, not a measurement):",
            "",
        ]
        lines += ["| shots | log10 ratio per decade of steps | budget for parity with FNO | budget for 36% below FNO |",
                  "|---|---|---|---|"]  # fmt: skip
        for s in SHOTS:
            e = summary["budget_trend"][target][str(s)]
            lines.append(
                f"| {s} | {e['slope_log10_ratio_per_decade']:+.3f} | {_fmt_budget(e['budget_for_parity'])} | "
                f"{_fmt_budget(e['budget_for_36pct_below_fno'])} |"
            )
        crossings = "; ".join(
            f"{n}: " + (f"{c:.0f} shots" if isinstance(c, float) else c)
            for n, c in summary["crossover_vs_fno"][target].items()
        )
        lines += ["", "Crossover with FNO: " + crossings, ""]
    path.write_text("\n".join(lines) + "\n")


def plot(summary, args, path: Path) -> None:
    """Top: error vs shots per target (min-max band over seeds). Bottom: error / FNO error vs pretraining budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = model_names(args.budgets)
    n_t = len(args.targets)
    fig, axes = plt.subplots(2, n_t, figsize=(5.2 * n_t, 8), squeeze=False)
    for ax, target in zip(axes[0], args.targets):
        for n in names:
            t = [summary["test_rel_l2"][target][str(s)][n] for s in SHOTS]
            style = "--" if n == "fno" else ("-." if n.endswith("frozen") else "-")
            ax.plot(SHOTS, [v["mean"] for v in t], style, marker="o", label=n)
            ax.fill_between(SHOTS, [v["min"] for v in t], [v["max"] for v in t], alpha=0.15)
        ax.axhline(summary["persistence_rel_l2"][target], color="grey", ls=":", lw=1, label="persistence")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training pairs (shots)")
        ax.set_ylabel("test relative L2 (mean over variables)")
        ax.set_title(f"{target}: {args.res}x{args.res}, {len(args.seeds)} seeds (min-max band)")
        ax.legend(fontsize=7)
    positive = [b for b in args.budgets if b > 0]
    x0 = min(positive) / 10  # budget 0 drawn one decade left of the smallest budget
    xs = [x0 if b == 0 else b for b in args.budgets]
    for ax, target in zip(axes[1], args.targets):
        for s in SHOTS:
            r = summary["ratio_to_fno"][target][str(s)]
            ax.plot(xs, [r[f"codano_b{b}"] for b in args.budgets], marker="o", label=f"{s} shots")
        ax.axhline(1.0, color="k", lw=1)
        ax.axhline(0.64, color="grey", ls=":", lw=1, label="36% below FNO")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, ["0"] + [str(b) for b in positive])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("pretraining steps (full finetuning)")
        ax.set_ylabel("CoDA-NO error / FNO error")
        ax.set_title(f"{target}: the gap vs pretraining budget")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def one_line(summary, args) -> str:
    parts = []
    longest = max(args.budgets)
    for target in args.targets:
        t = summary["test_rel_l2"][target]
        bits = []
        for s in SHOTS:
            best_pre = min(
                (n for n in t[str(s)] if n.startswith("codano_b") and n != "codano_b0"),
                key=lambda n: t[str(s)][n]["mean"],
            )
            bits.append(
                f"{s}: fno {t[str(s)]['fno']['mean']:.3f}, b0 {t[str(s)]['codano_b0']['mean']:.3f}, "
                f"{best_pre.replace('codano_', '')} {t[str(s)][best_pre]['mean']:.3f}"
            )
        cross = summary["crossover_vs_fno"][target][f"codano_b{longest}"]
        cross = f"{cross:.0f} shots" if isinstance(cross, float) else cross
        parts.append(f"{target}: " + "; ".join(bits) + f" (b{longest} crosses FNO: {cross})")
    return (
        f"{args.res}x{args.res}, seeds {args.seeds}, budgets {args.budgets}, {args.steps} steps; test rel L2 mean "
        "by shots [best pretrained]: " + " | ".join(parts) + f"; >=36% target met: {summary['target_met']}"
    )


# ----------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", "--smoke", action="store_true", help="tiny smoke run (results under *_smoke)")
    ap.add_argument("--res", type=int, default=16)
    ap.add_argument("--solver-factor", type=int, default=4, help="solver grid = res * factor")
    ap.add_argument("--width", type=int, default=16, help="CoDA-NO token width (FNO gets twice this)")
    ap.add_argument("--modes", type=int, default=6)
    ap.add_argument("--n-pretrain", type=int, default=40, help="flows per pretraining (nu, forcing): 5 snapshots each")
    ap.add_argument("--budgets", type=int, nargs="+", default=[0, 400, 4000], help="pretraining Adam steps")
    ap.add_argument("--pretrain-batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=250, help="training steps per model and shot count")
    ap.add_argument("--batch", type=int, default=10, help="minibatch (at most the number of shots)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (tasks are independent)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--cache", default=str(Path(__file__).resolve().parents[1] / "data" / "codano_fewshot"))
    ap.add_argument("--name", default="codano_fewshot", help="results/<name>.json, .md, .png")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    if 0 not in args.budgets or len({b for b in args.budgets if b > 0}) < 2:
        ap.error(
            "--budgets must include 0 (CoDA-NO from scratch, one of the baselines) and at least two positive "
            f"budgets (the trend of the gap with budget), got {args.budgets}"
        )
    if min(args.budgets) < 0:
        ap.error(f"--budgets must be >= 0, got {args.budgets}")
    args.budgets = sorted(set(args.budgets))
    if args.quick:
        args.res, args.solver_factor, args.n_pretrain, args.width, args.modes = 16, 1, 2, 8, 4
        args.budgets, args.steps, args.seeds, args.jobs = [0, 2, 4], 2, [0, 1], 1
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    data = make_data(args)  # generated once, before the workers start
    t_data = time.perf_counter() - t_start
    scales = normalised(data)["scales"]
    grid = grid_of(args.res)
    persistence = {t: float(per_variable_l2(data[f"{t}_x"][POOL:], data[f"{t}_y"][POOL:], grid)) for t in args.targets}
    print(f"data: {data['pre'].shape[0]} pretraining snapshots, {t_data:.0f} s; persistence {persistence}", flush=True)

    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(args.jobs, mp_context=ctx) if args.jobs > 1 else None

    def submit(fn, *a):
        if pool is None:
            done = cf.Future()
            done.set_result(fn(*a))
            return done
        return pool.submit(fn, *a)

    try:
        t0 = time.perf_counter()
        # longest first, so the two workers finish together
        jobs = [(s, b) for b in sorted(args.budgets, reverse=True) if b > 0 for s in args.seeds]
        futures = {key: submit(pretrain_task, args, *key) for key in jobs}
        pretrained = {key: f.result() for key, f in futures.items()}
        t_pre = time.perf_counter() - t0
        pre_info = [json.loads(torch.load(p, weights_only=True)["info"]) for p in pretrained.values()]
        tasks = [(t, s, k) for k in reversed(SHOTS) for t in args.targets for s in args.seeds]
        rows = [r for f in [submit(finetune_task, args, *task, pretrained) for task in tasks] for r in f.result()]
    finally:
        if pool is not None:
            pool.shutdown()
    summary = summarize(rows, args)
    summary["persistence_rel_l2"] = persistence
    summary["normalisation"] = scales
    summary["pretraining"] = pre_info
    summary["seconds"] = {
        "data": t_data,
        "pretraining": t_pre,
        "total": time.perf_counter() - t_start,  # small when the tasks came from the cache
        "task_compute": sum(i["seconds"] for i in pre_info) + sum(r["train_seconds"] for r in rows),
    }
    cfg = {k: v for k, v in vars(args).items() if k != "cache"}
    summary["config"] = cfg
    summary["device"] = (
        torch.cuda.get_device_name(0)
        if args.device.startswith("cuda")
        else f"cpu, {args.jobs} x {args.threads} thread(s)"
    )
    name = args.name + ("_smoke" if args.quick else "")
    line = one_line(summary, args)
    save_results(name, {"summary": summary, "rows": rows}, current_command(), line)
    write_table(summary, args, RESULTS_DIR / f"{name}.md")
    plot(summary, args, RESULTS_DIR / f"{name}.png")
    print(line)
    return rows, summary


if __name__ == "__main__":
    main()
