"""MgNO: multigrid neural operator (He, Liu, Xu, ICLR 2024), resolution-free and boundary-aware.

Each layer is a fully connected layer whose neurons are functions,

    u^(k+1) = sigma( N( W_Mg u^(k) + W_0 u^(k) ) + b^(k)(x) ),      k = 0 .. n_layers - 1,

where ``W_Mg`` is one multi-channel multigrid V-cycle (``sciml.layers.multigrid.VCycle``), ``W_0`` a pointwise
(1x1) channel map, ``N`` a resolution-free normalisation and ``b^(k)`` a learned bias *function* per channel. The
first layer maps ``in_channels -> width`` directly (no lifting network); a final pointwise map gives
``out_channels`` (no projection network). With ``residual_step=True`` the model is a time stepper
``u_{t+1} = u_t + net(u_t)`` (the first ``out_channels`` input channels are ``u_t``).

Shapes: ``forward(x, grid=None)`` takes ``x`` of shape ``(batch, in_channels, H, W)`` (or a Field) sampled on
``grid`` (default: uniform non-periodic on ``[0, 1]^2``) and returns ``(batch, out_channels, H, W)``, for any
``H, W`` large enough for the chosen number of levels (``ceil(n / 2^(levels-1)) >= 2``).

Differences from the reference code, and why:

* Normalisation is over channels and quadrature-weighted space (``norm="layer"``: mean and variance over
  ``C x domain`` with the grid's quadrature weights; ``"instance"``: per channel; ``"none"``), with per-channel
  affine parameters, instead of ``LayerNorm([C, H, W])`` that fixes the grid size.
* Bias functions are resolution independent: ``b(x)`` is a piecewise-bilinear function on a fixed reference
  grid of ``bias_resolution`` nodes per axis covering the domain (periodic axes wrap around), evaluated at the
  physical coordinates of the input grid. So it is the same continuous function on every grid, costs
  ``width x bias_resolution^2`` parameters, and is smooth at the scale of the domain. ``bias="constant"``
  uses one number per channel, ``"none"`` no bias.
* Padding is the boundary condition (``"zeros"`` Dirichlet, ``"circular"`` periodic including the prolongation,
  ``"reflect"``, or ``"auto"`` from ``grid.periodic``), and the V-cycle handles any grid size.
* ``levels="auto"`` picks ``floor(log2(reference_resolution)) - 2`` levels (4 at 64), fixed at construction so
  the parameters do not depend on the input grid.
* Discretization consistency (issue #17, ``consistent=True``, the default): the native cycle applies its learned
  3x3 and stride-2 stencils at the input grid's spacing with a fixed number of levels, so the same weights are a
  different operator on every grid (untrained gap d(32,64) = 0.27, trained transfer 5-7x FNO's error). Here the
  learned levels stay on the ``reference_resolution`` grid (fixed physical spacings, coarsest level fixed in
  physical size) and fixed interpolatory transfers connect it to the input grid; at the reference grid the
  model is exactly the native one (no extra parameters). ``consistent=False`` gives the native cycle back.

* On CPU the hidden activations are kept in channels-last layout (oneDNN's few-channel 3x3 convolutions are
  faster there); inputs and outputs are in the standard layout.

Training recipe of the paper: Adam + OneCycle, Darcy lr 5e-4, weight decay 1e-4, batch 8, H1 loss. On Darcy,
``norm="none"`` with one more level than "auto" (5 at 64) is measured clearly better than the default
``norm="layer"`` (the normalisation removes each sample's amplitude, which the solution scales with); see
docs/models/mgno.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError
from sciml.layers.multigrid import VCycle, resolve_padding
from sciml.layers.norms import FunctionInstanceNorm
from sciml.models.inputs import resolve_input

__all__ = ["MgNO", "BiasFunction"]

_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh, "silu": F.silu, "identity": lambda x: x}
_BIAS = ("function", "constant", "none")
_NORMS = ("layer", "instance", "none")


def _interp_matrix(coord, lo: float, hi: float, m: int, periodic: bool, dtype, device) -> torch.Tensor:
    """(n, m) matrix of linear-interpolation weights from m reference nodes to the coordinates ``coord``."""
    t = (torch.tensor(np.asarray(coord), dtype=torch.float64) - lo) / (hi - lo)
    if periodic:
        pos = torch.remainder(t * m, m)  # nodes at i / m, node m == node 0
    else:
        pos = (t * (m - 1)).clamp(0, m - 1)  # nodes at linspace(0, 1, m)
    i0 = pos.floor().long().clamp(max=m - 1 if periodic else m - 2)
    w1 = pos - i0
    i1 = (i0 + 1) % m if periodic else i0 + 1
    mat = torch.zeros(t.numel(), m, dtype=torch.float64)
    rows = torch.arange(t.numel())
    mat.index_put_((rows, i0), 1 - w1, accumulate=True)
    mat.index_put_((rows, i1), w1, accumulate=True)
    return mat.to(device=device, dtype=dtype)


class BiasFunction(nn.Module):
    """A learned function per channel, piecewise bilinear on a fixed ``m x m`` reference grid of the domain."""

    def __init__(self, channels: int, resolution: int = 16) -> None:
        super().__init__()
        if resolution < 2:
            raise ConfigError(f"bias_resolution must be >= 2, got {resolution}")
        self.m = resolution
        self.coef = nn.Parameter(torch.zeros(channels, resolution, resolution))
        self._cache = None  # (grid, (dtype, device), interpolation matrices); not state, never saved

    def forward(self, grid, dtype, device) -> torch.Tensor:
        """Values ``(1, channels, *grid.shape)`` of the bias functions at the grid's coordinates."""
        key = (dtype, torch.device(device))
        hit = self._cache
        # the interpolation matrices depend only on the grid: rebuild them only when the grid object changes
        # (the cache holds the grid itself, so its id cannot be reused by another grid meanwhile)
        if hit is None or hit[0] is not grid or hit[1] != key:
            mats = [
                _interp_matrix(c, lo, hi, self.m, p, dtype, device)
                for c, (lo, hi), p in zip(grid.coords, grid.bounds, grid.periodic)
            ]
            self._cache = hit = (grid, key, mats)
        mats = hit[2]
        return torch.einsum("im,cmn,jn->cij", mats[0], self.coef.to(dtype), mats[1]).unsqueeze(0)


