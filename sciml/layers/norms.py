"""Function-space normalisation: instance norm whose statistics are spatial integrals (quadrature means).

For a function ``u_c(x)`` (one channel of one sample, or of one token),

    mean_c = int u_c dx / |Omega|,   var_c = int (u_c - mean_c)^2 dx / |Omega|,
    out_c  = gamma_c (u_c - mean_c) / sqrt(var_c + eps) + beta_c,

with the integrals taken by the grid's quadrature weights (normalised to sum to 1). The statistics converge as the
grid is refined, so the layer acts on functions rather than on arrays of a fixed shape (resolution.md rule 4); it
never normalises over a fixed ``[C, H, W]`` shape like LayerNorm.

With ``over_channels=True`` (a layer norm of functions) the mean and variance are also averaged over channels,
per sample: one mean and one variance per sample, each still a spatial integral.

Shapes: ``(..., channels, *spatial)`` with ``ndim`` trailing spatial axes; ``weights`` is ``spatial``-shaped
(``None``: plain mean, the rectangle rule on uniform grids).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FunctionInstanceNorm", "quadrature_mean"]


def quadrature_mean(x: torch.Tensor, ndim: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the last ``ndim`` axes with normalised quadrature ``weights`` (kept dims)."""
    dims = tuple(range(x.dim() - ndim, x.dim()))
    if weights is None:
        return x.mean(dims, keepdim=True)
    return (x * weights).sum(dims, keepdim=True)


class FunctionInstanceNorm(nn.Module):
    """Instance norm over space with quadrature weights and a per-channel affine map."""

    def __init__(
        self, channels: int, ndim: int, eps: float = 1e-5, affine: bool = True, over_channels: bool = False
    ) -> None:
        super().__init__()
        self.channels, self.ndim, self.eps = int(channels), int(ndim), float(eps)
        self.over_channels = bool(over_channels)
        if affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        mean = quadrature_mean(x, self.ndim, weights)
        if self.over_channels:
            mean = mean.mean(-self.ndim - 1, keepdim=True)
        xc = x - mean
        var = quadrature_mean(xc * xc, self.ndim, weights)
        if self.over_channels:
            var = var.mean(-self.ndim - 1, keepdim=True)
        out = xc * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            shape = (self.channels,) + (1,) * self.ndim
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints of MgNO's former QuadratureNorm stored the affine map as (1, C, 1, 1); same values
        for key in ("weight", "bias"):
            t = state_dict.get(prefix + key)
            if t is not None and t.dim() > 1 and t.numel() == self.channels:
                state_dict[prefix + key] = t.reshape(self.channels)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
