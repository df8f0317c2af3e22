"""A name -> factory table with lazy imports and config validation, used for models and generators.

Built-in entries are ``"module:attribute"`` strings so that ``import sciml`` stays light and a family that
fails to import does not break the others. Users add their own with ``register``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from sciml.core.errors import ConfigError


class Registry:
    def __init__(self, kind: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self._entries: dict[str, str | Callable[..., Any]] = dict(builtins)

    def register(self, name: str, obj: Callable[..., Any] | None = None):
        """Register ``obj`` under ``name``; usable as a decorator."""

        def deco(o: Callable[..., Any]) -> Callable[..., Any]:
            self._entries[name] = o
            return o

        return deco if obj is None else deco(obj)

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