class MgNO(nn.Module):
    """Multigrid neural operator (see module docstring for equations and design choices).

    Args:
        in_channels, out_channels: channels of the input and output functions.
        width: channels of the hidden functions.
        n_layers: number of V-cycle layers (the first maps in_channels -> width).
        levels: V-cycle levels (int) or "auto" (``floor(log2(reference_resolution)) - 2``).
        pre_smooth, post_smooth, coarsest_smooth: smoothing steps per level (down sweep, up sweep, coarsest).
        padding: "zeros" (Dirichlet), "circular" (periodic), "reflect", or "auto" (circular on the periodic axes
            of the input grid, zeros elsewhere).
        residual_restriction: restrict the residual ``f - A u`` instead of ``f``.
        bias: "function" (bilinear on a ``bias_resolution``^2 reference grid), "constant" or "none".
        bias_resolution: nodes per axis of the bias reference grid.
        norm: "layer", "instance" or "none" (quadrature-weighted, any grid size).
        scale_stencils: finite-difference scaling of the stencils with the grid spacing (see multigrid.py).
        reference_resolution: grid size at which ``scale_stencils`` is the identity (and that sets "auto" levels);
            with ``consistent``, the grid the V-cycles run on.
        consistent: discretization-consistent V-cycles: the learned levels stay on the reference grid (fixed
            physical spacings) and fixed interpolatory transfers connect them to the input grid (multigrid.py).
        restriction: "interp" or "average", the transfer from a grid finer than the reference (``consistent``).
        interpolation: "linear" or "fourier" (trigonometric on periodic axes) for the ``consistent`` transfers.
        residual_step: return ``x[:, :out_channels] + net(x)`` (time stepping).
        activation: "gelu", "relu", "tanh", "silu" or "identity".
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 32,
        n_layers: int = 4,
        levels: int | str = "auto",
        pre_smooth: int = 1,
        post_smooth: int = 0,
        coarsest_smooth: int = 2,
        padding: str | Sequence[str] = "auto",
        residual_restriction: bool = True,
        bias: str = "function",
        bias_resolution: int = 16,
        norm: str = "layer",
        scale_stencils: bool = False,
        reference_resolution: int | Sequence[int] = 64,
        consistent: bool = True,
        restriction: str = "interp",
        interpolation: str = "linear",
        residual_step: bool = False,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ConfigError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if bias not in _BIAS:
            raise ConfigError(f"bias must be one of {_BIAS}, got {bias!r}")
        if norm not in _NORMS:
            raise ConfigError(f"norm must be one of {_NORMS}, got {norm!r}")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ConfigError(f"n_layers must be an integer >= 1, got {n_layers!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ConfigError(f"width must be an integer >= 1, got {width!r}")
        if residual_step and in_channels < out_channels:
            raise ConfigError(
                f"residual_step needs in_channels >= out_channels (u_t is the first out_channels inputs), "
                f"got in_channels={in_channels}, out_channels={out_channels}"
            )
        if padding != "auto":
            resolve_padding(padding, None)
        ref = reference_resolution if isinstance(reference_resolution, int) else min(reference_resolution)
        if levels == "auto":
            levels = max(1, int(math.floor(math.log2(ref))) - 2)
        elif isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ConfigError(f"levels must be an integer >= 1 or 'auto', got {levels!r}")
        self.in_channels, self.out_channels, self.width = in_channels, out_channels, width
        self.levels = levels
        self.residual_step = bool(residual_step)
        self.act = _ACTIVATIONS[activation]
        self.norm_mode = norm
        self.cycles = nn.ModuleList()
        self.pointwise = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.biases = nn.ModuleList()
        self.constant_biases = nn.ParameterList()
        self.bias_mode = bias
        for k in range(n_layers):
            c_in = in_channels if k == 0 else width
            self.cycles.append(
                VCycle(
                    c_in,
                    width,
                    levels=levels,
                    pre_smooth=pre_smooth,
                    post_smooth=post_smooth,
                    coarsest_smooth=coarsest_smooth,
                    padding=padding,
                    residual_restriction=residual_restriction,
                    scale_stencils=scale_stencils,
                    reference_resolution=reference_resolution,
                    consistent=consistent,
                    restriction=restriction,
                    interpolation=interpolation,
                )
            )
            self.pointwise.append(nn.Conv2d(c_in, width, 1, bias=False))
            if norm != "none":
                self.norms.append(FunctionInstanceNorm(width, 2, over_channels=norm == "layer"))
            if bias == "function":
                self.biases.append(BiasFunction(width, bias_resolution))
            elif bias == "constant":
                self.constant_biases.append(nn.Parameter(torch.zeros(1, width, 1, 1)))
        self.head = nn.Conv2d(width, out_channels, 1)

    def forward(self, x, grid=None) -> torch.Tensor:
        x, grid = resolve_input(x, grid, 2, self.in_channels, "mgno")
        w = grid.weights(device=x.device, dtype=x.dtype, normalized=True) if self.norm_mode != "none" else None
        # channels-last (NHWC) activations: oneDNN's 3x3 convolutions with few channels run faster on CPU in
        # this layout (the output is returned in the standard layout)
        fmt = torch.channels_last if x.device.type == "cpu" else torch.contiguous_format
        u = x.contiguous(memory_format=fmt)
        for k, (cycle, pw) in enumerate(zip(self.cycles, self.pointwise)):
            v = cycle(u, grid) + pw(u)
            if self.norm_mode != "none":
                v = self.norms[k](v, w)
            if self.bias_mode == "function":
                # same layout as v: a mixed-layout broadcast add is several times slower and un-does channels-last
                v = v + self.biases[k](grid, x.dtype, x.device).contiguous(memory_format=fmt)
            elif self.bias_mode == "constant":
                v = v + self.constant_biases[k]
            # re-assert the layout: a 1-channel input is ambiguous, and the first layer's outputs come back NCHW
            u = self.act(v).contiguous(memory_format=fmt)
        out = self.head(u).contiguous()
        if self.residual_step:
            out = x[:, : self.out_channels] + out
        return out
