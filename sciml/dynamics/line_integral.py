"""Line integrals of a matrix field along the segment from a goal: f(x) = int_0^1 J(x0 + t (x - x0)) (x - x0) dt.

This is how NCDS turns a learned Jacobian J(x) into a vector field that vanishes at the goal x0. Two
integrators:

* ``"quadrature"`` (default): Gauss-Legendre on [0, 1] with ``n_nodes`` nodes t_k and positive weights w_k that
  sum to one, f(x) ~= sum_k w_k J(x0 + t_k v) v with v = x - x0. Exact for integrands polynomial in t of
  degree <= 2 n_nodes - 1; for smooth (analytic) networks the error decays geometrically with n_nodes.
  Because the weights are positive and sum to one, the quadrature value is A v with A a convex combination of
  J at the nodes, so any bound u^T J u <= -eps |u|^2 that J satisfies pointwise holds for A exactly.
* ``"odeint"``: the integral as the ODE y'(t) = J(x0 + t v) v, y(0) = 0, solved to t = 1 by torchdiffeq's
  adaptive ``dopri5`` (or any torchdiffeq method) at tolerances ``rtol``/``atol``. The adaptive step is
  shared by the batch. Slower; kept as the reference integrator and for comparison.

Shapes: ``x`` is (batch, d), ``x0`` is (d,) or (batch, d); ``jvp(points, v)`` receives points (m, d) and
vectors (m, d) and returns J(points) v, (m, d). The result is (batch, d).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torchdiffeq import odeint

from sciml.core.errors import ConfigError, ShapeError

JVP = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

INTEGRATORS = ("quadrature", "odeint")


@functools.lru_cache(maxsize=64)
def _gauss_legendre_np(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def gauss_legendre(n: int, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes in (0, 1) and positive weights (summing to 1) of the n-point Gauss-Legendre rule on [0, 1]."""
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n_nodes must be a positive integer, got {n!r}")
    t, w = _gauss_legendre_np(n)
    return torch.as_tensor(t, device=device, dtype=dtype), torch.as_tensor(w, device=device, dtype=dtype)


def line_integral(
    jvp: JVP,
    x: torch.Tensor,
    x0: torch.Tensor,
    integrator: str = "quadrature",
    n_nodes: int = 12,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str = "dopri5",
) -> torch.Tensor:
    """int_0^1 J(x0 + t (x - x0)) (x - x0) dt for a batch of points x (batch, d); see the module docstring."""
    if x.ndim != 2:
        raise ShapeError(f"x must be (batch, dim), got shape {tuple(x.shape)}")
    x0 = torch.broadcast_to(x0.to(dtype=x.dtype, device=x.device), x.shape)
    v = x - x0
    if integrator == "quadrature":
        t, w = gauss_legendre(n_nodes, device=x.device, dtype=x.dtype)
        n, (b, d) = t.shape[0], x.shape
        pts = x0.unsqueeze(0) + t.view(n, 1, 1) * v.unsqueeze(0)  # (n, batch, d)
        vals = jvp(pts.reshape(n * b, d), v.unsqueeze(0).expand(n, b, d).reshape(n * b, d)).reshape(n, b, d)
        return torch.einsum("n,nbd->bd", w, vals)
    if integrator == "odeint":

        def rhs(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return jvp(x0 + t * v, v)

        ts = torch.tensor([0.0, 1.0], dtype=x.dtype, device=x.device)
        return odeint(rhs, torch.zeros_like(x), ts, rtol=rtol, atol=atol, method=method)[-1]
    raise ConfigError(f"unknown integrator {integrator!r}; allowed: {', '.join(INTEGRATORS)}")
