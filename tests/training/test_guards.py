"""Numerical guards of the Trainer (gradient-norm logging, exploding and non-finite losses) and of the models (a grid
too coarse for the modes or levels a model keeps). Each test fails without its guard.

The Trainer checks losses per step on CPU and every ``log_every`` steps on CUDA (no device sync per step); both
paths are run here on CPU by switching ``trainer._sync_checks`` (the flag the Trainer sets from the device).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import sciml.models
from sciml.core.errors import GridError, ShapeError, TrainingDivergedError
from sciml.fields.grid import Grid
from sciml.models.protocol import Objective
from sciml.training.checkpoint import load_checkpoint
from sciml.training.trainer import Trainer


class ScriptedLoss(nn.Module, Objective):
    """An objective whose step losses are given: step i returns ``losses[i]`` (with a zero-gradient term on ``w``)."""

    def __init__(self, losses: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.losses = list(losses)
        self.i = 0

    def forward(self, x, grid=None):
        return x * self.w

    def objective(self, batch, grid=None):
        value = self.losses[min(self.i, len(self.losses) - 1)]
        self.i += 1
        return (self.w * 0.0).sum() + value, {}


def _trainer(model, steps, epochs=1, run_dir=None, sync=True, **config):
    data = TensorDataset(torch.zeros(steps, 1))
    cfg = {"epochs": epochs, "batch_size": 1, "device": "cpu", "progress": False, "log_every": 2, **config}
    trainer = Trainer(model, data, config=cfg, run_dir=run_dir)
    trainer._sync_checks = sync  # False: the deferred checks the Trainer runs on CUDA
    return trainer


# ---------------------------------------------------------------------------------------------- gradient norm
class Quadratic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x, grid=None):
        return self.lin(x)


class NormProbe:
    """Records the global gradient norm after each optimizer step (what is left after any clipping)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def after_optimizer_step(self, trainer):
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def _regression(n=6):
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, 3, generator=g), torch.randn(n, 2, generator=g))


@pytest.mark.parametrize("sync", [True, False], ids=["per_step_checks", "deferred_checks"])
def test_train_grad_norm_is_the_epoch_mean_of_the_step_norms(tmp_path, sync):
    torch.manual_seed(0)
    probe = NormProbe()
    cfg = {"epochs": 2, "batch_size": 2, "device": "cpu", "progress": False, "loss": "mse"}
    trainer = Trainer(Quadratic(), _regression(), config=cfg, run_dir=tmp_path, hooks=[probe])
    trainer._sync_checks = sync
    history = trainer.fit()
    assert len(probe.norms) == 6
    for epoch, record in enumerate(history):
        expected = sum(probe.norms[3 * epoch : 3 * epoch + 3]) / 3
        assert record["train_grad_norm"] == pytest.approx(expected, rel=1e-6)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["train_grad_norm"] for line in lines] == [r["train_grad_norm"] for r in history]


def test_train_grad_norm_is_taken_before_clipping():
    runs = {}
    for clip in (None, 1e-6):
        torch.manual_seed(0)
        probe = NormProbe()
        cfg = {"epochs": 1, "batch_size": 6, "device": "cpu", "progress": False, "loss": "mse", "grad_clip": clip}
        history = Trainer(Quadratic(), _regression(), config=cfg, hooks=[probe]).fit()
        runs[clip] = (history[0]["train_grad_norm"], probe.norms[0])
    unclipped, clipped = runs[None], runs[1e-6]
    assert unclipped[0] == pytest.approx(unclipped[1], rel=1e-6) and unclipped[0] > 1e-3
    assert clipped[1] == pytest.approx(1e-6, rel=1e-3)  # the gradients were clipped ...
    assert clipped[0] == pytest.approx(unclipped[0], rel=1e-6)  # ... but the logged norm is the one before


