"""A name -> factory table with lazy imports and config validation: one class for models, generators, tasks, readers.

Built-in entries are ``"module:attribute"`` strings so that ``import sciml`` stays light and a family that
fails to import does not break the others; an entry may carry metadata as ``("module:attribute", {"task":
"rollout"})`` (``meta(name)``). Users add their own with ``register(name, obj, **meta)``. The verbs are the same
everywhere: ``register``, ``available``, ``get``, ``meta``, ``check_config``, ``build``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from sciml.core.errors import ConfigError


class Registry:
    """Named factories of one ``kind`` ("model", "generator", "task", ...), imported on first use."""

    def __init__(self, kind: str, builtins: dict[str, str | tuple[str, dict[str, Any]]]) -> None:
        self.kind = kind
        self._entries: dict[str, str | Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        for name, entry in builtins.items():
            target, meta = entry if isinstance(entry, tuple) else (entry, {})
            self._entries[name], self._meta[name] = target, dict(meta)

    def register(self, name: str, obj: Callable[..., Any] | None = None, **meta: Any):
        """Register ``obj`` under ``name`` with optional metadata; usable as a decorator."""

        def deco(o: Callable[..., Any]) -> Callable[..., Any]:
            self._entries[name] = o
            self._meta[name] = dict(meta)
            return o

        return deco if obj is None else deco(obj)

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata registered with ``name`` (a copy; empty when none)."""
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; available: {', '.join(self.available())}")
        return dict(self._meta.get(name, {}))

    def available(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; available: {', '.join(self.available())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            mod, attr = entry.split(":")
            entry = getattr(importlib.import_module(mod), attr)
            self._entries[name] = entry
        return entry

    def check_config(self, name: str, config: dict[str, Any]) -> None:
        """Raise ConfigError naming any key that the factory does not accept, and the allowed keys."""
        allowed, has_var_kw = accepted_keys(self.get(name))
        if has_var_kw:
            return
        unknown = sorted(set(config) - set(allowed))
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(map(repr, unknown))} for {self.kind} {name!r}; "
                f"allowed keys: {', '.join(sorted(allowed))}"
            )

    def build(self, name: str, **config: Any) -> Any:
        self.check_config(name, config)
        return self.get(name)(**config)


def accepted_keys(factory: Callable[..., Any]) -> tuple[list[str], bool]:
    """Keyword names a callable (or class) accepts, and whether it takes ``**kwargs``."""
    sig = inspect.signature(factory.__init__ if inspect.isclass(factory) else factory)
    names, var_kw = [], False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    return names, var_kw
