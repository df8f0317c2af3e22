"""The Trainer: exact resume, divergence handling, metrics log, hooks, custom losses, bf16 autocast."""

from __future__ import annotations

import json

import pytest
import torch
from _trainhelp import GridDataset, TinyConvNet, params_of, smoothing_problem
from torch import nn

from sciml.core.errors import ConfigError, TrainingDivergedError
from sciml.metrics.losses import relative_l2
from sciml.models.protocol import Objective, StepHook
from sciml.training import Trainer, load_checkpoint
from sciml.training.amp import fft_fp32


class StopAfter:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch):
        if epoch == self.epoch:
            trainer.stop_training = True


def _model(seed: int, dropout: float = 0.2) -> nn.Module:
    torch.manual_seed(seed)
    return TinyConvNet(width=6, dropout=dropout)


CFG = dict(epochs=4, batch_size=4, lr=5e-3, optimizer="adamw", weight_decay=1e-4, scheduler="onecycle", seed=7)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    data, val = smoothing_problem(16), smoothing_problem(4, seed=1)
    full = Trainer(_model(0), data, val, config=CFG, run_dir=tmp_path / "full")
    full.fit()

    part = Trainer(_model(0), data, val, config=CFG, run_dir=tmp_path / "part", hooks=[StopAfter(1)])
    part.fit()
    assert part.epoch == 2 and len(part.history) == 2
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["epoch"] == 2

    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    resumed = Trainer(_model(99), data, val, config=CFG, run_dir=tmp_path / "part").resume()
    resumed.fit()
    for k, v in params_of(full.model).items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    assert resumed.global_step == full.global_step == 16
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [1, 2, 3, 4]

    # a OneCycle run cannot be extended: the schedule was built for 4 epochs (torch would fail mid-epoch 5)
    # the restored schedule must end where this run ends: more epochs or another batch size are refused
    with pytest.raises(ConfigError, match="'total_steps': 16.*'total_steps': 24"):
        Trainer(_model(0), data, val, config={**CFG, "epochs": 6}, run_dir=tmp_path / "part").resume()
    with pytest.raises(ConfigError, match="'total_steps': 16.*'total_steps': 8"):
        Trainer(_model(0), data, val, config={**CFG, "batch_size": 8}, run_dir=tmp_path / "part").resume()

    # the check is meaningful: another seed (other shuffling and dropout) ends elsewhere
    other = Trainer(_model(0), data, val, config={**CFG, "seed": 8})
    other.fit()
    assert not torch.equal(other.model.c1.weight, full.model.c1.weight)


