"""SO(3) geometry and a contractive field on orientations (and full pose R^3 x SO(3)).

Closed-form maps (Rodrigues), for w in R^3 with theta = |w| and W = hat(w) (skew matrix):

    exp(W) = I + (sin theta / theta) W + ((1 - cos theta) / theta^2) W^2
    log(R) = theta / (2 sin theta) (R - R^T),   cos theta = (tr R - 1) / 2,   theta in [0, pi)
    J_r(w) = I - ((1 - cos theta) / theta^2) W + ((theta - sin theta) / theta^3) W^2   (right Jacobian)

Small angles use Taylor series of the coefficients (theta < 1e-4 in float64); angles close to pi take the
rotation axis from the symmetric part, (R + R^T)/2 - cos theta I = (1 - cos theta) a a^T, because
(R - R^T) / (2 sin theta) loses all precision there. log is the principal branch (theta < pi); at exactly pi
the axis sign is arbitrary.

``SO3`` is a geoopt ``Manifold`` (points (..., 3, 3), tangent vectors R Omega with Omega skew): projection by
SVD, exp/log/retraction by the formulas above, so geoopt's Riemannian optimisers work on ``ManifoldParameter``
rotations. Unit quaternions (w, x, y, z) live on geoopt's ``Sphere``; ``quat_to_matrix``/``matrix_to_quat``
convert.

``SO3NCDS`` is the Lie-group NCDS: orientations are mapped to the Lie algebra at the goal, xi = log(R_g^T R)
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

import math

import geoopt
import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.dynamics.ncds import NCDS

_SMALL = 1e-4
_NEAR_PI_COS = -0.9


def hat(w: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> skew matrices (..., 3, 3) with hat(w) v = w x v."""
    if w.shape[-1] != 3:
        raise ShapeError(f"so(3) vectors must have last dimension 3, got shape {tuple(w.shape)}")
    z = torch.zeros_like(w[..., 0])
    x, y, zz = w[..., 0], w[..., 1], w[..., 2]
    return torch.stack([torch.stack([z, -zz, y], -1), torch.stack([zz, z, -x], -1), torch.stack([-y, x, z], -1)], -2)


def vee(m: torch.Tensor) -> torch.Tensor:
    """Skew part of (..., 3, 3) as a vector (..., 3): vee(hat(w)) = w."""
    return 0.5 * torch.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1
    )


