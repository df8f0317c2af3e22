"""Training stages and the step hook through the model contract: freezing per phase, exact mid-phase resume,
weights loaded by a phase, and a step hook that never runs in evaluation."""

from __future__ import annotations

import json

import pytest
import torch
from _trainhelp import TinyConvNet, params_of, smoothing_problem

from sciml.core.errors import ConfigError
from sciml.models.protocol import Stage, StepHook
from sciml.training import Trainer, save_checkpoint
from sciml.training.trainer import evaluate_model

TWO_STAGES = [
    {"name": "all", "epochs": 2, "lr": 2e-2},
    {"name": "last_layer", "epochs": 3, "lr": 5e-3, "trainable": ["c2"]},
]


class Snapshot:
    """Callback: the weights after each epoch."""

    def __init__(self) -> None:
        self.after: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer, epoch):
        self.after[epoch] = params_of(trainer.model)


class StopAfter:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch):
        if epoch + 1 == self.epoch:
            trainer.stop_training = True


def _trainer(run_dir, hooks=(), dropout=0.1):
    torch.manual_seed(0)
    cfg = {"batch_size": 4, "seed": 3, "stages": TWO_STAGES, "scheduler": "cosine"}
    return Trainer(TinyConvNet(dropout=dropout), smoothing_problem(12), config=cfg, run_dir=run_dir, hooks=hooks)


def test_each_stage_trains_only_its_parameters_with_its_own_optimizer(tmp_path):
    snap = Snapshot()
    trainer = _trainer(tmp_path, [snap])
    assert trainer.config.epochs == 5  # the sum of the stages
    history = trainer.fit()
    assert [r["stage"] for r in history] == ["all", "all", "last_layer", "last_layer", "last_layer"]
    first, last = snap.after[1], snap.after[4]
    assert not torch.equal(first["c1.weight"], snap.after[0]["c1.weight"])  # phase 1 trains everything
    assert torch.equal(first["c1.weight"], last["c1.weight"]) and torch.equal(first["c1.bias"], last["c1.bias"])
    assert not torch.equal(first["c2.weight"], last["c2.weight"])
    assert history[2]["lr"] == pytest.approx(5e-3) and history[3]["lr"] < 5e-3  # a fresh cosine schedule


def test_resume_inside_a_stage_matches_an_uninterrupted_run(tmp_path):
    whole = _trainer(tmp_path / "whole")
    whole.fit()
    cut = _trainer(tmp_path / "cut", [StopAfter(3)])  # stops inside the second phase
    cut.fit()
    assert cut.epoch == 3 and cut.stage_index == 1
    resumed = _trainer(tmp_path / "cut").resume()
    assert resumed.stage_index == 1 and not any(p.requires_grad for p in resumed.model.c1.parameters())
    resumed.fit()
    for k, v in params_of(whole.model).items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    lines = [json.loads(s) for s in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in lines] == [r["train_loss"] for r in whole.history]


def test_a_stage_loads_weights_and_a_bad_stage_is_refused(tmp_path):
    source = TinyConvNet()
    save_checkpoint(tmp_path / "src.pt", {"model": source.state_dict()})
    stages = [{"name": "transfer", "epochs": 1, "init_from": str(tmp_path / "src.pt"), "init_keys": ["c1.*"]}]
    stages[0]["trainable"] = ["c2"]
    trainer = Trainer(TinyConvNet(), smoothing_problem(4), config={"batch_size": 4, "stages": stages})
    trainer.fit()
    assert torch.equal(trainer.model.c1.weight, source.c1.weight)  # loaded and frozen
    assert not torch.equal(trainer.model.c2.weight, source.c2.weight)
    with pytest.raises(ConfigError, match="trains no parameter"):
        Trainer(TinyConvNet(), smoothing_problem(4), config={"stages": [{"epochs": 1, "trainable": ["nothing"]}]})
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        Stage(name="x", epochs=0)


class CountingHook(TinyConvNet, StepHook):
    def __init__(self) -> None:
        super().__init__(width=4)
        self.calls = 0

    def after_step(self) -> None:
        self.calls += 1


def test_the_step_hook_runs_after_every_optimizer_step_and_never_in_evaluation():
    model = CountingHook()
    data, val = smoothing_problem(8), smoothing_problem(4, seed=1)
    trainer = Trainer(model, data, val, config={"epochs": 3, "batch_size": 4})  # validation every epoch
    trainer.fit()
    assert model.calls == trainer.global_step == 6
    trainer.evaluate(val)
    evaluate_model(model, val)
    assert model.calls == 6
