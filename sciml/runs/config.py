"""The sections of one run and how a YAML file becomes them.

``ExperimentConfig`` groups ``model`` (``name`` + keyword config of ``sciml.models.build``), ``task`` (from the
model's registry entry unless given: "operator", "rollout", ...), ``data`` and ``eval`` (validated by the task's
own config classes: ``DataConfig`` for operator runs), ``train`` (``sciml.training.TrainConfig``), ``seed`` and
``run_dir``. ``load_config(path, overrides=["train.lr=1e-3", "model.width=32"])`` reads YAML with
``sciml.core.config.load_yaml`` (safe), applies dotted overrides (values parsed the same way) and validates everything;
``dump_config(cfg, path)`` writes YAML atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciml.core.config import apply_overrides, describe_value, dump_config, from_dict, read_yaml, to_dict
from sciml.core.errors import ConfigError
from sciml.training.config import TrainConfig

__all__ = ["ExperimentConfig", "DataConfig", "load_config", "dump_config", "validate_model_section", "to_dict"]


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
    """One training run: ``model`` is ``{"name": ..., **kwargs of sciml.models.build}``.

    ``task`` defaults to the model's task; ``data`` and ``eval`` may be given as mappings and are validated into the
    task's ``data_config`` and ``eval_config`` classes (an unknown key names the allowed ones).
    """

    model: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    data: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: Any = None
    seed: int = 0
    run_dir: str | None = None

    def __post_init__(self) -> None:
        from sciml.runs.tasks import get_task

        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if "name" in self.model and not isinstance(self.model["name"], str):
            raise ConfigError(f"model.name must be a model name (str), got {describe_value(self.model['name'])}")
        if self.task is None:
            import sciml.models

            name = self.model.get("name")
            self.task = sciml.models.task_of(name) if isinstance(name, str) else "operator"
        task = get_task(self.task)
        for section, cls in (("data", task.data_config), ("eval", task.eval_config)):
            value = getattr(self, section)
            if value is None or isinstance(value, dict):
                setattr(self, section, from_dict(cls, value or {}, where=section))
            elif not isinstance(value, cls):
                raise ConfigError(
                    f"{section} of a {self.task!r} run must be a mapping or {cls.__name__}, got {type(value).__name__}"
                )


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
        if not cfg.model:
            import sciml.models

            raise ConfigError(
                f"{path}: no model section; give model.name (one of {', '.join(sciml.models.available())}) and its "
                "settings"
            )
        validate_model_section(cfg.model)
    return cfg
