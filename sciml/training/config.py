"""``TrainConfig``: how the Trainer optimises (plain data, validated by ``sciml.core.config.from_dict``).

The other sections of a run (model, data, eval) and ``load_config`` belong to the run system: ``sciml.runs.config``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from sciml.core.errors import ConfigError
from sciml.models.protocol import Stage

__all__ = ["TrainConfig"]


# ---------------------------------------------------------------------------------------------- sections
@dataclass
class TrainConfig:
    """How the Trainer optimises (``sciml.training.Trainer``); every field is a JSON type.

    ``optimizer``: "adam" becomes geoopt's RiemannianAdam when the model has manifold parameters (it equals Adam
    on the others). ``scheduler``: None, ``"onecycle"`` (stepped every optimizer step, peak ``lr``), ``"cosine"``
    (per epoch, ``T_max = epochs``) or ``"step"`` (per epoch); ``scheduler_params`` are passed to the torch scheduler
    (e.g. ``{"eta_min": 1e-6}``, ``{"step_size": 10, "gamma": 0.5}``, ``{"pct_start": 0.3}``).
    ``amp``: None or ``"bf16"`` (autocast; losses and FFTs stay in fp32). ``progress``: None shows a tqdm
    bar only on a TTY and on rank 0. ``checkpoint_every`` and ``eval_every`` count epochs, ``log_every``
    optimizer steps. ``monitor`` is the validation metric (lower is better) that selects ``best.pt``.
    ``loss`` names the default supervised loss (``sciml.metrics.losses.get_loss``: ``"relative_l2"``,
    ``"relative_h1"``, ``"mse"``); the Trainer's ``loss=`` argument overrides it.
    ``find_unused_parameters`` is passed to DDP (needed when parameters are frozen after the wrap).
    ``explode_factor``: training stops with ``TrainingDivergedError`` when a finite step loss exceeds this factor times
    the smallest absolute step loss seen so far in the run (and is positive, so objectives with negative losses such
    as an ELBO never trip it); null disables the check. The loss becoming NaN or Inf always stops training.
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
    explode_factor: float | None = 1e6

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
        if self.explode_factor is not None and not (math.isfinite(self.explode_factor) and self.explode_factor > 1):
            raise ConfigError(f"train.explode_factor must be a finite number > 1 or null, got {self.explode_factor}")
        names = [st.name for st in self.stages or []]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"train.stages: stage names must be unique (they label metrics), got {names}")
        _check_scheduler_params(self.scheduler, self.scheduler_params)


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