# ---------------------------------------------------------------------------------------------- exploding loss
@pytest.mark.parametrize("sync", [True, False], ids=["per_step_checks", "deferred_checks"])
def test_an_exploding_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, sync):
    losses = [1.0, 0.5, 0.4, 0.45, 0.3, 2e6, 0.2, 0.2]  # epoch 1: steps 1-4; epoch 2 explodes at its 2nd step
    trainer = _trainer(ScriptedLoss(losses), steps=4, epochs=2, run_dir=tmp_path, sync=sync)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.fit()
    msg = str(info.value)
    assert "loss exploded to 2e+06" in msg and "explode_factor=1e+06" in msg and "smallest loss of the run (0.3)" in msg
    assert "epoch 2 of 2, step 2 of 4" in msg and "last.pt (after epoch 1)" in msg
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 1


def test_a_loss_that_falls_and_rises_within_the_factor_trains_on():
    losses = [1.0, 1e-3, 0.5, 100.0, 999.0]  # 999 / 1e-3 < 1e6
    history = _trainer(ScriptedLoss(losses), steps=5).fit()
    assert history[0]["train_loss"] == pytest.approx(sum(losses) / 5)


@pytest.mark.parametrize("sync", [True, False], ids=["per_step_checks", "deferred_checks"])
def test_negative_losses_never_trip_the_explosion_check(sync):
    # an ELBO-like objective: negative values, and values crossing zero (a tiny |loss| then a large one)
    losses = [-1.0, -1e-9, 5.0, -3.0, 1e-12, 50.0]
    history = _trainer(ScriptedLoss(losses), steps=6, sync=sync).fit()
    assert history[0]["train_loss"] == pytest.approx(sum(losses) / 6)


def test_explode_factor_null_disables_the_check_and_the_factor_is_configurable():
    losses = [1.0, 1e9]
    assert len(_trainer(ScriptedLoss(losses), steps=2, explode_factor=None).fit()) == 1
    with pytest.raises(TrainingDivergedError, match=r"explode_factor=10"):
        _trainer(ScriptedLoss([1.0, 0.9, 11.0]), steps=3, explode_factor=10.0).fit()


def test_the_guard_state_survives_a_resume(tmp_path):
    # epoch 1 sees the floor 0.001; after the resume a loss of 2e3 (2e6 times the floor) must still stop training
    first = _trainer(ScriptedLoss([1.0, 0.001]), steps=2, epochs=2, run_dir=tmp_path)
    first.config.epochs = 1
    first.fit()
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["guard"]["loss_floor"] == pytest.approx(0.001)
    resumed = _trainer(ScriptedLoss([2e3, 2e3]), steps=2, epochs=2, run_dir=tmp_path).resume()
    with pytest.raises(TrainingDivergedError, match=r"smallest loss of the run \(0\.001\)"):
        resumed.fit()


