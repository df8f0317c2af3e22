"""Typed, plain-data configs: validation of nested dataclasses from dicts, YAML loading with overrides.

Every config in sciml is a dataclass whose fields hold JSON types (bool, int, float, str, None, lists and
dicts of them, nested config dataclasses), so it round-trips through YAML, JSON and checkpoints.

* ``from_dict(cls, data, where="train")`` builds ``cls`` from a dict and raises ``ConfigError`` naming the
  key path for an unknown key (listing the allowed ones), a missing required key or a value of the wrong
  type. Ints are accepted where floats are expected; numeric strings such as ``"1e-3"`` are accepted for
  float fields because YAML 1.1 (PyYAML) reads ``1e-3`` without a dot as a string.
* ``to_dict(cfg)`` is the inverse (plain dicts and lists).
* ``ExperimentConfig`` groups the sections of one training run: ``model`` (``name`` + keyword config of
  ``sciml.models.build``), ``data`` (``DataConfig``), ``train`` (``TrainConfig``), ``seed`` and ``run_dir``.
* ``load_config(path, overrides=["train.lr=1e-3", "model.width=32"])`` reads YAML with ``yaml.safe_load``,
  applies dotted overrides (values parsed by ``yaml.safe_load`` too) and validates everything;
  ``dump_config(cfg, path)`` writes YAML atomically.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from sciml.errors import ConfigError
from sciml.utils import atomic_path

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

_FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)


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
    ``loss`` names the default supervised loss (``sciml.training.losses.get_loss``: ``"relative_l2"``,
    ``"relative_h1"``, ``"mse"``); the Trainer's ``loss=`` argument overrides it.
    ``find_unused_parameters`` is passed to DDP (needed when parameters are frozen after the wrap).
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

    def __post_init__(self) -> None:
        from sciml.training.losses import get_loss

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
            raise ConfigError(f"model.name must be a model name (str), got {_found(self.model['name'])}")


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


# ---------------------------------------------------------------------------------------------- validation
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return f"mapping ({tp.__name__})"
    return {int: "int", float: "float", bool: "bool", str: "str"}.get(tp, getattr(tp, "__name__", str(tp)))


def _found(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp`` and return it converted (dataclasses built, ints as floats)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        errors = []
        args = typing.get_args(tp)
        # None first so that a null never becomes "wrong type"; exact-type matches before conversions
        for arg in sorted(args, key=lambda a: a is not type(None)):
            try:
                return _convert(arg, value, where)
            except ConfigError as e:
                errors.append(e)
        # an error inside a container (list item, nested key) is more useful than "wrong type" at this level
        nested = [e for e in errors if not str(e).startswith(f"{where} must be")]
        if nested:
            raise nested[0]
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {_found(value)}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be null, got {_found(value)}")
        return None
    if origin is Literal:
        if not any(value == a and type(value) is type(a) for a in typing.get_args(tp)):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {_found(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {_found(value)}")
        return from_dict(tp, value, where)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {_found(value)}")
        args = typing.get_args(tp)
        if not args:
            return list(value)
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {_found(value)}")
        args = typing.get_args(tp)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where} keys must be strings, got {k!r}")
            out[k] = _convert(args[1], v, f"{where}.{k}") if args else v
        return out
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be bool (true/false), got {_found(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be int, got {_found(value)}")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be float, got {_found(value)}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return float(value)
        raise ConfigError(f"{where} must be float, got {_found(value)}")
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be str, got {_found(value)}")
        return value
    raise ConfigError(f"{where}: unsupported config annotation {tp!r}")  # a bug in a config class


def from_dict(cls: type, data: dict[str, Any] | None, where: str = "config") -> Any:
    """Build dataclass ``cls`` from ``data``, validating keys and types recursively.

    Raises ConfigError such as ``unknown key 'lrr' in train; allowed: amp, batch_size, ...`` or
    ``train.epochs must be int, got str 'ten'``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {_found(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(
            f"unknown key{plural} {keys} in {where or 'the top level'}; allowed: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        path = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {name!r} in {where or 'the top level'}")
    return cls(**kwargs)


def to_dict(cfg: Any) -> Any:
    """Plain-data (dict/list/scalar) copy of a config dataclass, recursively."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


# ---------------------------------------------------------------------------------------------- files
def parse_override(item: Any, form: str = "key.path=value") -> tuple[list[str], Any]:
    """Split a ``"a.b.c=value"`` override into its key path and its value (parsed by ``yaml.safe_load``).

    ``form`` describes the expected shape in the error message.
    """
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError(f"override {item!r} must look like {form}")
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    if not key.strip() or any(not p for p in parts):
        raise ConfigError(f"override {item!r}: empty key path")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: cannot parse value {text!r}: {e}") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``"a.b.c=value"`` overrides to a nested dict in place (value parsed by ``yaml.safe_load``)."""
    for item in overrides:
        parts, value = parse_override(item)
        node = data
        for i, p in enumerate(parts[:-1]):
            child = node.setdefault(p, {})
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parts[: i + 1])} is {_found(child)}, not a section")
            node = child
        node[parts[-1]] = value
    return data


def validate_model_section(model: dict[str, Any], where: str = "model") -> None:
    """Check ``model`` has a ``name`` known to ``sciml.models`` and only keys its factory accepts."""
    if not model:
        return
    name = model.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name must be a model name (str), got {_found(name)}")
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
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level, got {_found(data)}")
    apply_overrides(data, list(overrides))
    try:
        cfg = from_dict(ExperimentConfig, data, where="")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if validate_model:
        validate_model_section(cfg.model)
    return cfg


def dump_config(cfg: Any, path: str | Path) -> None:
    """Write a config dataclass (or dict) as YAML, atomically."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
