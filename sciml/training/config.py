"""The typed configs of training runs: ``TrainConfig`` (how to optimise), ``DataConfig`` and ``ExperimentConfig``.

Validation itself (``from_dict``, ``to_dict``, overrides, YAML) is generic and lives in ``sciml.core.config``;
this module declares the sections of one run and ``load_config``:

* ``ExperimentConfig`` groups the sections of one training run: ``model`` (``name`` + keyword config of
  ``sciml.models.build``), ``data`` (``DataConfig``), ``train`` (``TrainConfig``), ``seed`` and ``run_dir``.
* ``load_config(path, overrides=["train.lr=1e-3", "model.width=32"])`` reads YAML with ``yaml.safe_load``,
  applies dotted overrides (values parsed by ``yaml.safe_load`` too) and validates everything;
  ``dump_config(cfg, path)`` writes YAML atomically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sciml.core.config import apply_overrides, describe_value, dump_config, from_dict, read_yaml, to_dict
from sciml.core.errors import ConfigError
from sciml.models.protocol import Stage

__all__ = [
    "TrainConfig",
    "DataConfig",
    "ExperimentConfig",
    "from_dict",
    "to_dict",
    "load_config",
    "dump_config",
    "apply_overrides",
]


# ---------------------------------------------------------------------------------------------- sections
@dataclass
class TrainConfig:
    """How the Trainer optimises (``sciml.training.Trainer``); every field is a JSON type.

    ``scheduler``: None, ``"onecycle"`` (stepped every optimizer step, peak ``lr``), ``"cosine"`` (per epoch,
    ``T_max = epochs``) or ``"step"`` (per epoch); ``scheduler_params`` are passed to the torch scheduler
    (e.g. ``{"eta_min": 1e-6}``, ``{"step_size": 10, "gamma": 0.5}``, ``{"pct_start": 0.3}``).
    ``amp``: None or ``"bf16"`` (autocast; losses and FFTs stay in fp32). ``progress``: None shows a tqdm
    bar only on a TTY and on rank 0. ``checkpoint_every`` and ``eval_every`` count epochs, ``log_every``
    optimizer steps. ``monitor`` is the validation metric (lower is better) that selects ``best.pt``.
    ``loss`` names the default supervised loss (``sciml.metrics.losses.get_loss``: ``"relative_l2"``,
    ``"relative_h1"``, ``"mse"``); the Trainer's ``loss=`` argument overrides it.
    ``find_unused_parameters`` is passed to DDP (needed when parameters are frozen after the wrap).
    ``stages``: training phases (``sciml.models.protocol.Stage``: name, epochs, lr, trainable/frozen parameter
    patterns, ``init_from`` weights, settings for the model); with stages, ``epochs`` is their sum.
    """

    epochs: int = 10
    batch_size: int = 16
    loss: str = "relative_l2"
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Literal["adam", "adamw", "riemannian_adam"] = "adam"
    scheduler: Literal["onecycle", "cosine", "step"] | None = None
    scheduler_params: dict[str, Any] = field(default_factory=dict)
    grad_clip: float | None = None
    amp: Literal["bf16"] | None = None
    compile: bool = False
    seed: int = 0
    num_workers: int = 0
    log_every: int = 50
    checkpoint_every: int = 1
    eval_every: int = 1
    progress: bool | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    monitor: str = "relative_l2"
    find_unused_parameters: bool = False
    stages: list[Stage] | None = None

    def __post_init__(self) -> None:
        from sciml.metrics.losses import get_loss

        if self.stages:
            self.epochs = sum(st.epochs for st in self.stages)  # with stages, epochs is their sum

        get_loss(self.loss)  # ConfigError naming the available losses
        for name in ("epochs", "batch_size", "log_every", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ConfigError(f"train.num_workers must be >= 0, got {self.num_workers}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"train.lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"train.weight_decay must be a finite number >= 0, got {self.weight_decay}")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ConfigError(f"train.grad_clip must be a finite number > 0 or null, got {self.grad_clip}")
        if self.seed < 0:
            raise ConfigError(f"train.seed must be >= 0, got {self.seed}")
        _check_scheduler_params(self.scheduler, self.scheduler_params)


@dataclass
class DataConfig:
    """Where the data of a run comes from.

    ``train``/``val``/``test`` are file paths; ``test`` may contain ``{res}``, replaced by each evaluation
    resolution. ``input``/``output`` name the HDF5 groups, ``variables`` selects channels (None: all).
    ``resolution`` subsamples/resamples on load (None: native). ``split`` gives train/val/test fractions
    of the ``train`` file when ``val``/``test`` are absent; they must sum to 1. When ``input`` names a
    trajectory group (``input == output``), items are windows of ``n_in`` frames -> the next ``n_out`` frames,
    ``step`` frames apart (time folded into channels), splits are by trajectory, and evaluation adds an
    autoregressive rollout.
    """

    train: str | None = None
    val: str | None = None
    test: str | None = None
    input: str = "input"
    output: str = "output"
    variables: list[str] | None = None
    resolution: int | list[int] | None = None
    normalize: bool = True
    n_train: int | None = None
    n_test: int | None = None
    split: list[float] | None = None
    n_in: int = 1
    n_out: int = 1
    step: int = 1

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"data.{name} must be >= 1 or null, got {v}")
        for name in ("n_in", "n_out", "step"):
            if getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be >= 1, got {getattr(self, name)}")
        if self.split is not None:
            if len(self.split) not in (2, 3) or any(f < 0 for f in self.split):
                raise ConfigError(f"data.split must be 2 or 3 non-negative fractions, got {self.split}")
            if abs(sum(self.split) - 1.0) > 1e-6:
                raise ConfigError(f"data.split fractions must sum to 1, got {self.split} (sum {sum(self.split)})")


@dataclass
class ExperimentConfig:
    """One training run: ``model`` is ``{"name": ..., **kwargs of sciml.models.build}``."""

    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    run_dir: str | None = None

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if "name" in self.model and not isinstance(self.model["name"], str):
            raise ConfigError(f"model.name must be a model name (str), got {describe_value(self.model['name'])}")


# positive parameters of the torch schedulers that fail late (at the end of an epoch) or with a bare ValueError
_SCHEDULER_POSITIVE = {"step_size": int, "T_max": int, "total_steps": int, "gamma": float}


def _check_scheduler_params(scheduler: str | None, params: dict[str, Any]) -> None:
    for key, kind in _SCHEDULER_POSITIVE.items():
        if key in params:
            v = params[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"train.scheduler_params.{key} must be a {kind.__name__} > 0, got {v!r}")
    if scheduler == "onecycle" and "pct_start" in params:
        v = params["pct_start"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ConfigError(f"train.scheduler_params.pct_start must be in (0, 1), got {v!r}")


def validate_model_section(model: dict[str, Any], where: str = "model") -> None:
    """Check ``model`` has a ``name`` known to ``sciml.models`` and only keys its factory accepts."""
    if not model:
        return
    name = model.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name must be a model name (str), got {describe_value(name)}")
    import sciml.models

    kwargs = {k: v for k, v in model.items() if k != "name"}
    try:
        sciml.models.check_config(name, kwargs)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    except ImportError as e:
        raise ConfigError(f"{where}: model {name!r} could not be imported: {e}") from None


def load_config(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), validate_model: bool = True
) -> ExperimentConfig:
    """Read an ExperimentConfig from YAML, apply overrides, validate types and the model section."""
    path = Path(path)
    data = read_yaml(path)
    apply_overrides(data, list(overrides))
    try:
        cfg = from_dict(ExperimentConfig, data, where="")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if validate_model:
        validate_model_section(cfg.model)
    return cfg
