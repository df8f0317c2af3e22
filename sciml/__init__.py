"""sciml: neural operators between function spaces and stable learned dynamical systems, in PyTorch."""

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
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud

__version__ = "0.1.0"

# Heavier entry points are imported on first use so that ``import sciml`` stays light.
_LAZY = {
    "Trainer": ("sciml.training.trainer", "Trainer"),
    "build_model": ("sciml.models", "build"),
    "OperatorDataset": ("sciml.fields.datasets", "OperatorDataset"),
    "TrajectoryDataset": ("sciml.fields.datasets", "TrajectoryDataset"),
    "generate": ("sciml.data", "generate"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sciml' has no attribute {name!r}")


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
