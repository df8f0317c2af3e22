"""All-or-nothing file writes: ``atomic_path`` and the cleanup of temporaries a killed writer left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sciml.core.errors import ConfigError, SciMLError, StorageError


def storage_error(path: str | os.PathLike, error: OSError, doing: str = "write") -> StorageError:
    """A ``StorageError`` naming ``path``, the system's reason (read-only, permission, disk full) and the free space."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno is not None:
        reason += f" (errno {error.errno})"
    free = ""
    with contextlib.suppress(OSError):
        anchor = Path(path)
        while not anchor.exists() and anchor != anchor.parent:
            anchor = anchor.parent
        free = f"; {shutil.disk_usage(anchor).free} bytes free on its file system"
    return StorageError(f"cannot {doing} {str(path)!r}: {reason}{free}; any previous file there is unchanged")


def make_dirs(path: str | os.PathLike) -> Path:
    """``mkdir -p path`` with a StorageError (read-only location, no permission) naming the path."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"cannot create directory {str(path)!r}: it or a parent of it is a file") from None
    except OSError as e:
        raise storage_error(path, e, "create directory") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    If the body raises, the temporary file is removed and any previous file at ``path`` is left
    untouched, so a crash never leaves a half-written file behind. A read-only location, missing permissions or a
    full disk (an ``OSError`` of the body or of the rename) raise ``StorageError`` naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"cannot write {str(path)!r}: it is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"cannot write {str(path)!r}: a parent of it is a file, not a directory") from None
    except OSError as e:
        raise storage_error(path, e) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise storage_error(path, e) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # flush file contents to disk before the rename
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the permissions an ordinary open() would (or keep the old file's)
        os.chmod(tmp_path, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(e, OSError) and not isinstance(e, SciMLError):
            raise storage_error(path, e) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``atomic_path(path)`` left by a writer that was killed (SIGKILL, power loss).

    ``atomic_path`` names them ``.<name>.<random>.tmp`` beside ``path``; a process that dies between creating and
    renaming one never removes it, so repeated crashes would pile up files the size of ``path`` (directories for
    zarr stores written by a recipe are removed too). Call this
    only where no other process writes ``path`` at the same time (rank 0 of a run, before writing). Returns the
    removed paths.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if stale.is_dir() and not stale.is_symlink():  # the temporary directory of a zarr store
                shutil.rmtree(stale)
            else:
                stale.unlink()
            removed.append(stale)
    return removed
