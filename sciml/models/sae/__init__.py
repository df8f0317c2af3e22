"""Sparse autoencoders and sparse autoencoder neural operators (Tolooshams, Shen, Anandkumar 2025).

``sae`` and ``lifted_sae`` (``dense.py``: tied to one grid), ``sae_cnn``, ``sae_no`` and ``lifted_sae_no``
(``conv.py``: convolutional codes; the operator versions work at any resolution). What they share (codes, sparsity,
unit-norm atoms, dead latents, the objective) is in ``base.py``; docs/models/sae.md says which to use when.
"""

from sciml.models.sae.base import SparseAutoencoder
from sciml.models.sae.conv import SAECNN, SAENO, LiftedSAENO, evaluate_fourier, spectral_convolution
from sciml.models.sae.dense import SAE, LiftedSAE

__all__ = [
    "SparseAutoencoder",
    "SAE",
    "LiftedSAE",
    "SAECNN",
    "SAENO",
    "LiftedSAENO",
    "spectral_convolution",
    "evaluate_fourier",
]