def _coeffs(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """sin t / t, (1 - cos t) / t^2, (t - sin t) / t^3 with Taylor series for small t."""
    small = theta < _SMALL
    t = torch.where(small, torch.ones_like(theta), theta)
    t2 = theta * theta
    a = torch.where(small, 1 - t2 / 6 + t2 * t2 / 120, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24 + t2 * t2 / 720, (1 - torch.cos(t)) / (t * t))
    c = torch.where(small, 1.0 / 6 - t2 / 120 + t2 * t2 / 5040, (t - torch.sin(t)) / (t * t * t))
    return a, b, c


def so3_exp(w: torch.Tensor) -> torch.Tensor:
    """Rotation matrices exp(hat(w)), (..., 3) -> (..., 3, 3)."""
    theta = w.norm(dim=-1)
    a, b, _ = _coeffs(theta)
    W = hat(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand(W.shape)
    return eye + a[..., None, None] * W + b[..., None, None] * (W @ W)


def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Principal logarithm vee(log R), (..., 3, 3) -> (..., 3), |result| in [0, pi]."""
    if R.shape[-2:] != (3, 3):
        raise ShapeError(f"rotations must have shape (..., 3, 3), got {tuple(R.shape)}")
    s = vee(R)  # sin(theta) * axis
    cos = ((R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2] - 1) / 2).clamp(-1.0, 1.0)
    sin = s.norm(dim=-1)
    theta = torch.atan2(sin, cos)
    small = theta < _SMALL
    safe_sin = torch.where(small | (sin == 0), torch.ones_like(sin), sin)
    t2 = theta * theta
    factor = torch.where(small, 1 + t2 / 6 + 7 * t2 * t2 / 360, theta / safe_sin)
    w_regular = factor[..., None] * s
    # near pi: axis from the symmetric part, sign from the (tiny) skew part
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    sym = 0.5 * (R + R.transpose(-1, -2)) - cos[..., None, None] * eye
    diag = torch.diagonal(sym, dim1=-2, dim2=-1)
    k = diag.argmax(-1)
    col = torch.gather(sym, -1, k[..., None, None].expand(*sym.shape[:-1], 1)).squeeze(-1)
    axis = col / col.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(R.dtype).tiny)
    sign = torch.where((axis * s).sum(-1) < 0, -1.0, 1.0).to(R.dtype)
    w_pi = (sign * theta)[..., None] * axis
    return torch.where((cos < _NEAR_PI_COS)[..., None], w_pi, w_regular)


def right_jacobian(w: torch.Tensor) -> torch.Tensor:
    """J_r(w) (..., 3, 3): d/dt exp(hat(w)) = exp(hat(w)) hat(J_r(w) w')."""
    theta = w.norm(dim=-1)
    _, b, c = _coeffs(theta)
    W = hat(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand(W.shape)
    return eye - b[..., None, None] * W + c[..., None, None] * (W @ W)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (..., 4) as (w, x, y, z) -> rotation matrices (..., 3, 3); q and -q give the same R."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) with w >= 0, via exp of half the log."""
    w = so3_log(R)
    half = 0.5 * w.norm(dim=-1, keepdim=True)
    a, _, _ = _coeffs(half.squeeze(-1))
    return torch.cat([torch.cos(half), 0.5 * a[..., None] * w], -1)


class SO3(geoopt.manifolds.Manifold):
    """The rotation group SO(3) as a geoopt manifold; points (..., 3, 3), tangent vectors R Omega, Omega skew.

    Metric: Frobenius inner product of tangent vectors (bi-invariant). exp_R(U) = R exp(R^T U) in closed form;
    ``retr`` is the same map (it is cheap); ``projx`` is the nearest rotation (SVD with det fix).
    """

    name = "SO(3)"
    ndim = 2
    reversible = False

    def _check_shape(self, shape, name):
        ok = tuple(shape[-2:]) == (3, 3)
        return ok, None if ok else f"{name} must have shape (..., 3, 3), got {tuple(shape)}"

    def _check_point_on_manifold(self, x, *, atol=1e-5, rtol=1e-5):
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        orth = torch.allclose(x.transpose(-1, -2) @ x, eye.expand_as(x), atol=atol, rtol=rtol)
        det = torch.allclose(torch.linalg.det(x), torch.ones((), dtype=x.dtype), atol=atol, rtol=rtol)
        if orth and det:
            return True, None
        return False, "R^T R != I" if not orth else "det R != 1"

    def _check_vector_on_tangent(self, x, u, *, atol=1e-5, rtol=1e-5):
        om = x.transpose(-1, -2) @ u
        ok = torch.allclose(om, -om.transpose(-1, -2), atol=atol, rtol=rtol)
        return ok, None if ok else "R^T U is not skew-symmetric"

    def projx(self, x):
        u, _, vh = torch.linalg.svd(x)
        d = torch.linalg.det(u @ vh)
        fix = torch.ones(*x.shape[:-2], 3, dtype=x.dtype, device=x.device)
        fix[..., -1] = d
        return u @ (fix[..., None] * vh)

    def proju(self, x, u):
        om = x.transpose(-1, -2) @ u
        return x @ (0.5 * (om - om.transpose(-1, -2)))

    egrad2rgrad = proju

    def inner(self, x, u, v=None, *, keepdim=False):
        v = u if v is None else v
        out = (u * v).sum((-1, -2))
        return out[..., None, None] if keepdim else out

    def expmap(self, x, u):
        return x @ so3_exp(vee(x.transpose(-1, -2) @ u))

    retr = expmap

    def logmap(self, x, y):
        return x @ hat(so3_log(x.transpose(-1, -2) @ y))

    def dist(self, x, y, *, keepdim=False):
        d = math.sqrt(2.0) * so3_log(x.transpose(-1, -2) @ y).norm(dim=-1)
        return d[..., None, None] if keepdim else d

    def transp(self, x, y, v):
        return y @ (x.transpose(-1, -2) @ v)

    def random(self, *size, dtype=None, device=None, generator=None):
        w = torch.randn(*size, 3, dtype=dtype, device=device, generator=generator)
        return so3_exp(w)


class SO3NCDS(nn.Module):
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
