"""Obstacle modulation (zero normal velocity on the boundary, rollouts stay outside) and the flow decoder."""

from __future__ import annotations

import torch

from sciml.dynamics.latent import CouplingFlow, LatentNCDS
from sciml.dynamics.ncds import NCDS, max_symmetric_jacobian_eigenvalue, rollout
from sciml.dynamics.obstacles import EllipsoidObstacle, ModulatedField, normal_tangent_basis

D = torch.float64


def _modulated(power=1):
    torch.manual_seed(0)
    f = NCDS(2, hidden=16, eps=0.5).double()
    obs = EllipsoidObstacle([2.0, 0.3], [0.6, 0.4], power=power).double()
    return f, obs, ModulatedField(f, [obs], rho=1.0)


def test_basis_is_orthonormal_with_normal_first():
    n = torch.randn(50, 3, dtype=D)
    n = n / n.norm(dim=-1, keepdim=True)
    E = normal_tangent_basis(n)
    assert (E.transpose(-1, -2) @ E - torch.eye(3, dtype=D)).abs().max() < 1e-14
    assert ((E[..., 0] * n).sum(-1).abs() - 1).abs().max() < 1e-14


def test_zero_normal_velocity_on_boundary_and_identity_far_away():
    f, obs, mod = _modulated(power=2)
    ang = torch.linspace(0, 6.2, 200, dtype=D)
    # points on the boundary Gamma = 1 of the rounded box: scale rays to Gamma = 1
    dirs = torch.stack([torch.cos(ang), torch.sin(ang)], -1)
    r = obs.gamma(obs.center + dirs) ** (-1 / 4)
    x = obs.center + r[:, None] * dirs
    assert (obs.gamma(x) - 1).abs().max() < 1e-12
    with torch.no_grad():
        vn = (mod(x) * obs.normal(x)).sum(-1)
        assert vn.abs().max() < 1e-12 * (1 + f(x).norm(dim=-1).max())
        far = torch.tensor([[200.0, -300.0]], dtype=D)
        assert (mod(far) - f(far)).norm() < 1e-2 * f(far).norm()


def test_rollouts_stay_outside_and_contraction_caveat():
    f, obs, mod = _modulated()
    # starts behind the obstacle as seen from the goal (origin), aimed through it
    x0 = torch.tensor([[4.0, 0.5], [3.5, 0.0], [4.0, 1.0], [3.0, 0.25]], dtype=D)
    with torch.no_grad():
        traj = rollout(mod, x0, torch.linspace(0, 15, 151, dtype=D), rtol=1e-7, atol=1e-9)
    gamma = obs.gamma(traj.reshape(-1, 2))
    assert gamma.min() > 1.0
    assert gamma.min() < 1.5  # the test is meaningful: trajectories pass close to the boundary
    assert traj[:, -1].norm(dim=-1).max() < 0.1  # and still reach the goal
    # the modulated field is not contracting near the obstacle, as documented
    pts = obs.center + torch.tensor([[0.65, 0.05], [0.0, 0.45], [-0.65, 0.1], [0.1, -0.45]], dtype=D)
    assert max_symmetric_jacobian_eigenvalue(mod, pts).max() > 0


def test_flow_decoder_inverts():
    torch.manual_seed(1)
    flow = CouplingFlow(4, n_layers=4, hidden=16).double()
    for p in flow.parameters():  # leave the identity initialisation
        p.data.normal_(0, 0.5)
    u = 3 * torch.randn(100, 4, dtype=D)
    assert (flow.inverse(flow(u)) - u).abs().max() < 1e-12
    assert (flow(u) - u).abs().max() > 0.1
    model = LatentNCDS(4, latent_dim=2, flow_layers=4, flow_hidden=16).double()
    for p in model.flow.parameters():
        p.data.normal_(0, 0.5)
    z = 2 * torch.randn(50, 2, dtype=D)
    assert (model.encode(model.decode(z))[0] - z).abs().max() < 1e-12  # encoder(decoder(z)) = z


def test_decoded_velocity_is_jacobian_vector_product_and_rollout_reaches_decoded_goal():
    torch.manual_seed(2)
    model = LatentNCDS(2, flow_layers=3, flow_hidden=16, eps=0.8, goal=[0.5, -0.2]).double()
    for p in model.flow.parameters():
        p.data.normal_(0, 0.3)
    z = torch.randn(8, 2, dtype=D)
    dz = model.latent_velocity(z)
    h = 1e-6
    fd = (model.decode(z + h * dz) - model.decode(z - h * dz)) / (2 * h)
    assert (fd - model.decoded_velocity(z)).abs().max() < 1e-7
    with torch.no_grad():
        xt = model.rollout(torch.randn(4, 2, dtype=D), torch.linspace(0, 25, 3, dtype=D))
    # d = D: the decoder is a bijection, so the decoded equilibrium is the data goal itself
    assert (xt[:, -1] - model.goal).abs().max() < 1e-6
