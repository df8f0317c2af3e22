"""``SO3NCDS`` is the Lie-group NCDS: orientations are mapped to the Lie algebra at the goal, xi = log(R_g^T R)
(|xi| < pi), positions to p - p_g, and an NCDS field u' = f(u) runs on u = (xi, p - p_g) in R^3 or R^6. With
position, J_hat is block-diagonal in (xi, p) (``NCDS(blocks=[3, 3])``; its entries depend on the whole u, so
orientation and position still influence each other's speed), hence xi^T xi' <= -eps |xi|^2 on its own: |xi|
never increases, trajectories stay in the chart |xi| < pi and converge to the goal. (A full 6 x 6 J_hat bounds
only |u|; then |xi| can grow past pi while a large |p - p_g| shrinks, and measured it did.) Two integrators keep
states exact rotations: ``rollout`` integrates u with torchdiffeq and returns R = R_g exp(xi); ``rollout_group``
steps on the group, R_{n+1} = R_n exp(dt omega_n) with the body angular velocity omega = J_r(xi) xi' (Lie-Euler,
first order, products of rotations only).
"""

from __future__ import annotations

import geoopt
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.dynamics.ncds import NCDS
from sciml.geometry.so3 import SO3, matrix_to_quat, quat_to_matrix, right_jacobian, so3_exp, so3_log
from sciml.models.protocol import Objective

__all__ = ["SO3NCDS"]


class SO3NCDS(nn.Module, Objective):
    """Contractive dynamics on SO(3) (``with_position=False``) or R^3 x SO(3) (full pose).

    The NCDS state is u = (xi, p - p_g), xi = log(R_g^T R); see the module docstring. Orientations are
    (batch, 3, 3) matrices or, with ``representation="quaternion"``, (batch, 4) unit quaternions on geoopt's
    Sphere. ``learn_goal=True`` makes R_g a geoopt ``ManifoldParameter`` on ``SO3`` (train it with
    ``geoopt.optim.RiemannianAdam``, which treats the other parameters like Adam).
    """

    def __init__(
        self,
        with_position: bool = True,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "tanh",
        eps: float = 0.1,
        n_nodes: int = 12,
        representation: str = "matrix",
        learn_goal: bool = False,
        goal_rotation: list[list[float]] | None = None,
        goal_position: list[float] | None = None,
    ) -> None:
        super().__init__()
        if representation not in ("matrix", "quaternion"):
            raise ConfigError(f"unknown representation {representation!r}; allowed: matrix, quaternion")
        self.with_position, self.representation = with_position, representation
        self.dim = 6 if with_position else 3
        # block-diagonal J_hat: xi and p - p_g contract separately, so |xi| itself never increases (a full 6 x 6
        # J_hat only bounds |u|, and |xi| could grow past pi while a large |p - p_g| shrinks)
        blocks = [3, 3] if with_position else None
        self.field = NCDS(
            self.dim, hidden=hidden, depth=depth, activation=activation, eps=eps, n_nodes=n_nodes, blocks=blocks
        )
        self.manifold = SO3()
        self.sphere = geoopt.Sphere()
        rg = torch.eye(3) if goal_rotation is None else self.manifold.projx(torch.as_tensor(goal_rotation).float())
        if learn_goal:
            self.goal_rotation = geoopt.ManifoldParameter(rg, manifold=self.manifold)
        else:
            self.register_buffer("goal_rotation", rg)
        self.register_buffer("goal_position", torch.zeros(3) if goal_position is None else torch.tensor(goal_position))

    @property
    def eps(self) -> float:
        return self.field.eps

    def as_matrix(self, orientation: torch.Tensor) -> torch.Tensor:
        if self.representation == "quaternion":
            if orientation.shape[-1] != 4:
                raise ShapeError(f"quaternions must be (batch, 4), got {tuple(orientation.shape)}")
            return quat_to_matrix(orientation)
        if orientation.shape[-2:] != (3, 3):
            raise ShapeError(f"rotations must be (batch, 3, 3), got {tuple(orientation.shape)}")
        return orientation

    def from_matrix(self, R: torch.Tensor) -> torch.Tensor:
        return self.sphere.projx(matrix_to_quat(R)) if self.representation == "quaternion" else R

    def to_algebra(self, orientation: torch.Tensor, position: torch.Tensor | None = None) -> torch.Tensor:
        """u = (log(R_g^T R), p - p_g): (batch, 3 or 6)."""
        return self._to_algebra(self.as_matrix(orientation), position)

    def _to_algebra(self, R: torch.Tensor, position: torch.Tensor | None) -> torch.Tensor:
        xi = so3_log(self.goal_rotation.to(R.dtype).transpose(-1, -2) @ R)
        if not self.with_position:
            return xi
        if position is None:
            raise ShapeError("this model has with_position=True: pass positions (batch, 3)")
        return torch.cat([xi, position - self.goal_position.to(position.dtype)], -1)

    def from_algebra(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        R = self.goal_rotation.to(u.dtype) @ so3_exp(u[..., :3])
        p = u[..., 3:] + self.goal_position.to(u.dtype) if self.with_position else None
        return self.from_matrix(R), p

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """The contractive field in algebra coordinates, u' = f(u), (batch, dim)."""
        return self.field(u)

    def velocity(self, orientation: torch.Tensor, position: torch.Tensor | None = None):
        """Body angular velocity omega = J_r(xi) xi' (batch, 3) and linear velocity (batch, 3) or None."""
        return self._velocity(self.as_matrix(orientation), position)

    def objective(self, batch, grid=None) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean |omega_pred - omega|^2 (+ |v_pred - v|^2 with position); batch ``(orientation, position, omega, v)``
        with body angular velocities omega_k = log(R_k^T R_{k+1}) / dt_k."""
        orient, pos, omega, vel = batch
        w_pred, v_pred = self.velocity(orient, pos if self.with_position else None)
        loss = ((w_pred - omega) ** 2).sum(-1).mean()
        if self.with_position:
            loss = loss + ((v_pred - vel) ** 2).sum(-1).mean()
        return loss, {}

    def _velocity(self, R: torch.Tensor, position: torch.Tensor | None):
        u = self._to_algebra(R, position)
        du = self.field(u)
        omega = (right_jacobian(u[..., :3]) @ du[..., :3, None]).squeeze(-1)
        return omega, (du[..., 3:] if self.with_position else None)

    def rollout(self, orientation, position=None, t=None, rtol: float = 1e-6, atol: float = 1e-8):
        """Integrate in algebra coordinates (torchdiffeq); returns orientations (batch, T, ...) and positions."""
        from sciml.dynamics.ncds import rollout as _rollout

        u = _rollout(self.field, self.to_algebra(orientation, position), t, rtol=rtol, atol=atol)
        return self.from_algebra(u)

    def rollout_group(self, orientation, position=None, dt: float = 0.01, n_steps: int = 100):
        """Lie-Euler on the group: R <- R exp(dt omega), p <- p + dt v. Returns (batch, n_steps+1, ...) states."""
        R = self.as_matrix(orientation)
        Rs, ps = [R], [position]
        for _ in range(n_steps):
            omega, v = self._velocity(R, position)
            R = R @ so3_exp(dt * omega)
            position = position + dt * v if self.with_position else None
            Rs.append(R)
            ps.append(position)
        Rt = self.from_matrix(torch.stack(Rs, 1))
        return Rt, (torch.stack(ps, 1) if self.with_position else None)
