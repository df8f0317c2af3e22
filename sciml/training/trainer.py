"""One training loop for every sciml model: supervised operator learning and multi-stage methods.

Per optimizer step, on a batch ``(x, y)`` of shapes ``(batch, channels, *spatial)``:

    pred = model(x, grid)                     (inside bf16 autocast when amp="bf16")
    loss = loss_fn(pred, y, grid)             (fp32, quadrature-weighted relative L2 by default)

or, when the model declares the ``Objective`` capability (``sciml.models.protocol``), ``model.objective(batch,
grid) -> (loss, metrics)`` instead. Then backward, optional gradient clipping, optimizer step, scheduler step
(``onecycle`` per step, others per epoch), ``model.after_step()`` when the model declares ``StepHook`` (Met2Net's
copy/EMA, unit-norm dictionary atoms; never run in evaluation) and every hook's ``after_optimizer_step(trainer)``.
Hooks (callbacks, not models) may also define ``on_epoch_start(trainer, epoch)`` and ``on_epoch_end(trainer,
epoch)`` (0-based epoch index); missing methods are skipped. A hook can end training early by setting
``trainer.stop_training = True`` (the epoch's checkpoint is still written).

Stages: ``config.stages`` is an ordered list of ``Stage``s (``sciml.models.protocol``);
each phase starts with a fresh optimizer and scheduler over its own epochs, loads ``init_from`` weights on a fresh
start, lets the model adapt (``Staged.enter_stage``) and trains only the parameters it names. Checkpoints record the
phase, so a run resumes mid-phase with that phase's frozen set and optimizer. Without stages the whole run is one
phase over the parameters that require grad.

Around the steps: device selection (cuda if available), DDP under torchrun (``distributed.py``),
per-epoch seeded shuffling (``DistributedSampler`` seeded by ``(seed, epoch)``, so the order never depends
on history), ``metrics.jsonl`` (one JSON object per epoch, epochs counted from 1) and checkpoints
``checkpoints/last.pt`` / ``best.pt`` in ``run_dir`` (rank 0 only), exact resume (``resume``), and
divergence detection: a non-finite loss or gradient norm, or a finite loss that explodes (above
``train.explode_factor`` times the smallest positive step loss of the run; off once a loss is negative, since the
ratio means nothing for signed objectives such as an ELBO), raises ``TrainingDivergedError`` naming the epoch and
step and the last good checkpoint, which is never overwritten by the bad state. On CPU every step is checked before
the optimizer step; on CUDA, to avoid a device sync per step, the checks run every ``log_every`` steps and at the end
of each epoch (one transfer of the pending losses and norms per check). When the loss is not finite because the
batch itself holds NaN/Inf (a custom Dataset; sciml's readers refuse such data), the error says so and names the
batch tensor and sample instead of blaming the model; models themselves do not scan inputs (that would cost a
device sync per call).

Every step also computes the global gradient norm (before clipping: the value ``clip_grad_norm_`` clips) as a
device tensor; ``metrics.jsonl`` records its mean over the epoch's steps as ``train_grad_norm`` (summed on the device
and read once per epoch on CUDA).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from sciml.core.config import from_dict, to_dict
from sciml.core.errors import CheckpointError, ConfigError, TrainingDivergedError
from sciml.core.files import atomic_path, make_dirs, storage_error
from sciml.fields.grid import Grid
from sciml.metrics.losses import get_loss, relative_h1, relative_l2
from sciml.models.protocol import Objective, Stage, Staged, StepHook, apply_trainable, load_matching, model_spec
from sciml.training import distributed
from sciml.training.amp import autocast
from sciml.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from sciml.training.config import TrainConfig

__all__ = ["Trainer"]

logger = logging.getLogger(__name__)


class _ObjectiveAdapter(nn.Module):
    """Routes ``model.objective`` through ``forward`` so DDP sees (and synchronises) the computation."""

    def __init__(self, model: Objective) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any, grid: Any) -> Any:
        return self.model.objective(batch, grid)


def _to_device(batch: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device, non_blocking) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, non_blocking) for k, v in batch.items()}
    return batch


def _select_device(spec: str | torch.device, local_rank: int, distributed_run: bool) -> torch.device:
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was requested but no CUDA device is available")
        return torch.device("cuda", local_rank if distributed_run else torch.cuda.current_device())
    if spec == "cpu":
        return torch.device("cpu")
    return torch.device(spec)


def _mix_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1)


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Train ``model`` on ``train_data`` (a Dataset yielding ``(x, y)`` tensors).

    Args:
        model: an ``nn.Module`` following the model contract (``sciml.models.protocol``): ``forward(x, grid)``,
            optionally the ``Objective``, ``StepHook`` and ``Staged`` capabilities.
        train_data, val_data: map-style datasets; ``grid`` defaults to ``train_data.grid`` if present,
            validation uses ``val_data.grid`` if present.
        loss: a name for ``sciml.metrics.losses.get_loss`` or a callable ``(pred, target, grid)``;
            None uses ``config.loss`` (default ``"relative_l2"``).
        config: ``TrainConfig``, a dict validated into one, or None for the defaults.
        run_dir: directory for ``metrics.jsonl`` and ``checkpoints/``; None writes nothing.
        hooks: objects with any of ``on_epoch_start``, ``on_epoch_end``, ``after_optimizer_step``.
        device: overrides ``config.device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a torch.device).
        collate_fn: passed to the DataLoader.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Dataset,
        val_data: Dataset | None = None,
        *,
        grid: Any = None,
        loss: str | Callable | None = None,
        config: TrainConfig | dict | None = None,
        run_dir: str | Path | None = None,
        hooks: Iterable[Any] = (),
        device: str | torch.device | None = None,
        collate_fn: Callable | None = None,
    ) -> None:
        if config is None:
            config = TrainConfig()
        elif isinstance(config, dict):
            config = from_dict(TrainConfig, config, where="train")
        elif not isinstance(config, TrainConfig):
            raise ConfigError(f"config must be a TrainConfig, a dict or None, got {type(config).__name__}")
        self.config = cfg = config
        info = distributed.env_info()
        self.device = _select_device(device if device is not None else cfg.device, info.local_rank, info.world_size > 1)
        distributed.setup(self.device.type)  # under torchrun; the group stays up until exit (see fit)
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0

        self.model = model.to(self.device)
        self.train_data, self.val_data = train_data, val_data
        self.grid = grid if grid is not None else getattr(train_data, "grid", None)
        self.loss_fn = get_loss(loss if loss is not None else cfg.loss)
        self.hooks = list(hooks)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.collate_fn = collate_fn

        self.epoch = 0  # next epoch to run (0-based) == number of finished epochs
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.best: float | None = None
        self.stop_training = False
        self._resumed = False
        self._last_good: tuple[Path, int] | None = None
        # explosion guard: the smallest positive step loss of the run, and whether a negative loss was seen (then
        # the loss is a signed objective and the ratio test is off); saved in checkpoints so a resume continues it
        self._loss_floor: float | None = None
        self._signed_loss = False

        self._custom_loss = isinstance(model, Objective)
        self._step_hook = model.after_step if isinstance(model, StepHook) else None
        self.stages: list[Stage] = list(cfg.stages or [])
        if self.stages and sum(st.epochs for st in self.stages) != cfg.epochs:
            raise ConfigError(
                f"train.epochs={cfg.epochs} but the stages {[st.name for st in self.stages]} last "
                f"{sum(st.epochs for st in self.stages)} epochs (with train.stages, epochs is their sum)"
            )

        self.sampler = DistributedSampler(
            train_data, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=cfg.seed, drop_last=False
        )
        self._loader_generator = torch.Generator()
        self.train_loader = DataLoader(
            train_data,
            batch_size=cfg.batch_size,
            sampler=self.sampler,
            num_workers=cfg.num_workers,
            collate_fn=collate_fn,
            pin_memory=self.device.type == "cuda",
            generator=self._loader_generator,
        )
        self.steps_per_epoch = len(self.train_loader)
        if self.steps_per_epoch == 0:
            raise ConfigError("train_data is empty")
        self.stage_index = 0
        self._setup_stage(0)

        # per-step finiteness checks on CPU; on CUDA, and under DDP (where every rank must agree, so a check costs
        # a collective), losses are checked every log_every steps and at the end of the epoch, before any
        # checkpoint is written
        self._sync_checks = self.device.type != "cuda" and self.world_size == 1
        self._batch_finite: torch.Tensor | None = None  # the last batch is finite (deferred checks only)
        self._non_blocking = self.device.type == "cuda"

    # ------------------------------------------------------------------------------------------ setup
    def _stage_epochs(self, index: int) -> tuple[int, int]:
        """First epoch (0-based) and length of phase ``index``."""
        if not self.stages:
            return 0, self.config.epochs
        return sum(st.epochs for st in self.stages[:index]), self.stages[index].epochs

    def _stage_of_epoch(self, epoch: int) -> int:
        start = 0
        for i, st in enumerate(self.stages):
            start += st.epochs
            if epoch < start:
                return i
        return max(len(self.stages) - 1, 0)

    def _load_stage_init(self, index: int) -> None:
        """Load the ``init_from`` weights of phase ``index`` (fresh starts of a phase only)."""
        stage = self.stages[index] if self.stages else None
        if stage is None or stage.init_from is None:
            return
        path = Path(stage.init_from)
        if path.is_dir():
            path = path / "checkpoints" / "last.pt"
        state = load_checkpoint(path).get("model")
        if not isinstance(state, dict):
            raise CheckpointError(f"stage {stage.name!r}: {str(path)!r} holds no model weights")
        if isinstance(self.model, Staged):
            loaded = self.model.load_pretrained(state, stage.init_keys)
        else:
            loaded = load_matching(self.model, state, stage.init_keys)
        self.model.to(self.device)
        logger.info("stage %s: loaded %d tensors from %s", stage.name, len(loaded), path)

    def _setup_stage(self, index: int, resumed: bool = False) -> None:
        """Freeze per phase ``index``, then a fresh optimizer, scheduler and (DDP/compiled) forward wrapper."""
        cfg = self.config
        self.stage_index = index
        stage = self.stages[index] if self.stages else None
        if stage is not None:
            if isinstance(self.model, Staged):
                self.model.enter_stage(stage, resumed=resumed)
                self.model.to(self.device)
            apply_trainable(self.model, stage)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        if not self._params:
            raise ConfigError("the model has no trainable parameters (requires_grad=True)")
        lr = stage.lr if stage is not None and stage.lr is not None else cfg.lr
        wd = stage.weight_decay if stage is not None and stage.weight_decay is not None else cfg.weight_decay
        if cfg.optimizer == "riemannian_adam" or (cfg.optimizer == "adam" and _has_manifold_parameters(self._params)):
            import geoopt  # Adam on Euclidean tensors, Riemannian steps on geoopt manifold parameters

            opt_cls = geoopt.optim.RiemannianAdam
        else:
            opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
        self.optimizer = opt_cls(self._params, lr=lr, weight_decay=wd)
        self.scheduler, self._step_scheduler_per_batch = self._make_scheduler(self._stage_epochs(index)[1], lr)

        module: nn.Module = _ObjectiveAdapter(self.model) if self._custom_loss else self.model
        if self.world_size > 1:
            module = nn.parallel.DistributedDataParallel(
                module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )
        self._forward = torch.compile(module) if cfg.compile else module

    def _make_scheduler(self, epochs: int, lr: float) -> tuple[Any, bool]:
        cfg, params = self.config, dict(self.config.scheduler_params)
        try:
            if cfg.scheduler is None:
                if params:
                    raise ConfigError("train.scheduler_params given but train.scheduler is null")
                return None, False
            if cfg.scheduler == "onecycle":
                total = epochs * self.steps_per_epoch
                return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, lr, total_steps=total, **params), True
            if cfg.scheduler == "cosine":
                params.setdefault("T_max", epochs)
                return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, **params), False
            params.setdefault("step_size", max(1, epochs // 3))
            return torch.optim.lr_scheduler.StepLR(self.optimizer, **params), False
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"train.scheduler_params {cfg.scheduler_params} invalid for scheduler {cfg.scheduler!r}: {e}"
            ) from None

    @property
    def raw_model(self) -> nn.Module:
        """The model itself (not the DDP / compiled wrapper)."""
        return self.model

    @property
    def checkpoint_dir(self) -> Path | None:
        return self.run_dir / "checkpoints" if self.run_dir is not None else None

    def _hook_methods(self, name: str) -> list[Callable]:
        return [getattr(h, name) for h in self.hooks if callable(getattr(h, name, None))]

    # ------------------------------------------------------------------------------------------ training
    def fit(self) -> list[dict[str, Any]]:
        """Train from ``self.epoch`` to ``config.epochs``; returns the per-epoch metrics history."""
        cfg = self.config
        if not self._resumed and self.epoch == 0:
            _seed_everything(cfg.seed + self.rank)
        if self.is_main and self.run_dir is not None:
            make_dirs(self.run_dir)
            if not self._resumed and self.epoch == 0:  # a fresh run: drop the log of an earlier one
                (self.run_dir / "metrics.jsonl").unlink(missing_ok=True)
        self.stop_training = False
        if not self._resumed and self.epoch == 0 and self.stages and self.stages[0].init_from is not None:
            self._load_stage_init(0)
            self._setup_stage(0)
        # The process group (created by __init__ under torchrun) is left up, after success and after an error:
        # code after fit() may use collectives and is_main(); torch tears it down at exit. Destroying it here let
        # a rank with nothing left to do exit while its peer was still tearing down, and gloo aborted that rank in
        # about one run in four; a barrier on the way out of an error could wait for ranks that never come.
        while self.epoch < cfg.epochs and not self.stop_training:
            self._run_epoch(self.epoch)
        return self.history

    def _run_epoch(self, epoch: int) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        if self.stages and self._stage_of_epoch(epoch) != self.stage_index:
            index = self._stage_of_epoch(epoch)
            self._load_stage_init(index)
            self._setup_stage(index)
            logger.info("stage %d %r starts at epoch %d", index + 1, self.stages[index].name, epoch + 1)
        self.sampler.set_epoch(epoch)
        self._loader_generator.manual_seed(_mix_seed(cfg.seed, epoch))
        self.model.train()
        for fn in self._hook_methods("on_epoch_start"):
            fn(self, epoch)

        after_step = self._hook_methods("after_optimizer_step")
        model_after = self._step_hook
        show = cfg.progress if cfg.progress is not None else (self.is_main and sys.stderr.isatty())
        loader: Iterable = self.train_loader
        bar = None
        if show and self.is_main:
            from tqdm.auto import tqdm

            bar = loader = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, dynamic_ncols=True)

        self._epoch_start_step = self.global_step
        loss_total = 0.0  # CPU: python floats (one .item() per step, no extra tensor ops)
        losses: list[torch.Tensor] = []  # CUDA: detached losses, summed once per epoch (no per-step sync)
        model_metrics: dict[str, Any] = {}
        pending: list[tuple[int, torch.Tensor, torch.Tensor | None, Any]] = []
        n_steps = 0
        n_samples = 0
        norm_total = 0.0  # CPU: sum of the steps' gradient norms
        norms: list[torch.Tensor] = []  # CUDA: the norms as device tensors, summed once per epoch
        for step, batch in enumerate(loader):
            n = _batch_len(batch)
            loss, metrics, norm = self._train_step(batch)
            if self._sync_checks:
                value, norm_value = loss.item(), norm.item()
                if not (math.isfinite(value) and math.isfinite(norm_value)):
                    self._diverged(epoch, step, loss, norm, batch_note=_nonfinite_note(batch))
                why = self._exploded(value)
                if why is not None:
                    self._diverged(epoch, step, loss, norm, why=why)
                loss_total += value * n
                norm_total += norm_value
            else:
                loss = loss.detach()
                losses.append(loss * n)
                norms.append(norm)
                pending.append((step, loss, norm, self._batch_finite))
            n_samples += n
            self.optimizer.step()
            if self._step_scheduler_per_batch:
                self.scheduler.step()
            self.global_step += 1
            n_steps += 1
            if model_after is not None:
                model_after()
            for fn in after_step:
                fn(self)
            for k, v in metrics.items():  # sample-weighted sums, like the loss
                model_metrics[k] = model_metrics.get(k, 0.0) + n * (v.detach() if isinstance(v, torch.Tensor) else v)
            if (step + 1) % cfg.log_every == 0:
                self._check_pending(epoch, pending)
                current = loss.item()
                if bar is not None:
                    bar.set_postfix(loss=f"{current:.4g}")
                if self.is_main:
                    logger.info("epoch %d/%d step %d: loss %.6g", epoch + 1, cfg.epochs, step + 1, current)
        if bar is not None:
            bar.close()
        self._check_pending(epoch, pending)

        if losses:
            loss_total = float(torch.stack(losses).double().sum())
        if norms:
            norm_total = float(torch.stack(norms).double().sum())
        # per-sample means over every rank: [loss, samples, *model metrics] summed in one all-reduce
        keys = sorted(model_metrics)
        totals = torch.tensor(
            [loss_total, float(n_samples), *(float(model_metrics[k]) for k in keys)],
            dtype=torch.float64,
            device=self.device,
        )
        distributed.all_reduce_sum(totals)
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step}
        if self.stages:
            record["stage"] = self.stages[self.stage_index].name
        record["train_loss"] = float(totals[0] / totals[1])
        for i, k in enumerate(keys):
            record[f"train_{k}"] = float(totals[2 + i] / totals[1])
        # gradients are synchronised under DDP, so every rank computed the same norms
        record["train_grad_norm"] = norm_total / max(n_steps, 1)
        record["lr"] = float(self.optimizer.param_groups[0]["lr"])
        if self.scheduler is not None and not self._step_scheduler_per_batch:
            self.scheduler.step()

        last_epoch = epoch + 1 == cfg.epochs
        improved = False
        if self.val_data is not None and ((epoch + 1) % cfg.eval_every == 0 or last_epoch):
            for k, v in self.evaluate(self.val_data).items():
                record[f"val_{k}"] = v
            if f"val_{cfg.monitor}" not in record:
                found = sorted(k[4:] for k in record if k.startswith("val_"))
                raise ConfigError(
                    f"train.monitor={cfg.monitor!r} is not a validation metric of this run; "
                    f"available: {', '.join(found)}"
                )
            monitored = record[f"val_{cfg.monitor}"]
            if monitored is not None and math.isfinite(monitored) and (self.best is None or monitored < self.best):
                self.best, improved = monitored, True
        record["time"] = time.perf_counter() - t0
        self.history.append(record)
        self.epoch = epoch + 1
        for fn in self._hook_methods("on_epoch_end"):
            fn(self, epoch)

        if self.is_main and self.run_dir is not None:
            try:
                with open(self.run_dir / "metrics.jsonl", "a") as fh:
                    fh.write(json.dumps(record) + "\n")
                    fh.flush()
            except OSError as e:
                raise storage_error(self.run_dir / "metrics.jsonl", e) from None
            if (epoch + 1) % cfg.checkpoint_every == 0 or last_epoch or self.stop_training or improved:
                state = self.state_dict()
                if (epoch + 1) % cfg.checkpoint_every == 0 or last_epoch or self.stop_training:
                    save_checkpoint(self.checkpoint_dir / "last.pt", state)
                    self._last_good = (self.checkpoint_dir / "last.pt", epoch + 1)
                if improved:
                    save_checkpoint(self.checkpoint_dir / "best.pt", state)
        distributed.barrier()

    def _train_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, Any], torch.Tensor | None]:
        batch = _to_device(batch, self.device, self._non_blocking)
        # deferred checks: whether the batch is finite, as a device flag read at the next check (no sync here)
        self._batch_finite = None if self._sync_checks else _all_finite(batch, self.device)
        metrics: dict[str, Any] = {}
        with autocast(self.config.amp, self.device.type):
            if self._custom_loss:
                loss, metrics = self._forward(batch, self.grid)
            else:
                x, y = batch[0], batch[1]
                pred = self._forward(x, self.grid)
        if not self._custom_loss:
            loss = self.loss_fn(pred, y, self.grid)  # losses run in fp32 outside autocast
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # the global gradient norm before clipping, as a device tensor (no sync): logged and checked for NaN/Inf
        if self.config.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self._params, self.config.grad_clip)
        else:
            grads = [p.grad for p in self._params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)
        return loss, metrics or {}, norm

    def _check_pending(self, epoch: int, pending: list[tuple[int, torch.Tensor, torch.Tensor | None, Any]]) -> None:
        # every rank calls this at the same steps (log_every, end of epoch), so the consensus below is collective;
        # all ranks stop together (a lone rank would leave the others waiting in the next collective)
        bad = False
        exploded = None
        if pending:
            flat = [v.double() for _, loss, norm, _ in pending for v in ((loss,) if norm is None else (loss, norm))]
            values = torch.stack(flat).tolist()  # the one device->host transfer of this check
            bad = not all(math.isfinite(v) for v in values)
            if not bad:
                it = iter(values)
                for step, loss, norm, _ in pending:
                    value = next(it)
                    if norm is not None:
                        next(it)
                    why = self._exploded(value)
                    if why is not None:
                        exploded = (step, loss, norm, why)
                        break
        if self._on_any_rank(bad or exploded is not None):
            for step, loss, norm, finite_batch in pending:
                if not (torch.isfinite(loss) and (norm is None or torch.isfinite(norm))):
                    note = None if bool(finite_batch) else "the batch holds NaN or Inf values"
                    self._diverged(epoch, step, loss, norm, batch_note=note)
            if exploded is not None:
                self._diverged(epoch, exploded[0], exploded[1], exploded[2], why=exploded[3])
            step, loss, norm, _ = pending[0] if pending else (0, torch.tensor(float("nan")), None, None)
            self._diverged(epoch, step, loss, norm, here=False)
        pending.clear()

    def _exploded(self, value: float) -> str | None:
        """Update the explosion guard with one finite step loss; a description when it exploded, else None."""
        factor = self.config.explode_factor
        if value < 0:
            self._signed_loss = True  # a signed objective (an ELBO, a log-likelihood): no scale to compare with
        if factor is None or self._signed_loss or value <= 0:
            return None
        floor = self._loss_floor
        if floor is not None and value > factor * floor:
            return (
                f"the loss exploded to {value:.6g}, more than train.explode_factor={factor:g} times the smallest loss "
                f"of the run ({floor:.6g}); lower train.lr, set train.grad_clip, or raise or null explode_factor"
            )
        self._loss_floor = value if floor is None else min(floor, value)
        return None

    def _on_any_rank(self, bad: bool) -> bool:
        """``bad`` on any process (one all-reduce under DDP; the local value otherwise)."""
        if self.world_size == 1 or not distributed.is_initialized():
            return bad
        flag = torch.tensor([1.0 if bad else 0.0], dtype=torch.float64, device=self.device)
        distributed.all_reduce_sum(flag)
        return bool(flag.item() > 0)

    def _diverged(
        self,
        epoch: int,
        step: int,
        loss: torch.Tensor,
        norm: torch.Tensor | None = None,
        here: bool = True,
        why: str | None = None,
        batch_note: str | None = None,
    ) -> None:
        value = float(loss.detach().float())
        if batch_note is not None:
            what = (
                f"loss is {value} because the input, not the model, is bad: {batch_note} (sciml's readers refuse "
                "non-finite data; check the Dataset or transform that produced this batch)"
            )
        elif not here:
            what = (
                f"the loss or gradient is not finite on another process, or the loss exploded there (rank {self.rank} "
                f"saw loss {value:.6g})"
            )
        elif why is not None:
            what = why
        elif not math.isfinite(value):
            what = f"loss is {value}"
        else:
            what = f"gradient norm is not finite (loss {value:.6g})"
            if self.world_size > 1:
                what += " (gradients are averaged over the processes: a NaN loss on any rank reaches every rank)"
        if self._last_good is not None:
            where = f"the last good checkpoint is {self._last_good[0]} (after epoch {self._last_good[1]})"
        elif self.checkpoint_dir is not None and (self.checkpoint_dir / "last.pt").exists():
            where = f"the last good checkpoint is {self.checkpoint_dir / 'last.pt'}"
        elif self.run_dir is None:
            where = "no checkpoint exists (run_dir is None)"
        else:
            where = "no checkpoint was written yet (no epoch finished)"
        raise TrainingDivergedError(
            f"training diverged: {what} at epoch {epoch + 1} of {self.config.epochs}, step {step + 1} of "
            f"{self.steps_per_epoch} (global step {self._epoch_start_step + step + 1}); stopped without saving the "
            f"bad state; {where}"
        )

    # ------------------------------------------------------------------------------------------ evaluation
    def evaluate(self, dataset: Dataset, grid: Any = None, batch_size: int | None = None) -> dict[str, float]:
        """Mean over samples of relative L2 (and relative H1 on a Grid), plus the training loss if supervised.

        Runs the unwrapped model in eval mode (no DDP collectives, no ``after_optimizer_step``), so every
        process computes the same numbers and the model's state is left unchanged.
        """
        return evaluate_model(
            self.model,
            dataset,
            grid=grid if grid is not None else getattr(dataset, "grid", None) or self.grid,
            batch_size=batch_size or self.config.batch_size,
            device=self.device,
            amp=self.config.amp,
            loss_fn=None if self._custom_loss else self.loss_fn,
            collate_fn=self.collate_fn,
        )

    # ------------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimizer, scheduler, counters, RNG, metrics."""
        spec = model_spec(self.model)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "rng": rng_state(),
            "model_name": spec.name if spec is not None else None,
            "model_config": to_dict(spec.config) if spec is not None else None,
            "stage": self.stage_index,
            "train_config": to_dict(self.config),
            "metrics": list(self.history),
            "best": self.best,
            "guard": {"loss_floor": self._loss_floor, "signed_loss": self._signed_loss},
        }

    def resume(self, path: str | Path | None = None) -> Trainer:
        """Restore the state saved in ``path`` (a checkpoint file or a run dir, default ``self.run_dir``).

        Restores weights, optimizer, scheduler, epoch and step counters, metrics history, best value and
        the RNG states; the data order follows from ``(seed, epoch)``. ``fit()`` then continues with the
        next epoch. Under DDP each rank reseeds from ``(seed, epoch, rank)`` instead of restoring RNG
        states, so dropout masks after a resume differ from an uninterrupted run (data order does not).
        """
        if path is None:
            if self.run_dir is None:
                raise CheckpointError("resume() needs a checkpoint path or a Trainer with a run_dir")
            path = self.run_dir
        path = Path(path)
        if path.is_dir():
            path = path / "checkpoints" / "last.pt"
        state = load_checkpoint(path)
        spec = model_spec(self.model)
        if spec is not None and state.get("model_name") not in (None, spec.name):
            raise CheckpointError(f"checkpoint {str(path)!r} holds model {state['model_name']!r}, not {spec.name!r}")
        self._check_resume_state(path, state)
        if self.stages:
            index = int(state.get("stage") or 0)
            if not 0 <= index < len(self.stages):
                raise CheckpointError(
                    f"checkpoint {str(path)!r} was written in stage {index + 1}, this config has {len(self.stages)}"
                )
            self._setup_stage(index, resumed=True)
        # a refused checkpoint leaves the Trainer as it was (load_state_dict copies matching tensors before it raises)
        before = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                wanted = _schedule_shape(self.scheduler)  # built from the current config
                self.scheduler.load_state_dict(state["scheduler"])
                saved = _schedule_shape(self.scheduler)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            self.model.load_state_dict(before)
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not fit this model/optimizer: {_first_lines(e)}"
            ) from None
        if self.scheduler is not None and state.get("scheduler") is not None and saved != wanted:
            self.model.load_state_dict(before)
            raise ConfigError(
                f"cannot resume {str(path)!r}: its {self.config.scheduler} schedule has {saved}, this config "
                f"gives {wanted}; resume with the original train.epochs, batch_size and scheduler_params (the "
                "restored schedule would not end where this run ends), or start a new run"
            )
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state.get("metrics") or [])
        self.best = state.get("best")
        guard = state.get("guard") if isinstance(state.get("guard"), dict) else {}  # absent in older checkpoints
        self._loss_floor = guard.get("loss_floor")
        self._signed_loss = bool(guard.get("signed_loss", False))
        if self.world_size == 1:
            set_rng_state(state["rng"])
        else:
            _seed_everything(_mix_seed(self.config.seed, self.epoch) + self.rank)
        self._resumed = True
        self._last_good = (path, self.epoch)
        if self.is_main and self.run_dir is not None:
            # drop metric lines of epochs after the checkpoint (written before a crash) so lines == epochs
            make_dirs(self.run_dir)
            with atomic_path(self.run_dir / "metrics.jsonl") as tmp:
                Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in self.history))
        logger.info("resumed from %s at epoch %d (global step %d)", path, self.epoch, self.global_step)
        return self

    def _check_resume_state(self, path: Path, state: dict[str, Any]) -> None:
        """The entries ``resume`` needs, with their types, before anything is loaded (a file of an older sciml or of
        another tool is refused naming the missing entry instead of failing half-way with a KeyError)."""
        wanted: dict[str, tuple[type, ...]] = {
            "model": (dict,),
            "optimizer": (dict,),
            "epoch": (int,),
            "global_step": (int,),
        }
        if self.world_size == 1:
            wanted["rng"] = (dict,)
        for key, types in wanted.items():
            if key not in state:
                raise CheckpointError(
                    f"checkpoint {str(path)!r} has no {key!r} entry (written by an older sciml or another tool?); "
                    f"it holds {sorted(map(str, state))}"
                )
            value = state[key]
            if isinstance(value, bool) or not isinstance(value, types):
                raise CheckpointError(
                    f"checkpoint {str(path)!r}: entry {key!r} must be a {types[0].__name__}, got "
                    f"{type(value).__name__} {value!r:.60}"
                )
        if not 0 <= state["epoch"] <= self.config.epochs:
            raise CheckpointError(
                f"checkpoint {str(path)!r} was written after epoch {state['epoch']} but this run has "
                f"{self.config.epochs} epochs (train.epochs); resume with the original train.epochs or more"
            )

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(self.model).__name__}, device={self.device}, world_size={self.world_size}, "
            f"epoch={self.epoch}/{self.config.epochs})"
        )


