"""NCDS: the contraction guarantee, the line integral, rollouts and the Jacobian diagnostic."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.dynamics.line_integral import gauss_legendre, line_integral
from sciml.dynamics.ncds import (
    NCDS,
    LinearStableField,
    max_symmetric_jacobian_eigenvalue,
    rollout,
)


def _field(dim: int, eps: float = 0.3, seed: int = 0, goal=None) -> NCDS:
    torch.manual_seed(seed)
    return NCDS(dim, hidden=32, depth=2, eps=eps, goal=goal).double()


@pytest.mark.parametrize("dim", [2, 4, 8])
def test_symmetric_jacobian_eigenvalues_at_most_minus_eps(dim):
    f = _field(dim, eps=0.25)
    x = 5 * torch.randn(200, dim, dtype=torch.float64)
    jac = f.jacobian(x)
    assert torch.equal(jac, jac.transpose(-1, -2))
    assert torch.linalg.eigvalsh(jac).max() <= -0.25 + 1e-12


@pytest.mark.parametrize("dim", [2, 8])
@pytest.mark.parametrize("integrator", ["quadrature", "odeint"])
def test_goal_is_equilibrium_and_contraction_inequality_far_away(dim, integrator):
    goal = torch.linspace(-0.5, 0.7, dim, dtype=torch.float64)
    f = _field(dim, eps=0.2, goal=goal.tolist())
    f.integrator = integrator
    f.goal = goal
    with torch.no_grad():
        assert torch.equal(f(goal.unsqueeze(0)), torch.zeros(1, dim, dtype=torch.float64))
        # data live in roughly the unit ball; include points 1000x outside it
        scales = torch.tensor([0.01, 1.0, 10.0, 1000.0], dtype=torch.float64).repeat_interleave(50)
        x = goal + scales[:, None] * torch.randn(200, dim, dtype=torch.float64)
        v = x - goal
        lhs = (v * f(x)).sum(-1)
        bound = -0.2 * (v * v).sum(-1)
    assert torch.all(lhs <= bound * (1 - 1e-10)), (lhs - bound).max()


def test_rollout_obeys_exponential_bound():
    eps = 0.4
    f = _field(2, eps=eps, seed=3)
    x_start = 3 * torch.randn(8, 2, dtype=torch.float64)
    t = torch.linspace(0, 8, 41, dtype=torch.float64)
    with torch.no_grad():
        traj = rollout(f, x_start, t, rtol=1e-9, atol=1e-12)  # integrator tolerance 1e-9 relative
    dist = traj.norm(dim=-1)
    bound = torch.exp(-eps * t)[None, :] * dist[:, :1]
    assert torch.all(dist <= bound * (1 + 1e-7) + 1e-12)
    assert torch.all(dist[:, -1] <= math.exp(-eps * 8) * dist[:, 0] * (1 + 1e-7))


def _curl_free(dim: int, seed: int = 0):
    """f = -grad V, V(v) = v^T A v / 2 + log cosh(c.v) + sum cosh(v_i): known f and Jacobian."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    a = m @ m.T / dim + 0.5 * torch.eye(dim, dtype=torch.float64)
    c = torch.randn(dim, generator=g, dtype=torch.float64)

    def jvp(p, u):
        s = 1 / torch.cosh(p @ c) ** 2
        return -(u @ a.T + (u @ c * s)[:, None] * c + torch.cosh(p) * u)

    def exact(x):
        return -(x @ a.T + torch.tanh(x @ c)[:, None] * c + torch.sinh(x))

    return jvp, exact


