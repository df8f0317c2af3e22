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


def offset_grid(kind: str) -> Grid:
    """Uniform grids whose first point is not the lower bound."""
    if kind == "periodic_offset":  # a quarter of a cell on [0, 1), a tenth on [-1, 2)
        return Grid([(np.arange(8) + 0.25) / 8, -1 + 3 * (np.arange(12) + 0.1) / 12], [(0, 1), (-1, 2)], True)
    # non-periodic cell centres on [0, 1] (half a cell before the first and after the last point)
    return Grid([(np.arange(9) + 0.5) / 9, (np.arange(13) + 0.5) / 13], [(0, 1), (0, 1)], False)


@pytest.mark.parametrize("kind", ["periodic", "nodes", "periodic_offset", "cell_centres"])
def test_refine_coarsen_nest(kind):
    if kind in ("periodic", "nodes"):
        g = Grid.uniform((9, 13), periodic=False) if kind == "nodes" else Grid.uniform((8, 12), periodic=True)
    else:
        g = offset_grid(kind)
    assert g.is_uniform
    for k in (2, 3):
        f = g.refine(k)
        assert f.is_uniform and f.bounds == g.bounds and f.periodic == g.periodic
        assert f.coarsen(k) == g
        assert f.stride_to(g) == (k, k)
        for a, b in zip(f.coords, g.coords):
            np.testing.assert_allclose(a[::k], b, rtol=0, atol=1e-15)
            np.testing.assert_allclose(np.diff(a), np.diff(b).mean() / k, rtol=1e-12)
    # coarsen keeps every other point, starting with the first: g.coarsen(2) is a strided subset of g
    c = g.coarsen(2)
    assert g.stride_to(c) == (2, 2) and g.refine(3).stride_to(c) == (6, 6)
    for a, b in zip(g.coords, c.coords):
        np.testing.assert_allclose(a[::2], b, rtol=0, atol=1e-15)


def test_offset_grids_keep_their_offset():
    # periodic cell centres x_i = (i + 1/2) / 8 on [0, 1)
    g = Grid([(np.arange(8) + 0.5) / 8], bounds=[(0, 1)], periodic=True)
    assert g.is_uniform and g.spacing == (0.125,) and g.axis_offset(0) == pytest.approx(1 / 16, abs=1e-15)
    np.testing.assert_array_equal(g.coarsen(2).coords[0], g.coords[0][::2])
    assert g.stride_to(g.coarsen(2)) == (2,) and g.stride_to(g.coarsen(4)) == (4,)
    # with_shape keeps cell centres cell centres (same offset as a fraction of a cell)
    for m in (16, 12, 5):
        np.testing.assert_allclose(g.with_shape([m]).coords[0], (np.arange(m) + 0.5) / m, rtol=0, atol=1e-15)
    # a nested refinement would need a point at the upper bound: a clear error, not a grid that drops the points
    with pytest.raises(GridError, match=r"cannot refine periodic axis 0.*offset by 0\.5 of a cell.*with_shape"):
        g.refine(2)
    # non-periodic cell centres: with_shape keeps the half-cell gaps at both ends
    h = Grid([(np.arange(9) + 0.5) / 9], bounds=[(0, 1)])
    np.testing.assert_allclose(h.with_shape([4]).coords[0], (np.arange(4) + 0.5) / 4, rtol=0, atol=1e-15)
    # standard grids are unchanged: exactly Grid.uniform's points
    assert Grid.uniform((8, 9), periodic=[True, False]).with_shape([6, 5]) == Grid.uniform(
        (6, 5), periodic=[True, False]
    )


def test_float32_coordinates_of_a_uniform_grid_are_uniform():
    # float32 copies of equispaced points (float32 files): off by half a float32 ulp, still uniform
    x = np.linspace(0, 2 * np.pi, 128, endpoint=False).astype(np.float32)
    g = Grid([x], bounds=[(0, 2 * np.pi)], periodic=True)
    assert g.is_uniform and g.spacing[0] == pytest.approx(2 * np.pi / 128, rel=1e-15)
    assert g.stride_to(g.coarsen(2)) == (2,) and g.refine(2).stride_to(g) == (2,)
    y = np.linspace(-3, 5, 1001).astype(np.float32)
    assert Grid([y], bounds=[(-3, 5)]).is_uniform
    # float32 cell centres without bounds: the period is n mean spacings
    c = ((np.arange(100) + 0.5) / 100).astype(np.float32).astype(np.float64)
    d = Grid([c], periodic=True)
    lo, hi = d.bounds[0]
    assert lo == c[0] and hi - lo == pytest.approx((c[-1] - c[0]) * 100 / 99, rel=1e-15)
    assert d.is_uniform and d.coarsen(2).stride_to(d.coarsen(4)) == (2,)
    # a genuinely non-uniform float64 grid stays non-uniform
    z = np.linspace(0, 1, 9)
    z[4] += 1e-7
    assert not Grid([z]).is_uniform
    assert not Grid([x.astype(np.float64) + np.r_[0, 1e-4, np.zeros(126)]], [(0, 2 * np.pi)], True).is_uniform


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
