"""VANO encoders: an input function u on a grid -> (mu, log sigma^2) of a Gaussian over the latent z in R^n.

* ``OperatorEncoder`` (discretization-agnostic, the default): optional spectral layers (``sciml.layers.spectral``'s
  ``SpectralConv`` with a fixed number of modes and ``fft_norm="forward"``, so the layer is the same operator
  on every uniform grid), then a quadrature integral against learned functions of position,

      p_k = int_Omega sum_c K_kc(gamma(y)) h_c(y) dy,   h = [lift(u), u],   K = MLP(gamma(y)),

  evaluated with the grid's normalised quadrature weights, then an MLP head ``p -> (mu, log sigma^2)``.
  Because the only global operation is a quadrature integral, the same function sampled on two grids gives
  latents that differ by the quadrature error (tested). With ``n_layers = 0`` it works on any rectilinear grid,
  including non-uniform ones such as Gauss-Legendre nodes; spectral layers need a uniform grid.
* ``CNNEncoder`` (discretize-first, tied to one resolution, like the paper's reference encoders): strided
  convolutions, flatten, linear map. It rejects inputs whose spatial shape differs from ``input_shape``.

Both take ``x`` of shape ``(batch, channels, *spatial)`` and return two tensors of shape ``(batch, n)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError, GridError, ShapeError
from sciml.fields.grid import Grid
from sciml.layers.fourier_features import build_features
from sciml.layers.mlp import mlp

__all__ = ["OperatorEncoder", "CNNEncoder"]


class OperatorEncoder(nn.Module):
    """Discretization-agnostic encoder (see module docstring); ``forward(x, grid) -> (mu, logvar)``."""

    def __init__(
        self,
        in_channels: int,
        latent_dim: int,
        ndim: int,
        width: int = 32,
        n_layers: int = 0,
        modes: int = 12,
        pool_width: int = 64,
        features: dict | None = None,
    ) -> None:
        super().__init__()
        if n_layers < 0 or width < 1 or pool_width < 1:
            raise ConfigError(f"encoder needs n_layers >= 0, width >= 1, pool_width >= 1; got {n_layers}, {width}")
        self.ndim, self.latent_dim, self.modes = ndim, latent_dim, modes
        self.lift = nn.Linear(in_channels, width)
        self.spectral = nn.ModuleList()
        self.pointwise = nn.ModuleList()
        if n_layers:
            from sciml.layers.spectral import SpectralConv

            for _ in range(n_layers):
                self.spectral.append(SpectralConv(width, width, n_modes=(modes,) * ndim))
                self.pointwise.append(nn.Linear(width, width))
        self.gamma = build_features(ndim=ndim, **(features or {"kind": "periodic", "n_features": 4}))
        self.hidden = width + in_channels
        self.pool_width = pool_width
        self.kernel = mlp([self.gamma.out_features, 64, pool_width * self.hidden])
        self.head = mlp([pool_width, 2 * pool_width, 2 * latent_dim])

    def forward(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor]:
        b, c = x.shape[:2]
        xl = x.movedim(1, -1)  # (B, *S, C)
        h = self.lift(xl)
        if len(self.spectral):
            if not grid.is_uniform:
                raise GridError("the spectral layers of the operator encoder need a uniform grid; use encoder_layers=0")
            if min(grid.shape) < self.modes:  # the rule of FNO: fewer points would drop modes without a word
                raise GridError(
                    f"VANO's operator encoder keeps encoder_modes={self.modes} Fourier modes per axis but the grid "
                    f"{tuple(grid.shape)} has fewer points on some axis; evaluate on a grid with >= {self.modes} "
                    "points per axis, or build the model with fewer encoder_modes (or encoder_layers=0)"
                )
            for sc, pw in zip(self.spectral, self.pointwise):
                # neuraloperator's SpectralConv computes in the precision of its (complex) weights
                cdt = [p.dtype for p in sc.parameters() if p.is_complex()]
                real = torch.float64 if cdt and cdt[0] == torch.complex128 else torch.float32
                hs = sc(h.movedim(-1, 1).to(real)).to(h.dtype).movedim(1, -1)
                h = nn.functional.gelu(hs + pw(h))
        h = torch.cat([h, xl], dim=-1).reshape(b, -1, self.hidden)  # (B, P, hidden)
        y = grid.points(device=x.device, dtype=x.dtype)
        q = grid.weights(device=x.device, dtype=x.dtype, normalized=True).reshape(-1)
        k = self.kernel(self.gamma(y)).reshape(-1, self.pool_width, self.hidden)  # (P, K, hidden)
        # one (B, P*hidden) @ (P*hidden, K) product: a quadrature sum over points and channels
        pooled = (h * q[:, None]).reshape(b, -1) @ k.transpose(1, 2).reshape(-1, self.pool_width)
        mu, logvar = self.head(pooled).chunk(2, dim=-1)
        return mu, logvar


class CNNEncoder(nn.Module):
    """Discretize-first encoder tied to ``input_shape``: strided convs (stride 2, kernel 3), flatten, linear."""

    def __init__(
        self,
        in_channels: int,
        latent_dim: int,
        ndim: int,
        input_shape: Sequence[int],
        width: int = 16,
        n_layers: int = 3,
    ) -> None:
        super().__init__()
        if ndim not in (1, 2):
            raise ConfigError(f"the CNN encoder supports 1-D and 2-D inputs, got ndim={ndim}")
        if input_shape is None or len(input_shape) != ndim:
            raise ConfigError(f"the CNN encoder needs input_shape with {ndim} entries, got {input_shape}")
        self.input_shape = tuple(int(s) for s in input_shape)
        conv = nn.Conv1d if ndim == 1 else nn.Conv2d
        layers: list[nn.Module] = []
        ch = in_channels
        for i in range(n_layers):
            layers += [conv(ch, width * 2**i, 3, stride=2, padding=1), nn.GELU()]
            ch = width * 2**i
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            n_flat = self.convs(torch.zeros(1, in_channels, *self.input_shape)).numel()
        self.head = nn.Linear(n_flat, 2 * latent_dim)

    def forward(self, x: torch.Tensor, grid: Grid | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if tuple(x.shape[2:]) != self.input_shape:
            raise ShapeError(
                f"the CNN encoder is tied to input shape {self.input_shape}, got {tuple(x.shape[2:])}; "
                "use encoder='operator' for inputs on other grids"
            )
        mu, logvar = self.head(self.convs(x).flatten(1)).chunk(2, dim=-1)
        return mu, logvar
