"""Coordinate encodings gamma(y) for pointwise decoders and position-aware encoders.

Decoders evaluated at arbitrary query points ``y`` (VANO, DeepONet trunks) see the coordinates through a
feature map ``gamma: R^d -> R^F``:

* ``PeriodicFeatures``: ``[cos(2 pi k y_a / L_a), sin(2 pi k y_a / L_a)]`` for every axis ``a`` and harmonic
  ``k = 1..K``; exact periodicity with period ``L_a`` (the VANO paper uses ``K = 1``). ``F = 2 K d``.
* ``RandomFourierFeatures``: ``[cos(2 pi B y), sin(2 pi B y)]`` with ``B`` an ``(m, d)`` matrix drawn from
  ``N(0, sigma^2)`` with a fixed seed, trainable or frozen (Tancik et al. 2020). ``F = 2 m``.
* ``CoordinateFeatures``: ``y`` itself (``F = d``).

Every map acts on the last axis of a tensor ``(..., d)`` and returns ``(..., F)``; coordinates are physical
(taken from the Grid), never array indices, so the features do not depend on the resolution.
``build_features`` makes one from plain config values; ``include_coords=True`` appends ``y`` to the output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError

__all__ = ["PeriodicFeatures", "RandomFourierFeatures", "CoordinateFeatures", "build_features"]


def _check_dim(y: torch.Tensor, ndim: int) -> None:
    if y.shape[-1] != ndim:
        raise ShapeError(f"coordinates must have a last axis of size {ndim} (spatial dims), got shape {tuple(y.shape)}")


class PeriodicFeatures(nn.Module):
    """Harmonics ``cos/sin(2 pi k y / L)`` for ``k = 1..n_harmonics`` on each axis; output ``(..., 2 K d)``."""

    def __init__(self, ndim: int, n_harmonics: int = 1, period: float | Sequence[float] = 1.0) -> None:
        super().__init__()
        if n_harmonics < 1:
            raise ConfigError(f"n_harmonics must be >= 1, got {n_harmonics}")
        periods = [float(period)] * ndim if isinstance(period, (int, float)) else [float(p) for p in period]
        if len(periods) != ndim or any(p <= 0 for p in periods):
            raise ConfigError(f"period must be a positive number or {ndim} positive numbers, got {period}")
        self.ndim = ndim
        k = torch.arange(1, n_harmonics + 1, dtype=torch.float64)
        # freqs[a, k] = 2 pi k / L_a
        self.register_buffer("freqs", 2 * math.pi * k[None, :] / torch.tensor(periods, dtype=torch.float64)[:, None])
        self.out_features = 2 * n_harmonics * ndim

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        _check_dim(y, self.ndim)
        arg = (y[..., :, None] * self.freqs.to(y.dtype)).flatten(-2)  # (..., d*K)
        return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


class RandomFourierFeatures(nn.Module):
    """``[cos(2 pi B y), sin(2 pi B y)]`` with ``B ~ N(0, scale^2)`` of shape ``(n_features, ndim)``.

    ``B`` is drawn from a generator seeded with ``seed`` (so a config rebuilds the same initial features)
    and is an ``nn.Parameter`` when ``trainable`` (the paper's trainable variant), a buffer otherwise.
    """

    def __init__(self, ndim: int, n_features: int = 16, scale: float = 1.0, trainable: bool = True, seed: int = 0):
        super().__init__()
        if n_features < 1 or scale <= 0:
            raise ConfigError(f"n_features must be >= 1 and scale > 0, got {n_features} and {scale}")
        self.ndim = ndim
        g = torch.Generator().manual_seed(int(seed))
        b = torch.randn(n_features, ndim, generator=g) * scale
        if trainable:
            self.B = nn.Parameter(b)
        else:
            self.register_buffer("B", b)
        self.out_features = 2 * n_features

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        _check_dim(y, self.ndim)
        arg = 2 * math.pi * y @ self.B.to(y.dtype).T
        return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


class CoordinateFeatures(nn.Module):
    """The identity encoding ``gamma(y) = y``."""

    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.ndim = ndim
        self.out_features = ndim

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        _check_dim(y, self.ndim)
        return y


class _WithCoords(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.out_features = inner.out_features + inner.ndim

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.inner(y), y], dim=-1)


def build_features(
    kind: str,
    ndim: int,
    *,
    n_features: int = 16,
    period: float | Sequence[float] = 1.0,
    scale: float = 1.0,
    trainable: bool = True,
    include_coords: bool = False,
    seed: int = 0,
) -> nn.Module:
    """Feature map from config: ``kind`` in ``{"periodic", "fourier", "none"}``.

    ``n_features`` is the number of harmonics per axis for ``"periodic"`` and the number of random
    frequencies for ``"fourier"``. The returned module has an ``out_features`` attribute.
    """
    if kind == "periodic":
        f: nn.Module = PeriodicFeatures(ndim, n_features, period)
    elif kind == "fourier":
        f = RandomFourierFeatures(ndim, n_features, scale, trainable, seed)
    elif kind == "none":
        return CoordinateFeatures(ndim)
    else:
        raise ConfigError(f"unknown feature encoding {kind!r}; allowed: 'periodic', 'fourier', 'none'")
    return _WithCoords(f) if include_coords else f
