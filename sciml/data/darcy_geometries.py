"""Darcy flow on several geometries inside the unit square, with the mask stored next to the fields (MT-DeepONet).

Equation on a domain Omega in [0, 1]^2 (Kumar, Goswami et al. 2024, MT-DeepONet, Darcy tasks):

    -div(k grad u) = f in Omega,   u = 0 on the boundary of Omega,   k = exp(GRF) (log-normal), f = 1

Geometries (level sets phi, negative inside, a 0.05 margin to the square's edges): ``square`` (side 0.9),
``disc`` (radius 0.45), ``triangle`` (vertices (0.05, 0.05), (0.95, 0.05), (0.5, 0.95)), ``cross`` (the square
with a centred cross cut out: two bars 0.6 x 0.16) and ``lshape`` (the square without its upper-right quarter).

Discretisation: node grid ``Grid.uniform((N, N))``; the unknowns are the nodes with phi < 0. Along each axis a
node whose neighbour lies outside gets a shortened arm theta h to the boundary point (theta by linear
interpolation of phi between the two nodes, u = 0 there): the Shortley-Weller scheme

    -2 / (h_- + h_+) [k_+ (u_+ - u_0) / h_+ - k_- (u_0 - u_-) / h_-] = f_0

with face coefficients the harmonic mean of the nodal k on full arms (as ``sciml.data.darcy``) and k linearly
interpolated to the arm's midpoint on shortened arms. Second order in the max norm on smooth domains (validated
on a manufactured solution on a disc, tests/data/test_darcy_geometries.py); re-entrant corners (L-shape, cross)
limit the solution's regularity, not the scheme. Sparse LU (``scipy.sparse.linalg.splu``) per sample.

Fields (``generate``): ``input`` (B, 2, N, N) with channels ``log_k`` and ``mask`` (1.0 inside, the branch's
geometry channel); ``output`` ``u`` (B, 1, N, N), exactly 0 outside, with the boolean mask (B, 1, N, N) (True where
phi <= 0) stored with the field. Sample i has geometry ``geometries[i % len(geometries)]`` and a GRF seeded by
(seed, i); the names and per-sample indices are in the attrs (``geometries``, ``geometry_index``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from tqdm.auto import tqdm

from sciml.core.errors import ConfigError, ShapeError
from sciml.data.grf import parse_dtype, sample_grf
from sciml.fields.field import Field
from sciml.fields.grid import Grid

__all__ = ["generate", "solve_masked_darcy", "level_set", "GEOMETRIES"]

log = logging.getLogger(__name__)

GEOMETRIES = ("square", "disc", "triangle", "cross", "lshape")
VALIDATION = (
    "manufactured solution on a disc converges at second order in the max norm (Shortley-Weller boundary arms); "
    "tests/data/test_darcy_geometries.py"
)


def _square(x, y, half=0.45):
    return np.maximum(np.abs(x - 0.5), np.abs(y - 0.5)) - half


def _triangle(x, y):
    verts = [(0.05, 0.05), (0.95, 0.05), (0.5, 0.95)]  # counter-clockwise: inside is left of every edge
    phis = []
    for (px, py), (qx, qy) in zip(verts, verts[1:] + verts[:1]):
        cross = (qx - px) * (y - py) - (qy - py) * (x - px)
        phis.append(-cross / np.hypot(qx - px, qy - py))
    return np.maximum.reduce(phis)


def level_set(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """phi of geometry ``name`` at points (x, y): negative inside, zero on the boundary."""
    if name == "square":
        return _square(x, y)
    if name == "disc":
        return np.hypot(x - 0.5, y - 0.5) - 0.45
    if name == "triangle":
        return _triangle(x, y)
    if name == "cross":
        bars = np.minimum(
            np.maximum(np.abs(x - 0.5) - 0.3, np.abs(y - 0.5) - 0.08),
            np.maximum(np.abs(x - 0.5) - 0.08, np.abs(y - 0.5) - 0.3),
        )
        return np.maximum(_square(x, y), -bars)
    if name == "lshape":
        return np.maximum(_square(x, y), -np.maximum(0.5 - x, 0.5 - y))
    raise ConfigError(f"unknown geometry {name!r}; allowed: {', '.join(GEOMETRIES)}")


def _arms(phi, inside, a, axis, sign, h):
    """For every node: arm length, face coefficient and whether the neighbour along (axis, sign) is an unknown."""
    phi_nb = np.roll(phi, -sign, axis=axis)
    a_nb = np.roll(a, -sign, axis=axis)
    in_nb = np.roll(inside, -sign, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(in_nb, 1.0, phi / (phi - phi_nb))
    theta = np.clip(np.nan_to_num(theta, nan=1.0), 1e-6, 1.0)
    face = np.where(in_nb, 2 * a * a_nb / (a + a_nb), a + 0.5 * theta * (a_nb - a))
    return theta * h, face, in_nb


def solve_masked_darcy(a: np.ndarray, f: np.ndarray | float, grid: Grid, phi: np.ndarray) -> np.ndarray:
    """Solve ``-div(a grad u) = f`` with u = 0 outside ``phi < 0`` on the node ``grid``; ``a``, ``phi`` (N0, N1)."""
    a = np.asarray(a, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    if a.shape != tuple(grid.shape) or phi.shape != tuple(grid.shape):
        raise ShapeError(f"a {a.shape} and phi {phi.shape} must both have the grid's shape {grid.shape}")
    f = np.broadcast_to(np.asarray(f, dtype=np.float64), a.shape)
    inside = phi < 0
    inside[[0, -1], :] = False  # the square's edges are never unknowns (the stencil needs both neighbours)
    inside[:, [0, -1]] = False
    idx = -np.ones(a.shape, dtype=np.int64)
    idx[inside] = np.arange(int(inside.sum()))
    n = int(inside.sum())
    diag = np.zeros(a.shape)
    rows, cols, vals = [], [], []
    for axis, h in enumerate(grid.spacing):
        hp, cp, inp = _arms(phi, inside, a, axis, +1, h)
        hm, cm, inm = _arms(phi, inside, a, axis, -1, h)
        scale = 2.0 / (hp + hm)
        diag += scale * (cp / hp + cm / hm)
        for sign, hh, cc, ok in ((+1, hp, cp, inp), (-1, hm, cm, inm)):
            sel = inside & ok
            nb_idx = np.roll(idx, -sign, axis=axis)
            rows.append(idx[sel])
            cols.append(nb_idx[sel])
            vals.append(-(scale * cc / hh)[sel])
    rows.append(idx[inside])
    cols.append(idx[inside])
    vals.append(diag[inside])
    mat = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    u = np.zeros(a.shape)
    if n:
        u[inside] = spla.splu(mat).solve(np.ascontiguousarray(f[inside]))
    return u


def generate(
    *,
    n_samples: int,
    resolution: int = 64,
    seed: int = 0,
    progress: bool = True,
    geometries: Sequence[str] = GEOMETRIES,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    n_modes: int = 16,
    forcing: float = 1.0,
    dtype: str = "float32",
) -> dict[str, Field]:
    """Darcy pairs on masked geometries (see the module docstring); ``resolution`` N nodes per axis."""
    torch_dtype = parse_dtype(dtype)
    geometries = [str(g) for g in geometries]
    if not geometries:
        raise ConfigError("geometries must name at least one of " + ", ".join(GEOMETRIES))
    if int(resolution) < 8:
        raise ConfigError(f"resolution must be >= 8 nodes per axis, got {resolution}")
    grid = Grid.uniform((int(resolution),) * 2)
    xx, yy = (c.numpy().astype(np.float64) for c in grid.meshgrid(dtype=torch.float64))
    phis = {g: level_set(g, xx, yy) for g in geometries}
    log.info("darcy_geometries: %d samples on %s, geometries %s", n_samples, grid, geometries)
    logk = sample_grf(
        n_samples, grid, alpha=alpha, tau=tau, sigma=sigma, n_modes=n_modes, basis="cosine", seed=seed
    ).numpy()
    gi = np.arange(n_samples) % len(geometries)
    u = np.zeros((n_samples, *grid.shape))
    mask = np.zeros((n_samples, 1, *grid.shape), dtype=bool)
    for i in tqdm(range(n_samples), desc="darcy_geometries", unit="sample", disable=not progress):
        phi = phis[geometries[gi[i]]]
        u[i] = solve_masked_darcy(np.exp(logk[i]), forcing, grid, phi)
        mask[i, 0] = phi <= 0
    attrs = {
        "equation": "-div(k grad u) = f in the domain, u = 0 on its boundary, k = exp(GRF)",
        "forcing": float(forcing),
        "geometries": geometries,
        "geometry_index": gi.tolist(),
        "validation": VALIDATION,
    }
    inp = np.stack([logk, mask[:, 0].astype(np.float64)], axis=1)
    return {
        "input": Field(torch.from_numpy(inp).to(torch_dtype), grid, variables=["log_k", "mask"], attrs=attrs),
        "output": Field(torch.from_numpy(u[:, None]).to(torch_dtype), grid, variables=["u"], mask=mask, attrs=attrs),
    }
