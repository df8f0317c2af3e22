"""Plate with holes: manufactured solution at second order, zero in the holes, positive in the material."""

from __future__ import annotations

import numpy as np
import torch

import sciml.data
from sciml.data.heat3d import solve_heat3d
from sciml.fields.grid import Grid


def test_manufactured_solution_without_holes_converges_at_second_order():
    lz, errors = 0.25, []
    for n in (9, 17, 33):
        grid = Grid.uniform((n, n, (n + 1) // 2), bounds=[(0, 1), (0, 1), (0, lz)])
        x, y, z = (c.numpy() for c in grid.meshgrid(dtype=torch.float64))
        exact = np.sin(np.pi * x) * np.sin(np.pi * y) * np.sin(np.pi * z / lz)
        f = np.pi**2 * (2 + 1 / lz**2) * exact
        u = solve_heat3d(f, grid, np.ones(grid.shape, dtype=bool))
        errors.append(np.abs(u - exact).max())
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.9), (errors, rates)


def test_holes_are_masked_and_the_scalars_describe_them():
    out = sciml.data.generate("heat3d", n_samples=4, resolution=[12, 12, 4], seed=2, progress=False)
    x, u = out["input"], out["output"]
    assert x.variables == ("n_holes", "position", "mask") and u.shape == (4, 1, 12, 12, 4)
    m = u.mask
    assert torch.all(u.values[~m] == 0)
    interior = u.values[:, :, 1:-1, 1:-1, 1:-1][m[:, :, 1:-1, 1:-1, 1:-1]]
    assert torch.all(interior > 0)  # f = 1: strictly positive away from the Dirichlet nodes
    n_holes = x.values[:, 0].flatten(1)
    assert torch.all(n_holes == n_holes[:, :1]) and set(n_holes[:, 0].tolist()) <= {1.0, 2.0, 3.0}
    assert torch.all((~m).flatten(1).sum(1) > 0)  # every sample has a hole
