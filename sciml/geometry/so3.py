"""SO(3) geometry: exp/log maps, Jacobians, quaternions and a geoopt manifold of rotation matrices.

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

Used by the SO(3) data generator (``sciml.data.so3``) and the Lie-group NCDS (``sciml.dynamics.so3``).
"""

from __future__ import annotations

import math

import geoopt
import torch

from sciml.core.errors import ShapeError

__all__ = ["hat", "vee", "so3_exp", "so3_log", "right_jacobian", "quat_to_matrix", "matrix_to_quat", "SO3"]

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
