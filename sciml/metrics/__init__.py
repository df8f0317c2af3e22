"""Metrics for function-valued predictions and generative models of functions.

``relative_l2`` (per-sample relative L2 error with quadrature), ``mmd`` / ``generalized_mmd`` (kernel two-sample
distance between sets of functions, bandwidth maximised over a log grid), ``covariance_error`` (Hilbert-Schmidt
distance between covariance operators), ``eigen_decomposition`` and ``eigen_alignment`` (principal directions),
and dictionary recovery (``matched_atom_distance``, ``fvu``, ``l0``, ``dead_fraction``, ``coherence``,
``resolution_agreement``: ``sciml.metrics.dictionary``), and ``masked_relative_l2`` (relative L2 over the points
inside a geometry mask, mean over samples: ``sciml.metrics.masked``).
"""

from sciml.metrics.covariance import (
    covariance_error,
    eigen_alignment,
    eigen_decomposition,
    empirical_covariance,
    truncate_covariance,
)
from sciml.metrics.dictionary import (
    coherence,
    dead_fraction,
    fvu,
    l0,
    matched_atom_distance,
    resolution_agreement,
    shift_invariant_distances,
    sine_distances,
)
from sciml.metrics.masked import check_mask, masked_relative_l2
from sciml.metrics.mmd import generalized_mmd, mmd, relative_l2

__all__ = [
    "relative_l2",
    "mmd",
    "generalized_mmd",
    "covariance_error",
    "eigen_alignment",
    "eigen_decomposition",
    "empirical_covariance",
    "truncate_covariance",
    "matched_atom_distance",
    "sine_distances",
    "shift_invariant_distances",
    "fvu",
    "l0",
    "dead_fraction",
    "coherence",
    "resolution_agreement",
    "masked_relative_l2",
    "check_mask",
]
