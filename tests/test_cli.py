"""The command line and the demo, end to end at small size (what `make demo` runs, reduced)."""

from __future__ import annotations

import glob
import json
import struct
from pathlib import Path

import pytest
import yaml

from sciml.cli import main
from sciml.fields.hdf5 import read_field


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from sciml.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out, small=True)
    return out


def test_demo_writes_metrics_and_plots(demo_dir):
    run = demo_dir / "run"
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert sorted(ev, key=int) == ["8", "16", "32"]
    for res, r in ev.items():
        assert r["shape"] == [int(res), int(res)]
        assert 0 < r["relative_l2"] < 1.0, (res, r)
    from sciml.fields.hdf5 import read_provenance

    prov = read_provenance(demo_dir / "data" / "darcy_test_32.h5")
    assert prov["generator"] == "darcy" and prov["params"]["resolution"] == 32 and prov["params"]["a_high"] == 12
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 11))
    # it learns: with the optimizer step removed both numbers stay within 1% of their first value (measured
    # with the step: training H1 loss 0.99 -> 0.76, validation L2 0.57 -> 0.41)
    assert rows[-1]["train_loss"] < 0.85 * rows[0]["train_loss"]
    assert rows[-1]["val_relative_l2"] < 0.8 * rows[0]["val_relative_l2"]
    for name in ["loss_curve", "error_vs_resolution", "prediction_16x16", "prediction_32x32"]:
        w, h = _png_size(run / "plots" / f"{name}.png")
        assert w > 100 and h > 100


def test_plot_rewrites_the_plots_and_bench_names_what_exists(demo_dir, capsys):
    run = demo_dir / "run"
    target = run / "plots" / "loss_curve.png"
    target.unlink()
    assert main(["plot", str(run)]) == 0
    assert _png_size(target)[0] > 100  # the deleted plot is written again
    capsys.readouterr()
    assert main(["bench", "no_such_benchmark"]) == 2
    err = capsys.readouterr().err
    assert "no_such_benchmark" in err and "trainer_overhead" in err  # lists the benchmarks that exist


def test_evaluate_resamples_a_single_test_file(demo_dir):
    run = demo_dir / "run"
    per_res_file = json.loads((run / "eval.json").read_text())["results"]
    # one 32x32 file: at 32 it is the same data as the {res} file; at 16 it is interpolated onto the 16-node grid
    single = str(demo_dir / "data" / "darcy_test_32.h5")
    assert main(["evaluate", str(run), "--resolutions", "16", "32", "--data", single]) == 0
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert ev["32"]["relative_l2"] == per_res_file["32"]["relative_l2"]
    assert ev["16"]["shape"] == [16, 16] and ev["16"]["n_samples"] == per_res_file["32"]["n_samples"]
    # interpolated data are not the 16x16 solves of the {res} file, so the error differs from that evaluation
    assert ev["16"]["relative_l2"] != per_res_file["16"]["relative_l2"]
    assert 0 < ev["16"]["relative_l2"] < 1.0


def test_data_generate_with_overrides(tmp_path):
    out = tmp_path / "d.h5"
    rc = main(
        [
            "data",
            "generate",
            "datasets/darcy.yaml",
            "-o",
            str(out),
            "--set",
            "n_samples=3",
            "--set",
            "resolution=9",
            "-q",
        ]
    )
    assert rc == 0
    u = read_field(out, "output")
    assert u.values.shape == (3, 1, 9, 9)


