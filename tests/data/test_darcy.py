"""Darcy solver: manufactured-solution convergence order, exact constant-coefficient solution, FNO-style data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import ConfigError, GridError, InvalidValueError
from sciml.data import generate
from sciml.data.darcy import solve_darcy
from sciml.data.grf import sample_grf
from sciml.fields.grid import Grid

PI = math.pi


def _mesh(n: int) -> tuple[Grid, np.ndarray, np.ndarray]:
    grid = Grid.uniform((n, n))
    x, y = grid.meshgrid(dtype=torch.float64).numpy()
    return grid, x, y


def _manufactured(x, y):
    """a = 1 + sin(2 pi x) cos(2 pi y) / 2, u = sin(pi x) sin(pi y), f = -div(a grad u) computed by hand."""
    a = 1 + 0.5 * np.sin(2 * PI * x) * np.cos(2 * PI * y)
    a_x = PI * np.cos(2 * PI * x) * np.cos(2 * PI * y)
    a_y = -PI * np.sin(2 * PI * x) * np.sin(2 * PI * y)
    u = np.sin(PI * x) * np.sin(PI * y)
    u_x = PI * np.cos(PI * x) * np.sin(PI * y)
    u_y = PI * np.sin(PI * x) * np.cos(PI * y)
    f = -(a_x * u_x + a_y * u_y) + 2 * PI**2 * a * u
    return a, f, u


def test_manufactured_solution_converges_at_second_order():
    errors = []
    for n in (17, 33, 65, 129):
        grid, x, y = _mesh(n)
        a, f, exact = _manufactured(x, y)
        err = solve_darcy(a, f, grid) - exact
        errors.append((np.abs(err).max(), math.sqrt(float((grid.quadrature_weights() * err**2).sum()))))
    errors = np.array(errors)
    orders = np.log2(errors[:-1] / errors[1:])  # h halves between successive grids
    assert np.all((orders >= 1.8) & (orders <= 2.2)), orders


def _poisson_series(x, y, terms: int = 399):
    """-lap u = 1 on the unit square, u = 0 on the boundary: sum over odd m, n of 16 sin sin / (pi^4 m n (m^2+n^2))."""
    m = np.arange(1, terms + 1, 2)
    coef = 16 / (PI**4 * np.outer(m, m) * (m[:, None] ** 2 + m[None] ** 2))
    return np.sin(PI * np.outer(x[:, 0], m)) @ coef @ np.sin(PI * np.outer(m, y[0]))


def test_constant_coefficient_matches_fourier_series():
    # series truncation error < 16/pi^4 * sum_{m>399} 1/m^3 ~ 1e-6; the scheme's error is about 0.06 h^2
    for n in (33, 65):
        grid, x, y = _mesh(n)
        u = solve_darcy(np.full((n, n), 2.0), 2.0, grid)  # -div(2 grad u) = 2 has the same solution
        h = 1 / (n - 1)
        assert np.abs(u - _poisson_series(x, y)).max() <= 0.1 * h**2
    assert abs(_poisson_series(np.array([[0.5]]), np.array([[0.5]]))[0, 0] - 0.0736713532) < 1e-8


def test_discrete_equation_holds_on_rectangular_grid():
    # independent stencil evaluation of the scheme (documented in sciml.data.darcy) on a non-square box
    grid = Grid.uniform((13, 21), bounds=[(0.0, 1.0), (0.0, 2.0)])
    a = np.exp(sample_grf(1, grid, basis="cosine", sigma=3.0, seed=4)[0].numpy())
    f = 1.0 + grid.meshgrid(dtype=torch.float64).numpy()[0]
    u = solve_darcy(a, f, grid)
    h0, h1 = grid.spacing

    def hm(p, q):
        return 2 * p * q / (p + q)

    c = (slice(1, -1), slice(1, -1))
    flux = (
        hm(a[c], a[2:, 1:-1]) * (u[c] - u[2:, 1:-1]) / h0**2
        + hm(a[c], a[:-2, 1:-1]) * (u[c] - u[:-2, 1:-1]) / h0**2
        + hm(a[c], a[1:-1, 2:]) * (u[c] - u[1:-1, 2:]) / h1**2
        + hm(a[c], a[1:-1, :-2]) * (u[c] - u[1:-1, :-2]) / h1**2
    )
    assert np.abs(flux - f[c]).max() <= 1e-9 * np.abs(f).max()
    assert u[0].tolist() == [0.0] * 21 and u[:, -1].tolist() == [0.0] * 13


def test_classic_fno_style_defaults():
    out = generate("darcy", n_samples=12, resolution=48, seed=1, progress=False, dtype="float64")
    a, u = out["input"], out["output"]
    assert a.variables == ("a",) and u.variables == ("u",)
    assert a.grid == u.grid == Grid.uniform((48, 48))
    av, uv = a.values.numpy(), u.values.numpy()
    assert set(np.unique(av)) == {3.0, 12.0}
    assert 0.2 < (av == 12.0).mean() < 0.8  # threshold at 0 of a zero-mean field: both phases present
    assert np.all(uv[..., 0, :] == 0) and np.all(uv[..., -1, :] == 0)
    assert np.all(uv[..., :, 0] == 0) and np.all(uv[..., :, -1] == 0)
    assert np.all(uv[..., 1:-1, 1:-1] > 0)  # discrete maximum principle, f = 1 > 0
    # plausible range: between the constant-coefficient maxima 0.07367/12 = 0.0061 and 0.07367/3 = 0.0246
    # (measured on 256 samples at 64x64: max u from 0.010 to 0.017)
    umax = uv.max(axis=(1, 2, 3))
    assert np.all(umax > 0.0736713532 / 12) and np.all(umax < 0.0736713532 / 3)
    assert out["input"].values.dtype == torch.float64
    assert generate("darcy", n_samples=1, resolution=9, progress=False)["output"].values.dtype == torch.float32


def test_same_seed_shares_coefficients_across_resolutions_and_lognormal():
    kw = dict(n_samples=2, seed=3, progress=False, dtype="float64", coefficient="lognormal")
    coarse, fine = generate("darcy", resolution=33, **kw), generate("darcy", resolution=65, **kw)
    assert torch.allclose(fine["input"].values[..., ::2, ::2], coarse["input"].values, rtol=1e-12, atol=0)
    # same continuous problem: the two solutions agree at shared nodes to discretisation accuracy
    diff = (fine["output"].values[..., ::2, ::2] - coarse["output"].values).abs().max()
    assert diff <= 0.01 * coarse["output"].values.abs().max()
    g = torch.log(coarse["input"].values)
    assert torch.allclose(g[:, 0], sample_grf(2, 33, dim=2, sigma=3.0, drop_constant=True, seed=3), atol=1e-12)


def test_bad_inputs_raise_sciml_errors():
    with pytest.raises(InvalidValueError, match="positive"):
        solve_darcy(np.zeros((9, 9)))
    with pytest.raises(GridError, match="non-periodic"):
        solve_darcy(np.ones((8, 8)), 1.0, Grid.uniform((8, 8), periodic=True))
    with pytest.raises(ConfigError, match="coefficient 'gaussian'.*threshold, lognormal"):
        generate("darcy", n_samples=1, resolution=9, coefficient="gaussian", progress=False)
    with pytest.raises(ConfigError, match="a_high and a_low"):
        generate("darcy", n_samples=1, resolution=9, a_low=-1.0, progress=False)
