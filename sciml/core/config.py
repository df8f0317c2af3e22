"""Typed, plain-data configs: validation of nested dataclasses from dicts, overrides, YAML files.

Every config in sciml is a dataclass whose fields hold JSON types (bool, int, float, str, None, lists and
dicts of them, nested config dataclasses), so it round-trips through YAML, JSON and checkpoints.

* ``from_dict(cls, data, where="train")`` builds ``cls`` from a dict and raises ``ConfigError`` naming the
  key path for an unknown key (listing the allowed ones), a missing required key or a value of the wrong
  type. Ints are accepted where floats are expected; numeric strings such as ``"1e-3"`` are accepted for
  float fields because YAML 1.1 (PyYAML) reads ``1e-3`` without a dot as a string.
* ``convert(annotation, value, where)`` is the same check for one value (used for ad-hoc sections).
* ``to_dict(cfg)`` is the inverse (plain dicts and lists).
* ``parse_override`` / ``apply_overrides``: dotted ``"a.b=value"`` overrides, values read by ``load_yaml``.
* ``load_yaml(text)``: the one YAML parser (safe loading; ``1e-4`` is a float, as in YAML 1.2).
* ``read_yaml(path)`` (safe loading, a mapping at the top) and ``dump_config(cfg, path)`` (atomic).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from sciml.core.errors import ConfigError
from sciml.core.files import atomic_path

__all__ = [
    "from_dict",
    "to_dict",
    "convert",
    "describe_value",
    "parse_override",
    "apply_overrides",
    "read_yaml",
    "load_yaml",
    "dump_config",
]

_FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)


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


def describe_value(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def convert(tp: Any, value: Any, where: str) -> Any:
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
                return convert(arg, value, where)
            except ConfigError as e:
                errors.append(e)
        # an error inside a container (list item, nested key) is more useful than "wrong type" at this level
        nested = [e for e in errors if not str(e).startswith(f"{where} must be")]
        if nested:
            raise nested[0]
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {describe_value(value)}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be null, got {describe_value(value)}")
        return None
    if origin is Literal:
        if not any(value == a and type(value) is type(a) for a in typing.get_args(tp)):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {describe_value(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {describe_value(value)}")
        return from_dict(tp, value, where)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {describe_value(value)}")
        args = typing.get_args(tp)
        if not args:
            return list(value)
        return [convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {describe_value(value)}")
        args = typing.get_args(tp)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where} keys must be strings, got {k!r}")
            out[k] = convert(args[1], v, f"{where}.{k}") if args else v
        return out
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be bool (true/false), got {describe_value(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be int, got {describe_value(value)}")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be float, got {describe_value(value)}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return float(value)
        raise ConfigError(f"{where} must be float, got {describe_value(value)}")
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be str, got {describe_value(value)}")
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
        raise ConfigError(f"{where} must be a mapping, got {describe_value(data)}")
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
            kwargs[name] = convert(hints[name], data[name], path)
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
class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 floats: ``1e-4`` and ``5E3`` are numbers, not the strings YAML 1.1 makes
    of exponents without a dot (a ``dt: 1e-4`` would otherwise reach a solver as text)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python objects) with YAML 1.2 floats; the one YAML reader of sciml."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def parse_override(item: Any, form: str = "key.path=value") -> tuple[list[str], Any]:
    """Split a ``"a.b.c=value"`` override into its key path and its value (parsed by ``load_yaml``).

    ``form`` describes the expected shape in the error message.
    """
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError(f"override {item!r} must look like {form}")
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    if not key.strip() or any(not p for p in parts):
        raise ConfigError(f"override {item!r}: empty key path")
    try:
        value = load_yaml(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: cannot parse value {text!r}: {e}") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``"a.b.c=value"`` overrides to a nested dict in place (value parsed by ``load_yaml``)."""
    for item in overrides:
        parts, value = parse_override(item)
        node = data
        for i, p in enumerate(parts[:-1]):
            child = node.setdefault(p, {})
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {item!r}: {'.'.join(parts[: i + 1])} is {describe_value(child)}, not a section"
                )
            node = child
        node[parts[-1]] = value
    return data


def read_yaml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file read with ``load_yaml``; a mapping at the top (an empty file is ``{}``), else ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} does not exist")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(path)!r} must hold a mapping at the top level, got {describe_value(data)}")
    return data


def dump_config(cfg: Any, path: str | Path) -> None:
    """Write a config dataclass (or dict) as YAML, atomically."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
