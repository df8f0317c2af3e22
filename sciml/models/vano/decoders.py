"""VANO decoders: a latent z in R^n and query features gamma(y) -> function values D(z)(y), pointwise in y.

All decoders take ``z`` of shape ``(M, n)`` (any batch of latents, e.g. Monte Carlo samples times inputs)
and features ``g = gamma(y)`` of shape ``(P, F)`` for ``P`` query points, and return ``(M, C, P)``. They never
see a grid, so one latent can be decoded on any set of points and two grids give identical values at shared
points.

* ``LinearDecoder``: ``D(z)(y) = m(y) + sum_j z_j tau_j(y)``, ``[tau_1..tau_n, m] = MLP(gamma(y))``. With the
  prior z ~ N(0, I) the decoded functions are Gaussian with mean m and covariance ``sum_j tau_j(y) tau_j(y')``:
  a learned, rank-n Karhunen-Loeve expansion (``basis`` returns the tau_j).
* ``ConcatDecoder`` (nonlinear): ``D(z)(y) = MLP([z, gamma(y)])``; the first layer is split as
  ``W_z z + W_y gamma(y)`` so the (M, P, width) activation is made by broadcasting, not by concatenating copies.
* ``SplitDecoder`` (nonlinear): z is cut into ``depth`` chunks; chunk l enters hidden layer l additively,
  ``h_{l+1} = act(W_l h_l + U_l z_l + b_l)``, ``h_0 = act(W_y gamma(y) + U_0 z_0)``.
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.layers.mlp import mlp

__all__ = ["LinearDecoder", "ConcatDecoder", "SplitDecoder", "build_decoder"]


class LinearDecoder(nn.Module):
    def __init__(self, latent_dim: int, n_features: int, out_channels: int, width: int, depth: int, mean: bool):
        super().__init__()
        self.latent_dim, self.out_channels, self.mean = latent_dim, out_channels, mean
        n_out = out_channels * (latent_dim + (1 if mean else 0))
        self.net = mlp([n_features] + [width] * depth + [n_out])

    def basis(self, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``tau`` of shape ``(n, C, P)`` and the mean ``m`` of shape ``(C, P)`` (or None)."""
        out = self.net(g).reshape(g.shape[0], self.out_channels, -1)  # (P, C, n [+1])
        tau = out[..., : self.latent_dim].permute(2, 1, 0)
        m = out[..., self.latent_dim].T if self.mean else None
        return tau, m

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        tau, m = self.basis(g)
        out = (z @ tau.reshape(self.latent_dim, -1)).reshape(z.shape[0], *tau.shape[1:])
        return out + m if m is not None else out


class ConcatDecoder(nn.Module):
    def __init__(self, latent_dim: int, n_features: int, out_channels: int, width: int, depth: int):
        super().__init__()
        if depth < 1:
            raise ConfigError(f"decoder_depth must be >= 1, got {depth}")
        self.wz = nn.Linear(latent_dim, width)
        self.wy = nn.Linear(n_features, width, bias=False)
        self.rest = nn.Sequential(nn.GELU(), mlp([width] * depth + [out_channels]))

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        h = self.wz(z)[:, None, :] + self.wy(g)[None]  # (M, P, width)
        return self.rest(h).transpose(1, 2)


class SplitDecoder(nn.Module):
    def __init__(self, latent_dim: int, n_features: int, out_channels: int, width: int, depth: int):
        super().__init__()
        if depth < 1 or latent_dim < depth:
            raise ConfigError(f"split decoder needs 1 <= decoder_depth <= latent_dim, got {depth} and {latent_dim}")
        sizes = [len(c) for c in torch.arange(latent_dim).tensor_split(depth)]
        self.sizes = sizes
        self.wy = nn.Linear(n_features, width)
        self.uz = nn.ModuleList([nn.Linear(s, width, bias=False) for s in sizes])
        self.hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(depth - 1)])
        self.out = nn.Linear(width, out_channels)
        self.act = nn.GELU()

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        chunks = z.split(self.sizes, dim=-1)
        h = self.act(self.wy(g)[None] + self.uz[0](chunks[0])[:, None, :])
        for lin, u, zc in zip(self.hidden, self.uz[1:], chunks[1:]):
            h = self.act(lin(h) + u(zc)[:, None, :])
        return self.out(h).transpose(1, 2)


def build_decoder(
    kind: str, latent_dim: int, n_features: int, out_channels: int, width: int, depth: int, mean: bool
) -> nn.Module:
    if kind == "linear":
        return LinearDecoder(latent_dim, n_features, out_channels, width, depth, mean)
    if kind == "concat":
        return ConcatDecoder(latent_dim, n_features, out_channels, width, depth)
    if kind == "split":
        return SplitDecoder(latent_dim, n_features, out_channels, width, depth)
    raise ConfigError(f"unknown decoder {kind!r}; allowed: 'linear', 'concat', 'split'")
