"""The "rollout" task through the shared run system: NCDS configs validate, train, resume exactly and evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from sciml.core.config import from_dict
from sciml.core.errors import ConfigError
from sciml.data.so3 import so3_trajectories
from sciml.geometry.so3 import SO3
from sciml.runs import ExperimentConfig, evaluate_run, train_run

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"


def train_from_config(raw: dict, run_dir, resume: bool = False) -> dict:
    train_run(from_dict(ExperimentConfig, raw, where=""), run_dir, resume=resume)
    return json.loads((Path(run_dir) / "results.json").read_text())


def _tiny(name: str, path: str = "ncds_lasa.yaml") -> dict:
    cfg = yaml.safe_load((CONFIGS / path).read_text())
    cfg["model"]["name"] = name
    cfg["model"]["hidden"] = 16
    cfg["data"]["subsample"] = 50
    cfg["train"].update(epochs=3, batch_size=64)
    cfg["eval"] = {"rollout_points": 20, "rtol": 1e-4}
    if name == "latent_ncds":
        cfg["model"].pop("integrator")
        cfg["model"].update(flow_layers=2, flow_hidden=8)
    return cfg


@pytest.mark.parametrize("name", ["ncds", "latent_ncds"])
def test_train_from_config_lasa(tmp_path, name):
    out = train_from_config(_tiny(name), tmp_path)
    assert out["epochs"] == 3 and out["dim"] == 2 and out["dtw"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["dtw"] == out["dtw"]
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["model_name"] == name and len(state["model_config"]["goal"]) == 2  # rebuildable from the spec
    losses = [json.loads(line)["train_loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_train_from_config_so3(tmp_path):
    cfg = yaml.safe_load((CONFIGS / "ncds_so3.yaml").read_text())
    cfg["model"]["hidden"] = 16
    cfg["data"].update(resolution=30)
    cfg["train"].update(epochs=2, batch_size=64)
    cfg["eval"] = {"rollout_points": 10}
    out = train_from_config(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    R = state["model"]["goal_rotation"].double()
    assert (R.T @ R - torch.eye(3, dtype=torch.float64)).abs().max() < 1e-5  # Riemannian steps keep it a rotation
    assert out["dim"] == 6
    # learn_goal: true, so the goal was actually trained (otherwise the orthogonality check above is trivial)
    gen = {k: v for k, v in cfg["data"].items() if k != "source"}
    initial = SO3().projx(torch.as_tensor(so3_trajectories(**gen)["goal_rotation"]).float()).double()
    assert (R - initial).abs().max() > 1e-3  # moves by ~1e-2 in these 2 epochs


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"modle": {}}, "unknown key.*'modle'.*allowed: data, eval, model, run_dir, seed, task, train"),
        ({"model": {"name": "ncds", "widht": 3}}, "unknown key.*'widht'.*allowed keys: .*hidden"),
        ({"model": {"name": "ncdx"}}, "unknown model 'ncdx'; available: .*latent_ncds.*ncds"),
        ({"model": {"name": "ncds", "dim": 3}}, "come from the data"),
        ({"data": {"source": "lasa", "shape": "Angle"}}, "unknown key.*'shape'.*allowed: source, shapes, subsample"),
        ({"train": {"epochz": 1}}, "epochz"),
    ],
)
def test_config_errors_name_key_and_allowed(tmp_path, patch, match):
    cfg = _tiny("ncds")
    cfg.update(patch)
    with pytest.raises(ConfigError, match=match):
        train_from_config(cfg, tmp_path)


class _Kill:
    """Callback: end the process's training after ``epoch`` epochs, as a SIGKILL after a checkpoint would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_ncds_run_resumes_to_the_same_final_metrics(tmp_path, monkeypatch):
    """The NCDS example trains through `sciml train`, is interrupted after a checkpoint and resumed with
    `--resume`: weights, metrics.jsonl and results.json equal those of an uninterrupted run."""
    from sciml.cli import main
    from sciml.training import trainer as trainer_module

    sets = ["model.hidden=16", "data.subsample=50", "train.epochs=4", "train.batch_size=64", "train.checkpoint_every=1"]
    sets += ["eval.rollout_points=20", "eval.rtol=1e-4"]
    args = ["train", str(CONFIGS / "ncds_lasa.yaml"), *sum([["--set", s] for s in sets], [])]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0

    original = trainer_module.Trainer.__init__

    def with_kill(self, *a, **kw):
        original(self, *a, **kw)
        self.hooks.append(_Kill(2))

    monkeypatch.setattr(trainer_module.Trainer, "__init__", with_kill)
    with pytest.raises(KeyboardInterrupt):
        main([*args, "--out", str(tmp_path / "cut")])
    monkeypatch.setattr(trainer_module.Trainer, "__init__", original)
    assert not (tmp_path / "cut" / "results.json").exists()
    assert main([*args, "--out", str(tmp_path / "cut"), "--resume"]) == 0

    whole, cut = (torch.load(tmp_path / d / "checkpoints" / "last.pt", weights_only=True) for d in ("whole", "cut"))
    for k, v in whole["model"].items():
        assert torch.equal(v, cut["model"][k]), k
    lines = [(tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("whole", "cut")]
    strip = [[{k: v for k, v in json.loads(x).items() if k != "time"} for x in ls] for ls in lines]
    assert strip[0] == strip[1] and len(strip[0]) == 4
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("whole", "cut")]
    assert results[0]["dtw"] == results[1]["dtw"]
    assert evaluate_run(tmp_path / "cut")["dtw"] == pytest.approx(results[1]["dtw"], rel=1e-9)


def test_a_run_directory_of_the_former_ncds_loop_still_evaluates(tmp_path):
    """Checkpoints of the former NCDS loop kept the weights under ``field.`` and no model spec."""
    from sciml.training.checkpoint import load_checkpoint, save_checkpoint

    out = train_from_config(_tiny("ncds"), tmp_path)
    path = tmp_path / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    old = {"model": {f"field.{k}": v for k, v in state["model"].items()}, "epoch": state["epoch"]}
    save_checkpoint(path, old)
    assert evaluate_run(tmp_path, which="last")["dtw"] == pytest.approx(out["dtw"], rel=1e-9)
    # options a rollout run cannot read are refused by name, not ignored (and eval.json keeps the last scores)
    before = (tmp_path / "eval.json").read_text()
    with pytest.raises(
        ConfigError, match=r"a 'rollout' run does not read --data, --resolutions \(options it reads: none\)"
    ):
        evaluate_run(tmp_path, which="last", resolutions=[32], data="other.h5")
    assert (tmp_path / "eval.json").read_text() == before