@pytest.mark.parametrize("dim", [2, 5])
def test_quadrature_recovers_curl_free_field_and_agrees_with_odeint(dim):
    jvp, exact = _curl_free(dim)
    x = torch.randn(64, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x0 = torch.zeros(dim, dtype=torch.float64)
    quad = line_integral(jvp, x, x0, "quadrature", n_nodes=32)
    assert (quad - exact(x)).abs().max() < 1e-8
    ode = line_integral(jvp, x, x0, "odeint", rtol=1e-11, atol=1e-12)
    assert (ode - quad).abs().max() < 1e-8 * (1 + quad.abs().max())


def test_gauss_legendre_weights_positive_and_exact_for_polynomials():
    t, w = gauss_legendre(6, dtype=torch.float64)
    assert torch.all(w > 0) and abs(float(w.sum()) - 1) < 1e-14
    for k in range(12):  # exact for degree <= 2n - 1 = 11
        assert abs(float((w * t**k).sum()) - 1 / (k + 1)) < 1e-14


def test_ncds_quadrature_agrees_with_odeint():
    f = _field(3, seed=5)
    x = 2 * torch.randn(32, 3, dtype=torch.float64)
    with torch.no_grad():
        q = f(x, integrator="quadrature")
        o = f(x, integrator="odeint")
    assert (q - o).abs().max() < 1e-6 * (1 + o.abs().max())


def test_symmetric_jacobian_diagnostic_on_linear_field():
    lin = LinearStableField(3, eps=0.1).double()
    with torch.no_grad():
        lin.B.copy_(torch.tensor([[1.0, 0, 0], [0, 2, 0], [0, 0, 0.5]]))
        lin.S.copy_(torch.tensor([[0.0, 3, 0], [0, 0, 1], [0, 0, 0]]))
    x = torch.randn(10, 3, dtype=torch.float64)
    # sym part of A = -(diag(1, 4, 0.25) + 0.1 I); the skew part S - S^T drops out
    expected = -(0.25 + 0.1)
    got = max_symmetric_jacobian_eigenvalue(lin, x)
    assert torch.allclose(got, torch.full((10,), expected, dtype=torch.float64), atol=1e-12)


def test_symmetric_jacobian_diagnostic_for_constant_jhat_is_minus_eps_bound():
    # J_hat constant -> J constant and curl-free -> Df = J exactly, its top eigenvalue <= -eps
    f = _field(2, eps=0.3)
    with torch.no_grad():
        f.net[-1].weight.zero_()
        f.net[-1].bias.copy_(torch.tensor([1.0, 0.5, 0.0, 2.0]))
    x = torch.randn(20, 2, dtype=torch.float64)
    jh = torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64)
    expected = torch.linalg.eigvalsh(-(jh.T @ jh + 0.3 * torch.eye(2, dtype=torch.float64)))[-1]
    assert torch.allclose(max_symmetric_jacobian_eigenvalue(f, x), expected.expand(20), atol=1e-10)


def test_random_network_diagnostic_is_finite_and_reported():
    # the caveat: the true Jacobian is not J, so the diagnostic must be computed from Df itself
    f = _field(2, eps=0.1, seed=0)
    x = 3 * torch.randn(500, 2, dtype=torch.float64)
    lam = max_symmetric_jacobian_eigenvalue(f, x)
    jac_true = torch.func.vmap(torch.func.jacrev(lambda p: f(p[None])[0]))(x[:3])
    assert not torch.allclose(jac_true, f.jacobian(x[:3]), atol=1e-6)
    assert torch.isfinite(lam).all()
    # independent reference: per-point autograd Jacobian of the field, then the top eigenvalue of its symmetric part
    jac_ref = torch.stack([torch.autograd.functional.jacobian(lambda p: f(p[None])[0], xi) for xi in x])
    expected = torch.linalg.eigvalsh(0.5 * (jac_ref + jac_ref.transpose(-1, -2)))[..., -1]
    assert torch.allclose(lam, expected, atol=1e-10)
    # a generic network is not contracting in the identity metric: the symmetric part of J alone would
    # give lam <= -eps = -0.1 everywhere, the true Jacobian exceeds that (about 190 of 500 points, max ~0.13)
    assert (lam > -0.1 + 1e-3).sum() > 50
    assert lam.max() > 0


def test_bad_arguments_raise_sciml_errors():
    with pytest.raises(ConfigError, match="eps"):
        NCDS(2, eps=0.0)
    with pytest.raises(ConfigError, match="integrator"):
        NCDS(2, integrator="simpson")
    with pytest.raises(ShapeError, match=r"\(batch, 2\)"):
        NCDS(2)(torch.zeros(3, 3))
