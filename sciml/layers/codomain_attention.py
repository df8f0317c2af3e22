"""Codomain attention between functions (CoDA-NO, Rahman et al., NeurIPS 2024), resolution-invariant.

Tokens are functions: ``w`` has shape ``(batch, tokens, width, *spatial)``, one token per physical variable.
For each head ``h`` the key, query and value functions are made by small spectral operators shared across tokens,

    k_i = K_h w_i,  q_i = Q_h w_i,  v_i = V_h w_i,     (spectral conv with fixed modes + pointwise skip)

and the attention weights are L2 inner products of functions, computed by quadrature (a grid mean, never a raw
sum over points), scaled by the head width and a temperature:

    a_ij = softmax_j( <q_i, k_j> / (sqrt(d_h) tau) ),   <q, k> = sum_c int q_c k_c dx / |Omega|,
    o_i  = sum_j a_ij v_j.

With ``kq_grid`` set (a fixed shape such as ``(16, 16)``), K and Q run on that coarse grid: each token is first
brought there by trigonometric interpolation (Fourier truncation on the periodic, possibly padded, domain the
spectral layers already assume), the logits are grid means there, and V still runs on the input grid. The
coarse grid is the same whatever the input resolution, so the scores cost the same at 64 or 1024 points per axis
and agree across resolutions up to the aliasing of the tokens' high frequencies (tested).

Heads are concatenated and merged by another spectral operator. ``CoDABlock`` then applies

    w' = Norm(o + w),   out = w' + Norm(M(Norm(w'))),

with ``M`` a two-layer spectral mixer (GELU in between) shared across tokens and ``Norm`` the function-space
instance norm. Everything acts on each token with shared weights, so the block is permutation-equivariant in the
tokens and its parameter count does not depend on how many tokens there are.

Difference from neuraloperator's ``CODALayer``: there the logits are ``sum over grid points / sqrt(N)``, which grows
with the resolution and sharpens the softmax as the grid is refined; here they are quadrature means. The spectral
convolutions are sciml's ``SpectralConv`` (neuraloperator's with its odd-grid shift fixed, ``fft_norm="forward"``;
the stock layer shifts every frequency by one on grids with an odd size along a leading axis).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError
from sciml.fields.resample import spectral_resample_axis
from sciml.layers.norms import FunctionInstanceNorm
from sciml.layers.spectral import SpectralConv

__all__ = ["PointwiseLinear", "SpectralOperator", "CodomainAttention", "CoDABlock"]


class PointwiseLinear(nn.Module):
    """``y(x) = W u(x) + b`` at every point: ``(N, in, *spatial) -> (N, out, *spatial)``."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels) / math.sqrt(in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("oc,nc...->no...", self.weight, x)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, *([1] * (x.dim() - 2)))
        return y


class SpectralOperator(nn.Module):
    """Integral operator with a fixed number of Fourier modes plus a pointwise skip: ``R u + W u``."""

    def __init__(self, in_channels: int, out_channels: int, n_modes: Sequence[int]) -> None:
        super().__init__()
        self.conv = SpectralConv(in_channels, out_channels, tuple(int(m) for m in n_modes), bias=False)
        self.skip = PointwiseLinear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.skip(x)


def _flat(t: torch.Tensor, b: int, n: int) -> torch.Tensor:
    return t.reshape(b * n, *t.shape[2:])


class CodomainAttention(nn.Module):
    """Multi-head attention between token functions with quadrature inner products (see module docstring)."""

    def __init__(
        self,
        width: int,
        n_modes: Sequence[int],
        n_heads: int = 1,
        head_width: int | None = None,
        temperature=1.0,
        kq_grid: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if kq_grid is not None:
            kq_grid = [int(n) for n in kq_grid]
            if len(kq_grid) != len(n_modes) or any(n < m for n, m in zip(kq_grid, n_modes)):
                raise ConfigError(
                    f"kq_grid must have one size per axis ({len(n_modes)}), each >= the modes {list(n_modes)}; "
                    f"got {kq_grid}"
                )
        self.kq_grid = kq_grid
        if n_heads < 1:
            raise ConfigError(f"n_heads must be >= 1, got {n_heads}")
        if temperature <= 0:
            raise ConfigError(f"attention temperature must be positive, got {temperature}")
        self.n_heads = int(n_heads)
        self.head_width = int(head_width or width)
        self.temperature = float(temperature)
        inner = self.n_heads * self.head_width
        self.key = SpectralOperator(width, inner, n_modes)
        self.query = SpectralOperator(width, inner, n_modes)
        self.value = SpectralOperator(width, inner, n_modes)
        self.merge = SpectralOperator(inner, width, n_modes)

    def scores(self, w: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Attention weights ``(batch, heads, tokens, tokens)`` (rows sum to one)."""
        b, t = w.shape[:2]
        return self._scores(_flat(w, b, t), b, t, weights)

    def _scores(self, wf: torch.Tensor, b: int, t: int, weights: torch.Tensor | None) -> torch.Tensor:
        if self.kq_grid is not None:
            for a, m in enumerate(self.kq_grid):
                wf = spectral_resample_axis(wf, 2 + a, m)
            weights = None  # uniform grid mean on the coarse periodic grid
        q = self._heads(self.query(wf), b, t)
        k = self._heads(self.key(wf), b, t)
        return self._softmax(q, k, weights)

    def _heads(self, z: torch.Tensor, b: int, t: int) -> torch.Tensor:
        # (b*t, H*dh, *S) -> (b, t, H, dh, P)
        return z.reshape(b, t, self.n_heads, self.head_width, -1)

    def _softmax(self, q, k, weights):
        if weights is None:
            qw = q / q.shape[-1]
        else:
            qw = q * weights.reshape(-1)
        logits = torch.einsum("bihcp,bjhcp->bhij", qw, k) / (math.sqrt(self.head_width) * self.temperature)
        return torch.softmax(logits, dim=-1)

    def forward(self, w: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d, *spatial = w.shape
        wf = _flat(w, b, t)
        a = self._scores(wf, b, t, weights)
        v = self._heads(self.value(wf), b, t)
        o = torch.einsum("bhij,bjhcp->bihcp", a, v).reshape(b * t, self.n_heads * self.head_width, *spatial)
        return self.merge(o).reshape(b, t, d, *spatial)


class CoDABlock(nn.Module):
    """Codomain attention + spectral mixer with function-space instance norms, ``(B, T, d, *S) -> same``."""

    def __init__(
        self,
        width: int,
        n_modes: Sequence[int],
        n_heads: int = 1,
        head_width: int | None = None,
        temperature: float = 1.0,
        mixer_width: int | None = None,
        kq_grid: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        ndim = len(n_modes)
        self.attention = CodomainAttention(width, n_modes, n_heads, head_width, temperature, kq_grid)
        mixer_width = int(mixer_width or width)
        self.mixer1 = SpectralOperator(width, mixer_width, n_modes)
        self.mixer2 = SpectralOperator(mixer_width, width, n_modes)
        self.norm_in = FunctionInstanceNorm(width, ndim)
        self.norm_att = FunctionInstanceNorm(width, ndim)
        self.norm_mix_in = FunctionInstanceNorm(width, ndim)
        self.norm_mix_out = FunctionInstanceNorm(width, ndim)

    def forward(self, w: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        b, t = w.shape[:2]
        o = self.attention(self.norm_in(w, weights), weights)
        w1 = self.norm_att(o + w, weights)
        m = self.norm_mix_in(w1, weights)
        m = self.mixer2(F.gelu(self.mixer1(_flat(m, b, t)))).reshape(w1.shape)
        return w1 + self.norm_mix_out(m, weights)
