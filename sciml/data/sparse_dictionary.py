"""Sparse combinations of K dictionary atoms on a periodic box: data for dictionary recovery (sparse autoencoders).

    scalar codes:  x_i(t) = sum_{k in S_i} a_ik d_k(t)                         |S_i| = s
    conv codes:    x_i(t) = sum_{j=1}^{s} a_ij d_{k_ij}(t - tau_ij)            tau_ij on a lattice of L^dim shifts

plus optional white noise ``noise * N(0, 1)`` per grid point. The atoms ``d_k`` are continuous periodic functions on
``[0, 1)^dim`` (dim 1 or 2), so the same data set can be written at any resolution (``Grid.uniform(resolution,
periodic=True)``):

* ``atom_type="smooth"``: random real Fourier series with modes ``|m_i| <= max_mode`` (band-limited), zero mean,
  coefficients decaying like ``(1 + |m|^2)^-1/2``;
* ``atom_type="rough"``: piecewise-constant functions with ``n_pieces`` random jumps per axis (2-D: a sum of two
  products of such 1-D functions), zero mean: not band-limited, their spectrum decays like ``1/|m|``.

Every atom has unit mean-square norm, ``mean_t d_k(t)^2 = 1``, measured on a fixed reference grid (4096 points in
1-D, 256 x 256 in 2-D), so amplitudes do not depend on the resolution. Amplitudes ``a`` are uniform in
``amplitude_range`` (positive: the codes a ReLU sparse autoencoder can represent).

Reproducibility: the atoms come from ``numpy.random.default_rng([seed, 0, 0])`` and sample i (support, amplitudes,
shifts) from ``default_rng([seed, 1, i])``, so sample i depends only on ``(seed, i)`` and not on ``n_samples`` nor the
resolution; the noise of sample i comes from ``default_rng([seed, 2, i])`` and is drawn per grid point (it differs
between resolutions by nature).

``generate -> {"field": Field (n, 1, *shape), "atoms": Field (K, 1, *shape), "codes": Field}``: codes are
``(n, K, 1)`` on a one-point grid for scalar codes and ``(n, K, *[L] * dim)`` on the periodic shift lattice (the
amplitude at each shift) for convolutional codes. ``atoms(grid, ...)`` evaluates the dictionary on any grid.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from sciml.core.errors import ConfigError
from sciml.fields.grid import Grid

__all__ = ["generate", "atoms", "dictionary_parameters"]

log = logging.getLogger(__name__)

_ATOM_TYPES = ("smooth", "rough")
_CODE_TYPES = ("scalar", "conv")
_REFERENCE = {1: (4096,), 2: (256, 256)}


def dictionary_parameters(
    n_atoms: int, dim: int, atom_type: str, seed: int, max_mode: int = 4, n_pieces: int = 6
) -> dict[str, Any]:
    """The random parameters of the K atoms (drawn from ``default_rng([seed, 0, 0])``)."""
    rng = np.random.default_rng([seed, 0, 0])
    if atom_type == "smooth":
        axes = [np.arange(-max_mode, max_mode + 1)] * dim
        modes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, dim)
        # one mode of each +-m pair (a real series), without m = 0
        modes = modes[np.array([tuple(m) > tuple(-m) for m in modes])]
        decay = (1.0 + (modes**2).sum(1)) ** -0.5
        coef = rng.standard_normal((n_atoms, modes.shape[0], 2)) * decay[None, :, None]
        return {"type": "smooth", "modes": modes, "coef": coef}
    n_terms = 1 if dim == 1 else 2
    breaks = np.sort(rng.uniform(0.0, 1.0, (n_atoms, n_terms, dim, n_pieces)), axis=-1)
    values = rng.standard_normal((n_atoms, n_terms, dim, n_pieces))
    return {"type": "rough", "breaks": breaks, "values": values}


def _evaluate(params: dict[str, Any], points: np.ndarray) -> np.ndarray:
    """Un-normalised atoms at ``points (P, dim)`` in ``[0, 1)^dim``: ``(K, P)``."""
    if params["type"] == "smooth":
        phase = 2 * np.pi * points @ params["modes"].T  # (P, M)
        c = params["coef"]
        return c[..., 0] @ np.cos(phase).T + c[..., 1] @ np.sin(phase).T
    breaks, values = params["breaks"], params["values"]  # (K, T, dim, n)
    k, n_terms, dim, _ = breaks.shape
    out = np.zeros((k, points.shape[0]))
    for a in range(k):
        for t in range(n_terms):
            term = np.ones(points.shape[0])
            for d in range(dim):
                # the value after the last jump wraps around to the start: periodic piecewise constant
                idx = np.searchsorted(breaks[a, t, d], points[:, d] % 1.0, side="right") - 1
                term = term * values[a, t, d][idx]
            out[a] += term
    return out


def _points(grid: Grid) -> np.ndarray:
    """Grid points mapped to the unit period ``[0, 1)^dim`` (the domain's bounds are one period)."""
    mesh = np.stack(np.meshgrid(*grid.coords, indexing="ij"), -1).reshape(-1, grid.ndim)
    lo = np.array([b[0] for b in grid.bounds])
    return (mesh - lo) / np.array(grid.lengths)


def _normalisers(params: dict[str, Any], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom mean and RMS (after removing the mean) on the fixed reference grid."""
    ref = Grid.uniform(_REFERENCE[dim], periodic=True)
    v = _evaluate(params, _points(ref))
    mean = v.mean(1)
    rms = np.sqrt(((v - mean[:, None]) ** 2).mean(1))
    return mean, rms


def _atom_values(params: dict[str, Any], points: np.ndarray, norm: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mean, rms = norm
    return (_evaluate(params, points) - mean[:, None]) / rms[:, None]


def atoms(
    grid: Grid,
    n_atoms: int = 8,
    dim: int = 1,
    atom_type: str = "smooth",
    seed: int = 0,
    max_mode: int = 4,
    n_pieces: int = 6,
) -> torch.Tensor:
    """The dictionary of ``generate(...)`` with the same parameters, sampled on ``grid``: ``(K, 1, *grid.shape)``."""
    _check(dim, atom_type, "scalar", n_atoms, 1, max_mode, n_pieces)
    params = dictionary_parameters(n_atoms, dim, atom_type, seed, max_mode, n_pieces)
    v = _atom_values(params, _points(grid), _normalisers(params, dim))
    return torch.from_numpy(v.reshape(n_atoms, 1, *grid.shape))


def _check(dim, atom_type, codes, n_atoms, sparsity, max_mode, n_pieces, shift_lattice=1) -> None:
    if dim not in (1, 2):
        raise ConfigError(f"sparse_dictionary: dim must be 1 or 2, got {dim}")
    if atom_type not in _ATOM_TYPES:
        raise ConfigError(f"sparse_dictionary: atom_type must be one of {_ATOM_TYPES}, got {atom_type!r}")
    if codes not in _CODE_TYPES:
        raise ConfigError(f"sparse_dictionary: codes must be one of {_CODE_TYPES}, got {codes!r}")
    if n_atoms < 1 or max_mode < 1 or n_pieces < 2 or shift_lattice < 1:
        raise ConfigError(
            f"sparse_dictionary: need n_atoms >= 1, max_mode >= 1, n_pieces >= 2, shift_lattice >= 1; got "
            f"{n_atoms}, {max_mode}, {n_pieces}, {shift_lattice}"
        )
    slots = n_atoms * (shift_lattice**dim if codes == "conv" else 1)
    if not 1 <= sparsity <= slots:
        raise ConfigError(f"sparse_dictionary: sparsity must be in [1, {slots}], got {sparsity}")


def generate(
    *,
    n_samples: int,
    resolution: int | list[int] = 64,
    seed: int = 0,
    progress: bool = False,
    dim: int = 1,
    n_atoms: int = 8,
    sparsity: int = 3,
    atom_type: str = "smooth",
    max_mode: int = 4,
    n_pieces: int = 6,
    codes: str = "scalar",
    shift_lattice: int = 16,
    amplitude_range: list[float] | None = None,
    noise: float = 0.0,
    dtype: str = "float32",
) -> dict:
    """``{"field", "atoms", "codes"}`` Fields of ``n_samples`` sparse combinations (see the module docstring)."""
    from sciml.fields.field import Field

    shape = [int(resolution)] * dim if isinstance(resolution, (int, np.integer)) else [int(r) for r in resolution]
    if len(shape) != dim:
        raise ConfigError(f"sparse_dictionary: resolution {resolution} does not give {dim} axis sizes")
    _check(dim, atom_type, codes, n_atoms, sparsity, max_mode, n_pieces, shift_lattice)
    if not noise >= 0:
        raise ConfigError(f"sparse_dictionary: noise must be >= 0, got {noise}")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"sparse_dictionary: dtype must be 'float32' or 'float64', got {dtype!r}")
    lo, hi = (0.5, 1.5) if amplitude_range is None else (float(amplitude_range[0]), float(amplitude_range[1]))
    if not 0 <= lo <= hi:
        raise ConfigError(f"sparse_dictionary: amplitude_range must satisfy 0 <= lo <= hi, got {[lo, hi]}")
    grid = Grid.uniform(shape, periodic=True)
    params = dictionary_parameters(n_atoms, dim, atom_type, seed, max_mode, n_pieces)
    norm = _normalisers(params, dim)
    pts = _points(grid)
    base = _atom_values(params, pts, norm)  # (K, P)
    log.info("sparse_dictionary: %d samples on %s, %d %s atoms, %s codes", n_samples, grid, n_atoms, atom_type, codes)

    lattice = [shift_lattice] * dim if codes == "conv" else [1]
    code_values = np.zeros((n_samples, n_atoms, int(np.prod(lattice))))
    x = np.zeros((n_samples, pts.shape[0]))
    iterator = range(n_samples)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="sparse_dictionary")
    for i in iterator:
        rng = np.random.default_rng([seed, 1, i])
        slots = rng.choice(code_values.shape[1] * code_values.shape[2], size=sparsity, replace=False)
        amps = rng.uniform(lo, hi, sparsity)
        for slot, a in zip(slots, amps):
            k, j = divmod(int(slot), code_values.shape[2])
            code_values[i, k, j] = a
            if codes == "scalar":
                x[i] += a * base[k]
            else:
                tau = np.array(np.unravel_index(j, lattice), dtype=np.float64) / shift_lattice
                x[i] += a * _atom_values(params, pts - tau, norm)[k]
        if noise > 0:
            x[i] += noise * np.random.default_rng([seed, 2, i]).standard_normal(pts.shape[0])

    tdtype = getattr(torch, dtype)
    attrs = {
        "n_atoms": n_atoms,
        "sparsity": sparsity,
        "atom_type": atom_type,
        "codes": codes,
        "shift_lattice": shift_lattice if codes == "conv" else 1,
        "noise": noise,
        "seed": seed,
    }
    field = Field(torch.from_numpy(x.reshape(n_samples, 1, *shape)).to(tdtype), grid, variables=["u"], attrs=attrs)
    atom_field = Field(
        torch.from_numpy(base.reshape(n_atoms, 1, *shape)).to(tdtype), grid, variables=["u"], attrs=attrs
    )
    code_grid = Grid.uniform(lattice, periodic=True) if codes == "conv" else Grid.uniform([1])
    code_field = Field(
        torch.from_numpy(code_values.reshape(n_samples, n_atoms, *lattice)).to(tdtype),
        code_grid,
        variables=[f"atom{k}" for k in range(n_atoms)],
        attrs=attrs,
    )
    return {"field": field, "atoms": atom_field, "codes": code_field}
