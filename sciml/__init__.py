"""sciml: neural operators between function spaces and stable learned dynamical systems, in PyTorch.

``import sciml`` loads the data model (``Field``, ``Grid``, ``PointCloud``) and the errors; everything else is
imported on first use: the subpackages (``sciml.models``, ``sciml.data``, ``sciml.fields``, ``sciml.dynamics``,
``sciml.runs``, ``sciml.training``, ``sciml.metrics``, ``sciml.layers``, ``sciml.geometry``, ``sciml.plotting``)
and the entry points below (``sciml.Trainer``, ``sciml.build_model``, ...).
"""

import importlib

from sciml.core.errors import (
    CheckpointError,
    ConfigError,
    DataFormatError,
    GridError,
    InvalidValueError,
    SciMLError,
    ShapeError,
    TrainingDivergedError,
)
from sciml.core.version import __version__
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud

# Heavier entry points are imported on first use so that ``import sciml`` stays light.
_LAZY = {
    "Trainer": ("sciml.training.trainer", "Trainer"),
    "build_model": ("sciml.models", "build"),
    "OperatorDataset": ("sciml.fields.datasets", "OperatorDataset"),
    "TrajectoryDataset": ("sciml.fields.datasets", "TrajectoryDataset"),
    "generate": ("sciml.data", "generate"),
    "load_config": ("sciml.runs.config", "load_config"),
    "train_run": ("sciml.runs.run", "train_run"),
}
_SUBPACKAGES = (
    "core",
    "data",
    "dynamics",
    "fields",
    "geometry",
    "layers",
    "metrics",
    "models",
    "plotting",
    "runs",
    "testing",
    "training",
)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"sciml.{name}")
    raise AttributeError(f"module 'sciml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


__all__ = [
    "Field",
    "Grid",
    "PointCloud",
    "SciMLError",
    "ShapeError",
    "GridError",
    "InvalidValueError",
    "DataFormatError",
    "ConfigError",
    "CheckpointError",
    "TrainingDivergedError",
    "__version__",
    *_LAZY,
]
