"""Steady heat conduction in a plate with holes on a masked 3-D grid (MT-DeepONet's 3-D task, small).

Equation in the plate P = [0, 1] x [0, 1] x [0, L_z] minus ``n_holes`` cylindrical holes through its thickness:

    -Laplacian u = f in P,   u = 0 on the plate's outer faces and on the holes' surfaces,   f = 1 (heat source)

Holes (Kumar, Goswami et al. 2024, MT-DeepONet, heat conduction with varying holes): radius ``hole_radius``,
axes parallel to z at x_j = (j + 1) / (n_holes + 1), y = ``position``; the two scalars (number of holes, position)
describe the geometry and are the branch's input. ``n_holes`` ~ uniform on ``holes_range``, ``position`` ~
U(``position_range``), seeded by (seed, i).

Discretisation: node grid ``Grid.uniform((Nx, Ny, Nz), bounds=[(0, 1), (0, 1), (0, L_z)])``, 7-point finite
differences; nodes inside a hole are Dirichlet nodes (a staircase boundary: first order in the hole's position,
second order elsewhere), conjugate gradients with a Jacobi preconditioner (relative residual 1e-12).
Validation (tests/data/test_heat3d.py): without holes the manufactured solution sin(pi x) sin(pi y) sin(pi z / L_z)
converges at second order.

Fields (``generate``): ``input`` (B, 3, Nx, Ny, Nz) with channels ``n_holes`` and ``position`` (constant channels)
and ``mask`` (1 in the plate's material, 0 in the holes); ``output`` ``u`` (B, 1, Nx, Ny, Nz), 0 in the holes, with
the boolean mask stored.
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
from sciml.data.grf import parse_dtype
from sciml.fields.field import Field
from sciml.fields.grid import Grid

__all__ = ["generate", "solve_heat3d", "plate_mask"]

log = logging.getLogger(__name__)

VALIDATION = "manufactured solution without holes converges at second order (tests/data/test_heat3d.py)"


def plate_mask(grid: Grid, n_holes: int, position: float, radius: float) -> np.ndarray:
    """True at nodes in the plate's material (outside every hole), shape ``grid.shape``."""
    xx, yy, _ = (c.numpy() for c in grid.meshgrid(dtype=torch.float64))
    mask = np.ones(grid.shape, dtype=bool)
    for j in range(int(n_holes)):
        cx = (j + 1) / (int(n_holes) + 1)
        mask &= np.hypot(xx - cx, yy - position) > radius
    return mask


def _laplacian_1d(n: int, h: float) -> sp.csr_matrix:
    return sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr") / h**2


def solve_heat3d(f: np.ndarray | float, grid: Grid, material: np.ndarray) -> np.ndarray:
    """Solve ``-Laplacian u = f`` at the nodes of ``grid`` where ``material`` is True (off the box's faces), u = 0
    at every other node. Returns ``grid.shape`` float64."""
    material = np.asarray(material, dtype=bool)
    if material.shape != tuple(grid.shape) or grid.ndim != 3:
        raise ShapeError(f"material must have the 3-D grid's shape {grid.shape}, got {material.shape}")
    f = np.broadcast_to(np.asarray(f, dtype=np.float64), grid.shape)
    m = [n - 2 for n in grid.shape]
    eye = [sp.identity(k, format="csr") for k in m]
    lap = [_laplacian_1d(k, h) for k, h in zip(m, grid.spacing)]
    full = sp.kron(sp.kron(lap[0], eye[1]), eye[2]) + sp.kron(sp.kron(eye[0], lap[1]), eye[2])
    full = (full + sp.kron(sp.kron(eye[0], eye[1]), lap[2])).tocsr()
    keep = material[1:-1, 1:-1, 1:-1].ravel()
    sel = np.flatnonzero(keep)
    mat = full[sel][:, sel].tocsr()  # Dirichlet nodes (holes) are dropped: their value 0 adds nothing
    u = np.zeros(grid.shape)
    inner = np.zeros(int(np.prod(m)))
    # symmetric positive definite: Jacobi-preconditioned CG is ~100x faster than a 3-D sparse LU (fill-in)
    inv_diag = 1.0 / mat.diagonal()
    jacobi = spla.LinearOperator(mat.shape, matvec=lambda v: inv_diag * v)
    rhs = np.ascontiguousarray(f[1:-1, 1:-1, 1:-1].ravel()[sel])
    sol, info = spla.cg(mat, rhs, rtol=1e-12, atol=0.0, M=jacobi, maxiter=20 * mat.shape[0])
    if info != 0:
        raise RuntimeError(f"heat3d: conjugate gradients did not converge (info={info}) on a {grid.shape} grid")
    inner[sel] = sol
    u[1:-1, 1:-1, 1:-1] = inner.reshape(m)
    return u


def generate(
    *,
    n_samples: int,
    resolution: int | list[int] = (16, 16, 6),
    seed: int = 0,
    progress: bool = True,
    holes_range: Sequence[int] = (1, 3),
    position_range: Sequence[float] = (0.3, 0.7),
    hole_radius: float = 0.1,
    thickness: float = 0.25,
    forcing: float = 1.0,
    dtype: str = "float32",
) -> dict[str, Field]:
    """Plate-with-holes pairs on the (x, y, z) node grid ``resolution`` (an int N gives (N, N, N))."""
    torch_dtype = parse_dtype(dtype)
    shape = [int(resolution)] * 3 if isinstance(resolution, int) else [int(r) for r in resolution]
    if len(shape) != 3 or min(shape) < 4:
        raise ConfigError(f"resolution must be N or [Nx, Ny, Nz] with every size >= 4, got {resolution!r}")
    lo_h, hi_h = int(holes_range[0]), int(holes_range[1])
    if not 0 <= lo_h <= hi_h or not 0 < position_range[0] <= position_range[1] < 1:
        raise ConfigError(
            f"need 0 <= holes_range ordered and position_range in (0, 1); got {holes_range}, {position_range}"
        )
    grid = Grid.uniform(shape, bounds=[(0.0, 1.0), (0.0, 1.0), (0.0, float(thickness))], names=["x", "y", "z"])
    log.info("heat3d: %d samples on %s", n_samples, grid)
    scalars = np.empty((n_samples, 2))
    u = np.empty((n_samples, *shape))
    mask = np.empty((n_samples, 1, *shape), dtype=bool)
    for i in tqdm(range(n_samples), desc="heat3d", unit="sample", disable=not progress):
        rng = np.random.default_rng([int(seed), i])
        n_holes, pos = int(rng.integers(lo_h, hi_h + 1)), float(rng.uniform(*position_range))
        scalars[i] = n_holes, pos
        mask[i, 0] = plate_mask(grid, n_holes, pos, hole_radius)
        u[i] = solve_heat3d(forcing, grid, mask[i, 0])
    inp = np.concatenate(
        [np.broadcast_to(scalars[:, :, None, None, None], (n_samples, 2, *shape)), mask.astype(np.float64)], axis=1
    )
    attrs = {
        "equation": "-Laplacian u = f in a plate with holes, u = 0 on its faces and hole surfaces",
        "hole_radius": float(hole_radius),
        "thickness": float(thickness),
        "validation": VALIDATION,
    }
    return {
        "input": Field(
            torch.from_numpy(np.ascontiguousarray(inp)).to(torch_dtype),
            grid,
            variables=["n_holes", "position", "mask"],
            attrs=attrs,
        ),
        "output": Field(torch.from_numpy(u[:, None]).to(torch_dtype), grid, variables=["u"], mask=mask, attrs=attrs),
    }
