"""SO(3): exp/log round trips (near 0 and near pi), geoopt manifold contract, exact rotations in rollouts."""

from __future__ import annotations

import math

import geoopt
import pytest
import torch

from sciml.dynamics.so3 import SO3NCDS
from sciml.geometry.so3 import SO3, hat, matrix_to_quat, quat_to_matrix, right_jacobian, so3_exp, so3_log

D = torch.float64


def _axes(n, seed=0):
    a = torch.randn(n, 3, dtype=D, generator=torch.Generator().manual_seed(seed))
    return a / a.norm(dim=-1, keepdim=True)


def _orth_err(R):
    eye = torch.eye(3, dtype=R.dtype)
    return (R.transpose(-1, -2) @ R - eye).abs().amax(), (torch.linalg.det(R) - 1).abs().max()


@pytest.mark.parametrize(
    "angles",
    [[1e-12, 1e-8, 1e-5, 9e-5, 1.1e-4], [0.1, 1.0, 2.0, 2.6, 2.7], [math.pi - 1e-3, math.pi - 1e-6, math.pi - 1e-9]],
)
def test_exp_log_round_trip(angles):
    theta = torch.tensor(angles, dtype=D)
    w = _axes(len(angles)) * theta[:, None]
    R = so3_exp(w)
    orth, det = _orth_err(R)
    assert orth < 1e-14 and det < 1e-14
    w_back = so3_log(R)
    assert (so3_exp(w_back) - R).abs().max() < 1e-12  # exp(log R) = R
    # log(exp w) = w: relative accuracy degrades like eps_machine / (pi - theta) only close to pi
    tol = 1e-12 if max(angles) < 3 else 1e-6
    assert (w_back - w).abs().max() < tol


def test_exp_matches_matrix_exponential_and_small_angle_limit():
    w = _axes(20, seed=3) * torch.rand(20, 1, dtype=D) * 3
    assert (so3_exp(w) - torch.linalg.matrix_exp(hat(w))).abs().max() < 1e-13
    tiny = torch.tensor([[1e-9, -2e-9, 3e-9]], dtype=D)
    assert (so3_log(so3_exp(tiny)) - tiny).abs().max() < 1e-20


def test_right_jacobian_is_derivative_of_exp():
    w = torch.tensor([0.3, -1.1, 0.7], dtype=D)
    dw = torch.tensor([0.2, 0.1, -0.4], dtype=D)
    h = 1e-6
    dR = (so3_exp(w + h * dw) - so3_exp(w - h * dw)) / (2 * h)
    expected = so3_exp(w) @ hat(right_jacobian(w) @ dw)
    assert (dR - expected).abs().max() < 1e-8


def test_quaternion_round_trip_on_sphere():
    R = SO3().random(10, dtype=D, generator=torch.Generator().manual_seed(1))
    q = matrix_to_quat(R)
    geoopt.Sphere().assert_check_point_on_manifold(q)
    assert (quat_to_matrix(q) - R).abs().max() < 1e-12
    assert (quat_to_matrix(-q) - R).abs().max() < 1e-12


def test_manifold_contract_projection_and_riemannian_optimiser():
    m = SO3()
    g = torch.Generator().manual_seed(2)
    R = m.projx(torch.randn(5, 3, 3, dtype=D, generator=g))
    m.assert_check_point_on_manifold(R)
    U = m.proju(R, torch.randn(5, 3, 3, dtype=D, generator=g))
    m.assert_check_vector_on_tangent(R, U)
    S = m.expmap(R, U)
    assert (m.logmap(R, S) - U).abs().max() < 1e-10  # |R^T U| < pi here
    target = m.random(1, dtype=D, generator=g)[0]
    p = geoopt.ManifoldParameter(torch.eye(3, dtype=D), manifold=m)
    opt = geoopt.optim.RiemannianAdam([p], lr=0.1)
    for _ in range(60):
        opt.zero_grad()
        loss = ((p - target) ** 2).sum()
        loss.backward()
        opt.step()
    m.assert_check_point_on_manifold(p.detach(), atol=1e-12)
    assert float(m.dist(p.detach(), target)) < 0.2 * float(m.dist(torch.eye(3, dtype=D), target))


