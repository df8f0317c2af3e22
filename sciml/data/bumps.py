"""Random 2-D Gaussian bumps, the VANO paper's example of a distribution no linear decoder captures.

    u(x) = sum_{j=1}^{J} a_j exp(-|x - c_j|^2 / (2 w^2)),   c_j ~ U([margin, 1 - margin]^d),

on the unit box (non-periodic ``Grid.uniform``, 48 x 48 by default as in the paper), with amplitudes ``a_j`` in
``amplitude_range`` and a fixed width ``w``. The set of such functions is a d-dimensional nonlinear manifold:
its covariance has slowly decaying eigenvalues, so a rank-n linear (Karhunen-Loeve) decoder needs many
modes while a nonlinear decoder needs only d + 1 latent directions.

Sample i draws (c_j, a_j) from ``numpy.random.default_rng([seed, i])`` and is evaluated exactly at the grid
coordinates, so two resolutions give the same function. ``generate -> {"field": Field}``, values
``(n_samples, 1, *shape)``; ``bumps(grid, centres, amplitudes, width)`` evaluates given parameters.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.fields.grid import Grid

__all__ = ["generate", "bumps", "sample_parameters"]

log = logging.getLogger(__name__)


def bumps(grid: Grid, centres: np.ndarray, amplitudes: np.ndarray, width: float) -> np.ndarray:
    """Evaluate ``sum_j a_j exp(-|x - c_j|^2 / (2 w^2))`` for ``centres (n, J, d)``, ``amplitudes (n, J)``."""
    pts = grid.points(dtype=torch.float64).numpy()  # (P, d)
    d2 = ((pts[None, None, :, :] - centres[:, :, None, :]) ** 2).sum(-1)  # (n, J, P)
    u = (amplitudes[:, :, None] * np.exp(-d2 / (2 * width**2))).sum(1)
    return u.reshape(centres.shape[0], *grid.shape)


def sample_parameters(
    n_samples: int, dim: int, n_bumps: int, seed: int, margin: float, amplitude_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(n, J, d)`` and amplitudes ``(n, J)``; sample i from ``default_rng([seed, i])``."""
    c = np.empty((n_samples, n_bumps, dim))
    a = np.empty((n_samples, n_bumps))
    for i in range(n_samples):
        rng = np.random.default_rng([seed, i])
        c[i] = rng.uniform(margin, 1 - margin, (n_bumps, dim))
        a[i] = rng.uniform(*amplitude_range, n_bumps)
    return c, a


def generate(
    *,
    n_samples: int,
    resolution: int | list[int] = 48,
    seed: int = 0,
    progress: bool = False,
    dim: int = 2,
    n_bumps: int = 1,
    width: float = 0.1,
    margin: float = 0.2,
    amplitude_range: list[float] | None = None,
    dtype: str = "float32",
) -> dict:
    """``{"field": Field}`` of ``n_samples`` bump functions on ``Grid.uniform(resolution)`` over ``[0, 1]^dim``.

    ``progress`` is accepted for the generator contract; evaluation is one vectorised expression.
    """
    from sciml.fields.field import Field

    shape = [int(resolution)] * dim if isinstance(resolution, (int, np.integer)) else [int(r) for r in resolution]
    if len(shape) != dim:
        raise ConfigError(f"resolution {resolution} does not give {dim} axis sizes")
    if width <= 0 or not 0 <= margin < 0.5 or n_bumps < 1:
        raise ConfigError(f"need width > 0, 0 <= margin < 0.5, n_bumps >= 1; got {width}, {margin}, {n_bumps}")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    amp = (1.0, 1.0) if amplitude_range is None else (float(amplitude_range[0]), float(amplitude_range[1]))
    grid = Grid.uniform(shape)
    log.info("bumps: %d samples on %s, %d bump(s) of width %g", n_samples, grid, n_bumps, width)
    c, a = sample_parameters(n_samples, dim, n_bumps, seed, margin, amp)
    u = torch.from_numpy(bumps(grid, c, a, width))[:, None]
    attrs = {"n_bumps": n_bumps, "width": width, "margin": margin, "amplitude_range": list(amp), "seed": seed}
    return {"field": Field(u.to(getattr(torch, dtype)), grid, variables=["u"], attrs=attrs)}
