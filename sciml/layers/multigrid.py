"""Multi-channel multigrid V-cycle: a learned bounded linear operator W acting on all channels at once.

Following He, Liu and Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid" (ICLR 2024),
``W`` maps a right-hand side ``f`` with ``C_in`` channels to a solution ``u`` with ``C_out`` channels by one
V-cycle of learned 3x3 stencils. On level ``l = 1..J`` (grid ``l`` has about ``N / 2^(l-1)`` points per axis):

    down:   u_l <- S_l f_l                                 (first smoothing on level 1)
            u_l <- u_l + S_l^(j) (f_l - A_l u_l)           (pre_smooth steps; coarsest_smooth on level J)
            f_{l+1} = R_l (f_l - A_l u_l)  or  R_l f_l     (residual_restriction=True / False)
            u_{l+1} = Pi_l u_l
    up:     u_l <- u_l + P_l u_{l+1}
            u_l <- u_l + S'_l^(j) (f_l - A_l u_l)          (post_smooth steps)

``A_l``: (C_in <- C_out) and ``S_l``: (C_out <- C_in) are 3x3 convolutions, ``R_l`` and ``Pi_l`` stride-2 3x3
convolutions and ``P_l`` a stride-2 3x3 transposed convolution. There are no biases and no nonlinearities, so
``W`` is exactly linear in ``f`` (tested).

Shapes: ``VCycle(...)(f, grid)`` takes ``f`` of shape ``(batch, C_in, H, W)`` and returns ``(batch, C_out, H, W)``
for any ``H, W`` (odd or even, non-square): a stride-2 convolution maps ``n -> ceil(n / 2)`` points and the
prolongation pads the coarse grid by one cell, applies the transposed convolution and crops exactly ``n`` fine
points, so the up sweep always lands on the fine grid. Grid ``l + 1`` consists of the points ``0, 2, 4, ...`` of
grid ``l``.

Boundary conditions are carried by the padding of every stencil, including the prolongation:

* ``"zeros"``: every stencil reads 0 at the ghost cells one cell outside the grid, on every level. This is a
  homogeneous Dirichlet condition on the ghost layer; precisely, the cycle on a grid equals the cycle run on any
  larger grid (enlarged by a multiple of ``2^(J-1)`` cells per side) with ``mask`` = indicator of the original
  grid, cropped back (tested exactly). ``mask`` also gives Dirichlet conditions on irregular domains.
* ``"circular"``: periodic. The coarse grid is padded circularly before the transposed convolution and cropped
  afterwards, so a shift by a multiple of ``2^(J-1)`` cells commutes with the cycle to round-off (the reference
  implementation pads with zeros there and loses periodicity).
* ``"reflect"``: mirror ghost cells (Neumann-like).

The padding may differ per axis (a sequence of two modes), e.g. periodic in x and walls in y.

Resolution: the 3x3 stencils have a footprint of one grid cell, so the same weights are a different operator on
a finer grid. ``scale_stencils=True`` treats them as finite-difference stencils of a second-order operator:
``A_l`` is multiplied by ``(h_ref,x h_ref,y) / (h_x h_y)`` and ``S_l`` divided by it, where ``h_ref`` is the
spacing at ``reference_resolution``. By linearity this multiplies the whole cycle output by ``h_x h_y / (h_ref,x
h_ref,y)``, which is what an approximate inverse of a second-order differential operator does; it is the identity
at the reference resolution. Whether it helps transfer is measured in benchmarks/darcy_mgno.py (docs/models/mgno.md).
Limits: 2-D only; the number of levels is fixed, so on a finer grid the coarsest level is finer as well.
Measured: it does not make the cycle consistent (the gap grows with N; docs/models/mgno.md).

``consistent=True`` (discretization-consistent cycle): the learned levels are pinned to physical spacings, the
finest one to the spacing of the ``reference_resolution`` grid (same bounds and periodic flags as the input grid)
and the coarsest to ``2^(levels-1)`` times it, whatever the input grid. On another grid the cycle is

    W_h f = P_h W_ref R_h f,

with ``R_h`` (input grid -> reference grid) and ``P_h`` (reference grid -> input grid) fixed, grid-consistent
transfers: separable piecewise-linear interpolation in physical coordinates (periodic axes wrap around). On a
finer grid they are the extra, unlearned levels of the V-cycle (the learned stencils never see a spacing other
than the one they were trained at); on a coarser grid the input is first interpolated onto the reference grid.
Both transfers are interpolatory: on grids that contain the reference nodes (N = 2^k N_ref, periodic) ``R_h`` is
exact injection, so the cycle's output at the reference nodes is the same on every such grid. ``restriction=
"average"`` replaces ``R_h`` on finer grids by the row-normalised adjoint of ``P_h`` (full weighting at 2N_ref):
it low-passes the fine input instead of sampling it. ``interpolation="fourier"`` uses trigonometric
interpolation on the periodic axes (exact for band-limited functions, still interpolatory) instead of piecewise
linear. On the reference grid itself both transfers are the identity (skipped), so a model trained there
computes exactly what ``consistent=False`` computes: the option has no parameters and old checkpoints load either
way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError, ShapeError

__all__ = [
    "VCycle",
    "PADDING_MODES",
    "RESTRICTIONS",
    "pad_axes",
    "resolve_padding",
    "linear_interp_matrix",
    "fourier_interp_matrix",
]

PADDING_MODES = ("zeros", "circular", "reflect")
RESTRICTIONS = ("interp", "average")
INTERPOLATIONS = ("linear", "fourier")


def fourier_interp_matrix(n_src: int, dst, lo: float, hi: float) -> np.ndarray:
    """``(len(dst), n_src)`` float64 matrix of trigonometric interpolation from ``n_src`` periodic nodes
    ``lo + (hi - lo) j / n_src`` to ``dst`` (the real interpolant; the Nyquist mode of an even ``n_src`` as a cosine).
    Interpolatory (a target on a node gets that node) and exact for band-limited functions below the Nyquist mode."""
    d = (np.asarray(dst, dtype=np.float64)[:, None] - lo) / (hi - lo) - np.arange(n_src)[None, :] / n_src
    ks = np.arange(1, (n_src - 1) // 2 + 1)
    mat = 1.0 + 2.0 * np.cos(2 * np.pi * d[..., None] * ks).sum(-1)
    if n_src % 2 == 0:
        mat = mat + np.cos(np.pi * n_src * d)
    return mat / n_src


def linear_interp_matrix(src, dst, lo: float, hi: float, periodic: bool) -> np.ndarray:
    """``(len(dst), len(src))`` float64 matrix of piecewise-linear interpolation from nodes ``src`` to ``dst``.

    ``src`` is sorted; on a periodic axis of period ``hi - lo`` the last node connects to the first one, otherwise
    targets outside ``[src[0], src[-1]]`` take the end value. A target equal to a node gets exactly that node.
    """
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    n = src.size
    mat = np.zeros((dst.size, n))
    if n == 1:
        mat[:, 0] = 1.0
        return mat
    if periodic:
        length = hi - lo
        nodes = np.concatenate([[src[-1] - length], src, [src[0] + length]])
        idx = np.concatenate([[n - 1], np.arange(n), [0]])
        t = lo + np.mod(dst - lo, length)
    else:
        nodes, idx = src, np.arange(n)
        t = np.clip(dst, src[0], src[-1])
    j = np.clip(np.searchsorted(nodes, t, side="right") - 1, 0, nodes.size - 2)
    w = (t - nodes[j]) / (nodes[j + 1] - nodes[j])
    rows = np.arange(dst.size)
    np.add.at(mat, (rows, idx[j]), 1.0 - w)
    np.add.at(mat, (rows, idx[j + 1]), w)
    return mat


def resolve_padding(padding: str | Sequence[str], periodic: Sequence[bool] | None, ndim: int = 2) -> tuple[str, ...]:
    """Per-axis padding modes; ``"auto"`` is circular on periodic axes and zeros otherwise."""
    if isinstance(padding, str):
        if padding == "auto":
            if periodic is None:
                periodic = (False,) * ndim
            return tuple("circular" if p else "zeros" for p in periodic)
        padding = (padding,) * ndim
    modes = tuple(padding)
    if len(modes) != ndim or any(m not in PADDING_MODES for m in modes):
        raise ConfigError(
            f"padding must be 'auto', one of {PADDING_MODES}, or one of them per axis ({ndim} axes); got {padding!r}"
        )
    return modes


def pad_axes(x: torch.Tensor, modes: Sequence[str], width: int = 1) -> torch.Tensor:
    """Pad the last ``len(modes)`` axes of ``x`` by ``width`` cells on each side, each axis with its own mode."""
    nd = len(modes)
    for i, mode in enumerate(modes):
        pads = [0, 0] * nd
        k = nd - 1 - i  # F.pad lists the last axis first
        pads[2 * k] = pads[2 * k + 1] = width
        if mode == "zeros":
            x = F.pad(x, pads)
        else:
            if mode == "reflect" and x.shape[2 + i] <= width:
                raise ShapeError(f"reflect padding needs more than {width} point(s) on axis {i}, got {x.shape[2 + i]}")
            if mode == "circular" and x.shape[2 + i] < width:
                raise ShapeError(f"circular padding needs at least {width} point(s) on axis {i}")
            x = F.pad(x, pads, mode=mode)
    return x


def _stencil(c_out: int, c_in: int) -> nn.Parameter:
    w = torch.empty(c_out, c_in, 3, 3)
    # kaiming-uniform with fan_in = 9 c_in, as nn.Conv2d does, keeps the cycle output O(1)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    return nn.Parameter(w)


class VCycle(nn.Module):
    """One learned multigrid V-cycle ``u = W f`` (see module docstring).

    Args:
        in_channels: channels of ``f``.
        out_channels: channels of ``u``.
        levels: number of grids J (>= 1); level J is the coarsest.
        pre_smooth: smoothing steps on each level of the down sweep (the first one starts from u = S f).
        post_smooth: smoothing steps on each level of the up sweep (0 = prolongation only, as in the paper).
        coarsest_smooth: smoothing steps on the coarsest level.
        padding: "zeros", "circular", "reflect" or one per axis (the boundary condition; see module docstring).
            May also be "auto", resolved per call from the grid's periodic flags.
        residual_restriction: restrict the residual ``f - A u`` (multigrid) instead of ``f``.
        scale_stencils: finite-difference scaling of A and S with the grid spacing (see module docstring).
        reference_resolution: grid size (per axis, or one int) at which ``scale_stencils`` is the identity, and
            the grid the learned levels live on when ``consistent``.
        consistent: run the learned levels on the reference grid and transfer to/from the input grid with fixed
            interpolation (see module docstring); no extra parameters.
        restriction: transfer to the reference grid from a finer grid when ``consistent``: "interp" (piecewise
            linear interpolation, injection on nested grids) or "average" (normalised adjoint of the prolongation).
        interpolation: "linear" (piecewise linear on every axis) or "fourier" (trigonometric interpolation on the
            periodic axes of uniform grids, linear elsewhere) for the ``consistent`` transfers.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        levels: int = 4,
        pre_smooth: int = 1,
        post_smooth: int = 0,
        coarsest_smooth: int = 2,
        padding: str | Sequence[str] = "zeros",
        residual_restriction: bool = True,
        scale_stencils: bool = False,
        reference_resolution: int | Sequence[int] = 64,
        consistent: bool = False,
        restriction: str = "interp",
        interpolation: str = "linear",
    ) -> None:
        super().__init__()
        for name, v, lo in [
            ("in_channels", in_channels, 1),
            ("out_channels", out_channels, 1),
            ("levels", levels, 1),
            ("pre_smooth", pre_smooth, 1),
            ("post_smooth", post_smooth, 0),
            ("coarsest_smooth", coarsest_smooth, 1),
        ]:
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"VCycle: {name} must be an integer >= {lo}, got {v!r}")
        if padding != "auto":
            resolve_padding(padding, None)
        self.in_channels, self.out_channels, self.levels = in_channels, out_channels, levels
        self.padding = padding
        self.residual_restriction = bool(residual_restriction)
        self.scale_stencils = bool(scale_stencils)
        ref = [reference_resolution] * 2 if isinstance(reference_resolution, int) else list(reference_resolution)
        if len(ref) != 2 or any(int(r) < 2 for r in ref):
            raise ConfigError(f"reference_resolution must be an int >= 2 or two of them, got {reference_resolution!r}")
        self.reference_resolution = [int(r) for r in ref]
        if restriction not in RESTRICTIONS:
            raise ConfigError(f"restriction must be one of {RESTRICTIONS}, got {restriction!r}")
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.consistent = bool(consistent)
        self.restriction = restriction
        self.interpolation = interpolation
        self._transfer_cache = None  # (grid, (dtype, device), (ref_grid, R_y, R_x, P_y, P_x)); not state
        ci, co = in_channels, out_channels
        self.A = nn.ParameterList([_stencil(ci, co) for _ in range(levels)])
        self.S_pre = nn.ParameterList()
        self.S_post = nn.ParameterList()
        self.n_pre = []
        for lvl in range(levels):
            n = coarsest_smooth if lvl == levels - 1 else pre_smooth
            self.n_pre.append(n)
            # level 1 starts from u = S f, so it has exactly n smoothers; coarser levels start from Pi u
            self.S_pre.extend(_stencil(co, ci) for _ in range(n))
        self.n_post = [post_smooth] * (levels - 1)
        self.S_post.extend(_stencil(co, ci) for _ in range(post_smooth * (levels - 1)))
        self.R = nn.ParameterList([_stencil(ci, ci) for _ in range(levels - 1)])
        self.Pi = nn.ParameterList([_stencil(co, co) for _ in range(levels - 1)])
        # transposed-convolution weights are (C_in_coarse, C_out_fine, 3, 3)
        self.P = nn.ParameterList([_stencil(co, co) for _ in range(levels - 1)])

    # ---------------------------------------------------------------- helpers
    def stencil_scale(self, grid) -> float:
        """Factor multiplying A (dividing S) on ``grid`` when ``scale_stencils`` is on; 1 otherwise."""
        if not self.scale_stencils or grid is None:
            return 1.0
        factor = 1.0
        for n, (lo, hi), per, ref in zip(grid.shape, grid.bounds, grid.periodic, self.reference_resolution):
            length = hi - lo
            h = length / n if per else length / max(n - 1, 1)
            h_ref = length / ref if per else length / (ref - 1)
            factor *= h_ref / h
        return factor

    def _conv(self, x, w, modes, stride=1):
        if all(m == "zeros" for m in modes):  # built-in zero padding avoids a padded copy
            return F.conv2d(x, w, stride=stride, padding=1)
        return F.conv2d(pad_axes(x, modes), w, stride=stride)

    def _prolong(self, u_coarse, w, fine_shape, modes):
        # pad the coarse grid by one cell with the boundary condition, transpose-convolve, then crop the n fine
        # points: coarse point i sits on fine point 2 i, so padded output index p is fine index p - 3
        if all(m == "zeros" for m in modes):  # same result without the padded copy
            extra = [n - (2 * c - 1) for n, c in zip(fine_shape, u_coarse.shape[2:])]
            return F.conv_transpose2d(u_coarse, w, stride=2, padding=1, output_padding=extra)
        up = F.conv_transpose2d(pad_axes(u_coarse, modes), w, stride=2)
        return up[..., 3 : 3 + fine_shape[0], 3 : 3 + fine_shape[1]]

    def transfers(self, grid, dtype=torch.float64, device="cpu"):
        """``(ref_grid, R_y, R_x, P_y, P_x)`` for ``consistent``: the reference grid and the per-axis transfer
        matrices (R: reference <- input, P: input <- reference), or None when ``grid`` is the reference grid."""
        key = (dtype, torch.device(device))
        hit = self._transfer_cache
        if hit is not None and hit[0] is grid and hit[1] == key:
            return hit[2]
        from sciml.fields.grid import Grid, coords_match

        ref = Grid.uniform(self.reference_resolution, bounds=grid.bounds, periodic=grid.periodic)
        if tuple(grid.shape) == tuple(ref.shape) and all(coords_match(a, b) for a, b in zip(grid.coords, ref.coords)):
            out = None
        else:
            mats_r, mats_p = [], []
            for i, (c, cr, (lo, hi), per) in enumerate(zip(grid.coords, ref.coords, grid.bounds, grid.periodic)):
                fourier = self.interpolation == "fourier" and per
                if fourier and not grid.is_uniform_axis(i):
                    raise ConfigError("VCycle: interpolation='fourier' needs a uniform grid on its periodic axes")
                # (n, n_ref): input grid <- reference grid
                # fourier: nodes at c[0] + L j / n (an offset periodic grid is handled by its first node)
                length = hi - lo
                if fourier:
                    p = fourier_interp_matrix(cr.size, c, float(cr[0]), float(cr[0]) + length)
                else:
                    p = linear_interp_matrix(cr, c, lo, hi, per)
                if self.restriction == "average" and c.size > cr.size:
                    r = p.T / p.T.sum(axis=1, keepdims=True)
                elif fourier:
                    r = fourier_interp_matrix(c.size, cr, float(c[0]), float(c[0]) + length)  # (n_ref, n)
                else:
                    r = linear_interp_matrix(c, cr, lo, hi, per)
                mats_r.append(torch.as_tensor(r, dtype=dtype, device=device))
                mats_p.append(torch.as_tensor(p, dtype=dtype, device=device))
            out = (ref, mats_r[0], mats_r[1], mats_p[0], mats_p[1])
        self._transfer_cache = (grid, key, out)
        return out

    def forward(self, f: torch.Tensor, grid=None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the cycle to ``f`` (batch, C_in, H, W); ``grid`` gives periodic flags and spacing.

        ``mask`` (broadcastable to (batch, 1, H, W), 1 inside the domain, 0 outside) holds the fields at zero
        outside the domain on every level after every stencil (homogeneous Dirichlet on the complement).
        With ``consistent``, the cycle runs on the reference grid between fixed transfers (module docstring).
        """
        if f.dim() != 4 or f.shape[1] != self.in_channels:
            raise ShapeError(f"VCycle expects (batch, {self.in_channels}, H, W), got shape {tuple(f.shape)}")
        if self.consistent:
            # an input grid must still resolve the coarsest level (the same rule as the native cycle)
            self._check_levels(f.shape[2:])
            if grid is None:
                from sciml.fields.grid import Grid

                grid = Grid.uniform(tuple(f.shape[2:]))
            t = self.transfers(grid, f.dtype, f.device)
            if t is not None:
                if mask is not None:
                    raise ConfigError("VCycle: mask is not supported with consistent=True off the reference grid")
                ref, ry, rx, py, px = t
                f_ref = torch.matmul(ry, torch.matmul(f, rx.T))
                u_ref = self._cycle(f_ref, ref, None)
                return torch.matmul(py, torch.matmul(u_ref, px.T))
        return self._cycle(f, grid, mask)

    def _check_levels(self, shape) -> None:
        coarsest = [math.ceil(n / 2 ** (self.levels - 1)) for n in shape]
        if min(coarsest) < 2:
            raise ShapeError(
                f"grid {tuple(shape)} is too small for {self.levels} multigrid levels "
                f"(coarsest grid would be {tuple(coarsest)}); use fewer levels"
            )

    def _cycle(self, f: torch.Tensor, grid, mask: torch.Tensor | None) -> torch.Tensor:
        modes = resolve_padding(self.padding, None if grid is None else grid.periodic)
        scale = self.stencil_scale(grid)
        self._check_levels(f.shape[2:])
        masks = [None] * self.levels
        if mask is not None:
            m = mask.to(f.dtype)
            for lvl in range(self.levels):
                masks[lvl] = m
                m = m[..., ::2, ::2]

        def mk(x, lvl):
            return x if masks[lvl] is None else x * masks[lvl]

        fs, us = [], []
        f_l = mk(f, 0)
        u_l = None
        k = 0
        for lvl in range(self.levels):
            A = self.A[lvl] if scale == 1.0 else self.A[lvl] * scale
            for _ in range(self.n_pre[lvl]):
                S = self.S_pre[k] if scale == 1.0 else self.S_pre[k] / scale
                k += 1
                if u_l is None:  # first step on the finest level: u = S f
                    u_l = mk(self._conv(f_l, S, modes), lvl)
                else:
                    r = mk(f_l - self._conv(u_l, A, modes), lvl)
                    u_l = mk(u_l + self._conv(r, S, modes), lvl)
            fs.append(f_l)
            us.append(u_l)
            if lvl < self.levels - 1:
                rhs = f_l - mk(self._conv(u_l, A, modes), lvl) if self.residual_restriction else f_l
                f_l = mk(self._conv(rhs, self.R[lvl], modes, stride=2), lvl + 1)
                u_l = mk(self._conv(u_l, self.Pi[lvl], modes, stride=2), lvl + 1)
        u = us[-1]
        k = 0
        for lvl in range(self.levels - 2, -1, -1):
            fine = us[lvl]
            u = mk(fine + self._prolong(u, self.P[lvl], fine.shape[2:], modes), lvl)
            A = self.A[lvl] if scale == 1.0 else self.A[lvl] * scale
            for _ in range(self.n_post[lvl]):
                S = self.S_post[k] if scale == 1.0 else self.S_post[k] / scale
                k += 1
                r = mk(fs[lvl] - self._conv(u, A, modes), lvl)
                u = mk(u + self._conv(r, S, modes), lvl)
        return u

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, levels={self.levels}, pre={self.n_pre}, "
            f"post={self.n_post}, padding={self.padding!r}, residual_restriction={self.residual_restriction}, "
            f"scale_stencils={self.scale_stencils}, consistent={self.consistent}, restriction={self.restriction!r}, "
            f"interpolation={self.interpolation!r}"
        )
