"""Grid and PointCloud: coordinates, quadrature, refinement, validation."""

import numpy as np
import pytest
import torch

from sciml import Grid, GridError, PointCloud, ShapeError


def test_uniform_conventions():
    g = Grid.uniform((4, 5), bounds=[(0, 2), (-1, 1)], periodic=[True, False])
    np.testing.assert_allclose(g.coords[0], [0, 0.5, 1.0, 1.5])  # periodic: right end excluded
    np.testing.assert_allclose(g.coords[1], np.linspace(-1, 1, 5))  # non-periodic: nodes incl. ends
    assert g.spacing == (0.5, 0.5) and g.volume == pytest.approx(4.0)


@pytest.mark.parametrize("periodic", [True, False])
def test_quadrature_is_exact_for_what_it_should_be(periodic):
    # rectangle rule on a periodic grid integrates trigonometric polynomials exactly; trapezoid integrates
    # linear functions exactly on any non-uniform grid
    if periodic:
        g = Grid.uniform((16, 12), bounds=[(0, 2), (0, 3)], periodic=True)
        x, y = np.meshgrid(*g.coords, indexing="ij")
        f = 1 + np.cos(2 * np.pi * 3 * x / 2) * np.sin(2 * np.pi * y / 3) + np.cos(2 * np.pi * 2 * y / 3) ** 2
        exact = 6.0 + 0.5 * 6.0
    else:
        c = np.sort(np.random.default_rng(0).uniform(0, 1, 20))
        g = Grid([np.concatenate([[0.0], c, [1.0]]), np.linspace(0, 2, 7)])
        x, y = np.meshgrid(*g.coords, indexing="ij")
        f = 3 * x + 2 * y + 1
        exact = 3 * 0.5 * 2 + 2 * 2 * 1 + 2
    assert np.sum(g.quadrature_weights() * f) == pytest.approx(exact, rel=1e-12)
    assert g.weights(normalized=True).sum().item() == pytest.approx(1.0, rel=1e-6)


def test_trapezoid_converges_at_second_order():
    errs = []
    for n in [17, 33, 65]:
        g = Grid.uniform(n)
        errs.append(abs(np.sum(g.quadrature_weights() * np.exp(g.coords[0])) - (np.e - 1)))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((rates > 1.9) & (rates < 2.1)), rates


@pytest.mark.parametrize("periodic", [True, False])
def test_refine_coarsen_nest(periodic):
    g = Grid.uniform((9, 12), periodic=periodic) if not periodic else Grid.uniform((8, 12), periodic=True)
    f = g.refine(2)
    assert f.coarsen(2) == g
    assert f.stride_to(g) == (2, 2)
    for a, b in zip(f.coords, g.coords):
        np.testing.assert_allclose(a[::2], b, atol=1e-15)
    assert g.refine(3).stride_to(g) == (3, 3)


def test_coarsen_rejects_indivisible():
    with pytest.raises(GridError, match="not divisible by 2"):
        Grid.uniform((10,)).coarsen(2)  # 9 cells


def test_meshgrid_and_points():
    g = Grid.uniform((3, 4))
    m = g.meshgrid(dtype=torch.float64)
    assert m.shape == (2, 3, 4)
    p = g.points(dtype=torch.float64)
    assert p.shape == (12, 2)
    torch.testing.assert_close(p[5], torch.tensor([g.coords[0][1], g.coords[1][1]], dtype=torch.float64))


def test_dict_round_trip_and_equality():
    g = Grid([np.array([0.0, 0.1, 0.5, 1.0]), np.linspace(0, 1, 8, endpoint=False)], periodic=[False, True])
    assert Grid.from_dict(g.to_dict()) == g
    pc = PointCloud(np.random.default_rng(0).uniform(size=(10, 2)))
    assert PointCloud.from_dict(pc.to_dict()) == pc
    assert pc.volume == pytest.approx(np.prod([hi - lo for lo, hi in pc.bounds]))


@pytest.mark.parametrize(
    "coords,match",
    [
        ([[0.0, 0.5, 0.4]], "not strictly increasing"),
        ([[0.0, np.nan]], "NaN or Inf"),
        ([[[0.0, 1.0]]], "must be 1-D"),
    ],
)
def test_bad_coordinates(coords, match):
    with pytest.raises(GridError, match=match):
        Grid([np.asarray(c) for c in coords])


def test_check_values_names_the_problem():
    g = Grid.uniform((8, 8))
    with pytest.raises(ShapeError, match="must have 4 dimensions"):
        g.check_values(torch.zeros(8, 8))
    with pytest.raises(ShapeError, match=r"spatial shape \(8, 9\) does not match the grid shape \(8, 8\)"):
        g.check_values(torch.zeros(1, 1, 8, 9))


def test_stride_to_periodic_non_power_of_two():
    g = Grid.uniform((12,), periodic=True)
    assert g.stride_to(g.coarsen(4)) == (4,)
    assert g.stride_to(Grid.uniform((5,), periodic=True)) is None