def _first_lines(e: BaseException, n: int = 3) -> str:
    """The first ``n`` non-empty lines of an error message on one line (torch's state-dict errors are multi-line)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    text = " ".join(lines[:n]) or type(e).__name__
    return text if len(text) <= 600 else text[:597] + "..."


def _has_manifold_parameters(params: list[torch.nn.Parameter]) -> bool:
    """True when a parameter lives on a geoopt manifold (then plain Adam would step off it)."""
    geoopt = sys.modules.get("geoopt")  # a model with manifold parameters has imported geoopt already
    return geoopt is not None and any(isinstance(p, geoopt.ManifoldParameter) for p in params)


def _schedule_shape(scheduler: Any) -> dict[str, Any]:
    """The parameters that fix where a torch scheduler ends (compared on resume)."""
    names = ("total_steps", "T_max", "eta_min", "step_size", "gamma", "pct_start")
    return {k: getattr(scheduler, k) for k in names if isinstance(getattr(scheduler, k, None), (int, float))}


def _float_tensors(batch: Any, label: str = "batch"):
    """``(label, tensor)`` for every floating-point tensor of a batch (tuples, lists and dicts searched)."""
    if isinstance(batch, torch.Tensor):
        if batch.is_floating_point() or batch.is_complex():
            yield label, batch
    elif isinstance(batch, (list, tuple)):
        for i, b in enumerate(batch):
            yield from _float_tensors(b, f"{label}[{i}]")
    elif isinstance(batch, dict):
        for k, b in batch.items():
            yield from _float_tensors(b, f"{label}[{k!r}]")


def _all_finite(batch: Any, device: torch.device) -> torch.Tensor:
    """A device boolean: every value of the batch is finite (no host sync; read at the divergence checks)."""
    flags = [torch.isfinite(t).all() for _, t in _float_tensors(batch)]
    return torch.stack(flags).all() if flags else torch.ones((), dtype=torch.bool, device=device)


def _nonfinite_note(batch: Any) -> str | None:
    """Where a batch holds NaN/Inf (tensor, count, first sample), or None when it is finite."""
    for label, t in _float_tensors(batch):
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            first = int(torch.nonzero(bad.reshape(t.shape[0], -1).any(1))[0]) if t.dim() else 0
            return (
                f"{label} (shape {tuple(t.shape)}) holds {int(bad.sum())} NaN/Inf value(s), the first in sample "
                f"{first} of the batch"
            )
    return None


def _batch_len(batch: Any) -> int:
    """Number of samples in a batch: the leading size of its first tensor (tuples, lists and dicts searched)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_len(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_len(next(iter(batch.values())))
    return 1


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    dataset: Dataset,
    grid: Any = None,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    amp: str | None = None,
    loss_fn: Callable | None = None,
    collate_fn: Callable | None = None,
) -> dict[str, float]:
    """Mean over samples of relative L2 (and relative H1 on a Grid with >= 3 points per axis) of ``model``.

    ``grid`` defaults to ``dataset.grid``; ``loss_fn(pred, target, grid)`` adds a mean ``"loss"``. The model runs in
    eval mode on ``device`` (default: where its parameters are) and its training flag is restored afterwards.
    """
    grid = grid if grid is not None else getattr(dataset, "grid", None)
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    device = torch.device(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_fn)
    with_h1 = isinstance(grid, Grid) and all(n >= 3 for n in grid.shape)
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    n = 0
    try:
        for batch in loader:
            x, y = _to_device(batch, device, device.type == "cuda")[:2]
            with autocast(amp, device.type):
                pred = model(x, grid)
            b = y.shape[0]
            vals = {"relative_l2": relative_l2(pred, y, grid, reduction="sum")}
            if with_h1:
                vals["relative_h1"] = relative_h1(pred, y, grid, reduction="sum")
            if loss_fn is not None:
                vals["loss"] = loss_fn(pred, y, grid).detach().double() * b
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + v.double()
            n += b
    finally:
        model.train(was_training)
    return {k: float(v) / max(n, 1) for k, v in sums.items()}
