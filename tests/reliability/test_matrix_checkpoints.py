"""The bad-input matrix of checkpoints: ``Trainer.resume`` on files of another model, another config, another format
version, files with entries missing (an older writer) or of the wrong type, and broken files.

Each case writes one checkpoint with ``save_checkpoint`` (or raw bytes), resumes a small FNO Trainer from it and
asserts a ``CheckpointError`` (or ``ConfigError``) naming the file and the mismatch, and that the Trainer's weights
and the run directory are untouched. Case ids are ``checkpoint-<input>``. (``load_checkpoint`` on truncated, random,
empty and pickled files is covered by tests/training/test_training_checkpoint.py.)
"""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import TensorDataset

import sciml.models
from sciml.core.errors import CheckpointError, ConfigError, SciMLError
from sciml.training.checkpoint import save_checkpoint
from sciml.training.trainer import Trainer

FNO = {"in_channels": 1, "out_channels": 1, "n_modes": [3, 3], "hidden_channels": 4, "n_layers": 1}


def _trainer(run_dir, name="fno", **config):
    torch.manual_seed(0)
    model = sciml.models.build(name, **(config or FNO))
    data = TensorDataset(torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8))
    return Trainer(
        model, data, config={"epochs": 2, "batch_size": 2, "device": "cpu", "progress": False}, run_dir=run_dir
    )


@pytest.fixture(scope="module")
def good_state(tmp_path_factory):
    t = _trainer(None)
    return t.state_dict()


def _edit(state, **change):
    out = dict(state)
    for k, v in change.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


_DROP = object()

# input -> (make the file: fn(path, good_state), error class, message fragment)
INPUTS = {
    "another_model": (
        lambda p, s: save_checkpoint(
            p, {**_trainer(None, "mgno", in_channels=1, out_channels=1, width=4, n_layers=1, levels=2).state_dict()}
        ),
        CheckpointError,
        r"ck\.pt' holds model 'mgno', not 'fno'",
    ),
    "another_config_same_model": (
        lambda p, s: save_checkpoint(p, _trainer(None, **{**FNO, "hidden_channels": 6}).state_dict()),
        CheckpointError,
        r"ck\.pt' does not fit this model/optimizer: .*(size mismatch|hidden|shape)",
    ),
    "future_format_version": (
        lambda p, s: torch.save({**s, "format": "sciml-checkpoint", "version": 99}, p),
        CheckpointError,
        r"ck\.pt' has format version 99; this sciml reads up to 1",
    ),
    "older_writer_without_optimizer": (
        lambda p, s: save_checkpoint(p, _edit(s, optimizer=_DROP)),
        CheckpointError,
        r"ck\.pt'.*'optimizer'",
    ),
    "older_writer_without_rng": (
        lambda p, s: save_checkpoint(p, _edit(s, rng=_DROP)),
        CheckpointError,
        r"ck\.pt'.*'rng'",
    ),
    "without_epoch": (
        lambda p, s: save_checkpoint(p, _edit(s, epoch=_DROP)),
        CheckpointError,
        r"ck\.pt'.*'epoch'",
    ),
    "without_model_weights": (
        lambda p, s: save_checkpoint(p, _edit(s, model=_DROP)),
        CheckpointError,
        r"ck\.pt'.*'model'",
    ),
    "weights_not_a_dict": (
        lambda p, s: save_checkpoint(p, _edit(s, model=[1, 2, 3])),
        CheckpointError,
        r"ck\.pt'.*'model'.*list",
    ),
    "epoch_not_an_int": (
        lambda p, s: save_checkpoint(p, _edit(s, epoch="three")),
        CheckpointError,
        r"ck\.pt'.*'epoch'.*'three'",
    ),
    "epoch_past_the_run": (
        lambda p, s: save_checkpoint(p, _edit(s, epoch=7)),
        CheckpointError,
        r"ck\.pt'.*epoch 7.*2 epochs",
    ),
    "missing_weight": (
        lambda p, s: save_checkpoint(p, _edit(s, model={k: v for k, v in list(s["model"].items())[1:]})),
        CheckpointError,
        r"ck\.pt' does not fit this model/optimizer: .*Missing key",
    ),
    "wrong_weight_shape": (
        lambda p, s: save_checkpoint(
            p, _edit(s, model={k: (v[..., :1] if v.dim() else v) for k, v in s["model"].items()})
        ),
        CheckpointError,
        r"ck\.pt' does not fit this model/optimizer: .*size mismatch",
    ),
    "other_schedule": (
        lambda p, s: save_checkpoint(
            p,
            _trainer_sched(p.parent / "other").state_dict(),
        ),
        ConfigError,
        r"cannot resume '.*ck\.pt': its onecycle schedule has",
    ),
    "truncated_file": (
        lambda p, s: (save_checkpoint(p, s), p.write_bytes(p.read_bytes()[:1000])),
        CheckpointError,
        r"ck\.pt' \(1000 bytes\) is truncated or corrupt",
    ),
    "empty_file": (lambda p, s: p.write_bytes(b""), CheckpointError, r"ck\.pt' is empty \(0 bytes\)"),
    "not_a_checkpoint": (
        lambda p, s: torch.save({"state_dict": s["model"]}, p),
        CheckpointError,
        r"ck\.pt' is not a sciml checkpoint",
    ),
    "missing_file": (lambda p, s: None, CheckpointError, r"ck\.pt' does not exist"),
}


def _trainer_sched(run_dir):
    torch.manual_seed(0)
    model = sciml.models.build("fno", **FNO)
    data = TensorDataset(torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8))
    cfg = {"epochs": 5, "batch_size": 2, "device": "cpu", "progress": False, "scheduler": "onecycle"}
    return Trainer(model, data, config=cfg, run_dir=None)


@pytest.mark.parametrize("inp", sorted(INPUTS), ids=lambda s: f"checkpoint-{s}")
def test_checkpoint(inp, good_state, tmp_path):
    make, exc, match = INPUTS[inp]
    assert issubclass(exc, SciMLError)
    ck = tmp_path / "ck.pt"
    make(ck, good_state)
    run = tmp_path / "run"
    if inp == "other_schedule":
        trainer = _trainer_sched(run)
        trainer.config.epochs = 2  # the same model and optimizer, a schedule that ends elsewhere
        trainer.scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer.optimizer, 1e-3, total_steps=4)
    else:
        trainer = _trainer(run)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(exc, match=match):
        trainer.resume(ck)
    assert sorted(os.listdir(tmp_path)) == listing, "a refused resume wrote files"
    assert not run.exists()
    if exc is CheckpointError and inp not in ("another_config_same_model", "missing_weight", "wrong_weight_shape"):
        after = trainer.model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before), "a refused checkpoint changed the weights"
