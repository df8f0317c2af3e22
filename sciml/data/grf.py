"""Gaussian random fields on ``[0, 1]^d`` (d = 1, 2) by a truncated Karhunen-Loeve expansion.

The field is the Gaussian measure ``N(mean, sigma^2 (-Laplacian + tau^2)^(-alpha))`` with the Laplacian's
boundary condition picked by ``basis``, truncated to frequencies ``k_j <= n_modes`` per axis:

    u(x) = mean + sigma * sum_k sqrt(lambda_k) xi_k phi_k(x),   xi_k ~ N(0, 1) i.i.d.,
    lambda_k = (c^2 |k|^2 + tau^2)^(-alpha),

where ``phi_k(x) = prod_j phi_{k_j}(x_j)`` are L2([0,1]^d)-orthonormal eigenfunctions of the Laplacian:

* ``"cosine"`` (Neumann, c = pi): ``1`` and ``sqrt(2) cos(pi k x)``, ``k = 1..n_modes``. This is the FNO
  Darcy convention (``GRF.m`` of the FNO data generation: alpha = 2, tau = 3, KL coefficients
  ``tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2)``, i.e. ``sigma = tau^(alpha-1)``, and the constant mode
  ``k = 0`` set to zero, our ``drop_constant=True``).
* ``"sine"`` (Dirichlet, c = pi): ``sqrt(2) sin(pi k x)``, ``k = 1..n_modes``; the field vanishes on the boundary.
* ``"periodic"`` (Fourier, c = 2 pi): ``1``, ``sqrt(2) cos(2 pi k x)`` and ``sqrt(2) sin(2 pi k x)``,
  ``k = 1..n_modes``, sampled on a periodic grid. Tensor products of the real 1-D functions span the same
  eigenspaces as the complex exponentials, so the law is the usual stationary periodic field with covariance
  ``sigma^2 sum_k lambda_k cos(2 pi k.(x - y))``.

The covariance of the truncated field is ``C(x, y) = sigma^2 sum_k lambda_k phi_k(x) phi_k(y)``
(``grf_covariance``). The untruncated field exists (finite variance) only for ``alpha > d/2``.

Seeding: the coefficients ``xi`` of sample ``i`` come from ``numpy.random.default_rng([seed, i])`` drawn in
a fixed shape that depends only on ``(dim, basis, n_modes)``, and the field is evaluated exactly (a sum of
cosines/sines, not an FFT) at the grid coordinates. Hence sample ``i`` depends only on ``(seed, i)`` and the
continuous problem, and two resolutions give the same function on two grids (equal at shared points up to
round-off). A grid that resolves fewer than ``n_modes`` frequencies simply sees aliased point values.

Defaults: the ``grf`` generator (``generate``) uses the periodic basis, the field of the data spec; the
library functions ``sample_grf``, ``grf_eigenvalues`` and ``grf_covariance`` default to the cosine basis (the
FNO Darcy field, on which callers rely), so callers should name ``basis`` explicitly.

Shapes: ``sample_grf`` returns ``(n_samples, *grid.shape)``; ``generate`` returns ``{"field": Field}`` with
values ``(n_samples, 1, *grid.shape)``. Grids other than ``[0, 1]^d`` are mapped affinely onto ``[0, 1]^d``.
Cost per sample: O(K^d N) for a 1-D grid and O(K^2 N + K N^2) in 2-D (K basis functions per axis).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sciml.core.errors import ConfigError
from sciml.fields.field import Field
from sciml.fields.grid import Grid

__all__ = ["generate", "sample_grf", "grf_covariance", "grf_eigenvalues", "BASES"]

log = logging.getLogger(__name__)

#: basis name -> (frequency scale c, boundary condition of the Laplacian)
BASES = {"periodic": 2.0 * math.pi, "cosine": math.pi, "sine": math.pi}
_CHUNK = 64  # samples evaluated per matrix product (bounds memory, drives the progress bar)


def _check_params(basis: str, alpha: float, tau: float, sigma: float, n_modes: int, dim: int) -> None:
    if basis not in BASES:
        raise ConfigError(f"unknown GRF basis {basis!r}; allowed: {', '.join(sorted(BASES))}")
    if dim not in (1, 2):
        raise ConfigError(f"GRF dim must be 1 or 2, got {dim}")
    if not (isinstance(n_modes, (int, np.integer)) and not isinstance(n_modes, bool)) or n_modes < 1:
        raise ConfigError(f"n_modes must be a positive integer, got {n_modes!r}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"alpha must be a positive number, got {alpha!r}")
    if not (math.isfinite(tau) and tau >= 0):
        raise ConfigError(f"tau must be a non-negative number, got {tau!r}")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ConfigError(f"sigma must be a non-negative number, got {sigma!r}")


def _freqs_1d(basis: str, n_modes: int) -> np.ndarray:
    """Integer frequency of each 1-D basis function, in the order used for the coefficients."""
    k = np.arange(1, n_modes + 1)
    if basis == "cosine":
        return np.concatenate([[0], k])
    if basis == "sine":
        return k
    return np.concatenate([[0], np.repeat(k, 2)])  # periodic: 1, cos 1, sin 1, cos 2, sin 2, ...


def _basis_1d(t: np.ndarray, basis: str, n_modes: int) -> np.ndarray:
    """Orthonormal 1-D eigenfunctions at points ``t`` in [0, 1]: shape ``(n_functions, len(t))``."""
    t = np.asarray(t, dtype=np.float64)
    k = np.arange(1, n_modes + 1)[:, None]
    r2 = math.sqrt(2.0)
    if basis == "cosine":
        return np.concatenate([np.ones((1, t.size)), r2 * np.cos(math.pi * k * t)])
    if basis == "sine":
        return r2 * np.sin(math.pi * k * t)
    out = np.empty((2 * n_modes + 1, t.size))
    out[0] = 1.0
    out[1::2] = r2 * np.cos(2 * math.pi * k * t)
    out[2::2] = r2 * np.sin(2 * math.pi * k * t)
    return out


def grf_eigenvalues(
    *,
    dim: int,
    alpha: float = 2.0,
    tau: float = 3.0,
    n_modes: int = 32,
    basis: str = "cosine",
    drop_constant: bool = False,
) -> np.ndarray:
    """KL eigenvalues ``lambda_k`` of the truncated field, shape ``(K,) * dim`` in coefficient order.

    The constant mode (cosine and periodic bases) gets 0 when ``drop_constant`` is set; with ``tau = 0`` it
    must be dropped, since its eigenvalue would be infinite.
    """
    _check_params(basis, alpha, tau, 1.0, n_modes, dim)
    f = _freqs_1d(basis, n_modes).astype(np.float64)
    k2 = sum(np.meshgrid(*([f**2] * dim), indexing="ij"))
    c = BASES[basis]
    denom = c**2 * k2 + tau**2
    has_constant = basis != "sine"
    if has_constant and tau == 0 and not drop_constant:
        raise ConfigError("tau = 0 makes the constant mode's eigenvalue infinite; set tau > 0 or drop_constant")
    lam = np.zeros_like(denom)
    pos = denom > 0
    lam[pos] = denom[pos] ** (-alpha)
    if has_constant and drop_constant:
        lam[(0,) * dim] = 0.0
    return lam


def grid_for(grid: Grid | int | Sequence[int], dim: int | None, basis: str) -> Grid:
    """The Grid a generator samples on: ``grid`` itself, or ``resolution`` points per axis of the unit box
    (periodic for the Fourier bases)."""
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        shape = [int(grid)] * (2 if dim is None else int(dim))
    elif isinstance(grid, (list, tuple)) and all(isinstance(s, (int, np.integer)) for s in grid):
        shape = [int(s) for s in grid]
        if dim is not None and len(shape) != dim:
            raise ConfigError(f"resolution {list(grid)} has {len(shape)} axes but dim is {dim}")
    else:
        raise ConfigError(f"resolution must be an int or a list of ints, got {grid!r}")
    if any(s < 2 for s in shape):
        raise ConfigError(f"resolution needs at least 2 points per axis, got {shape}")
    return Grid.uniform(shape, periodic=basis == "periodic")


def _unit_coords(grid: Grid) -> list[np.ndarray]:
    return [(c - lo) / (hi - lo) for c, (lo, hi) in zip(grid.coords, grid.bounds)]


def sample_grf(
    n_samples: int,
    grid: Grid | int | Sequence[int],
    *,
    dim: int | None = None,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    n_modes: int = 32,
    basis: str = "cosine",
    mean: float = 0.0,
    drop_constant: bool = False,
    seed: int = 0,
    first_index: int = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool = False,
) -> torch.Tensor:
    """Samples ``first_index .. first_index + n_samples - 1`` of the GRF on ``grid``.

    Unlike the ``grf`` generator (``generate``, default ``basis="periodic"``), ``sample_grf``, ``grf_eigenvalues``
    and ``grf_covariance`` keep ``basis="cosine"`` (the FNO Darcy field) as their default, since existing callers
    rely on it; pass ``basis`` explicitly.

    Args:
        grid: a ``Grid`` (mapped onto ``[0, 1]^d``) or a resolution (int, with ``dim``, or list of ints), in
            which case ``Grid.uniform`` is used (periodic for the periodic basis).
        first_index: index of the first sample, so a data set can be produced in pieces.

    Returns:
        tensor ``(n_samples, *grid.shape)`` of ``dtype`` (computed in float64).
    """
    grid = grid_for(grid, dim, basis)
    d = grid.ndim
    _check_params(basis, float(alpha), float(tau), float(sigma), n_modes, d)
    for key, val in (("n_samples", n_samples), ("seed", seed), ("first_index", first_index)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0:
            raise ConfigError(f"{key} must be a non-negative integer, got {val!r}")
    if basis == "periodic" and not all(grid.periodic):
        log.warning("periodic GRF basis sampled on a grid with non-periodic axes %s", grid.periodic)
    if alpha <= d / 2:
        log.warning(
            "alpha=%s <= d/2=%s: the untruncated field does not exist; variance grows with n_modes", alpha, d / 2
        )
    lam = grf_eigenvalues(dim=d, alpha=alpha, tau=tau, n_modes=n_modes, basis=basis, drop_constant=drop_constant)
    scale = float(sigma) * np.sqrt(lam)
    phis = [_basis_1d(t, basis, n_modes) for t in _unit_coords(grid)]
    out = torch.empty((n_samples, *grid.shape), dtype=dtype)
    bar = tqdm(total=n_samples, desc="grf", unit="sample", disable=not progress)
    for start in range(0, n_samples, _CHUNK):
        idx = range(first_index + start, first_index + min(start + _CHUNK, n_samples))
        xi = np.stack([np.random.default_rng([seed, i]).standard_normal(lam.shape) for i in idx])
        z = xi * scale
        if d == 1:
            u = z @ phis[0]
        else:  # u[n, i, j] = sum_ab phi_a(x_i) z[n, a, b] phi_b(y_j)  (numpy: faster than torch for small batches)
            u = phis[0].T @ (z @ phis[1])
        out[start : start + len(idx)] = torch.from_numpy(u + mean).to(dtype)
        bar.update(len(idx))
    bar.close()
    return out


def grf_covariance(
    x: Any,
    y: Any = None,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    n_modes: int = 32,
    basis: str = "cosine",
    drop_constant: bool = False,
) -> np.ndarray:
    """Analytic covariance ``C(x_i, y_j)`` of the truncated field, shape ``(len(x), len(y))``.

    ``x`` and ``y`` are points in ``[0, 1]^d``, shape ``(n, d)`` (or ``(n,)`` for d = 1); ``y`` defaults to ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = x if y is None else np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ConfigError(f"points must have shape (n, d) with the same d, got {x.shape} and {y.shape}")
    d = x.shape[1]
    lam = grf_eigenvalues(dim=d, alpha=alpha, tau=tau, n_modes=n_modes, basis=basis, drop_constant=drop_constant)

    def features(p: np.ndarray) -> np.ndarray:  # phi_k(p) for every multi-index k: (n, K^d)
        f = _basis_1d(p[:, 0], basis, n_modes).T
        for j in range(1, d):
            g = _basis_1d(p[:, j], basis, n_modes).T
            f = (f[:, :, None] * g[:, None, :]).reshape(p.shape[0], -1)
        return f

    fx, fy = features(x), features(y)
    return sigma**2 * (fx * lam.reshape(-1)) @ fy.T


