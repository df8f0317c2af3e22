"""Metrics: relative L2 with quadrature, generalised MMD, covariance error and eigenfunction alignment, checked
against functions and operators whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import ShapeError
from sciml.data.vano_grf import gauss_legendre_grid, paper_grf_1d, paper_grf_covariance, paper_grf_eigenpairs
from sciml.fields.grid import Grid
from sciml.metrics import (
    covariance_error,
    eigen_alignment,
    eigen_decomposition,
    empirical_covariance,
    generalized_mmd,
    mmd,
    relative_l2,
    truncate_covariance,
)


def test_relative_l2_uses_quadrature():
    g = Grid.uniform(257)
    x = torch.tensor(g.coords[0])
    true = torch.sin(math.pi * x)[None, None].repeat(2, 1, 1)
    pred = true.clone()
    pred[1] += 0.1 * torch.sin(math.pi * x)  # exactly 10 % error
    err = relative_l2(pred, true, g)
    assert err[0] == 0 and abs(float(err[1]) - 0.1) < 1e-12
    # an error concentrated on a non-uniform part of the grid is weighted by cell size, not by point count
    gl = gauss_legendre_grid(64)
    xx = torch.tensor(gl.coords[0])
    t = torch.ones(1, 1, 64, dtype=torch.float64)
    p = t + (xx < 0.1).double()[None, None]  # error 1 on [0, 0.1): relative L2 = sqrt(0.1)
    assert abs(float(relative_l2(p, t, gl)[0]) - math.sqrt(0.1)) < 0.03
    with pytest.raises(ShapeError):
        relative_l2(t, t[..., :10], gl)


def test_mmd_zero_for_identical_and_growing_with_shift():
    g = Grid.uniform(32, periodic=True)
    x = torch.randn(200, 1, 32, generator=torch.Generator().manual_seed(0))
    y = torch.randn(200, 1, 32, generator=torch.Generator().manual_seed(1))
    assert generalized_mmd(x, x, g)[0] == 0.0
    same = generalized_mmd(x, y, g)[0]
    shifted = [generalized_mmd(x, y + s, g)[0] for s in (0.5, 1.0, 2.0)]
    assert shifted[0] > 2 * same and shifted[0] < shifted[1] < shifted[2]
    # Gaussian kernel MMD between two point masses at distance d: MMD^2 = 2 - 2 exp(-d^2 / (2 s^2))
    a, b = torch.zeros(3, 1, 32), torch.full((3, 1, 32), 0.5)
    val = float(mmd(a, b, 0.7, g, squared=True))
    assert abs(val - (2 - 2 * math.exp(-0.25 / (2 * 0.49)))) < 1e-12
    # the generalised MMD is the max over the bandwidth grid
    bws = [0.1, 0.5, 2.0]
    best, bw = generalized_mmd(x, y + 0.5, g, bandwidths=bws)
    assert best == pytest.approx(float(mmd(x, y + 0.5, bws, g).max())) and bw in bws


def test_covariance_eigenpairs_of_the_paper_grf_and_alignment():
    g = Grid.uniform(400, periodic=True)
    w = torch.as_tensor(np.array(g.quadrature_weights()))
    lam, phi = paper_grf_eigenpairs(g.coords[0])
    c = torch.as_tensor(paper_grf_covariance(g.coords[0]))
    vals, funcs = eigen_decomposition(c, w)
    assert np.allclose(vals[:5].numpy(), lam[:5], rtol=1e-9)
    align = eigen_alignment(c, torch.as_tensor(phi[:5]), w)
    assert torch.all(align > 1 - 1e-9)
    assert covariance_error(c, c, w) == 0.0
    assert covariance_error(1.1 * c, c, w) == pytest.approx(0.1, rel=1e-12)
    c1 = truncate_covariance(c, 1, w)
    expected = math.sqrt((lam[1:] ** 2).sum() / (lam**2).sum())
    assert covariance_error(c1, c, w) == pytest.approx(expected, rel=1e-6)
    # a wrong basis is not aligned: cos modes are orthogonal to the sin eigenfunctions
    cos = math.sqrt(2) * np.cos(2 * math.pi * np.arange(1, 3)[:, None] * g.coords[0][None])
    assert torch.all(eigen_alignment(c, torch.as_tensor(cos), w) < 1e-6)


def test_empirical_covariance_of_paper_grf_converges_to_analytic():
    errs = []
    for n in (250, 4000):
        u, g = paper_grf_1d(n, seed=0)
        w = g.weights(dtype=torch.float64)
        errs.append(covariance_error(empirical_covariance(u), torch.as_tensor(paper_grf_covariance(g.coords[0])), w))
    # Monte Carlo rate n^(-1/2): 16x more samples, about 4x smaller error
    assert errs[1] < 0.1 and 2.0 < errs[0] / errs[1] < 8.0, errs


def test_unbiased_mmd_has_zero_mean_for_equal_laws():
    g = Grid.uniform(8, periodic=True)
    gen = torch.Generator().manual_seed(0)
    biased, unbiased = [], []
    for _ in range(60):
        x, y = torch.randn(30, 1, 8, generator=gen), torch.randn(30, 1, 8, generator=gen)
        biased.append(float(mmd(x, y, 2.0, g, squared=True)))
        unbiased.append(float(mmd(x, y, 2.0, g, squared=True, unbiased=True)))
    b, u = torch.tensor(biased), torch.tensor(unbiased)
    se = float(u.std()) / math.sqrt(len(u))
    assert abs(float(u.mean())) < 3 * se  # the U-statistic is unbiased: mean 0 for equal laws
    assert float(b.mean()) > 5 * se and (b > 0).all()  # the V-statistic is biased upwards
    assert (u < 0).any()  # and the U-statistic can be negative: signed square root
    x, y = torch.randn(30, 1, 8, generator=gen), torch.randn(30, 1, 8, generator=gen)
    sq = float(mmd(x, y, 2.0, g, squared=True, unbiased=True))
    assert float(mmd(x, y, 2.0, g, unbiased=True)) == pytest.approx(math.copysign(abs(sq) ** 0.5, sq))
    # a real shift is detected by both
    assert generalized_mmd(x, y + 1.0, g, unbiased=True)[0] > 0.5 * generalized_mmd(x, y + 1.0, g)[0] > 0
