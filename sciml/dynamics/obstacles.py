"""Obstacle avoidance by dynamic modulation of a vector field (Khansari-Zadeh & Billard style).

Given an obstacle function Gamma(x) (Gamma = 1 on the boundary, > 1 outside, growing away from it) with unit
normal n = grad Gamma / |grad Gamma| and an orthonormal tangent basis e_1..e_{d-1} (a Householder reflection
that maps the first basis vector to n), the modulated field is

    x' = M(x) f(x),   M = E D E^T,   E = [n, e_1, ..., e_{d-1}],
    D = diag(1 - Gamma^(-1/rho), 1 + Gamma^(-1/rho), ..., 1 + Gamma^(-1/rho)).

On the boundary the normal eigenvalue is 0, so n^T x' = 0 and the boundary is invariant: a trajectory that
starts outside never enters. Far away Gamma -> inf and M -> I. Several obstacles multiply their M's.

Caveat: M f is NOT contractive in general, even when f is: the modulation bends trajectories around the
obstacle, and the symmetric part of its Jacobian is positive near the obstacle (use
``sciml.dynamics.ncds.max_symmetric_jacobian_eigenvalue`` to measure it). Trajectories that start exactly on
the ray where f points straight at the obstacle reach a saddle on the boundary (f parallel to n, so M f = 0)
and stop there; convergence to the goal is lost on that measure-zero set. Shapes: x is (batch, d).
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError


class EllipsoidObstacle(nn.Module):
    """Gamma(x) = sum_i ((x_i - c_i) / a_i)^(2p): an ellipsoid (p = 1) or a rounded box (p > 1)."""

    def __init__(self, center: list[float], axes: list[float], power: int = 1) -> None:
        super().__init__()
        c, a = torch.as_tensor(center, dtype=torch.float32), torch.as_tensor(axes, dtype=torch.float32)
        if c.shape != a.shape or c.ndim != 1:
            raise ShapeError(f"center and axes must be 1-D of equal length, got {tuple(c.shape)} and {tuple(a.shape)}")
        if not torch.all(a > 0) or power < 1:
            raise ConfigError(f"axes must be > 0 and power >= 1, got axes={axes}, power={power}")
        self.register_buffer("center", c)
        self.register_buffer("axes", a)
        self.power = int(power)

    def gamma(self, x: torch.Tensor) -> torch.Tensor:
        r = (x - self.center.to(x.dtype)) / self.axes.to(x.dtype)
        return (r ** (2 * self.power)).sum(-1)

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        a = self.axes.to(x.dtype)
        r = (x - self.center.to(x.dtype)) / a
        g = 2 * self.power * r ** (2 * self.power - 1) / a
        return g / g.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)


def normal_tangent_basis(n: torch.Tensor) -> torch.Tensor:
    """Orthonormal E (batch, d, d) whose first column is +-n (unit normals (batch, d)), rest tangent (Householder)."""
    d = n.shape[-1]
    e1 = torch.zeros_like(n)
    e1[..., 0] = 1
    sign = torch.where(n[..., :1] >= 0, 1.0, -1.0).to(n.dtype)
    w = n + sign * e1
    w = w / w.norm(dim=-1, keepdim=True)
    eye = torch.eye(d, dtype=n.dtype, device=n.device)
    return eye - 2 * w.unsqueeze(-1) * w.unsqueeze(-2)


class ModulatedField(nn.Module):
    """x' = prod_k M_k(x) f(x) for obstacles k; see the module docstring. rho > 0 sets how far the effect reaches."""

    def __init__(self, field: nn.Module, obstacles: list[EllipsoidObstacle], rho: float = 1.0) -> None:
        super().__init__()
        if rho <= 0:
            raise ConfigError(f"rho must be > 0, got {rho}")
        self.field, self.obstacles, self.rho = field, nn.ModuleList(obstacles), float(rho)

    def modulation(self, x: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        m = eye.expand(x.shape[0], -1, -1)
        for obs in self.obstacles:
            gamma = obs.gamma(x).clamp_min(1.0)
            lam = gamma ** (-1.0 / self.rho)
            diag = torch.ones_like(x) * (1 + lam)[:, None]
            diag[:, 0] = 1 - lam
            E = normal_tangent_basis(obs.normal(x))
            m = (E * diag.unsqueeze(-2)) @ E.transpose(-1, -2) @ m
        return m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.modulation(x) @ self.field(x).unsqueeze(-1)).squeeze(-1)
