"""MT-DeepONet: multi-task vs single-task DeepONets, transfer to a new geometry, and DeepXDE side by side.

Run: ``python benchmarks/mt_deeponet.py`` (default size, about 3-5 minutes on 2 CPU cores with 1 thread) or
``--smoke`` (seconds). One metric everywhere: ``sciml.metrics.masked.masked_relative_l2`` (mean over samples of the
relative L2 over the points inside the mask, quadrature-weighted); model selection on a validation split, numbers
reported on a separate test split.

1. Fisher-KPP (``sciml.data.fisher``), three reaction forms encoded as c1..c4: one multi-task DeepONet trained on
   all forms for S steps vs one single-task DeepONet per form trained S / 3 steps each (equal total cost: the same
   network, batch size and number of optimizer steps in total), per form, ``--seeds`` seeds.
2. Darcy on geometries (``sciml.data.darcy_geometries``), CNN branch on [log k, mask]: multi-task on square, disc,
   triangle and L-shape vs one single-task model per geometry at equal total cost, per geometry.
3. Transfer to the square with a cross cut-out with ``--n-transfer`` samples: the multi-task weights loaded and only
   the first convolution, the branch's dense layers and the last trunk layer trained (the Trainer's stage
   mechanism: ``sciml.models.protocol.Stage`` + ``apply_trainable``) vs the same network trained from scratch on
   the same samples for the same steps vs the multi-task model zero-shot.
4. DeepXDE's ``DeepONetCartesianProd`` (PyTorch backend) next to sciml's DeepONet on the logistic Fisher form:
   same layer sizes, initial weights copied, same batches, loss and optimizer in the same loop (one step of each in
   turn): test error and training steps per second of both (median step time over the run).

Outputs: ``benchmarks/results/mt_deeponet.json`` (+ a row in benchmarks/RESULTS.md), ``mt_deeponet.md`` (tables and
the exact command), ``mt_deeponet_darcy.png`` (prediction, truth and error per geometry) and
``mt_deeponet_errors.png`` (error per task). Threads are pinned with ``torch.set_num_threads`` (recorded).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import sciml.data
import sciml.models
from sciml.metrics.masked import masked_relative_l2
from sciml.models.protocol import Stage, apply_trainable

os.environ.setdefault("DDE_BACKEND", "pytorch")

from _common import RESULTS_DIR, current_command, machine_info, save_results  # noqa: E402

TRANSFER_PARTS = ["branch.0.conv.0.*", "branch.0.dense.*", "trunk.0.net.4.*"]


# ------------------------------------------------------------------------------------------------ data
def fisher_data(n_per_form: dict[str, int], seed: int, nx: int):
    out = sciml.data.generate("fisher", n_samples=sum(n_per_form.values()) * 3, resolution=[20, nx], seed=seed,
                              progress=False)  # fmt: skip
    x, y, forms = out["input"].values.float(), out["output"].values.float(), out["input"].attrs["forms"]
    task = torch.tensor([("logistic", "cubic", "exponential").index(f) for f in forms])
    splits, start = {}, 0
    for name, n in n_per_form.items():
        idx = torch.arange(start * 3, (start + n) * 3)
        splits[name] = (x[idx], y[idx], task[idx])
        start += n
    return splits, out["input"].grid


def darcy_data(n_per_geometry: dict[str, int], geometries, seed: int, res: int):
    n = sum(n_per_geometry.values()) * len(geometries)
    out = sciml.data.generate("darcy_geometries", n_samples=n, resolution=res, seed=seed, geometries=geometries,
                              progress=False)  # fmt: skip
    x, y = out["input"].values.float(), out["output"].values.float()
    task = torch.tensor(out["input"].attrs["geometry_index"])
    splits, start, g = {}, 0, len(geometries)
    for name, k in n_per_geometry.items():
        idx = torch.arange(start * g, (start + k) * g)
        splits[name] = (x[idx], y[idx], task[idx])
        start += k
    return splits, out["input"].grid


# ------------------------------------------------------------------------------------------------ training
def per_task_error(model, data, grid, n_tasks, mask_fn=None):
    x, y, task = data
    with torch.no_grad():
        pred = torch.cat([model(x[i : i + 64], grid) for i in range(0, len(x), 64)])
    mask = None if mask_fn is None else mask_fn(x)
    err = masked_relative_l2(pred, y, mask, grid, reduction="none")
    return [float(err[task == t].mean()) for t in range(n_tasks)], pred


def val_error(model, data, grid, mask_fn=None):
    x, y, _ = data
    with torch.no_grad():
        pred = torch.cat([model(x[i : i + 64], grid) for i in range(0, len(x), 64)])
    return float(masked_relative_l2(pred, y, None if mask_fn is None else mask_fn(x), grid))


def train(model, data, val, grid, steps, batch, lr, seed, eval_every=100, mask_fn=None):
    """Adam + cosine for ``steps`` steps on minibatches of ``data``; the state with the best validation error is kept.
    Returns (median step seconds, losses)."""
    x, y, _ = data
    g = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    best, best_state, times = math.inf, copy.deepcopy(model.state_dict()), []
    for step in range(steps):
        idx = torch.randint(len(x), (min(batch, len(x)),), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, _ = model.objective((x[idx], y[idx]), grid)
        loss.backward()
        opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            model.eval()
            v = val_error(model, val, grid, mask_fn)
            model.train()
            if v < best:
                best, best_state = v, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return statistics.median(times) if times else float("nan")


def subset(data, keep):
    return tuple(t[keep] for t in data)


def fisher_model(args, seed):
    torch.manual_seed(seed)
    w = args.width
    return sciml.models.build(
        "deeponet", layer_sizes_branch=[args.nx + 4, w, w, w], layer_sizes_trunk=[2, w, w, w], activation="gelu",
        coefficient_channels=[1, 2, 3, 4], sensor_axes=[1],
    )  # fmt: skip


def darcy_model(args, seed):
    torch.manual_seed(seed)
    w = args.width
    return sciml.models.build(
        "deeponet", layer_sizes_branch=[2, w, w], layer_sizes_trunk=[2, w, w, w], activation="tanh", branch="cnn",
        mask_channel=1, cnn_channels=[16, 32], cnn_pool=8, trunk_features="fourier", trunk_n_features=32,
        trunk_feature_scale=2.0,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ experiments
def multi_vs_single(args, splits, grid, names, make, steps, seed, mask_fn=None):
    tr, va, te = splits["train"], splits["val"], splits["test"]
    n = len(names)
    multi = make(args, seed).train()
    train(multi, tr, va, grid, steps, args.batch, args.lr, seed, mask_fn=mask_fn)
    multi_err, _ = per_task_error(multi, te, grid, n, mask_fn)
    single_err = []
    for t in range(n):
        m = make(args, seed).train()
        train(m, subset(tr, tr[2] == t), subset(va, va[2] == t), grid, steps // n, args.batch, args.lr, seed,
              mask_fn=mask_fn)  # fmt: skip
        single_err.append(per_task_error(m, subset(te, te[2] == t), grid, t + 1, mask_fn)[0][t])
    return multi, dict(zip(names, multi_err)), dict(zip(names, single_err))


def transfer(args, multi, cross, grid, seed, mask_fn):
    tr, va, te = cross["train"], cross["val"], cross["test"]
    zero_shot = per_task_error(multi, te, grid, 1, mask_fn)[0][0]
    tuned = copy.deepcopy(multi).train()
    apply_trainable(tuned, Stage(name="transfer", trainable=TRANSFER_PARTS))  # what train.stages does
    train(tuned, tr, va, grid, args.transfer_steps, args.batch, args.lr, seed, mask_fn=mask_fn)
    scratch = darcy_model(args, seed + 100).train()
    train(scratch, tr, va, grid, args.transfer_steps, args.batch, args.lr, seed, mask_fn=mask_fn)
    whole = copy.deepcopy(multi).train()  # for reference: every parameter trains from the multi-task weights
    train(whole, tr, va, grid, args.transfer_steps, args.batch, args.lr, seed, mask_fn=mask_fn)
    return (
        {"transfer": per_task_error(tuned, te, grid, 1, mask_fn)[0][0],
         "scratch": per_task_error(scratch, te, grid, 1, mask_fn)[0][0], "zero_shot": zero_shot,
         "finetune_all": per_task_error(whole, te, grid, 1, mask_fn)[0][0]},
        tuned,
    )  # fmt: skip


def deepxde_side_by_side(args, splits, grid, seed):
    try:
        import deepxde as dde
    except Exception as e:  # noqa: BLE001
        return {"skipped": f"DeepXDE unavailable: {type(e).__name__}: {e}"}
    keep = {k: subset(v, v[2] == 0) for k, v in splits.items()}  # the logistic form
    ours = fisher_model(args, seed)
    w = args.width
    theirs = dde.nn.DeepONetCartesianProd([args.nx + 4, w, w, w], [2, w, w, w], "gelu", "Glorot normal")
    with torch.no_grad():  # the same initial weights
        for mine, dl in ((ours.branch[0].net, theirs.branch), (ours.trunk[0].net, theirs.trunk)):
            for a, b in zip([m for m in mine if isinstance(m, torch.nn.Linear)], dl.linears):
                b.weight.copy_(a.weight)
                b.bias.copy_(a.bias)
    pts = grid.points()

    def flat(x):  # DeepXDE's branch input: u0 at the sensors, then the coefficients
        return torch.cat([x[:, 0, 0, :], x[:, 1:, 0, 0]], dim=1)

    def run(nets):
        """Train every (forward, params) in ``nets`` on the same batches, one step of each in turn (interleaved, so
        machine noise hits both alike); returns test errors and steps/s (median step time)."""
        x, y, _ = keep["train"]
        g = torch.Generator().manual_seed(seed)
        opts = [torch.optim.Adam(params, lr=args.lr) for _, params in nets]
        times = [[] for _ in nets]
        for _ in range(args.dde_steps):
            idx = torch.randint(len(x), (args.batch,), generator=g)
            for (forward, _), opt, tt in zip(nets, opts, times):
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = masked_relative_l2(forward(flat(x[idx])), y[idx], None, grid)
                loss.backward()
                opt.step()
                tt.append(time.perf_counter() - t0)
        xt, yt, _ = keep["test"]
        with torch.no_grad():
            errs = [float(masked_relative_l2(forward(flat(xt)), yt, None, grid)) for forward, _ in nets]
        return errs, [1.0 / statistics.median(tt) for tt in times]

    shape = (1, *grid.shape)
    (e_s, e_d), (s_s, s_d) = run(
        [
            (lambda u: ours.predict(u, grid), list(ours.parameters())),
            (lambda u: theirs((u, pts)).reshape(-1, *shape), list(theirs.parameters())),
        ]
    )
    return {"sciml_test_rel_l2": e_s, "deepxde_test_rel_l2": e_d, "sciml_steps_per_s": s_s,
            "deepxde_steps_per_s": s_d, "throughput_ratio_sciml_over_deepxde": s_s / s_d,
            "deepxde_version": dde.__version__}  # fmt: skip


# ------------------------------------------------------------------------------------------------ report
def plots(args, models, darcy, grid, names, cross_pair, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    te = darcy["test"]
    cols = [*names, "cross (transfer)"]
    fig, axes = plt.subplots(3, len(cols), figsize=(2.6 * len(cols), 7.5), squeeze=False)
    mask_fn = models.mask_of
    for j, name in enumerate(cols):
        if j < len(names):
            i = int(torch.nonzero(te[2] == j)[0])
            x, y, model = te[0][i : i + 1], te[1][i : i + 1], models
        else:
            model, (x, y) = cross_pair[0], (cross_pair[1][0][:1], cross_pair[1][1][:1])
        with torch.no_grad():
            p = model(x, grid)
        m = mask_fn(x)[0, 0].numpy()
        err = float(masked_relative_l2(p, y, mask_fn(x), grid))
        for r, (img, title) in enumerate(((p, "prediction"), (y, "truth"), ((p - y).abs(), f"|error| ({err:.3f})"))):
            a = np.where(m, img[0, 0].numpy(), np.nan)
            im = axes[r, j].imshow(a.T, origin="lower", cmap="viridis" if r < 2 else "magma")
            axes[r, j].set_title(f"{name}: {title}" if r == 0 else title, fontsize=8)
            axes[r, j].axis("off")
            fig.colorbar(im, ax=axes[r, j], fraction=0.046)
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / f"{args.name}_darcy.png", dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, key in zip(axes[:2], ("fisher", "darcy")):
        tasks = list(results[key]["multi_mean"])
        xs = np.arange(len(tasks))
        ax.bar(xs - 0.2, [results[key]["multi_mean"][t] for t in tasks], 0.4, label="multi-task")
        ax.bar(xs + 0.2, [results[key]["single_mean"][t] for t in tasks], 0.4, label="single-task")
        ax.set_xticks(xs, tasks, fontsize=8)
        ax.set_ylabel("test rel. L2 (mean of seeds)")
        ax.set_title(f"{key}: equal total training steps")
        ax.legend(fontsize=8)
    tr = results["transfer_mean"]
    axes[2].bar(list(tr), list(tr.values()), color=["C2", "C3", "C7", "C4"])
    axes[2].set_yscale("log")
    axes[2].set_title(f"cross cut-out, {args.n_transfer} samples")
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / f"{args.name}_errors.png", dpi=90)
    plt.close(fig)


def markdown(args, results, command):
    lines = [
        f"# {args.name}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {results['machine_note']}; torch threads: {results['threads']}; seeds {results['seeds']}; "
        f"total {results['total_seconds']:.0f} s.",
        "Metric: mean over test samples of the relative L2 inside the mask (sciml.metrics.masked), "
        "mean ± std over seeds; model selection on a validation split, numbers on the test split.",
        "",
    ]
    for key in ("fisher", "darcy"):
        r = results[key]
        lines += [
            f"## {key}: multi-task vs single-task at equal total steps ({r['steps']} steps)",
            "",
            "| task | multi-task | single-task |",
            "|---|---|---|",
        ]
        for t in r["multi_mean"]:
            lines.append(
                f"| {t} | {r['multi_mean'][t]:.4f} ± {r['multi_std'][t]:.4f} | "
                f"{r['single_mean'][t]:.4f} ± {r['single_std'][t]:.4f} |"
            )
        lines.append("")
    lines += [
        f"## transfer to the cross cut-out ({args.n_transfer} training samples, {args.transfer_steps} steps)",
        "",
        "| method | test rel. L2 |",
        "|---|---|",
    ]
    for k, v in results["transfer_mean"].items():
        lines.append(f"| {k} | {v:.4f} ± {results['transfer_std'][k]:.4f} |")
    d = results["deepxde"]
    lines += ["", f"## DeepXDE DeepONetCartesianProd vs sciml DeepONet (logistic form, {args.dde_steps} steps)", ""]
    if "skipped" in d:
        lines.append(d["skipped"])
    else:
        lines += [
            "| | test rel. L2 | steps/s |",
            "|---|---|---|",
            f"| sciml | {d['sciml_test_rel_l2']:.4f} | {d['sciml_steps_per_s']:.1f} |",
            f"| DeepXDE {d['deepxde_version']} | {d['deepxde_test_rel_l2']:.4f} | {d['deepxde_steps_per_s']:.1f} |",
            "",
            f"Throughput ratio sciml / DeepXDE: {d['throughput_ratio_sciml_over_deepxde']:.2f}",
        ]
    (RESULTS_DIR / f"{args.name}.md").write_text("\n".join(lines) + "\n")


def mean_std(dicts):
    keys = list(dicts[0])
    return ({k: float(np.mean([d[k] for d in dicts])) for k in keys},
            {k: float(np.std([d[k] for d in dicts])) for k in keys})  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--nx", type=int, default=64)
    ap.add_argument("--res", type=int, default=32, help="Darcy nodes per axis (the paper: 100)")
    ap.add_argument("--n-train", type=int, default=150, help="training samples per task")
    ap.add_argument("--n-val", type=int, default=30)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--n-transfer", type=int, default=100)
    ap.add_argument("--fisher-steps", type=int, default=3000)
    ap.add_argument("--darcy-steps", type=int, default=1600)
    ap.add_argument("--transfer-steps", type=int, default=400)
    ap.add_argument("--dde-steps", type=int, default=600)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--name", default="mt_deeponet")
    args = ap.parse_args(argv)
    if args.smoke:
        args.seeds, args.nx, args.res, args.n_train, args.n_val, args.n_test, args.n_transfer = 1, 16, 16, 6, 3, 3, 6
        args.fisher_steps, args.darcy_steps, args.transfer_steps, args.dde_steps, args.width = 6, 8, 4, 4, 16
        args.name = "mt_deeponet_smoke"
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    sizes = {"train": args.n_train, "val": args.n_val, "test": args.n_test}
    fisher, fgrid = fisher_data(sizes, seed=0, nx=args.nx)
    geos = ["square", "disc", "triangle", "lshape"]
    darcy, dgrid = darcy_data(sizes, geos, seed=0, res=args.res)
    cross, _ = darcy_data({"train": args.n_transfer, "val": args.n_val, "test": args.n_test}, ["cross"], 7, args.res)
    scale = float(darcy["train"][1].std())  # relative errors are scale-free; a unit scale helps the optimiser
    for d in (darcy, cross):
        for k, (x, y, t) in d.items():
            d[k] = (x, y / scale, t)
    data_s = time.perf_counter() - t_start

    forms = ["logistic", "cubic", "exponential"]
    res = {"fisher": {"multi": [], "single": [], "steps": args.fisher_steps},
           "darcy": {"multi": [], "single": [], "steps": args.darcy_steps}, "transfer": []}  # fmt: skip
    last = None
    for seed in range(args.seeds):
        _, m, s = multi_vs_single(args, fisher, fgrid, forms, fisher_model, args.fisher_steps, seed)
        res["fisher"]["multi"].append(m)
        res["fisher"]["single"].append(s)
        mask_fn = darcy_model(args, 0).mask_of
        multi, m, s = multi_vs_single(args, darcy, dgrid, geos, darcy_model, args.darcy_steps, seed, mask_fn)
        res["darcy"]["multi"].append(m)
        res["darcy"]["single"].append(s)
        tr, tuned = transfer(args, multi, cross, dgrid, seed, mask_fn)
        res["transfer"].append(tr)
        last = (multi, tuned)
    for key in ("fisher", "darcy"):
        r = res[key]
        r["multi_mean"], r["multi_std"] = mean_std(r["multi"])
        r["single_mean"], r["single_std"] = mean_std(r["single"])
    res["transfer_mean"], res["transfer_std"] = mean_std(res["transfer"])
    res["deepxde"] = deepxde_side_by_side(args, fisher, fgrid, 0)
    res.update(threads=torch.get_num_threads(), seeds=args.seeds, args=vars(args), data_seconds=data_s,
               total_seconds=time.perf_counter() - t_start)  # fmt: skip
    res["machine_note"] = f"{machine_info()['cpu']}, {os.cpu_count()} logical cores"
    plots(args, last[0], darcy, dgrid, geos, (last[1], cross["test"]), res)
    command = current_command()
    markdown(args, res, command)
    f, d, t = res["fisher"], res["darcy"], res["transfer_mean"]
    summary = (
        f"fisher multi {np.mean(list(f['multi_mean'].values())):.4f} vs single "
        f"{np.mean(list(f['single_mean'].values())):.4f}; darcy multi {np.mean(list(d['multi_mean'].values())):.4f}"
        f" vs single {np.mean(list(d['single_mean'].values())):.4f}; cross transfer {t['transfer']:.4f}, scratch "
        f"{t['scratch']:.4f}, zero-shot {t['zero_shot']:.4f}"
    )
    save_results(args.name, res, command, summary)
    print(Path(RESULTS_DIR / f"{args.name}.md").read_text())  # noqa: T201 - a script reports to its user


if __name__ == "__main__":
    main()
