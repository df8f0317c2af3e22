"""Gaussian random fields: analytic covariance, Monte Carlo statistics, seeding across resolutions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.data import generate
from sciml.data.grf import grf_covariance, grf_eigenvalues, sample_grf
from sciml.fields.grid import Grid

BASES = ["cosine", "sine", "periodic"]


def _green_alpha1(basis: str, x: np.ndarray, tau: float) -> np.ndarray:
    """Exact covariance (-d^2/dx^2 + tau^2)^(-1) on [0, 1]: Green's functions of the three boundary conditions."""
    X, Y = np.meshgrid(x, x, indexing="ij")
    lo, hi = np.minimum(X, Y), np.maximum(X, Y)
    if basis == "cosine":  # Neumann
        return np.cosh(tau * lo) * np.cosh(tau * (1 - hi)) / (tau * np.sinh(tau))
    if basis == "sine":  # Dirichlet
        return np.sinh(tau * lo) * np.sinh(tau * (1 - hi)) / (tau * np.sinh(tau))
    return np.cosh(tau * (np.abs(X - Y) - 0.5)) / (2 * tau * np.sinh(tau / 2))  # periodic


@pytest.mark.parametrize("basis", BASES)
def test_covariance_matches_green_function(basis):
    # truncation error: sum_{k>M} 2 (c k)^-2 <= 2 / (c^2 M) = 1.0e-4 for c = pi, M = 2000 (the periodic basis
    # has two functions per frequency but c = 2 pi, so the same bound holds)
    tau, M = 2.0, 2000
    x = np.linspace(0, 1, 11)
    c = grf_covariance(x, alpha=1.0, tau=tau, n_modes=M, basis=basis)
    assert np.abs(c - _green_alpha1(basis, x, tau)).max() <= 2 / (math.pi**2 * M)


def test_covariance_scales_with_sigma_and_factorises_in_2d():
    x1 = np.linspace(0, 1, 5)
    kw = dict(alpha=1.5, tau=2.0, n_modes=6, basis="cosine")
    pts = Grid.uniform((5, 5)).points()
    c2 = grf_covariance(pts, sigma=3.0, **kw)
    assert np.allclose(c2, 9.0 * grf_covariance(pts, **kw), rtol=1e-12)
    # at alpha = 0 the 2-D eigenvalues factorise: C_2d = C_1d (x) C_1d
    kw0 = dict(alpha=1e-12, tau=1.0, n_modes=6, basis="sine")
    c1 = grf_covariance(x1, **kw0)
    assert np.allclose(grf_covariance(pts, **kw0), np.kron(c1, c1), atol=1e-9)


@pytest.mark.parametrize("basis", BASES)
def test_sample_covariance_matches_analytic(basis):
    # Monte Carlo: Var(hat C_xy) = (C_xx C_yy + C_xy^2) / n <= 2 max_var^2 / n, so every entry of the sample
    # covariance lies within 5 standard errors (5 sqrt(2/n) max_var) of the analytic one; the sample mean
    # within 5 sqrt(max_var / n) of zero.
    n = 4000
    grid = Grid.uniform((9, 9), periodic=basis == "periodic")
    kw = dict(alpha=2.0, tau=3.0, sigma=2.0, n_modes=8, basis=basis)
    u = sample_grf(n, grid, seed=7, **kw).reshape(n, -1).numpy()
    exact = grf_covariance(grid.points().double().numpy(), **kw)
    max_var = exact.diagonal().max()
    assert np.abs(u.T @ u / n - exact).max() <= 5 * math.sqrt(2 / n) * max_var
    assert np.abs(u.mean(0)).max() <= 5 * math.sqrt(max_var / n)


def test_mean_parameter_shifts_the_field():
    a = sample_grf(3, 17, dim=1, seed=1)
    b = sample_grf(3, 17, dim=1, seed=1, mean=2.5)
    assert torch.allclose(b - a, torch.full_like(a, 2.5), atol=1e-13)


@pytest.mark.parametrize("basis,coarse,fine", [("cosine", 33, 65), ("sine", 33, 65), ("periodic", 32, 64)])
@pytest.mark.parametrize("dim", [1, 2])
def test_same_seed_same_function_at_two_resolutions(basis, coarse, fine, dim):
    kw = dict(dim=dim, basis=basis, n_modes=24, seed=5, dtype=torch.float64)
    uc = sample_grf(4, coarse, **kw)
    uf = sample_grf(4, fine, **kw)
    sub = uf[:, ::2] if dim == 1 else uf[:, ::2, ::2]
    assert sub.shape == uc.shape
    assert torch.abs(sub - uc).max() <= 1e-12


def test_sample_depends_only_on_seed_and_index():
    full = sample_grf(5, 16, dim=2, seed=3)
    assert torch.equal(sample_grf(3, 16, dim=2, seed=3), full[:3])
    assert torch.equal(sample_grf(2, 16, dim=2, seed=3, first_index=3), full[3:])
    other = sample_grf(5, 16, dim=2, seed=4)
    assert torch.abs(other - full).amax(dim=(1, 2)).min() > 1e-3
    # samples of one seed differ from each other
    assert torch.abs(full[0] - full[1]).max() > 1e-3


