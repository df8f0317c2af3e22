"""Checkpoints as plain data: atomic writes, safe loads, RNG state capture for exact resume.

A checkpoint is a dict of tensors and plain types only (no pickled classes), so it loads with
``torch.load(weights_only=True)``:

    {"format": "sciml-checkpoint", "version": 1,
     "model": state_dict, "optimizer": state_dict, "scheduler": state_dict | None,
     "epoch": next epoch to run, "global_step": int, "rng": rng_state(),
     "model_name": str | None, "model_config": dict | None, "train_config": dict,
     "metrics": [one dict per finished epoch], "best": float | None}

``save_checkpoint`` writes to a temporary file beside the target and ``os.replace``s it, so a crash during
the write leaves the previous checkpoint intact. ``load_checkpoint`` turns a missing, truncated or corrupt
file (or one that is not a sciml checkpoint) into ``CheckpointError`` naming the file and the problem.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.core.errors import CheckpointError
from sciml.core.files import atomic_path, clean_stale_temporaries, storage_error

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "FORMAT", "VERSION"]

FORMAT = "sciml-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors and plain types) to ``path`` atomically; returns the path.

    Temporaries of earlier writes of ``path`` that a killed process left behind are removed first (one writer per
    path: rank 0 of a run).
    """
    clean_stale_temporaries(path)
    path = Path(path)
    state = {"format": FORMAT, "version": VERSION, **state}
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"cannot write checkpoint {str(path)!r}: the state must hold only tensors and plain types ({e})"
        ) from None
    except RuntimeError as e:  # torch's zip writer reports a full disk as "enforce fail ... unexpected pos"
        raise storage_error(path, OSError(None, f"torch.save failed ({_why(e)})")) from None
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {str(path)!r} is empty (0 bytes): the write was interrupted")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {str(path)!r} ({size} bytes) is truncated or corrupt: it is not a complete zip archive "
            "as written by torch.save (the end-of-archive directory is missing)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds objects other than tensors and plain types, refused by "
            f"torch.load(weights_only=True): {_why(e)}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"checkpoint {str(path)!r} ({size} bytes) is truncated or corrupt and cannot be read: {msg}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a sciml checkpoint (no format={FORMAT!r} entry)")
    version = state.get("version", -1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"checkpoint {str(path)!r} has a non-integer format version {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {state['version']}; this sciml reads up to {VERSION}"
        )
    return state


def _why(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    specific = [ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln]
    return (specific or lines or [type(e).__name__])[0]


# ---------------------------------------------------------------------------------------------- RNG
def rng_state() -> dict[str, Any]:
    """Random states of torch (CPU and every CUDA device), numpy and python as tensors and lists."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "state": list(py_internal), "gauss_next": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by ``rng_state`` (CUDA states only when the device count matches)."""
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([c.cpu().to(torch.uint8) for c in cuda])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"])))
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["state"]), p["gauss_next"]))
