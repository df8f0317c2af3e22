"""Covariance operators sampled on a grid: errors, truncation, eigenfunctions and their alignment.

A covariance kernel ``C(x, x')`` sampled at points with quadrature weights ``w`` acts as ``(C f)_i = sum_j C_ij
w_j f_j``. Its symmetric form ``A = W^(1/2) C W^(1/2)`` has the operator's eigenvalues; eigenfunctions are
``phi = W^(-1/2) v``, orthonormal in L2. The Hilbert-Schmidt norm is ``||C||_HS^2 = sum_ij w_i w_j C_ij^2``, so

    covariance_error(C_model, C_true) = ||C_model - C_true||_HS / ||C_true||_HS

is a property of the operators, not of the grid (up to quadrature error). Matrices are ``(P, P)``; weights
``(P,)`` (default: equal weights ``1/P``, i.e. the unit-volume grid mean).
"""

from __future__ import annotations

import torch

from sciml.core.errors import ShapeError

__all__ = [
    "covariance_error",
    "empirical_covariance",
    "eigen_decomposition",
    "truncate_covariance",
    "eigen_alignment",
]


def _w(c: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if c.dim() != 2 or c.shape[0] != c.shape[1]:
        raise ShapeError(f"a covariance matrix must be square (P, P), got {tuple(c.shape)}")
    if weights is None:
        return torch.full((c.shape[0],), 1.0 / c.shape[0], dtype=torch.float64, device=c.device)
    w = torch.as_tensor(weights, dtype=torch.float64, device=c.device).reshape(-1)
    if w.numel() != c.shape[0]:
        raise ShapeError(f"weights have {w.numel()} entries but the covariance is {tuple(c.shape)}")
    return w


def covariance_error(c_model: torch.Tensor, c_true: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """Relative Hilbert-Schmidt error ``||C_model - C_true||_HS / ||C_true||_HS``."""
    c_model, c_true = torch.as_tensor(c_model).double(), torch.as_tensor(c_true).double()
    if c_model.shape != c_true.shape:
        raise ShapeError(f"covariance shapes differ: {tuple(c_model.shape)} vs {tuple(c_true.shape)}")
    w = _w(c_true, weights)
    ww = w[:, None] * w[None, :]
    return float(torch.sqrt((ww * (c_model - c_true) ** 2).sum() / (ww * c_true**2).sum()))


def empirical_covariance(samples: torch.Tensor) -> torch.Tensor:
    """Sample covariance of ``(n, P)`` (or ``(n, 1, P)``) samples, ``(P, P)``, with the 1/(n-1) convention."""
    s = samples.reshape(samples.shape[0], -1).double()
    s = s - s.mean(0)
    return s.T @ s / max(s.shape[0] - 1, 1)


def eigen_decomposition(c: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Operator eigenvalues (descending, ``(P,)``) and L2-orthonormal eigenfunctions as rows ``(P, P)``."""
    c = torch.as_tensor(c).double()
    w = _w(c, weights)
    sw = w.sqrt()
    a = sw[:, None] * c * sw[None, :]
    vals, vecs = torch.linalg.eigh(0.5 * (a + a.T))
    order = torch.argsort(vals, descending=True)
    return vals[order], (vecs[:, order] / sw[:, None]).T


def truncate_covariance(c: torch.Tensor, rank: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Best rank-``rank`` approximation of the covariance operator (keeps the largest eigenvalues)."""
    vals, phis = eigen_decomposition(c, weights)
    v, p = vals[:rank].clamp_min(0.0), phis[:rank]
    return (p.T * v) @ p


def eigen_alignment(
    c_model: torch.Tensor, true_eigenfunctions: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """``|<phi_model_k, phi_true_k>_L2|`` for k = 1..K given the true eigenfunctions ``(K, P)`` (L2-normalised).

    1 means the k-th principal direction of the model matches the k-th true one (up to sign).
    """
    true_eigenfunctions = torch.as_tensor(true_eigenfunctions).double()
    w = _w(torch.as_tensor(c_model), weights)
    _, phis = eigen_decomposition(c_model, w)
    k = true_eigenfunctions.shape[0]
    t = true_eigenfunctions / torch.sqrt((true_eigenfunctions**2 * w).sum(1, keepdim=True))
    return ((phis[:k] * t * w).sum(1)).abs()
