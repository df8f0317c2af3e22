"""All-or-nothing file writes: ``atomic_path`` and the cleanup of temporaries a killed writer left behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sciml.core.errors import ConfigError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    If the body raises, the temporary file is removed and any previous file at ``path`` is left
    untouched, so a crash never leaves a half-written file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"cannot write {str(path)!r}: it is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"cannot write {str(path)!r}: a parent of it is a file, not a directory") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # flush file contents to disk before the rename
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the permissions an ordinary open() would (or keep the old file's)
        os.chmod(tmp_path, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``atomic_path(path)`` left by a writer that was killed (SIGKILL, power loss).

    ``atomic_path`` names them ``.<name>.<random>.tmp`` beside ``path``; a process that dies between creating and
    renaming one never removes it, so repeated crashes would pile up files the size of ``path``. Call this
    only where no other process writes ``path`` at the same time (rank 0 of a run, before writing). Returns the
    removed paths.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed.append(stale)
    return removed
