"""Run directories: train any registered model from an ExperimentConfig, rebuild it, evaluate it, plot it.

A run directory holds everything needed to rebuild and judge a trained model, with no pickled objects::

    RUN_DIR/config.yaml              the validated experiment config (model name + kwargs, task, data, train, eval)
    RUN_DIR/checkpoints/last.pt      written every ``checkpoint_every`` epochs (atomic), loaded with weights_only=True
    RUN_DIR/checkpoints/best.pt      best validation metric (when the task has validation data)
    RUN_DIR/metrics.jsonl            one JSON line per epoch
    RUN_DIR/eval.json                written by ``evaluate_run`` (the task's metrics)
    RUN_DIR/plots/*.png              written by ``plot_run``

Every step goes through the run's task (``sciml.runs.tasks``): the same code trains an FNO on Darcy pairs and an
NCDS on LASA demonstrations, resumes either exactly, and the CLI never asks which family it holds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciml.core.config import dump_config
from sciml.core.errors import CheckpointError, ConfigError, DataFormatError
from sciml.core.files import atomic_path, make_dirs
from sciml.runs.config import ExperimentConfig, load_config
from sciml.runs.tasks import get_task
from sciml.training.checkpoint import load_checkpoint
from sciml.training.trainer import Trainer

log = logging.getLogger(__name__)

__all__ = ["train_run", "load_run", "load_run_model", "evaluate_run", "plot_run"]


def train_run(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False) -> Path:
    """Train the model of ``cfg`` into ``run_dir`` (created); returns the run directory.

    Everything that can be refused (data, model, trainer, checkpoint) is checked before anything is written, so a
    bad config never leaves a stray run directory nor overwrites the config.yaml of an existing run.
    """
    run_dir = Path(run_dir)
    if resume and not (run_dir / "checkpoints" / "last.pt").exists():
        raise CheckpointError(f"cannot resume: {str(run_dir / 'checkpoints' / 'last.pt')!r} does not exist")
    cfg.run_dir = str(run_dir)
    torch.manual_seed(cfg.seed)
    task = get_task(cfg.task)
    prepared = task.prepare(cfg, resume=resume)
    model = task.build_model(cfg, prepared, fresh=not resume)
    trainer = Trainer(
        model, prepared.train, prepared.val, grid=prepared.grid, loss=cfg.train.loss, config=cfg.train, run_dir=run_dir
    )
    if resume:
        trainer.resume(run_dir)
    make_dirs(run_dir)
    dump_config(cfg, run_dir / "config.yaml")
    history = trainer.fit()
    task.after_training(run_dir, model, cfg, prepared, history)
    return run_dir


def load_run(run_dir: str | Path, which: str = "best") -> tuple[nn.Module, ExperimentConfig, dict[str, Any]]:
    """The model of a run rebuilt from config.yaml and a checkpoint (``best`` falls back to ``last``), in eval mode,
    with its config and the checkpoint's state."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise DataFormatError(f"{str(run_dir)!r} is not a run directory: config.yaml is missing")
    cfg = load_config(cfg_path)
    ckpt_path = run_dir / "checkpoints" / f"{which}.pt"
    if which == "best" and not ckpt_path.exists():
        ckpt_path = run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(ckpt_path)
    sd = state.get("model")
    if not isinstance(sd, dict):
        raise CheckpointError(f"{str(ckpt_path)!r} holds no model weights (no 'model' state dict)")
    name, saved = cfg.model.get("name"), state.get("model_name")
    if saved is not None and saved != name:
        raise CheckpointError(
            f"{str(ckpt_path)!r} holds model {saved!r}, but {str(cfg_path)!r} describes model {name!r}; "
            "point evaluate/plot at the run that trained it, or restore that run's config.yaml"
        )
    task = get_task(cfg.task)
    model = task.rebuild_model(cfg, state, ckpt_path)  # may migrate state["model"] of older run directories
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {str(ckpt_path)!r} do not fit the model described by {str(cfg_path)!r} "
            f"(was config.yaml edited after training?): {str(e).splitlines()[0]} {_first_mismatch(e)}"
        ) from None
    return model.eval(), cfg, state


def load_run_model(run_dir: str | Path, which: str = "best") -> tuple[nn.Module, ExperimentConfig]:
    """``(model, config)`` of a run (see ``load_run``)."""
    model, cfg, _ = load_run(run_dir, which)
    return model, cfg


def _first_mismatch(e: RuntimeError) -> str:
    lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
    return lines[0] if lines else ""


def evaluate_run(run_dir: str | Path, which: str = "best", **options: Any) -> dict[str, Any]:
    """The task's metrics of a trained run (options such as ``resolutions``, ``data``), written to eval.json."""
    run_dir = Path(run_dir)
    model, cfg, _ = load_run(run_dir, which)
    task = get_task(cfg.task)
    unread = sorted(k for k, v in options.items() if v is not None and k not in task.evaluate_options)
    if unread:
        accepted = ", ".join(f"--{k}" for k in sorted(task.evaluate_options)) or "none"
        raise ConfigError(
            f"sciml evaluate: a {cfg.task!r} run does not read "
            + ", ".join(f"--{k}" for k in unread)
            + f" (options it reads: {accepted}); it scores what config.yaml's data section names"
        )
    results = {"checkpoint": which, "task": cfg.task, **task.evaluate(model, cfg, options)}
    with atomic_path(run_dir / "eval.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    return results


def plot_run(run_dir: str | Path) -> list[Path]:
    """The loss curve plus the task's figures, written to RUN_DIR/plots."""
    from sciml import plotting

    run_dir = Path(run_dir)
    paths = []
    if (run_dir / "metrics.jsonl").exists():
        paths.append(plotting.plot_loss_curve(run_dir / "metrics.jsonl", run_dir / "plots" / "loss_curve.png"))
    model, cfg, _ = load_run(run_dir)
    evals = None
    if (run_dir / "eval.json").exists():
        try:
            evals = json.loads((run_dir / "eval.json").read_text())
        except json.JSONDecodeError as e:
            raise DataFormatError(
                f"{str(run_dir / 'eval.json')!r} is not valid JSON ({e}); run `sciml evaluate {run_dir}` again"
            ) from None
    paths.extend(get_task(cfg.task).plot(run_dir, model, cfg, evals))
    return paths
