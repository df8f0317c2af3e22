"""Darcy on masked geometries: second-order convergence to a manufactured solution on a disc, masks, seeding."""

from __future__ import annotations

import numpy as np
import sympy
import torch

import sciml.data
from sciml.data.darcy_geometries import GEOMETRIES, level_set, solve_masked_darcy
from sciml.fields.grid import Grid


def _manufactured():
    x, y = sympy.symbols("x y")
    r2 = (x - 0.5) ** 2 + (y - 0.5) ** 2
    u = (0.45**2 - r2) * sympy.exp(x) * (1 + y)
    k = 1 + 0.5 * sympy.sin(sympy.pi * x) * sympy.cos(sympy.pi * y)
    f = -(sympy.diff(k * sympy.diff(u, x), x) + sympy.diff(k * sympy.diff(u, y), y))
    return [sympy.lambdify((x, y), e, "numpy") for e in (u, k, f)]


def test_manufactured_solution_on_a_disc_converges_at_second_order():
    u_ex, k_ex, f_ex = _manufactured()
    errors = []
    for n in (33, 65, 129):
        grid = Grid.uniform((n, n))
        xx, yy = (c.numpy().astype(np.float64) for c in grid.meshgrid(dtype=torch.float64))
        phi = level_set("disc", xx, yy)
        u = solve_masked_darcy(k_ex(xx, yy), f_ex(xx, yy), grid, phi)
        inside = phi < 0
        errors.append(np.abs(u - u_ex(xx, yy))[inside].max())
        assert np.all(u[~inside] == 0.0)
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.8), (errors, rates)


def test_generated_geometries_have_masks_and_zero_outside():
    out = sciml.data.generate("darcy_geometries", n_samples=5, resolution=24, seed=1, progress=False)
    x, u = out["input"], out["output"]
    assert x.variables == ("log_k", "mask") and u.mask.shape == (5, 1, 24, 24)
    assert out["input"].attrs["geometries"] == list(GEOMETRIES)
    m = u.mask
    assert torch.equal(x.values[:, 1:2] > 0.5, m)
    assert torch.all(u.values[~m] == 0) and torch.all(u.values[m] >= 0)  # f = 1 > 0: maximum principle
    areas = m.float().mean(dim=(1, 2, 3))
    assert areas[0] > areas[2] and areas[0] > areas[3] and areas[0] > areas[4]  # square is the largest domain
    again = sciml.data.generate("darcy_geometries", n_samples=2, resolution=24, seed=1, progress=False)
    assert torch.equal(again["output"].values, u.values[:2])
