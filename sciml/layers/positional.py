"""Learned functions on the domain given by Fourier coefficients: variable-specific positional encodings (VSPE).

A learned function with modes ``m = (m_1, ..., m_d)`` is

    e(x) = Re sum_k c_k exp(2 pi i sum_a k_a (x_a - lo_a) / L_a),

with ``|k_a| < m_a`` on the first ``d - 1`` axes and ``0 <= k_d < m_d`` on the last one (the half spectrum of a
real function). It is evaluated directly at the grid's physical coordinates, not by an inverse FFT of the array
shape, so

* the amplitude does not depend on the number of grid points (this is ``norm="forward"``: no ``1/N`` factor;
  neuraloperator's CODANO uses the default ``irfftn`` normalisation and its encoding shrinks 4x per doubling of a
  2-D grid),
* the same coefficients give the same function at the shared points of any two grids of the domain, uniform or
  not, periodic or not (on a non-periodic axis the encoding is simply a smooth function of period ``L_a``).

``VariablePositionalEncoding`` keeps one coefficient tensor ``(channels, 2 m_1 - 1, ..., m_d)`` per variable name,
stored as real pairs; adding a variable adds only its coefficients. ``FourierFunction`` is a single such function
(the CLS token of CoDA-NO). Cost: ``O(prod(m) * N)`` per channel through separable einsums.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError

__all__ = ["fourier_axis_bases", "evaluate_fourier", "FourierFunction", "VariablePositionalEncoding"]

_LETTERS = "abcdefgh"


def _mode_shape(n_modes: Sequence[int]) -> tuple[int, ...]:
    return tuple(2 * m - 1 for m in n_modes[:-1]) + (int(n_modes[-1]),)


def fourier_axis_bases(grid, n_modes: Sequence[int], device=None, dtype=torch.float32) -> list[torch.Tensor]:
    """Per-axis complex bases ``exp(2 pi i k (x - lo) / L)`` of shape ``(n_k, n_points_on_axis)``."""
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    bases = []
    for a, (c, (lo, hi), m) in enumerate(zip(grid.coords, grid.bounds, n_modes)):
        last = a == len(n_modes) - 1
        k = torch.arange(0, m, dtype=torch.float64) if last else torch.arange(-(m - 1), m, dtype=torch.float64)
        x = torch.tensor(c, dtype=torch.float64)
        phase = 2 * math.pi * k[:, None] * (x[None, :] - lo) / (hi - lo)
        bases.append(torch.polar(torch.ones_like(phase), phase).to(device=device, dtype=cdtype))
    return bases


def evaluate_fourier(coef: torch.Tensor, grid, n_modes: Sequence[int]) -> torch.Tensor:
    """Evaluate real Fourier series with complex coefficients ``(..., *mode_shape)`` on ``grid``.

    Returns a real tensor ``(..., *grid.shape)``.
    """
    nd = len(n_modes)
    if grid.ndim != nd:
        raise ConfigError(f"positional encoding has {nd} spatial axes but the grid has {grid.ndim}")
    real_dtype = torch.float64 if coef.dtype == torch.complex128 else torch.float32
    bases = fourier_axis_bases(grid, n_modes, coef.device, real_dtype)
    ks, xs = _LETTERS[:nd], _LETTERS[nd : 2 * nd]
    spec = f"...{ks}," + ",".join(f"{k}{x}" for k, x in zip(ks, xs)) + f"->...{xs}"
    return torch.einsum(spec, coef, *bases).real


def _init_coefficients(lead: tuple[int, ...], n_modes: Sequence[int], std: float, generator=None) -> torch.Tensor:
    shape = lead + _mode_shape(n_modes) + (2,)
    n_terms = math.prod(_mode_shape(n_modes))
    # each term contributes variance |c|^2 / 2 at a point, so the function has standard deviation ~ std
    return torch.randn(shape, generator=generator) * (std / math.sqrt(n_terms))


class FourierFunction(nn.Module):
    """One learned vector-valued function ``(channels, *grid.shape)`` with ``n_modes`` Fourier modes per axis."""

    def __init__(self, channels: int, n_modes: Sequence[int], init_std: float = 1.0) -> None:
        super().__init__()
        self.n_modes = [int(m) for m in n_modes]
        self.coef = nn.Parameter(_init_coefficients((channels,), self.n_modes, init_std))

    def forward(self, grid) -> torch.Tensor:
        return evaluate_fourier(torch.view_as_complex(self.coef), grid, self.n_modes)


class VariablePositionalEncoding(nn.Module):
    """One learned function per variable name, ``channels`` components each, amplitude independent of the grid.

    Args:
        variables: initial variable names (e.g. ``["u_x", "u_y"]``).
        channels: components of each encoding.
        n_modes: Fourier modes per axis.
        init_std: standard deviation of the encoding values at initialisation.
    """

    def __init__(self, variables: Iterable[str], channels: int, n_modes: Sequence[int], init_std: float = 1.0) -> None:
        super().__init__()
        if channels < 1:
            raise ConfigError(f"positional encoding needs at least one channel, got {channels}")
        if any(int(m) < 1 for m in n_modes):
            raise ConfigError(f"positional encoding modes must be positive, got {list(n_modes)}")
        self.channels = int(channels)
        self.n_modes = [int(m) for m in n_modes]
        self.init_std = float(init_std)
        self.coefficients = nn.ParameterDict()
        self.add_variables(variables)

    @property
    def variables(self) -> list[str]:
        return list(self.coefficients.keys())

    def add_variables(self, names: Iterable[str]) -> list[str]:
        """Create encodings for the names not yet known; returns the names that were added."""
        added = []
        for name in names:
            if not isinstance(name, str) or not name or "." in name:
                raise ConfigError(f"variable names must be non-empty strings without '.', got {name!r}")
            if name not in self.coefficients:
                p = _init_coefficients((self.channels,), self.n_modes, self.init_std)
                ref = next(iter(self.coefficients.values()), None)
                if ref is not None:
                    p = p.to(device=ref.device, dtype=ref.dtype)
                self.coefficients[name] = nn.Parameter(p)
                added.append(name)
        return added

    def check(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in self.coefficients]
        if unknown:
            raise ConfigError(
                f"unknown variable(s) {unknown}: no positional encoding for them; known variables: "
                f"{self.variables}. Call model.add_variables({unknown}) (or pass add_variables=True) to create "
                "new encodings (only these new parameters are added)."
            )

    def forward(self, names: Sequence[str], grid) -> torch.Tensor:
        """Encodings of ``names`` on ``grid``: ``(len(names), channels, *grid.shape)``."""
        self.check(names)
        coef = torch.stack([torch.view_as_complex(self.coefficients[n]) for n in names])
        return evaluate_fourier(coef, grid, self.n_modes)
