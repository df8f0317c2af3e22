"""The 1-D Gaussian random field of the VANO paper (Seidman et al. 2023, section 5.1), with its exact covariance.

    u(x) = sum_{k=1}^{K} xi_k sqrt(lambda_k) sqrt(2) sin(2 pi k x),   xi_k ~ N(0, 1),
    lambda_k = ((2 pi k)^2 + tau^2)^(-alpha),   K = 32, tau = 0.1, alpha = 2,

on [0, 1], sampled at 128 Gauss-Legendre nodes. The eigenpairs of the covariance operator are
``(lambda_k, sqrt(2) sin(2 pi k x))`` (orthonormal in L2(0, 1)), so the covariance kernel is
``C(x, x') = sum_k lambda_k 2 sin(2 pi k x) sin(2 pi k x')`` and its best rank-n approximation keeps the n
largest lambda_k. This is separate from the general ``grf`` generator because the paper fixes the sine basis
(zero at both ends) and Gauss-Legendre nodes.

Sample i depends only on (seed, i): xi is drawn from ``numpy.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.fields.grid import Grid

__all__ = ["gauss_legendre_grid", "paper_grf_eigenpairs", "paper_grf_1d", "paper_grf_covariance", "generate"]


def gauss_legendre_grid(n_points: int = 128) -> Grid:
    """Non-periodic grid on [0, 1] at the ``n_points`` Gauss-Legendre nodes."""
    if n_points < 2:
        raise ConfigError(f"n_points must be >= 2, got {n_points}")
    x, _ = np.polynomial.legendre.leggauss(n_points)
    return Grid([0.5 * (x + 1.0)], bounds=[(0.0, 1.0)], periodic=False, names=["x"])


def paper_grf_eigenpairs(
    x: np.ndarray, n_terms: int = 32, tau: float = 0.1, alpha: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``lambda_k`` (K,) and eigenfunctions ``sqrt(2) sin(2 pi k x)`` (K, len(x)), k = 1..K."""
    k = np.arange(1, n_terms + 1, dtype=np.float64)
    lam = ((2 * math.pi * k) ** 2 + tau**2) ** (-alpha)
    phi = math.sqrt(2.0) * np.sin(2 * math.pi * k[:, None] * np.asarray(x, dtype=np.float64)[None, :])
    return lam, phi


def paper_grf_covariance(x: np.ndarray, rank: int | None = None, n_terms: int = 32, tau: float = 0.1) -> np.ndarray:
    """Covariance kernel matrix ``C(x_i, x_j)``, optionally truncated to the ``rank`` largest eigenvalues."""
    lam, phi = paper_grf_eigenpairs(x, n_terms, tau)
    keep = np.argsort(lam)[::-1][: (rank or n_terms)]
    return (phi[keep].T * lam[keep]) @ phi[keep]


def paper_grf_1d(
    n_samples: int, grid: Grid | None = None, seed: int = 0, n_terms: int = 32, tau: float = 0.1
) -> tuple[torch.Tensor, Grid]:
    """``n_samples`` draws on ``grid`` (default 128 Gauss-Legendre nodes): ``((n_samples, 1, n), grid)``, float32."""
    grid = gauss_legendre_grid(128) if grid is None else grid
    if grid.ndim != 1:
        raise ConfigError(f"paper_grf_1d is one-dimensional, got a {grid.ndim}-D grid")
    lam, phi = paper_grf_eigenpairs(grid.coords[0], n_terms, tau)
    xi = np.stack([np.random.default_rng([seed, i]).standard_normal(n_terms) for i in range(n_samples)])
    u = (xi * np.sqrt(lam)) @ phi
    return torch.as_tensor(u[:, None, :], dtype=torch.float32), grid


def generate(
    *, n_samples: int = 256, resolution: int = 128, seed: int = 0, progress: bool = False, n_terms: int = 32
) -> dict:
    """Generator-contract wrapper: ``{"field": Field}`` on ``resolution`` Gauss-Legendre nodes."""
    from sciml.fields.field import Field

    u, grid = paper_grf_1d(n_samples, gauss_legendre_grid(resolution), seed, n_terms)
    return {"field": Field(u, grid, variables=["u"])}