def test_periodic_basis_gives_periodic_field_and_sine_vanishes_on_boundary():
    closed = Grid.uniform((21, 21))  # includes x = 1, the image of x = 0 on the torus
    u = sample_grf(3, closed, basis="periodic", n_modes=10, seed=2)
    assert torch.abs(u[:, 0, :] - u[:, -1, :]).max() <= 1e-12
    assert torch.abs(u[:, :, 0] - u[:, :, -1]).max() <= 1e-12
    assert u.abs().max() > 0.05
    s = sample_grf(3, closed, basis="sine", n_modes=10, seed=2)
    assert torch.abs(s[:, [0, -1], :]).max() <= 1e-12 and torch.abs(s[:, :, [0, -1]]).max() <= 1e-12


def test_generate_returns_field_on_the_right_grid():
    out = generate("grf", n_samples=3, resolution=[8, 12], basis="periodic", progress=False, variable="w")
    (field,) = out.values()
    assert field.variables == ("w",)
    assert field.values.shape == (3, 1, 8, 12) and field.values.dtype == torch.float32
    assert field.grid == Grid.uniform((8, 12), periodic=True)
    out1 = generate("grf", n_samples=2, resolution=10, dim=1, basis="sine", dtype="float64", progress=False)
    f1 = out1["field"]
    assert f1.values.shape == (2, 1, 10) and f1.values.dtype == torch.float64
    assert f1.grid == Grid.uniform(10)
    assert torch.equal(f1.values[:, 0], sample_grf(2, 10, dim=1, basis="sine"))


def test_generate_defaults_to_the_spec_field_with_periodic_eigenvalues():
    """data.md: eigenvalues ((2 pi n)^2 + tau^2)^(-alpha), i.e. the periodic basis (not the cosine one, (pi n)^2).
    The KL coefficients of each default sample are read back from its discrete Fourier transform: with
    u = sqrt(lam_0) xi_0 + sum_k sqrt(2 lam_k) (xi_ck cos 2 pi k x + xi_sk sin 2 pi k x) on the periodic grid
    x_j = j / N, rfft(u)_k = N sqrt(lam_k / 2) (xi_ck - i xi_sk), with xi drawn from default_rng([seed, i])."""
    n, seed, n_samples = 128, 3, 3
    field = generate("grf", n_samples=n_samples, resolution=n, dim=1, seed=seed, dtype="float64", progress=False)
    field = field["field"]
    assert field.attrs["basis"] == "periodic" and field.grid == Grid.uniform(n, periodic=True)
    alpha, tau, n_modes = 2.0, 3.0, 32  # the generator's defaults (sigma = 1)
    k = np.arange(1, n_modes + 1)
    lam = ((2 * math.pi * k) ** 2 + tau**2) ** (-alpha)
    u_hat = np.fft.rfft(field.values[:, 0].numpy(), axis=-1)
    for i in range(n_samples):
        xi = np.random.default_rng([seed, i]).standard_normal(2 * n_modes + 1)
        assert u_hat[i, 0].real / n == pytest.approx(tau ** (-alpha) * xi[0], rel=1e-10)
        coef = u_hat[i, 1 : n_modes + 1] * math.sqrt(2.0) / n
        np.testing.assert_allclose(coef.real, np.sqrt(lam) * xi[1::2], rtol=1e-8, atol=1e-13)
        np.testing.assert_allclose(-coef.imag, np.sqrt(lam) * xi[2::2], rtol=1e-8, atol=1e-13)
        assert np.abs(u_hat[i, n_modes + 1 :]).max() < 1e-10 * n  # nothing above n_modes
    lam_lib = grf_eigenvalues(dim=1, alpha=alpha, tau=tau, n_modes=n_modes, basis="periodic")
    np.testing.assert_allclose(lam_lib[1::2], lam, rtol=1e-14)
    np.testing.assert_allclose(lam_lib[2::2], lam, rtol=1e-14)


def test_bad_parameters_raise_config_errors_naming_the_problem():
    with pytest.raises(ConfigError, match="basis 'fourier'.*cosine, periodic, sine"):
        sample_grf(1, 8, basis="fourier")
    with pytest.raises(ConfigError, match="tau = 0"):
        sample_grf(1, 8, basis="cosine", tau=0.0)
    assert torch.isfinite(sample_grf(1, 8, basis="cosine", tau=0.0, drop_constant=True)).all()
    with pytest.raises(ConfigError, match="resolution"):
        generate("grf", n_samples=1, resolution=[8, 8], dim=1, progress=False)
    with pytest.raises(ConfigError, match="dtype"):
        generate("grf", n_samples=1, resolution=8, dtype="float16", progress=False)
    with pytest.raises(ConfigError, match="unknown key.*'nmodes'.*allowed keys"):
        generate("grf", n_samples=1, resolution=8, nmodes=3)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        sample_grf(1, 8, seed=1.5)
