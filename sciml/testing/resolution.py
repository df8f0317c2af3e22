"""The shared resolution-invariance protocol (see docs/resolution.md).

A neural operator approximates a map between functions, so one set of weights must give nearly the same output
function whatever grid the input is sampled on. This module measures that on band-limited inputs:

* ``band_limited(grid, ...)``: a random real Fourier series with at most ``K`` modes per axis, evaluated exactly at
  the grid's physical coordinates (period = domain length), so the same function can be sampled on any grid;
* ``discretization_gaps(model, grid, levels=3)``: run the same weights on ``grid``, ``grid.refine(2)``,
  ``grid.refine(4)``..., restrict each output to the points shared with the coarser grid and return the relative
  L2 differences ``d(N, 2N), d(2N, 4N), ...``;
* ``shift_error(model, grid, shift)``: relative difference between shifting the input by ``shift`` cells and
  shifting the output, for periodic grids.

Models register once with ``register_case``; ``tests/resolution/test_resolution.py`` runs every registered case
(cases live in ``tests/resolution/cases_*.py``). A case that cannot pass sets ``xfail`` (the reason, with the
measured numbers) and runs as a strict xfail; its ``regression_bound``, if set, is checked without xfail so a drift
of the known gap is still caught. ``benchmarks/resolution.py`` uses the same ``discretization_gaps`` on periodic
32/64/128 grids: it loads the registered MgNO case from ``tests/resolution/cases_mgno.py`` (same weights, same
numbers as the suite at 32x32) and builds its own CoDA-NO / neuraloperator CODANO / FNO configurations, which
differ from the suite's cases, so only its MgNO row repeats a suite number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from sciml.fields.grid import Grid

__all__ = [
    "to_float64",
    "ResolutionCase",
    "register_case",
    "CASES",
    "band_limited",
    "discretization_gaps",
    "shift_error",
]


@dataclass
class ResolutionCase:
    """One model under the resolution protocol.

    Attributes:
        name: unique case name (shown in test ids).
        factory: builds the model (weights seeded inside the factory); it is put in eval mode and float64.
        in_channels: channels of the band-limited input.
        base_shapes: coarsest grid shapes N to test; each is refined twice (N, 2N, 4N).
        periodic: whether the test grids are periodic.
        bound: largest allowed d(N, 2N).
        modes: K, the number of Fourier modes per axis of the input (well below the coarsest Nyquist).
        forward: ``forward(model, x, grid)``; default ``model(x, grid)``. Use it for extra arguments.
        shift_equivariant: also check exact shift equivariance by ``shift_cells`` on periodic grids.
        shift_cells: shift (in cells of the coarsest grid) for the equivariance check.
        shift_tol: allowed relative error of the shift check.
        xfail: reason (with measured numbers) if the design cannot pass; the test is then xfail(strict=True).
        regression_bound: for an xfail case, a bound on every measured gap d(N, 2N), d(2N, 4N), ... at each base
            shape, checked by a separate test that is not xfail, so a known-failing case still catches a drift.
    """

    name: str
    factory: Callable[[], nn.Module]
    in_channels: int
    base_shapes: Sequence[tuple[int, ...]]
    periodic: bool = True
    bound: float = 0.05
    modes: int = 4
    forward: Callable[[nn.Module, torch.Tensor, Grid], torch.Tensor] | None = None
    shift_equivariant: bool = False
    shift_cells: int = 4
    shift_tol: float = 1e-6
    xfail: str | None = None
    regression_bound: float | None = None
    levels: int = 3
    tags: dict = field(default_factory=dict)

    def run(self, model: nn.Module, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        return self.forward(model, x, grid) if self.forward is not None else model(x, grid)


CASES: dict[str, ResolutionCase] = {}


def register_case(case: ResolutionCase) -> ResolutionCase:
    """Add a case to the shared suite (name must be unique)."""
    if case.name in CASES:
        raise ValueError(f"resolution case {case.name!r} registered twice")
    CASES[case.name] = case
    return case


def band_limited(
    grid: Grid, batch: int = 2, channels: int = 1, modes: int = 4, seed: int = 0, dtype=torch.float64
) -> torch.Tensor:
    """Random real Fourier series with |k_i| <= modes on each axis, sampled at the grid's coordinates.

    Coefficients decay like (1 + |k|^2)^-1 so the function is smooth; the same seed gives the same function on
    every grid of the same domain. Returns ``(batch, channels, *grid.shape)``.
    """
    g = torch.Generator().manual_seed(seed)
    ks = torch.cartesian_prod(*[torch.arange(-modes, modes + 1)] * grid.ndim).reshape(-1, grid.ndim)
    amp = (1.0 + (ks.double() ** 2).sum(1)) ** -1.0
    coef = torch.randn(batch, channels, ks.shape[0], 2, generator=g, dtype=torch.float64) * amp[:, None]
    mesh = grid.meshgrid(dtype=torch.float64)  # (d, *shape)
    phase = torch.zeros(ks.shape[0], *grid.shape, dtype=torch.float64)
    for i, (lo, hi) in enumerate(grid.bounds):
        phase = phase + ks[:, i].double().reshape(-1, *[1] * grid.ndim) * (2 * math.pi * (mesh[i] - lo) / (hi - lo))
    cos, sin = torch.cos(phase), torch.sin(phase)
    out = torch.einsum("bck,k...->bc...", coef[..., 0], cos) + torch.einsum("bck,k...->bc...", coef[..., 1], sin)
    return out.to(dtype)


def _restrict(values: torch.Tensor, fine: Grid, coarse: Grid) -> torch.Tensor:
    strides = fine.stride_to(coarse)
    if strides is None:
        raise ValueError(f"{coarse} is not a strided subset of {fine}")
    idx = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
    return values[idx]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-300))


@torch.no_grad()
def discretization_gaps(
    case: ResolutionCase, shape: Sequence[int], model: nn.Module | None = None, seed: int = 0
) -> list[float]:
    """Relative L2 differences d(N, 2N), d(2N, 4N), ... of one model's outputs on shared points."""
    model = _prepare(case) if model is None else model
    grids = [Grid.uniform(shape, periodic=case.periodic)]
    for _ in range(case.levels - 1):
        grids.append(grids[-1].refine(2))
    outs = []
    for g in grids:
        x = band_limited(g, batch=2, channels=case.in_channels, modes=case.modes, seed=seed)
        outs.append(case.run(model, x, g))
    return [_rel(_restrict(outs[i + 1], grids[i + 1], grids[i]), outs[i]) for i in range(len(grids) - 1)]


@torch.no_grad()
def shift_error(case: ResolutionCase, shape: Sequence[int], model: nn.Module | None = None, seed: int = 0) -> float:
    """Relative error between model(roll(x, s)) and roll(model(x), s) on a periodic grid."""
    model = _prepare(case) if model is None else model
    grid = Grid.uniform(shape, periodic=True)
    x = band_limited(grid, batch=2, channels=case.in_channels, modes=case.modes, seed=seed)
    dims = tuple(range(2, 2 + grid.ndim))
    s = (case.shift_cells,) * grid.ndim
    y_shift_in = case.run(model, torch.roll(x, s, dims), grid)
    y_shift_out = torch.roll(case.run(model, x, grid), s, dims)
    return _rel(y_shift_in, y_shift_out)


def to_float64(model: nn.Module) -> nn.Module:
    """Cast real parameters to float64 and complex ones (spectral weights) to complex128, in place."""
    return model._apply(
        lambda t: t.to(torch.complex128) if t.is_complex() else (t.double() if t.is_floating_point() else t)
    )


def _prepare(case: ResolutionCase) -> nn.Module:
    return to_float64(case.factory()).eval()
