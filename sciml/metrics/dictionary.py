"""Metrics of dictionary learning: how well a sparse autoencoder recovered the atoms that generated the data.

Atoms are compared after normalisation (each flattened to unit Euclidean norm, which equals the unit L2 norm on a
uniform grid), up to permutation and sign, with the sine distance ``sqrt(1 - <d_i, d_hat_j>^2)`` (0: same
direction, 1: orthogonal) and a one-to-one Hungarian matching (``scipy.optimize.linear_sum_assignment``).
Convolutional atoms are defined up to a translation, so ``shift_invariant_distances`` maximises the inner product
over circular shifts first.

* ``sine_distances(true, learned)``: the ``(K_true, K_learned)`` cost matrix;
* ``shift_invariant_distances(true, learned)``: the same, best circular shift per pair (periodic grids);
* ``matched_atom_distance(true, learned, shift_invariant=False, threshold=0.1)``: mean / median / max of the
  matched distances and the fraction of true atoms recovered below ``threshold``;
* ``fvu(x, x_hat)``: fraction of variance unexplained, ``sum |x - x_hat|^2 / sum |x - mean(x)|^2``;
* ``l0(codes)``: number of non-zero codes per sample, ``(batch,)``;
* ``dead_fraction(codes)``: fraction of latents that never fire on a batch;
* ``coherence(atoms)``: largest ``|<d_i, d_j>|`` between two different normalised atoms;
* ``resolution_agreement(coarse, fine)``: relative L2 difference of two outputs (codes or reconstructions) on the
  points the coarse grid shares with the fine one.

Shapes: atoms ``(K, ...)`` (any trailing shape, e.g. ``(K, channels, *spatial)``), codes ``(batch, K, ...)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sciml.core.errors import ShapeError

__all__ = [
    "normalize_atoms",
    "sine_distances",
    "shift_invariant_distances",
    "matched_atom_distance",
    "fvu",
    "l0",
    "dead_fraction",
    "coherence",
    "resolution_agreement",
]


def normalize_atoms(atoms: torch.Tensor) -> torch.Tensor:
    """``(K, ...) -> (K, D)`` flattened atoms of unit Euclidean norm (float64)."""
    a = torch.as_tensor(atoms).detach().to(torch.float64).reshape(atoms.shape[0], -1)
    return a / a.norm(dim=1, keepdim=True).clamp_min(1e-300)


def _check_pair(true: torch.Tensor, learned: torch.Tensor) -> None:
    if tuple(true.shape[1:]) != tuple(learned.shape[1:]):
        raise ShapeError(
            f"true atoms {tuple(true.shape)} and learned atoms {tuple(learned.shape)} must share their shape "
            "after the atom axis (evaluate the learned atoms on the grid of the true ones)"
        )


def sine_distances(true: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
    """``(K_true, K_learned)`` matrix of ``sqrt(1 - <d_i, d_hat_j>^2)`` between normalised atoms."""
    _check_pair(true, learned)
    inner = normalize_atoms(true) @ normalize_atoms(learned).T
    return (1.0 - inner.clamp(-1.0, 1.0) ** 2).clamp_min(0.0).sqrt()


def shift_invariant_distances(true: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
    """Sine distances after the best circular shift of each learned atom: atoms ``(K, channels, *spatial)``.

    ``max_s |<d_i, roll(d_hat_j, s)>|`` is read off the circular cross-correlation (FFT over the spatial axes,
    summed over channels) of the normalised atoms.
    """
    _check_pair(true, learned)
    if true.dim() < 3:
        raise ShapeError(f"shift-invariant distances need atoms (K, channels, *spatial), got {tuple(true.shape)}")
    shape = tuple(true.shape[1:])
    t = normalize_atoms(true).reshape(-1, *shape)
    s = normalize_atoms(learned).reshape(-1, *shape)
    dims = tuple(range(-(len(shape) - 1), 0))
    ft = torch.fft.fftn(t, dim=dims)
    fs = torch.fft.fftn(s, dim=dims)
    corr = torch.fft.ifftn(ft[:, None] * fs[None].conj(), dim=dims).real.sum(2)  # (Kt, Ks, *spatial)
    best = corr.abs().flatten(2).amax(-1)
    return (1.0 - best.clamp(0.0, 1.0) ** 2).clamp_min(0.0).sqrt()


def matched_atom_distance(
    true: torch.Tensor, learned: torch.Tensor, shift_invariant: bool = False, threshold: float = 0.1
) -> dict:
    """Hungarian matching of true to learned atoms on the sine distance.

    Returns ``{"mean", "median", "max", "fraction_below", "threshold", "distances", "assignment"}``: the
    statistics over the true atoms, each true atom's matched distance and the index of its learned atom. With more
    learned than true atoms the extra ones stay unmatched; with fewer, raises ShapeError.
    """
    if learned.shape[0] < true.shape[0]:
        raise ShapeError(f"{learned.shape[0]} learned atoms cannot be matched one-to-one to {true.shape[0]} true ones")
    cost = shift_invariant_distances(true, learned) if shift_invariant else sine_distances(true, learned)
    rows, cols = linear_sum_assignment(cost.numpy())
    d = cost[rows, cols].numpy()
    assignment = np.full(true.shape[0], -1)
    assignment[rows] = cols
    return {
        "mean": float(d.mean()),
        "median": float(np.median(d)),
        "max": float(d.max()),
        "fraction_below": float((d < threshold).mean()),
        "threshold": float(threshold),
        "distances": [float(v) for v in cost[np.arange(true.shape[0]), assignment].numpy()],
        "assignment": [int(c) for c in assignment],
    }


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Fraction of variance unexplained: ``sum (x - x_hat)^2 / sum (x - mean over the batch)^2``."""
    if x.shape != x_hat.shape:
        raise ShapeError(f"fvu: x {tuple(x.shape)} and x_hat {tuple(x_hat.shape)} differ")
    x, x_hat = x.detach().double(), x_hat.detach().double()
    den = ((x - x.mean(0, keepdim=True)) ** 2).sum()
    return float(((x - x_hat) ** 2).sum() / den.clamp_min(1e-300))


