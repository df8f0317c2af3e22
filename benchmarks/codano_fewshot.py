"""CoDA-NO few-shot benchmark: pretrain on Navier-Stokes, finetune on Boussinesq with 5, 10, 25 samples.

Protocol (CPU scale, one process, every model trained in this run on the same data):

1. data: ``navier_stokes`` flows (velocity u_x, u_y derived from the vorticity) for pretraining; ``boussinesq``
   pairs (u_x, u_y, T)(t) -> (u_x, u_y, T)(t + T) for finetuning (the first 25 samples) and testing (the rest);
2. pretraining: sciml CoDA-NO with masked reconstruction (whole-variable drops + boxes, clean target);
3. for each shot count: (a) the pretrained CoDA-NO, encoder frozen, new head (1 CoDA block + projection) and a new
   encoding for T; (b) the same CoDA-NO from scratch; (c) neuraloperator's FNO (sciml wrapper) from scratch;
   (d) neuraloperator's CODANO from scratch, configured like the paper (one token per variable, VSPE);
   each trained for the same number of full-batch Adam steps;
4. report test next-state relative L2 per shot count, median train-step time and parameter counts.

Target (paper): >= 36% lower error than the best baseline at 5-10 shots. Run: ``python benchmarks/codano_fewshot.py``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from neuralop.models import CODANO as NeuralopCODANO

import sciml.models
from sciml.data import generate
from sciml.data.navier_stokes import VorticitySolver
from sciml.models.pretraining import relative_l2

SHOTS = [5, 10, 25]
VARS = ["u_x", "u_y", "T"]


def make_data(args):
    ns = generate(
        "navier_stokes", n_samples=args.n_pretrain, resolution=args.res, seed=1, progress=False, T=0.5, dt=5e-3
    )
    solver = VorticitySolver(args.res, 1e-3)
    vel = []
    for f in (ns["input"], ns["output"]):
        u, v = solver.velocity(f.values[:, 0].double())
        vel.append(torch.stack([u, v], 1).float())
    pre = torch.cat(vel)  # both snapshots are pretraining samples
    bq = generate("boussinesq", n_samples=25 + args.n_test, resolution=args.res, seed=2, progress=False)
    return pre, bq["input"].values, bq["output"].values, bq["input"].grid


def codano_cfg(args, **kw):
    cfg = dict(n_modes=[args.modes, args.modes], width=args.width, n_layers=2, n_heads=2, head_width=args.width // 2)
    cfg.update(pe_channels=4, cls_token=True, lifting_channels=32, projection_channels=32)
    cfg.update(kw)
    return cfg


def neuralop_codano(args):
    return NeuralopCODANO(
        lifting_channels=32,
        hidden_variable_codimension=args.width,
        projection_channels=32,
        use_positional_encoding=True,
        positional_encoding_dim=4,
        positional_encoding_modes=[args.modes, args.modes],
        variable_ids=list(VARS),
        n_layers=3,
        n_modes=[[args.modes, args.modes]] * 3,
        n_heads=[2, 2, 2],
        per_layer_scaling_factors=[[1, 1]] * 3,
        attention_scaling_factors=[1, 1, 1],
        attention_token_dim=args.width,  # one token per variable (the paper's model)
        domain_padding=None,
        enable_cls_token=True,
    )


def train(model, fwd, x, y, grid, steps, lr, loss_fn=None):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn() if loss_fn else relative_l2(fwd(model, x), y, grid)
        loss.backward()
        opt.step()
        sched.step()
        if loss.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), sum(p.numel() for p in params)


@torch.no_grad()
def evaluate(model, fwd, x, y, grid, scale):
    model.eval()
    pred = fwd(model, x)
    model.train()
    return float(relative_l2(pred * scale, y * scale, grid))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--modes", type=int, default=8)
    ap.add_argument("--n-pretrain", type=int, default=96)
    ap.add_argument("--n-test", type=int, default=32)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default="benchmarks/results/codano_fewshot.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.res, args.n_pretrain, args.n_test, args.pretrain_steps, args.steps, args.width = 16, 8, 4, 4, 3, 8
    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    pre, xb, yb, grid = make_data(args)
    t_data = time.perf_counter() - t_start
    # one scale per variable (velocity from the pretraining data, T from the 25 finetuning samples)
    su = float(pre.std())
    scale = torch.tensor([su, su, float(xb[:25, 2].std())]).view(1, 3, 1, 1)
    dev = torch.device(args.device)
    scale = scale.to(dev)
    pre_n, xn, yn = (pre / su).to(dev), (xb.to(dev) / scale), (yb.to(dev) / scale)
    x_test, y_test = xn[25:], yn[25:]

    # ---- pretraining (masked reconstruction of the clean input)
    torch.manual_seed(args.seed)
    pre_model = sciml.models.build("codano", **codano_cfg(args, variables=["u_x", "u_y"], mode="pretrain")).to(dev)
    gen = torch.Generator().manual_seed(args.seed)

    def pre_loss():
        idx = torch.randint(0, pre_n.shape[0], (16,), generator=gen)
        return pre_model.training_loss(pre_n[idx], grid)[0]

    t0 = time.perf_counter()
    train(pre_model, None, None, None, grid, args.pretrain_steps, 3e-3, loss_fn=pre_loss)
    t_pre = time.perf_counter() - t0
    pre_state = pre_model.state_dict()
    with torch.no_grad():
        torch.manual_seed(123)
        pre_rec = float(pre_model.training_loss(pre_n[:16], grid)[0])

    def fwd_codano(m, x):
        return m(x, grid, VARS)

    def fwd_plain(m, x):
        return m(x, grid)

    def fwd_neuralop(m, x):
        return m(x, input_variable_ids=VARS)

    rows = []
    for shots in SHOTS:
        x, y = xn[:shots], yn[:shots]
        makers = {
            "codano_pretrained": lambda: sciml.models.build(
                "codano", **codano_cfg(args, variables=VARS, mode="finetune", head_layers=1)
            ),
            "codano_scratch": lambda: sciml.models.build("codano", **codano_cfg(args, variables=VARS, head_layers=1)),
            "fno_scratch": lambda: sciml.models.build(
                "fno", in_channels=3, out_channels=3, n_modes=[args.modes, args.modes], hidden_channels=args.width
            ),
            "neuralop_codano_scratch": lambda: neuralop_codano(args),
        }
        fwds = {"fno_scratch": fwd_plain, "neuralop_codano_scratch": fwd_neuralop}
        for name, make in makers.items():
            torch.manual_seed(args.seed)
            model = make().to(dev)
            if name == "codano_pretrained":
                model.load_encoder(pre_state)  # freezes the encoder; T keeps a new trainable encoding
            fwd = fwds.get(name, fwd_codano)
            step, n_train_params = train(model, fwd, x, y, grid, args.steps, 3e-3)
            err = evaluate(model, fwd, x_test, y_test, grid, scale)
            total = sum(p.numel() for p in model.parameters())
            rows.append(
                {
                    "shots": shots,
                    "model": name,
                    "test_rel_l2": err,
                    "step_time_s": step,
                    "params": total,
                    "trainable_params": n_train_params,
                }
            )
            print(f"shots={shots:3d} {name:25s} rel_l2={err:.4f} step={step * 1e3:.1f} ms params={total}", flush=True)

    summary = {}
    for shots in SHOTS:
        r = {row["model"]: row["test_rel_l2"] for row in rows if row["shots"] == shots}
        best_name = min((k for k in r if k != "codano_pretrained"), key=r.get)
        summary[f"shots_{shots}"] = {
            "pretrained": r["codano_pretrained"],
            "best_baseline": best_name,
            "best_baseline_rel_l2": r[best_name],
            "reduction_vs_best_baseline": 1.0 - r["codano_pretrained"] / r[best_name],
        }
    summary["target"] = ">= 0.36 reduction at 5 and 10 shots"
    summary["target_met"] = all(summary[f"shots_{s}"]["reduction_vs_best_baseline"] >= 0.36 for s in (5, 10))
    summary["pretrain_reconstruction_rel_l2"] = pre_rec
    summary["seconds"] = {"data": t_data, "pretrain": t_pre, "total": time.perf_counter() - t_start}
    summary["config"] = vars(args)
    summary["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    _save("codano_fewshot", rows, command, summary, args.out)
    print(json.dumps(summary, indent=1))
    return rows, summary


def _save(name, rows, command, summary, out):
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _common import save_results  # shared harness (JSON + RESULTS.md row)

        save_results(name, rows, command, summary)
    except ImportError:
        from sciml.utils import atomic_path

        with atomic_path(out) as tmp:
            Path(tmp).write_text(json.dumps({"command": command, "results": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
