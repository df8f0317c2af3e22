"""One exception family for everything sciml rejects.

Every error names what was wrong (the file, variable, argument or key), what was expected and what was
found. Catch ``SciMLError`` to handle all of them. Subclasses also derive from the closest builtin
(``ValueError``, ``KeyError``...) so generic handlers keep working.
"""

from __future__ import annotations


class SciMLError(Exception):
    """Base class of every error raised deliberately by sciml."""


class ShapeError(SciMLError, ValueError):
    """An array has the wrong number of dimensions or a size that does not match its grid."""


class GridError(SciMLError, ValueError):
    """Coordinates are not 1-D, not finite, or not strictly increasing; bounds or factors are invalid."""


class InvalidValueError(SciMLError, ValueError):
    """Values contain NaN or Inf, or lie outside the allowed range."""


class DataFormatError(SciMLError, ValueError):
    """A file is missing, not HDF5 (or not the expected layout), truncated, or lacks a key/variable."""


class ConfigError(SciMLError, ValueError):
    """A configuration has an unknown key, a value of the wrong type, or an invalid combination."""


class CheckpointError(SciMLError, RuntimeError):
    """A checkpoint file is missing, truncated, corrupt or incompatible with the model."""


class TrainingDivergedError(SciMLError, RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is kept on disk."""
