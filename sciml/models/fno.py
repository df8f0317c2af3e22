"""Fourier neural operator (FNO), neuraloperator's implementation behind sciml's model interface.

Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations" (ICLR 2021). Each layer is
``v <- sigma(W v + F^-1[R . F v])`` with ``R`` acting on a fixed number of Fourier modes, so the same weights
apply on any grid. The layers are neuraloperator's ``FNO`` (2.0); this file only changes how positions enter.

Shapes: ``forward(x, grid)`` takes ``(batch, in_channels, *spatial)`` and returns
``(batch, out_channels, *spatial)``; ``len(n_modes)`` is the number of spatial dimensions.

Difference from ``neuralop.models.FNO``: its default positional embedding appends coordinates of an assumed
``[0, 1]^d`` grid built from the tensor shape. Here the coordinates come from the ``Grid`` the input is sampled on
(scaled by the domain bounds), so a field on a non-uniform grid or a sub-domain gets its true positions, and
periodic axes get ``cos/sin(2 pi x / L)`` features that are continuous across the boundary. The spectral layers
are ``sciml.layers.spectral.SpectralConv``, which corrects neuraloperator 2.0's wrong inverse shift on odd grid
sizes (see that module). Positional embedding options:

* ``positional_embedding="auto"`` (default): per axis, ``(x - lo) / L`` when non-periodic, ``cos, sin`` when
  periodic;
* ``"grid"``: ``(x - lo) / L`` on every axis;
* ``"none"``: no positions (the model is then exactly shift-equivariant on periodic grids).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from neuralop.models import FNO as _NeuralopFNO
from torch import nn

from sciml.core.errors import ConfigError, GridError
from sciml.layers.spectral import SpectralConv
from sciml.models.inputs import resolve_input

_EMBEDDINGS = ("auto", "grid", "none")


class FNO(nn.Module):
    """neuraloperator FNO with positions taken from the input's Grid.

    Args:
        in_channels, out_channels: channels of the input and output functions.
        n_modes: Fourier modes kept per spatial axis (one entry per axis).
        hidden_channels: width of the Fourier layers.
        n_layers: number of Fourier layers.
        positional_embedding: "auto", "grid" or "none" (see module docstring).
        domain_padding: fraction of each axis padded before the FFT (for non-periodic problems), or None.
        **fno_kwargs: passed to ``neuralop.models.FNO`` (e.g. ``lifting_channel_ratio``, ``norm``,
            ``factorization``, ``rank``, ``use_channel_mlp``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int],
        hidden_channels: int = 32,
        n_layers: int = 4,
        positional_embedding: str = "auto",
        domain_padding: float | None = None,
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        norm: str | None = None,
        use_channel_mlp: bool = True,
        factorization: str | None = None,
        rank: float = 1.0,
    ) -> None:
        super().__init__()
        if positional_embedding not in _EMBEDDINGS:
            raise ConfigError(f"positional_embedding must be one of {_EMBEDDINGS}, got {positional_embedding!r}")
        try:
            modes = [int(m) for m in n_modes] if not isinstance(n_modes, (str, bytes)) else []
        except (TypeError, ValueError):
            modes = []
        if not modes or min(modes) < 1:
            raise ConfigError(f"fno n_modes must be a non-empty list of ints >= 1 (one per axis), got {n_modes!r}")
        self.n_modes = modes
        self.ndim = len(self.n_modes)
        self.in_channels = in_channels
        self.positional_embedding = positional_embedding
        self.fno = _NeuralopFNO(
            n_modes=tuple(self.n_modes),
            in_channels=in_channels + self._n_pos_channels_max(),
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            n_layers=n_layers,
            positional_embedding=None,
            domain_padding=domain_padding,
            lifting_channel_ratio=lifting_channel_ratio,
            projection_channel_ratio=projection_channel_ratio,
            norm=norm,
            use_channel_mlp=use_channel_mlp,
            factorization=factorization,
            rank=rank,
            conv_module=SpectralConv,
        )

    def _n_pos_channels_max(self) -> int:
        # "auto" uses 2 channels per periodic axis and 1 per non-periodic axis; the lifting is built for the
        # worst case (all periodic) and unused channels are zero, so one model serves both kinds of grid.
        if self.positional_embedding == "none":
            return 0
        if self.positional_embedding == "grid":
            return self.ndim
        return 2 * self.ndim

    def positions(self, grid, device, dtype) -> torch.Tensor | None:
        """Positional channels ``(n_pos, *grid.shape)`` computed from the grid's physical coordinates."""
        if self.positional_embedding == "none":
            return None
        mesh = grid.meshgrid(device=device, dtype=torch.float64)
        chans = []
        for i, ((lo, hi), per) in enumerate(zip(grid.bounds, grid.periodic)):
            s = (mesh[i] - lo) / (hi - lo)
            if self.positional_embedding == "grid":
                chans.append(s)
            elif per:
                chans += [torch.cos(2 * math.pi * s), torch.sin(2 * math.pi * s)]
            else:
                chans += [s, torch.zeros_like(s)]
        return torch.stack(chans).to(dtype)

    def state_dict(self, *args, **kwargs):
        # neuraloperator's BaseModel.state_dict adds a "_metadata" entry holding its init kwargs (functions and
        # classes); that is not a weight and cannot be loaded with torch.load(weights_only=True), so drop it.
        sd = super().state_dict(*args, **kwargs)
        sd.pop("_metadata", None)
        return sd

    def forward(self, x, grid=None) -> torch.Tensor:
        x, grid = resolve_input(x, grid, self.ndim, self.in_channels, "fno")
        for axis, (m, n) in enumerate(zip(self.n_modes, grid.shape)):
            if m > n:  # |k| < m / 2 needs at least m points: the missing modes would be dropped without a word
                raise GridError(
                    f"fno keeps n_modes={m} Fourier modes on axis {axis} but the grid has only {n} points there "
                    f"(Nyquist: at most {n} modes); evaluate on a grid with >= {m} points per axis or build the "
                    "model with fewer modes"
                )
        pos = self.positions(grid, x.device, x.dtype)
        if pos is not None:
            x = torch.cat([x, pos.unsqueeze(0).expand(x.shape[0], *pos.shape)], dim=1)
        return self.fno(x)
