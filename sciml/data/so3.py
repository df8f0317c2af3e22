"""Orientation (and full-pose) trajectories converging to a goal rotation, for NCDS on SO(3).

Two sources, both returning exact rotations R(t) = R_g exp(hat(xi(t))) with |xi| < pi:

* ``source="lasa"``: a LASA shape lifted to rotations, xi(t) = max_angle (x(t), y(t), 0.5 (x(t) + y(t))) / r
  with (x, y) the demonstration in mm and r the largest |(x, y, (x+y)/2)| over the demos, so xi ends at 0
  (the goal) and |xi| <= max_angle. Demonstration i % 7 is used for sample i.
* ``source="field"``: integrated from the stable linear field xi' = (-a I + b S) xi on so(3) (S a fixed
  skew matrix: spiralling convergence), solved exactly with the matrix exponential, from seeded random starts
  with |xi(0)| in [0.3, max_angle].

Positions (full pose) use the same construction in R^3 (scaled to the unit ball) and converge to the goal
position. Output (numpy float64): rotations (n, T, 3, 3), quaternions (n, T, 4) (w >= 0 convention, sign
kept continuous along each trajectory), positions (n, T, 3), t (n, T), goal_rotation (3, 3), goal_position (3,).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import expm

from sciml.core.errors import ConfigError
from sciml.data.lasa import load_shape


def _rotations(xi: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sciml.geometry.so3 import matrix_to_quat, so3_exp

    R = torch.as_tensor(goal) @ so3_exp(torch.as_tensor(xi))
    q = matrix_to_quat(R).numpy()
    # continuous sign along time (q and -q are the same rotation)
    for k in range(1, q.shape[1]):
        flip = (q[:, k] * q[:, k - 1]).sum(-1) < 0
        q[flip, k] *= -1
    return R.numpy(), q


def so3_trajectories(
    n_samples: int = 7,
    resolution: int = 200,
    seed: int = 0,
    source: str = "lasa",
    shape: str = "Angle",
    max_angle: float = 0.75 * np.pi,
    duration: float = 5.0,
    goal_axis_angle: list[float] | None = None,
    goal_position: list[float] | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Generate trajectories; see the module docstring. ``resolution`` is the number of time points.

    ``progress`` is accepted for the generator contract; generation is fast and shows no bar. The result is a dict
    of numpy arrays (rotations are not fields on a grid), so it is used from Python, not through a recipe.
    """
    if not 0 < max_angle < np.pi:
        raise ConfigError(f"max_angle must be in (0, pi) so that log is single-valued, got {max_angle}")
    if n_samples < 1 or resolution < 2:
        raise ConfigError(f"n_samples >= 1 and resolution >= 2 required, got {n_samples}, {resolution}")
    from sciml.geometry.so3 import so3_exp

    g_xi = np.zeros(3) if goal_axis_angle is None else np.asarray(goal_axis_angle, dtype=np.float64)
    goal = so3_exp(torch.as_tensor(g_xi)).numpy()
    gp = np.zeros(3) if goal_position is None else np.asarray(goal_position, dtype=np.float64)
    if source == "lasa":
        raw = load_shape(shape)
        idx = np.linspace(0, raw["pos"].shape[-1] - 1, resolution).round().astype(int)
        pos = raw["pos"][np.arange(n_samples) % raw["pos"].shape[0]][:, :, idx].transpose(0, 2, 1)
        lifted = np.concatenate([pos, 0.5 * pos.sum(-1, keepdims=True)], -1)
        lifted = lifted / np.linalg.norm(lifted, axis=-1).max()
        xi, p = max_angle * lifted, lifted
        t = raw["t"][np.arange(n_samples) % raw["t"].shape[0]][:, idx]
    elif source == "field":
        rng = np.random.default_rng(seed)
        skew = np.array([[0.0, -1.0, 0.5], [1.0, 0.0, -0.3], [-0.5, 0.3, 0.0]])
        a_mat = -1.0 * np.eye(3) + 1.5 * skew
        t1 = np.linspace(0.0, duration, resolution)
        props = np.stack([expm(a_mat * s) for s in t1])  # (T, 3, 3)
        xi0 = rng.normal(size=(n_samples, 3))
        xi0 *= rng.uniform(0.3, max_angle, size=(n_samples, 1)) / np.linalg.norm(xi0, axis=-1, keepdims=True)
        p0 = rng.uniform(-1, 1, size=(n_samples, 3))
        xi = np.einsum("tij,nj->nti", props, xi0)
        p = np.einsum("tij,nj->nti", props, p0)
        t = np.broadcast_to(t1, (n_samples, resolution)).copy()
    else:
        raise ConfigError(f"unknown source {source!r}; allowed: lasa, field")
    R, q = _rotations(xi, goal)
    return {
        "rotations": R,
        "quaternions": q,
        "positions": p + gp,
        "t": t,
        "goal_rotation": goal,
        "goal_position": gp,
    }


generate = so3_trajectories
