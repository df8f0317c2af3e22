"""Contractive dynamical systems learned from demonstrations (NCDS): Euclidean, latent, SO(3), obstacles.

    >>> from sciml.dynamics import NCDS, rollout
    >>> f = NCDS(dim=2, eps=0.1)                  # x' = f(x), converges to the goal from anywhere
    >>> traj = rollout(f, x_start, t)              # (batch, n_times, dim)

See docs/models/ncds.md. Submodules: ``ncds`` (field, baselines, rollouts, Jacobian diagnostic),
``line_integral`` (Gauss-Legendre / odeint), ``latent`` (flow decoder), ``lie`` (SO(3)), ``obstacles``
(modulation), ``dtw`` (metric), ``train`` (config-driven training).
"""

from __future__ import annotations

from sciml.dynamics.dtw import dtw_distance, mean_dtw
from sciml.dynamics.latent import CouplingFlow, LatentNCDS
from sciml.dynamics.ncds import NCDS, LinearStableField, MLPField, max_symmetric_jacobian_eigenvalue, rollout
from sciml.dynamics.obstacles import EllipsoidObstacle, ModulatedField
from sciml.dynamics.so3 import SO3NCDS
from sciml.geometry.so3 import SO3, so3_exp, so3_log

__all__ = [
    "NCDS",
    "LatentNCDS",
    "CouplingFlow",
    "SO3",
    "SO3NCDS",
    "so3_exp",
    "so3_log",
    "MLPField",
    "LinearStableField",
    "rollout",
    "max_symmetric_jacobian_eigenvalue",
    "EllipsoidObstacle",
    "ModulatedField",
    "dtw_distance",
    "mean_dtw",
]