@pytest.mark.parametrize("representation", ["matrix", "quaternion"])
def test_rotations_stay_exact_in_long_rollouts(representation):
    torch.manual_seed(0)
    model = SO3NCDS(with_position=True, hidden=16, eps=0.5, representation=representation).double()
    R0 = SO3().random(4, dtype=D, generator=torch.Generator().manual_seed(5))
    R0 = model.goal_rotation.double() @ so3_exp(so3_log(R0).clamp(-1.5, 1.5))
    o0 = model.from_matrix(R0)
    p0 = torch.randn(4, 3, dtype=D)
    with torch.no_grad():
        Rt, pt = model.rollout_group(o0, p0, dt=0.04, n_steps=500)
        Rc, _ = model.rollout(o0, p0, t=torch.linspace(0, 20, 5, dtype=D))
    mats = model.as_matrix(Rt.reshape(-1, *Rt.shape[2:])).reshape(4, -1, 3, 3)
    orth, det = _orth_err(mats)
    assert orth < 1e-12 and det < 1e-12  # no re-projection was done in 500 steps
    dist0 = so3_log(mats[:, 0]).norm(dim=-1)
    dist_end = so3_log(mats[:, -1]).norm(dim=-1)
    assert torch.all(dist_end <= math.exp(-0.5 * 20) * dist0 * 2 + 1e-6)  # Lie-Euler O(dt) slack
    assert pt[:, -1].norm(dim=-1).max() < 1e-3
    orth, det = _orth_err(model.as_matrix(Rc.reshape(-1, *Rc.shape[2:])))
    assert orth < 1e-12 and det < 1e-12


def test_full_pose_keeps_the_rotation_in_its_chart():
    """|xi| is non-increasing on its own even when the position is far away (block-diagonal J_hat); with a full
    6 x 6 J_hat (the control) it is not: only |u| = |(xi, p - p_g)| is bounded."""
    from sciml.dynamics.ncds import NCDS

    gen = torch.Generator().manual_seed(0)
    xi = torch.randn(400, 3, generator=gen, dtype=D)
    xi = 3.0 * xi / xi.norm(dim=-1, keepdim=True)  # near the edge of the chart
    p = 10.0 * torch.randn(400, 3, generator=gen, dtype=D)  # far from the goal position
    u = torch.cat([xi, p], -1)
    for seed in range(3):
        torch.manual_seed(seed)
        model = SO3NCDS(with_position=True, hidden=32, eps=0.1).double()
        with torch.no_grad():
            du = model(u)
        rate = (xi * du[:, :3]).sum(-1) / (xi * xi).sum(-1)  # d/dt |xi|^2 / (2 |xi|^2)
        assert rate.max() <= -0.1 + 1e-9
        rate_p = (p * du[:, 3:]).sum(-1) / (p * p).sum(-1)
        assert rate_p.max() <= -0.1 + 1e-9
        torch.manual_seed(seed)
        full = NCDS(6, hidden=32, eps=0.1).double()
        with torch.no_grad():
            dfull = full(u)
        assert ((xi * dfull[:, :3]).sum(-1) > 0).any()  # the control: the full J_hat lets |xi| grow
        assert ((u * dfull).sum(-1) <= -0.1 * (u * u).sum(-1) + 1e-9).all()  # while |u| still contracts
    with torch.no_grad():
        t = torch.linspace(0, 5, 30, dtype=D)
        R0 = model.from_algebra(u[:8])[0]
        Rt, _ = model.rollout(R0, model.from_algebra(u[:8])[1], t)
        ang = so3_log(model.goal_rotation.double().transpose(-1, -2) @ model.as_matrix(Rt.reshape(-1, 3, 3)))
        ang = ang.norm(dim=-1).reshape(8, -1)
    assert (ang[:, 1:] <= ang[:, :-1] + 1e-6).all() and ang.max() < math.pi
