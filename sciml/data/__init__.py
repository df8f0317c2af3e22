"""Dataset generators (PDE solvers) and loaders of real data.

``generate(name, **params)`` runs one generator and returns a dict of named Fields (for example
``{"input": a, "output": u}``); ``sciml.data.recipes.run_recipe`` turns a ``datasets/NAME.yaml`` recipe into
an HDF5 file in sciml's schema. Generators are seeded, vectorised and show a tqdm progress bar.
"""

from __future__ import annotations

import numbers
from typing import Any

from sciml.core.errors import ConfigError
from sciml.core.registry import Registry

_GENERATORS = Registry(
    "generator",
    {
        "grf": "sciml.data.grf:generate",
        "darcy": "sciml.data.darcy:generate",
        "navier_stokes": "sciml.data.navier_stokes:generate",
        "burgers": "sciml.data.burgers:generate",
        "boussinesq": "sciml.data.boussinesq:generate",
        "cahn_hilliard": "sciml.data.cahn_hilliard:generate",
        "bumps": "sciml.data.bumps:generate",
        "vano_grf": "sciml.data.vano_grf:generate",
        "so3_trajectories": "sciml.data.so3:generate",
        "weather": "sciml.data.weather:generate",
        "sparse_dictionary": "sciml.data.sparse_dictionary:generate",
        "fisher": "sciml.data.fisher:generate",
        "darcy_geometries": "sciml.data.darcy_geometries:generate",
        "heat3d": "sciml.data.heat3d:generate",
    },
)

register = _GENERATORS.register
available = _GENERATORS.available
check_config = _GENERATORS.check_config
get = _GENERATORS.get


def _is_int(v: Any, low: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low  # numpy integers too


def check_params(params: dict[str, Any], where: str = "generator parameters") -> None:
    """The parameters that mean the same for every generator (``n_samples``, ``resolution``, ``seed``,
    ``dtype``), checked before any generator runs: a float seed was silently accepted by some generators and a
    string resolution failed deep inside numpy. ConfigError naming ``where``."""
    n = params.get("n_samples")
    if n is not None and not _is_int(n, 1):
        raise ConfigError(f"params.n_samples in {where} must be an int >= 1, got {n!r}")
    res = params.get("resolution")
    if res is not None:
        ok = _is_int(res, 1) or (isinstance(res, (list, tuple)) and res and all(_is_int(r, 1) for r in res))
        if not ok:
            raise ConfigError(
                f"params.resolution in {where} must be an int >= 1 or a list of ints >= 1 (points per axis), "
                f"got {res!r}"
            )
    seed = params.get("seed")
    if seed is not None and not _is_int(seed, 0):
        raise ConfigError(f"params.seed in {where} must be an int >= 0, got {seed!r}")
    dtype = params.get("dtype")
    if dtype is not None and dtype not in ("float32", "float64"):
        raise ConfigError(f"params.dtype in {where} must be 'float32' or 'float64', got {dtype!r}")


def generate(name: str, /, **params: Any):
    """Run generator ``name``; unknown parameters raise ConfigError naming the allowed ones, and the shared
    parameters are checked by ``check_params``."""
    check_params(params, where=f"generator {name!r}")
    return _GENERATORS.build(name, **params)


__all__ = ["generate", "available", "register", "check_config", "check_params", "get"]