def test_data_info_describes_a_file_and_rejects_a_corrupt_one(tmp_path, capsys):
    out = tmp_path / "d.h5"
    assert main(["data", "generate", "datasets/darcy.yaml", "-o", str(out), "--set", "n_samples=2", "-q",
                 "--set", "resolution=9"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["groups"]) == {"input", "output"}
    g = info["groups"]["output"]
    assert g["kind"] == "field" and g["shape"] == [2, 1, 9, 9] and g["grid"]["shape"] == [9, 9]
    assert g["grid"]["periodic"] == [False, False] and g["has_mask"] is False
    assert info["provenance"]["params"]["n_samples"] == 2
    bad = tmp_path / "bad.h5"
    bad.write_bytes(out.read_bytes()[:2000])  # truncated
    assert main(["data", "info", str(bad)]) != 0
    assert "bad.h5" in capsys.readouterr().err


def test_unknown_config_key_is_a_clear_error(tmp_path, capsys):
    cfg = {"model": {"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [4, 4]}, "train": {"lrr": 1e-3}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "lrr" in err and "allowed" in err and "batch_size" in err


def test_unknown_model_key_is_a_clear_error(tmp_path, capsys):
    cfg = {"model": {"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [4, 4], "widht": 3}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "widht" in err and "hidden_channels" in err


def test_override_with_unknown_key_and_missing_run_dir(tmp_path, capsys):
    assert main(["data", "generate", "datasets/darcy.yaml", "-o", str(tmp_path / "x.h5"), "--set", "n_sample=3"]) == 2
    assert "n_sample" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "config.yaml is missing" in capsys.readouterr().err


def test_trajectory_training_and_rollout_evaluation(tmp_path):
    """A trajectory file trains a one-step model on consecutive frames; evaluate adds an autoregressive rollout."""
    data = tmp_path / "traj.h5"
    args = ["n_samples=4", "resolution=16", "solver_resolution=16", "trajectory=true", "n_snapshots=4", "T=0.4"]
    assert (
        main(
            ["data", "generate", "datasets/navier_stokes.yaml", "-o", str(data), "-q"]
            + sum([["--set", a] for a in args], [])
        )
        == 0
    )
    cfg = {
        "model": {
            "name": "fno",
            "in_channels": 1,
            "out_channels": 1,
            "n_modes": [6, 6],
            "hidden_channels": 8,
            "n_layers": 2,
        },
        "data": {"train": str(data), "input": "trajectory", "output": "trajectory", "split": [0.5, 0.5]},
        "train": {"epochs": 1, "batch_size": 4},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0
    res = json.loads((run / "eval.json").read_text())["results"]["16"]
    assert res["n_samples"] == 2 * 4  # 2 held-out trajectories x 4 one-step windows: the split is by trajectory
    rollout = res["rollout_relative_l2"]
    assert len(rollout) == 4 and all(r > 0 for r in rollout)
    # the rollout feeds predictions back: step k is model^(k+1)(frame 0) against frame k+1, recomputed here from
    # the one-step windows of the 2 held-out trajectories (4 windows each, in time order)
    import torch

    from sciml.metrics.losses import relative_l2
    from sciml.runs import load_run_model
    from sciml.runs.operator import test_dataset

    model, cfg_loaded = load_run_model(run)
    ds = test_dataset(cfg_loaded, None)
    with torch.no_grad():
        for k in (0, 1, 3):
            errs = []
            for first in (0, 4):
                x = ds[first][0].unsqueeze(0)
                for _ in range(k + 1):
                    x = model(x, ds.grid)
                errs.append(float(relative_l2(x, ds[first + k][1].unsqueeze(0), ds.grid)))
            assert rollout[k] == pytest.approx(sum(errs) / 2, rel=1e-5), k


def test_models_with_their_own_objective_train_through_the_cli(tmp_path, capsys):
    """VANO's ELBO (its Objective) drives the generic Trainer, with or without the normalising wrapper."""
    data = tmp_path / "grf.h5"
    sets = ["dim=1", "resolution=32", "basis=sine", "n_samples=32"]
    assert (
        main(["data", "generate", "datasets/grf.yaml", "-o", str(data), "-q"] + sum([["--set", a] for a in sets], []))
        == 0
    )
    cfg = yaml.safe_load(open("examples/configs/vano_grf.yaml"))
    cfg["data"]["train"] = str(data)
    cfg["train"].update(epochs=4, batch_size=8)
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "v.yaml"), "--out", str(tmp_path / "run")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"train_recon", "train_kl"} <= set(rows[0])  # the ELBO's terms, not the default supervised loss
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    # the example's train.monitor is a validation metric, so best.pt exists (it once named one that never did)
    assert (tmp_path / "run" / "checkpoints" / "best.pt").exists()
    # plot adds a gallery of prior samples next to data for a generative model
    assert main(["plot", str(tmp_path / "run")]) == 0
    assert _png_size(tmp_path / "run" / "plots" / "samples_32.png")[0] > 100
    cfg["data"]["normalize"] = True  # normalisation composes with an objective: the ELBO sees normalised data
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "v.yaml"), "--out", str(tmp_path / "run2")]) == 0
    rows2 = [json.loads(line) for line in (tmp_path / "run2" / "metrics.jsonl").read_text().splitlines()]
    assert {"train_recon", "train_kl"} <= set(rows2[0]) and rows2 != rows


def test_mgno_config_trains_and_evaluates_across_resolutions(demo_dir, tmp_path):
    """examples/configs/mgno_darcy.yaml through the CLI: trained at 16, evaluated at 8/16/32 (issue 3, item 5)."""
    data = demo_dir / "data"
    sets = [
        f"data.train={data / 'darcy_train.h5'}",
        "data.test=" + str(data / "darcy_test_{res}.h5"),
        "data.n_train=32",
        "data.n_test=4",
        "train.epochs=6",
        "train.lr=5e-3",  # the paper recipe's 5e-4 barely moves in 24 OneCycle steps
        "model.width=8",
        "model.levels=2",
        "model.reference_resolution=16",
    ]
    run = tmp_path / "mgno"
    assert (
        main(["train", "examples/configs/mgno_darcy.yaml", "--out", str(run)] + sum([["--set", s] for s in sets], []))
        == 0
    )
    assert main(["evaluate", str(run), "--resolutions", "8", "16", "32"]) == 0
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert [ev[r]["shape"] for r in ("8", "16", "32")] == [[8, 8], [16, 16], [32, 32]]
    assert all(0 < ev[r]["relative_l2"] < 1.0 for r in ev), ev
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # it learns. The config trains on the relative H1 loss (train.loss: relative_h1), which falls more slowly than
    # L2 at this size: measured 0.985 -> 0.839 over the 6 epochs (ratio 0.85); with the optimizer step removed it
    # stays at 0.989 in every epoch (ratio 1.00), so the 0.9 threshold separates the two.
    assert rows[-1]["train_loss"] < 0.9 * rows[0]["train_loss"]


@pytest.mark.parametrize(
    "config, plot",
    [("ncds_lasa", "phase_portrait"), ("ncds_so3", "so3_rollouts")],
)
def test_dynamics_runs_train_evaluate_and_plot_through_the_cli(tmp_path, config, plot, capsys):
    """NCDS configs go to their own loop; evaluate and plot rebuild the field from config.yaml + last.pt."""
    run = tmp_path / "run"
    sets = ["--set", "train.epochs=1", "--set", "eval.rollout_points=40"]
    assert main(["train", f"examples/configs/{config}.yaml", *sets, "--out", str(run)]) == 0
    res = json.loads((run / "results.json").read_text())
    assert res["model"] == yaml.safe_load(Path(f"examples/configs/{config}.yaml").read_text())["model"]["name"]
    assert res["epochs"] == 1
    assert main(["evaluate", str(run)]) == 0
    again = json.loads((run / "eval.json").read_text())
    # the reloaded weights give the rollouts of the trained field: the same DTW (a fresh field gives another)
    assert again["dtw"] == pytest.approx(res["dtw"], rel=1e-9)
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    assert _png_size(run / "plots" / f"{plot}.png")[0] > 100 and _png_size(run / "plots" / "loss_curve.png")[0] > 100


def test_codano_pretrain_then_finetune_from_the_example_configs(tmp_path):
    """examples/configs/codano_{pretrain,finetune}.yaml through the CLI (issue 4, item 3), at tiny size."""
    import torch

    ns, bq = tmp_path / "ns.h5", tmp_path / "bq.h5"
    small = ["n_samples=6", "resolution=16", "solver_resolution=16", "t_start=0.05", "T=0.05", "dt=0.01"]
    for recipe, out in (("navier_stokes", ns), ("boussinesq", bq)):
        args = ["data", "generate", f"datasets/{recipe}.yaml", "-o", str(out), "-q"]
        assert main(args + sum([["--set", s] for s in small], [])) == 0
    tiny = ["model.n_modes=[4,4]", "model.width=8", "train.epochs=2", "train.batch_size=3"]
    pre = tmp_path / "pre"
    sets = tiny + [f"data.train={ns}"]
    overrides = sum([["--set", s] for s in sets], [])
    assert main(["train", "examples/configs/codano_pretrain.yaml", "--out", str(pre), *overrides]) == 0
    ckpt = pre / "checkpoints" / "best.pt"
    pre_state = torch.load(ckpt, weights_only=True)["model"]
    ft = tmp_path / "ft"
    stage = f"train.stages=[{{name: finetune, epochs: 2, init_from: {ckpt}}}]"
    sets = tiny + [f"data.train={bq}", stage, "data.n_train=3"]
    overrides = sum([["--set", s] for s in sets], [])
    assert main(["train", "examples/configs/codano_finetune.yaml", "--out", str(ft), *overrides]) == 0
    ft_state = torch.load(ft / "checkpoints" / "last.pt", weights_only=True)["model"]
    frozen = [k for k in pre_state if k.startswith(("lifting.", "blocks.", "cls.", "encoding.coefficients.vorticity"))]
    assert frozen and all(torch.equal(ft_state[k], pre_state[k]) for k in frozen)  # the encoder stayed bit-identical
    assert "encoding.coefficients.T" in ft_state and "head.0.mixer1.skip.weight" in ft_state


def _operator_configs() -> list[str]:
    import yaml

    import sciml.models

    names = {p: yaml.safe_load(open(p))["model"]["name"] for p in glob.glob("examples/configs/*.yaml")}
    return sorted(p for p, name in names.items() if sciml.models.task_of(name) == "operator")


@pytest.mark.parametrize("path", _operator_configs())
def test_every_operator_example_config_validates_and_builds_its_model(path):
    """Typed validation and model construction for each operator example (the examples of the other tasks are
    trained by their task's tests); a pretrained checkpoint named by a stage is not needed to build the model."""
    from sciml.runs.config import load_config
    from sciml.runs.operator import build_run_model

    cfg = load_config(path)
    model = build_run_model(cfg, in_channels=1, out_channels=1)
    # the config's width reaches the architecture: doubling it grows the model
    keys = [k for k in ("width", "hidden_channels", "latent_dim") if k in cfg.model]
    for key in keys:
        wider = build_run_model(load_config(path, [f"model.{key}={2 * cfg.model[key]}"]), 1, 1)
        assert sum(p.numel() for p in wider.parameters()) > sum(p.numel() for p in model.parameters()), key


def test_a_refused_run_writes_nothing_and_a_mismatched_run_is_a_checkpoint_error(demo_dir, tmp_path, capsys):
    """A config refused before training neither creates a run directory nor overwrites an existing run's
    config.yaml; a config.yaml edited after training gives a CheckpointError, not a torch traceback."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(demo_dir / "run", run)
    before = (run / "config.yaml").read_text()
    bad = ["--set", "model.hidden_channels=8", "--set", "data.train=/nonexistent.h5"]
    assert main(["train", str(run / "config.yaml"), "--out", str(run), *bad]) == 2
    assert "/nonexistent.h5" in capsys.readouterr().err
    assert (run / "config.yaml").read_text() == before
    assert main(["train", str(run / "config.yaml"), "--out", str(tmp_path / "new"), *bad]) == 2
    assert not (tmp_path / "new").exists()
    assert main(["train", str(run / "config.yaml"), "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err and not (tmp_path / "new").exists()

    cfg = yaml.safe_load(before)
    cfg["model"]["hidden_channels"] = 2 * cfg["model"]["hidden_channels"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["evaluate", str(run)]) == 2
    assert "do not fit the model" in capsys.readouterr().err


def test_evaluate_below_the_model_modes_is_refused_and_plot(demo_dir, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(demo_dir / "run", run)
    single = str(demo_dir / "data" / "darcy_test_32.h5")  # resampled to each resolution
    before = (run / "eval.json").read_text()
    # the demo's FNO keeps more Fourier modes than a 2-point grid holds: a clear error, nothing written
    assert main(["evaluate", str(run), "--resolutions", "2", "8", "--data", single]) == 2
    assert "Fourier modes on axis 0 but the grid has only 2 points" in capsys.readouterr().err
    assert (run / "eval.json").read_text() == before
    assert main(["evaluate", str(run), "--resolutions", "4", "8", "--data", single]) == 0
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert "relative_h1" in ev["4"] and "relative_h1" in ev["8"]
    (run / "plots" / "error_vs_resolution.png").unlink()
    assert main(["plot", str(run)]) == 0
    assert _png_size(run / "plots" / "error_vs_resolution.png")[0] > 100
    (run / "eval.json").write_text("{ not json")
    assert main(["plot", str(run)]) == 2
    assert "eval.json" in capsys.readouterr().err


def test_bad_train_and_generate_arguments_are_clear_errors(demo_dir, tmp_path, capsys):
    cfg_path = demo_dir / "run" / "config.yaml"
    cases = [
        (["train", str(tmp_path / "m.yaml")], "model must be a mapping"),
        (["train", str(cfg_path), "--out", str(tmp_path / "r"), "--set", "train.monitor=bogus"], "train.monitor"),
        (["train", "examples/configs/ncds_lasa.yaml", "--out", str(tmp_path / "n"), "--resume"], "cannot resume"),
        (
            ["train", "examples/configs/ncds_lasa.yaml", "--out", str(tmp_path / "n"), "--set", "train.seed=abc"],
            "train.seed must be int",
        ),
        (
            ["train", "examples/configs/ncds_lasa.yaml", "--out", str(tmp_path / "n"), "--set", "eval.rtol=[1]"],
            "eval.rtol must be",
        ),
        (["data", "generate", "datasets/darcy.yaml", "-o", str(tmp_path)], "is a directory"),
        (["data", "generate", "datasets/darcy.yaml", "-o", str(cfg_path / "x.h5")], "not a directory"),
        (
            ["data", "generate", "datasets/darcy.yaml", "-o", str(tmp_path / "z.h5"), "--set", "n_samples=0"],
            "n_samples",
        ),
        (
            ["data", "generate", "datasets/darcy.yaml", "-o", str(tmp_path / "z.h5"), "--set", "generator=[darcy]"],
            "generator",
        ),
    ]
    (tmp_path / "m.yaml").write_text("model: fno\n")
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
    # the monitor is checked at the first evaluation: the refused run keeps no best checkpoint
    assert not (tmp_path / "r" / "checkpoints" / "best.pt").exists()
    assert not (tmp_path / "z.h5").exists() and not (tmp_path / "n").exists()
