"""sciml: neural operators between function spaces and stable learned dynamical systems, in PyTorch."""

from sciml.errors import (
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
]
