"""Dense sparse autoencoders on a fixed grid: SAE and lifted SAE (L-SAE).

Tolooshams, Shen, Anandkumar, "Sparse Autoencoder Neural Operators: Model Recovery in Function Spaces" (2025),
the SAE and L-SAE baselines:

    SAE:    z = act(W (x - b_pre) + b_enc),            x_hat = D z + b_pre
    L-SAE:  z = act(W P(x - b_pre) + b_enc),           x_hat = Q D z + b_pre

``x`` is the whole sampled function flattened (``channels x points``); ``P`` (``lift_channels x channels``) and ``Q``
(``channels x lift_channels``) act pointwise, so the code lives in a lifted space of ``lift_channels`` functions;
the concepts in data space are ``Q d_k``. Atoms have unit RMS over the grid (see ``base.py``); the encoder computes
the mean ``W v / points`` (weights of order one at any grid size) and starts as the matched filter ``W = D^T``;
``P`` starts with orthonormal columns and ``Q = P^T``.

Shapes: ``forward(x, grid)`` takes and returns ``(batch, in_channels, *resolution)``; ``encode`` gives
``(batch, n_latents)``. The weights are tied to the ``resolution`` they were built for: any other grid size raises
ShapeError (use ``sae_no`` for a resolution-independent model).

Deviations from the paper: the pre-encoder bias starts at zero (not the data's geometric median); L1 weighted by the
decoder norms, TopK and AuxK follow Gao et al. (2024) rather than the paper's plain L1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.models.inputs import resolve_input
from sciml.models.sae.base import SparseAutoencoder

__all__ = ["SAE", "LiftedSAE"]


class SAE(SparseAutoencoder):
    """Dense SAE on a fixed grid (see the module docstring).

    Args:
        in_channels: channels of the data.
        resolution: grid shape the model is tied to (one int per axis, or an int for 1-D).
        n_latents: number of atoms K.
        lift_channels: None (plain SAE) or the number of lifted channels (L-SAE).
        activation, k, l1_coef, remedy, dead_after, aux_k, aux_coef: see ``sciml.models.sae.base``.
    """

    model_name = "sae"

    def __init__(
        self,
        in_channels: int,
        resolution: int | Sequence[int],
        n_latents: int = 16,
        lift_channels: int | None = None,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        super().__init__(n_latents, activation, k, l1_coef, remedy, dead_after, aux_k, aux_coef)
        shape = [int(resolution)] if isinstance(resolution, int) else [int(r) for r in resolution]
        if in_channels < 1 or not shape or any(s < 1 for s in shape):
            raise ConfigError(f"{self.model_name}: need in_channels >= 1 and positive resolution, got {resolution}")
        self.shape, self.points = tuple(shape), math.prod(shape)
        self._init_dictionary(in_channels, lift_channels, shape, (in_channels, *shape), lambda d: d.flatten(1))

    def _prepare(self, x: Any, grid: Any) -> tuple[torch.Tensor, Any]:
        x, grid = resolve_input(x, grid, len(self.shape), self.in_channels, self.model_name)
        if tuple(x.shape[2:]) != self.shape:
            raise ShapeError(
                f"{self.model_name}: the weights are tied to a grid of shape {self.shape}, got input of spatial "
                f"shape {tuple(x.shape[2:])} (a dense SAE cannot change resolution; use sae_no)"
            )
        return x, grid

    def _bias(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_bias

    def pre_activations(self, x: torch.Tensor, grid: Any) -> torch.Tensor:
        v = self._to_lifted(x - self.pre_bias).flatten(1)
        return v @ self.encoder.T / self.points + self.encoder_bias  # a mean: weights stay O(1) at any size

    def decode_codes(self, z: torch.Tensor, grid: Any) -> torch.Tensor:
        y = torch.einsum("bk,k...->b...", z, self.decoder)
        return self._from_lifted(y)

    def atoms(self, grid: Any = None) -> torch.Tensor:
        """``(K, in_channels, *resolution)``: ``Q d_k`` (``d_k`` for the plain SAE); only on the model's grid."""
        if grid is not None and tuple(grid.shape) != self.shape:
            raise ShapeError(f"{self.model_name}: atoms exist on a grid of shape {self.shape} only, got {grid.shape}")
        return self._from_lifted(self.decoder).detach()

    @torch.no_grad()
    def _reseed(self, dead: torch.Tensor, residuals: torch.Tensor, grid: Any) -> None:
        pick = self._worst(residuals, dead.numel())
        new = self._to_lifted(residuals[pick].to(self.decoder.dtype))
        new = new / self._norms(new).clamp_min(1e-12).view(-1, *([1] * (new.dim() - 1)))
        self.decoder[dead] = new
        self.encoder[dead] = new.reshape(dead.numel(), -1)
        self.encoder_bias[dead] = 0.0


class LiftedSAE(SAE):
    """L-SAE: ``SAE`` with a pointwise lift to ``lift_channels`` (default 4) and a projection back."""

    model_name = "lifted_sae"

    def __init__(
        self,
        in_channels: int,
        resolution: int | Sequence[int],
        n_latents: int = 16,
        lift_channels: int = 4,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        super().__init__(
            in_channels,
            resolution,
            n_latents,
            lift_channels,
            activation,
            k,
            l1_coef,
            remedy,
            dead_after,
            aux_k,
            aux_coef,
        )