def generate(
    *,
    n_samples: int,
    resolution: int | list[int],
    seed: int = 0,
    progress: bool = True,
    dim: int | None = None,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    n_modes: int = 32,
    basis: str = "periodic",
    mean: float = 0.0,
    drop_constant: bool = False,
    variable: str = "u",
    dtype: str = "float32",
) -> dict[str, Field]:
    """Generate ``n_samples`` GRF samples: ``{"field": Field}`` with values ``(n_samples, 1, *shape)``.

    ``resolution`` is an int (``dim`` axes of that size, ``dim`` defaults to 2) or a list of per-axis sizes.
    The grid is ``Grid.uniform`` on ``[0, 1]^d``, periodic for the periodic basis. ``dtype`` is
    ``"float32"`` or ``"float64"``. ``basis`` defaults to ``"periodic"``, the field of the data spec
    (eigenvalues ``((2 pi |k|)^2 + tau^2)^(-alpha)``); ``"cosine"`` and ``"sine"`` select the Neumann and
    Dirichlet fields (``c = pi``).
    """
    torch_dtype = parse_dtype(dtype)
    grid = grid_for(resolution, dim, basis)
    log.info("grf: %d samples on %s, basis=%s alpha=%s tau=%s n_modes=%d", n_samples, grid, basis, alpha, tau, n_modes)
    u = sample_grf(
        n_samples,
        grid,
        alpha=alpha,
        tau=tau,
        sigma=sigma,
        n_modes=n_modes,
        basis=basis,
        mean=mean,
        drop_constant=drop_constant,
        seed=seed,
        dtype=torch_dtype,
        progress=progress,
    )
    attrs = {"basis": basis, "alpha": alpha, "tau": tau, "sigma": sigma, "n_modes": n_modes, "mean": mean}
    return {"field": Field(u[:, None], grid, variables=[variable], attrs=attrs)}


def parse_dtype(dtype: str) -> torch.dtype:
    """A generator's ``dtype`` parameter ("float32" or "float64") as a torch dtype."""
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise ConfigError(f"dtype must be one of {sorted(table)}, got {dtype!r}")
    return table[dtype]
