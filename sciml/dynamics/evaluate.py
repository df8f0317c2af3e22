"""Judging learned dynamical systems: rollouts from demonstration starts, DTW to the demonstrations, goal errors.

``rollout_any`` integrates any of the Euclidean or latent fields; ``evaluate_lasa`` and ``evaluate_so3`` give the
metrics the "rollout" task reports (mean DTW in standardised units, or on the algebra coordinates for SO(3), and the
final distance to the goal); ``body_velocities`` turns rotation trajectories into the regression targets
omega_k = log(R_k^T R_{k+1}) / dt_k.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.dynamics.dtw import mean_dtw
from sciml.dynamics.latent import LatentNCDS
from sciml.dynamics.ncds import rollout
from sciml.dynamics.so3 import SO3NCDS
from sciml.geometry.so3 import so3_log

__all__ = ["rollout_any", "evaluate_lasa", "evaluate_so3", "body_velocities"]


def body_velocities(R: np.ndarray, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """omega_k = log(R_k^T R_{k+1}) / dt_k (0 at the last point) and dp/dt, for (n, T, ...) arrays."""
    Rt = torch.as_tensor(R)
    dt = np.diff(t, axis=1)[..., None]
    om = so3_log(Rt[:, :-1].transpose(-1, -2) @ Rt[:, 1:]).numpy() / dt
    omega = np.concatenate([om, np.zeros_like(om[:, :1])], 1)
    vel = np.stack([np.gradient(p[k], t[k], axis=0) for k in range(p.shape[0])])
    return omega, vel


@torch.no_grad()
def rollout_any(field: nn.Module, x0: torch.Tensor, t: torch.Tensor, rtol: float = 1e-5) -> torch.Tensor:
    """Rollout for any of the Euclidean/latent fields: (batch, n_times, dim)."""
    if isinstance(field, LatentNCDS):
        return field.rollout(x0, t, rtol=rtol, atol=rtol * 1e-2)
    return rollout(field, x0, t, rtol=rtol, atol=rtol * 1e-2)


def evaluate_lasa(field: nn.Module, demos, n_points: int = 200, rtol: float = 1e-5) -> dict[str, Any]:
    """Mean DTW between rollouts from the demo starts and the demos (both at n_points), final goal distance."""
    idx = np.linspace(0, demos.pos.shape[1] - 1, n_points).round().astype(int)
    duration = float(np.mean(demos.t[:, -1] - demos.t[:, 0]))
    t = torch.linspace(0, duration, n_points)
    x0 = torch.as_tensor(demos.pos[:, 0], dtype=torch.float32)
    traj = rollout_any(field, x0, t, rtol).double().numpy()
    goal_dist = np.linalg.norm(traj[:, -1] - demos.goal, axis=-1)
    return {
        "dtw": mean_dtw(list(traj), list(demos.pos[:, idx])),
        "final_goal_distance_max": float(goal_dist.max()),
        "dim": demos.dim,
        "shapes": demos.names,
    }


@torch.no_grad()
def evaluate_so3(field: SO3NCDS, data: dict, n_points: int = 200, rtol: float = 1e-5) -> dict[str, Any]:
    """DTW in algebra coordinates u = (log(R_g^T R), p - p_g) and the final orientation error (rad)."""
    R, p, t_all = data["rotations"], data["positions"], data["t"]
    idx = np.linspace(0, R.shape[1] - 1, n_points).round().astype(int)
    orient = data["quaternions"] if field.representation == "quaternion" else R
    o0 = torch.as_tensor(orient[:, 0], dtype=torch.float32)
    p0 = torch.as_tensor(p[:, 0], dtype=torch.float32) if field.with_position else None
    t = torch.linspace(0, float(np.mean(t_all[:, -1] - t_all[:, 0])), n_points)
    o_t, p_t = field.rollout(o0, p0, t, rtol=rtol, atol=rtol * 1e-2)
    b = o_t.shape[0]
    flat_o = o_t.reshape(b * n_points, *o_t.shape[2:])
    flat_p = p_t.reshape(b * n_points, 3) if p_t is not None else None
    u_roll = field.to_algebra(flat_o, flat_p).reshape(b, n_points, -1).double().numpy()
    demo_o = torch.as_tensor(orient[:, idx], dtype=torch.float32)
    demo_p = torch.as_tensor(p[:, idx], dtype=torch.float32) if field.with_position else None
    u_demo = field.to_algebra(
        demo_o.reshape(-1, *demo_o.shape[2:]), demo_p.reshape(-1, 3) if demo_p is not None else None
    )
    u_demo = u_demo.reshape(b, n_points, -1).double().numpy()
    return {
        "dtw": mean_dtw(list(u_roll), list(u_demo)),
        "final_orientation_error_max": float(np.linalg.norm(u_roll[:, -1, :3], axis=-1).max()),
        "dim": int(field.dim),
    }