class NaNAt:
    """relative L2, but NaN on the n-th call (1-based)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, pred, target, grid):
        self.calls += 1
        loss = relative_l2(pred, target, grid)
        return loss * float("nan") if self.calls == self.n else loss


class Snapshot:
    def __init__(self) -> None:
        self.after_epoch: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer, epoch):
        self.after_epoch[epoch] = params_of(trainer.model)


@pytest.mark.parametrize("deferred_check", [False, True])
def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, deferred_check):
    data = smoothing_problem(16)
    snap = Snapshot()
    trainer = Trainer(
        _model(0, dropout=0.0), data, loss=NaNAt(7), config={**CFG, "log_every": 100}, run_dir=tmp_path, hooks=[snap]
    )
    trainer._sync_checks = not deferred_check  # the deferred path is what CUDA runs use
    last = tmp_path / "checkpoints" / "last.pt"
    with pytest.raises(TrainingDivergedError) as e:
        trainer.fit()
    msg = str(e.value)
    assert "loss is nan at epoch 2 of 4, step 3 of 4 (global step 7)" in msg
    assert f"the last good checkpoint is {last} (after epoch 1)" in msg
    state = load_checkpoint(last)
    assert state["epoch"] == 1 and set(snap.after_epoch) == {0}
    for k, v in snap.after_epoch[0].items():
        assert torch.equal(state["model"][k], v), k
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    if not deferred_check:  # checked before the optimizer step: the weights in memory are still finite
        assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


class Recorder:
    def __init__(self, name: str, log: list, with_start: bool = True) -> None:
        self.name, self.log = name, log
        if with_start:
            self.on_epoch_start = lambda trainer, epoch: log.append((name, "start", epoch))

    def on_epoch_end(self, trainer, epoch):
        self.log.append((self.name, "end", epoch))

    def after_optimizer_step(self, trainer):
        self.log.append((self.name, "step", trainer.global_step))


class CountingNet(TinyConvNet, StepHook):
    def __init__(self, log: list) -> None:
        super().__init__(width=6)
        self.log = log

    def after_step(self):
        self.log.append(("model", "step", None))


def test_metrics_log_hooks_order_and_best_checkpoint(tmp_path):
    torch.manual_seed(0)
    log: list = []
    data, val = smoothing_problem(16), smoothing_problem(4, seed=1)
    cfg = dict(epochs=5, batch_size=8, lr=2e-2, seed=0)
    trainer = Trainer(
        CountingNet(log), data, val, config=cfg, run_dir=tmp_path, hooks=[Recorder("A", log), Recorder("B", log, False)]
    )
    history = trainer.fit()
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(history)) and [r["epoch"] for r in lines] == [1, 2, 3, 4, 5]
    assert {"epoch", "step", "train_loss", "lr", "time", "val_relative_l2", "val_relative_h1"} <= set(lines[0])
    losses = [r["train_loss"] for r in lines]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]

    expected = []
    step = 0
    for epoch in range(5):
        expected.append(("A", "start", epoch))
        for _ in range(2):  # 16 samples / batch 8
            step += 1
            expected += [("model", "step", None), ("A", "step", step), ("B", "step", step)]
        expected += [("A", "end", epoch), ("B", "end", epoch)]
    assert log == expected

    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["best"] == min(r["val_relative_l2"] for r in lines)
    assert best["epoch"] == 1 + min(range(5), key=lambda i: lines[i]["val_relative_l2"])


def test_evaluate_known_values_and_state_unchanged():
    data = smoothing_problem(6)

    class Zero(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x, grid=None):
            return self.w * x

    class Exact(Zero):
        def forward(self, x, grid=None):
            return 0.5 * torch.roll(x, 1, dims=-1) + 0.25 * x + self.w

    zero = Trainer(Zero(), data, config={"batch_size": 4})
    m = zero.evaluate(data)
    assert m["relative_l2"] == pytest.approx(1.0, abs=1e-6) and m["relative_h1"] == pytest.approx(1.0, abs=1e-6)
    assert Trainer(Exact(), data).evaluate(data)["relative_l2"] == pytest.approx(0.0, abs=1e-6)
    model = _model(0)
    before = params_of(model)
    t = Trainer(model, data)
    t.evaluate(data)
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


class SelfSupervised(TinyConvNet, Objective):
    """Declares an objective: the Trainer must use it (and report its metrics) instead of loss_fn."""

    def __init__(self):
        super().__init__(width=4)
        self.calls = 0

    def objective(self, batch, grid):
        x, y = batch
        self.calls += 1
        loss = relative_l2(self(x, grid), y, grid)
        return loss, {"aux": 2.0}


def test_declared_objective_is_used():
    torch.manual_seed(0)
    model = SelfSupervised()
    t = Trainer(model, smoothing_problem(8), loss=NaNAt(1), config={"epochs": 2, "batch_size": 4})
    history = t.fit()  # loss_fn (NaN on first call) is never used
    assert model.calls == 4 and [r["train_aux"] for r in history] == [2.0, 2.0]


class SpectralNet(nn.Module):
    """conv -> FFT multiplier (kept in fp32 by fft_fp32) -> conv."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 4, 1)
        self.b = nn.Conv2d(4, 1, 1)
        self.k = nn.Parameter(torch.ones(4, 1, 1))
        self.fft_dtypes: list[torch.dtype] = []

    @fft_fp32
    def spectral(self, h):
        self.fft_dtypes.append(h.dtype)
        return torch.fft.irfft2(torch.fft.rfft2(h) * self.k, s=h.shape[-2:])

    def forward(self, x, grid=None):
        return self.b(self.spectral(self.a(x)))


