"""One exception family for everything sciml rejects.

Every error names what was wrong (the file, variable, argument or key), what was expected and what was
found. Catch ``SciMLError`` to handle all of them. Subclasses also derive from the closest builtin
(``ValueError``, ``KeyError``...) so generic handlers keep working.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


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


class StorageError(SciMLError, OSError):
    """A file or directory cannot be written: a read-only location, missing permissions, a full disk or another I/O
    error. Writes are atomic, so the previous file at the destination (if any) is left as it was."""


class TrainingDivergedError(SciMLError, RuntimeError):
    """The loss became NaN or Inf or exploded; the last good checkpoint is kept on disk."""


@contextlib.contextmanager
def located(where: str | os.PathLike, key: str | os.PathLike | None = None) -> Iterator[None]:
    """Put ``where`` (a file, a file and group) in front of the message of a SciMLError raised in the body.

    Checks deep inside a reader (a Field's shape, NaN or mask check, an index range) do not know the file they
    look at; the reader wraps them so the user learns which file is bad. A message that already names ``key``
    (default ``where``) is left as it is. The error keeps its class.
    """
    where = str(where)
    key = where if key is None else str(key)
    try:
        yield
    except SciMLError as e:
        if key in str(e):
            raise
        raise type(e)(f"{where}: {e}") from None