def l0(codes: torch.Tensor) -> torch.Tensor:
    """Number of non-zero codes per sample: ``(batch, K, ...) -> (batch,)``."""
    return (codes.detach() != 0).flatten(1).sum(1).to(torch.float64)


def dead_fraction(codes: torch.Tensor) -> float:
    """Fraction of latents (axis 1) that are zero on every sample and position of ``codes (batch, K, ...)``."""
    fired = (codes.detach() != 0).transpose(0, 1).flatten(1).any(1)
    return float(1.0 - fired.double().mean())


def coherence(atoms: torch.Tensor) -> float:
    """``max_{i != j} |<d_i, d_j>|`` of the normalised atoms (0 for one atom)."""
    a = normalize_atoms(atoms)
    if a.shape[0] < 2:
        return 0.0
    g = (a @ a.T).abs()
    g.fill_diagonal_(0.0)
    return float(g.max())


def resolution_agreement(coarse: torch.Tensor, fine: torch.Tensor) -> float:
    """Relative L2 difference ``|fine restricted - coarse| / |coarse|`` on shared points of periodic grids.

    ``coarse (batch, C, *n)`` and ``fine (batch, C, *m)`` with each ``m_i`` a multiple of ``n_i``: the fine
    output is taken every ``m_i / n_i`` points (the points of a uniform periodic grid that the coarse grid has).
    """
    if coarse.shape[:2] != fine.shape[:2] or coarse.dim() != fine.dim():
        raise ShapeError(f"resolution_agreement: shapes {tuple(coarse.shape)} and {tuple(fine.shape)} do not pair")
    strides = []
    for n, m in zip(coarse.shape[2:], fine.shape[2:]):
        if m % n:
            raise ShapeError(f"resolution_agreement: fine size {m} is not a multiple of coarse size {n}")
        strides.append(m // n)
    idx = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
    c, f = coarse.detach().double(), fine.detach().double()[idx]
    den = float(c.norm())
    return float((f - c).norm()) / den if den > 0 else (0.0 if float(f.norm()) == 0 else math.inf)
