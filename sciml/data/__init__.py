"""Dataset generators (PDE solvers) and loaders of real data.

``generate(name, **params)`` runs one generator and returns a dict of named Fields (for example
``{"input": a, "output": u}``); ``sciml.data.recipes.run_recipe`` turns a ``datasets/NAME.yaml`` recipe into
an HDF5 file in sciml's schema. Generators are seeded, vectorised and show a tqdm progress bar.
"""

from __future__ import annotations

from typing import Any

from sciml.core.registry import Registry

_GENERATORS = Registry(
    "generator",
    {
        "grf": "sciml.data.grf:generate",
        "darcy": "sciml.data.darcy:generate",
        "navier_stokes": "sciml.data.navier_stokes:generate",
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


def generate(name: str, /, **params: Any):
    """Run generator ``name``; unknown parameters raise ConfigError naming the allowed ones."""
    return _GENERATORS.build(name, **params)


__all__ = ["generate", "available", "register", "check_config", "get"]