def test_bf16_autocast_on_cpu_stays_close_to_fp32():
    data = smoothing_problem(8)
    results = {}
    for amp in (None, "bf16"):
        torch.manual_seed(0)
        model = SpectralNet()
        t = Trainer(model, data, config={"epochs": 3, "batch_size": 4, "lr": 1e-2, "amp": amp, "seed": 0})
        results[amp] = [r["train_loss"] for r in t.fit()]
        assert set(model.fft_dtypes) == {torch.float32}
    assert results[None] != results["bf16"]  # autocast really ran in bf16
    for a, b in zip(results[None], results["bf16"]):
        assert b == pytest.approx(a, rel=5e-2)


def test_config_errors_and_default_grid():
    data = smoothing_problem(4)
    with pytest.raises(ConfigError, match="unknown key 'lrr' in train"):
        Trainer(TinyConvNet(), data, config={"lrr": 1.0})
    with pytest.raises(ConfigError, match="scheduler_params"):
        Trainer(TinyConvNet(), data, config={"scheduler": "step", "scheduler_params": {"bogus": 1}})
    t = Trainer(TinyConvNet(), data, config={"device": "cpu"})
    assert t.grid is data.grid and t.device.type == "cpu"
    plain = GridDataset(data.tensors[0], data.tensors[1], None)
    assert Trainer(TinyConvNet(), plain).grid is None


class SqrtKink(TinyConvNet):
    """Finite loss with an infinite gradient at the start: d sqrt(|w|)/dw at w = 0."""

    def __init__(self):
        super().__init__(width=4)
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, grid=None):
        return super().forward(x, grid) + torch.sqrt(self.w.abs())


def test_non_finite_gradient_is_caught_with_grad_clip(tmp_path):
    torch.manual_seed(0)
    model = SqrtKink()
    before = params_of(model)
    t = Trainer(model, smoothing_problem(8), config={"epochs": 1, "batch_size": 4, "grad_clip": 1.0}, run_dir=tmp_path)
    with pytest.raises(TrainingDivergedError, match=r"gradient norm is not finite .* step 1 of 2.*no checkpoint"):
        t.fit()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # no step was taken
    assert not (tmp_path / "checkpoints" / "last.pt").exists()


def test_a_misspelled_monitor_is_refused_at_the_first_evaluation(tmp_path):
    data, val = smoothing_problem(8), smoothing_problem(4, seed=1)
    trainer = Trainer(_model(0), data, val, config={**CFG, "monitor": "relative_L2"}, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="'relative_L2' is not a validation metric.*available: .*relative_l2"):
        trainer.fit()
    assert not (tmp_path / "checkpoints" / "best.pt").exists()


def test_epoch_train_loss_is_a_per_sample_mean_like_evaluate():
    """10 samples in batches of 4: the last batch (2 samples) weighs half of a full one. With a negligible learning
    rate, the epoch loss equals evaluate()'s per-sample mean (a mean of batch means is 1e-3 off here)."""
    data = smoothing_problem(10)
    trainer = Trainer(_model(0, dropout=0.0), data, config={"epochs": 1, "batch_size": 4, "lr": 1e-12, "seed": 0})
    trainer.fit()
    expected = trainer.evaluate(data)["relative_l2"]
    assert trainer.history[0]["train_loss"] == pytest.approx(expected, rel=1e-6)


def test_resuming_a_cosine_run_with_more_epochs_is_refused(tmp_path):
    data = smoothing_problem(8)
    cfg = {**CFG, "scheduler": "cosine", "epochs": 2}
    Trainer(_model(0), data, config=cfg, run_dir=tmp_path).fit()
    with pytest.raises(ConfigError, match="'T_max': 2.*'T_max': 4"):
        Trainer(_model(0), data, config={**cfg, "epochs": 4}, run_dir=tmp_path).resume()


def test_evaluate_leaves_out_h1_on_a_grid_too_coarse_for_derivatives():
    from sciml.fields.grid import Grid

    grid = Grid.uniform((2, 8), periodic=True)
    data = GridDataset(torch.randn(3, 1, 2, 8), torch.randn(3, 1, 2, 8), grid)

    class Identity(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x, grid=None):
            return self.w * x

    m = Trainer(Identity(), data).evaluate(data)
    assert "relative_h1" not in m and m["relative_l2"] > 0