# ---------------------------------------------------------------------------------------------- non-finite gradient
class NaNGradient(nn.Module, Objective):
    """A finite loss (0) whose gradient is NaN: d/dw sqrt(w - w) = inf * 0."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x, grid=None):
        return x

    def objective(self, batch, grid=None):
        return torch.sqrt(self.w - self.w).sum(), {}


@pytest.mark.parametrize("sync", [True, False], ids=["per_step_checks", "deferred_checks"])
def test_a_nan_gradient_stops_training_without_grad_clip(sync):
    trainer = _trainer(NaNGradient(), steps=2, sync=sync)
    with pytest.raises(TrainingDivergedError, match=r"gradient norm is not finite \(loss 0\) at epoch 1 of 1, step 1"):
        trainer.fit()
    if sync:  # per-step checks run before the optimizer step (deferred ones, on CUDA, at the next check)
        assert torch.equal(trainer.model.w.detach(), torch.ones(1))


# ---------------------------------------------------------------------------------------------- non-finite input
@pytest.mark.parametrize("sync", [True, False], ids=["per_step_checks", "deferred_checks"])
@pytest.mark.parametrize("name", ["fno", "codano"])
def test_a_nan_in_the_batch_is_named_as_bad_input_not_divergence(name, sync):
    """A Dataset that yields NaN: the error names the batch tensor and sample, for plain and objective models."""
    torch.manual_seed(0)
    if name == "fno":
        model = sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[3, 3], hidden_channels=4)
    else:
        model = sciml.models.build("codano", variables=["a"], n_modes=[3, 3], width=4, n_layers=1, mode="pretrain")
    x, y = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    x[2, 0, 3, 5] = float("nan")
    data = TensorDataset(x, y) if name == "fno" else TensorDataset(x)
    cfg = {"epochs": 1, "batch_size": 4, "device": "cpu", "progress": False, "log_every": 2}
    trainer = Trainer(model, data, config=cfg, grid=Grid.uniform((8, 8), periodic=True))
    trainer._sync_checks = sync
    expected = (
        r"batch\[0\] \(shape \(4, 1, 8, 8\)\) holds 1 NaN/Inf value\(s\), the first in sample \d"
        if sync
        else ("the batch holds NaN or Inf values")
    )
    with pytest.raises(
        TrainingDivergedError, match=r"the input, not the model, is bad: " + expected + ".* step 1 of 1"
    ):
        trainer.fit()


# ---------------------------------------------------------------------------------------------- grids too coarse
@pytest.mark.parametrize(
    "name,config,shape,exc,match",
    [
        (
            "codano",
            {"variables": ["a"], "n_modes": [8, 8], "width": 4, "n_layers": 1},
            (1, 1, 6, 12),
            GridError,
            r"codano keeps n_modes=8 Fourier modes on axis 0 but the grid has only 6 points .*\(6, 12\)",
        ),
        (
            "vano",
            {"ndim": 2, "latent_dim": 4, "encoder_layers": 1, "encoder_modes": 8, "encoder_width": 4},
            (1, 1, 12, 5),
            GridError,
            r"VANO's operator encoder keeps encoder_modes=8 .* grid \(12, 5\)",
        ),
        (
            "mgno",
            {"in_channels": 1, "out_channels": 1, "width": 4, "n_layers": 1, "levels": 4},
            (1, 1, 8, 8),
            ShapeError,
            r"grid \(8, 8\) is too small for 4 multigrid levels",
        ),
        (
            "sae_cnn",
            {"n_latents": 4, "kernel_size": 7},
            (1, 1, 5),
            ShapeError,
            r"sae_cnn: grid \(5,\) is smaller than the kernel \(7 pixels per axis\)",
        ),
        (
            "fno",
            {"in_channels": 1, "out_channels": 1, "n_modes": [8, 8], "hidden_channels": 4, "n_layers": 1},
            (1, 1, 8, 4),
            GridError,
            r"fno keeps n_modes=8 Fourier modes on axis 1 but the grid has only 4 points",
        ),
    ],
    ids=["codano", "vano", "mgno", "sae_cnn", "fno"],
)
def test_a_grid_too_coarse_for_the_model_is_refused(name, config, shape, exc, match):
    torch.manual_seed(0)
    model = sciml.models.build(name, **config)
    with torch.no_grad(), pytest.raises(exc, match=match):
        model(torch.randn(*shape))
    fine = tuple(shape[:2]) + tuple(max(s, 16) for s in shape[2:])  # the same model runs where the grid suffices
    with torch.no_grad():
        assert model(torch.randn(*fine)).shape[0] == 1


def test_sae_no_truncates_to_the_grid_by_design():
    """SAE-NO keeps ``|m| < min(n_modes, ceil(N / 2))`` (its documented resolution rule): a coarse grid is not an
    error, and the output equals the band-limited projection of the model on that grid."""
    torch.manual_seed(0)
    model = sciml.models.build("sae_no", n_latents=4, n_modes=8)
    with torch.no_grad():
        assert model(torch.randn(2, 1, 6)).shape == (2, 1, 6)
