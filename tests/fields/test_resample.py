"""Resampling: spectral exactness for band-limited periodic fields, interpolation exactness, strided
subsets, restriction and point evaluation."""

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import GridError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud

K = 3  # modes per axis, below the Nyquist number of every grid used here


def fourier_series(grid: Grid, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Random real Fourier series with |k_i| <= K on [0,1]^d sampled exactly at the grid points."""
    rng = np.random.default_rng(seed)
    mesh = np.stack(np.meshgrid(*grid.coords, indexing="ij"))
    out = np.zeros((1, channels, *grid.shape))
    ks = np.stack(np.meshgrid(*[np.arange(-K, K + 1)] * grid.ndim, indexing="ij")).reshape(grid.ndim, -1).T
    for c in range(channels):
        for k in ks:
            phase = 2 * np.pi * np.tensordot(k, mesh, axes=1)
            out[0, c] += rng.normal() * np.cos(phase) + rng.normal() * np.sin(phase)
    return out


@pytest.mark.parametrize("shape", [(16, 10), (9, 15), (13, 8)])
@pytest.mark.parametrize("factor", [2.0, 1.5])
def test_spectral_resampling_exact_for_band_limited(shape, factor):
    g = Grid.uniform(shape, periodic=True)
    fine = g.with_shape([int(round(n * factor)) for n in shape])
    f = Field(fourier_series(g), g)
    up = f.resample(fine)
    assert up.grid == fine
    np.testing.assert_allclose(up.values.numpy(), fourier_series(fine), rtol=0, atol=1e-10)
    back = up.resample(g)
    np.testing.assert_allclose(back.values.numpy(), f.values.numpy(), rtol=0, atol=1e-10)
    # downsampling a fine band-limited field directly is exact as well
    direct = Field(fourier_series(fine), fine).resample(g)
    np.testing.assert_allclose(direct.values.numpy(), fourier_series(g), rtol=0, atol=1e-10)


def test_spectral_handles_shifted_grid_and_1d():
    g = Grid.uniform(12, bounds=[(0.0, 2.0)], periodic=True)
    x = g.coords[0]
    f = Field(np.cos(np.pi * 3 * x)[None, None] + np.sin(np.pi * x)[None, None], g)
    shifted = Grid(g.coords[0][:7] * 0 + (np.arange(7) + 0.5) * 2.0 / 7, bounds=[(0.0, 2.0)], periodic=True)
    y = shifted.coords[0]
    r = f.resample(shifted)
    np.testing.assert_allclose(r.values[0, 0].numpy(), np.cos(3 * np.pi * y) + np.sin(np.pi * y), atol=1e-10)


def test_spectral_nyquist_of_even_grid_is_sampled_consistently():
    # cos(pi n x) on n=8 points is the Nyquist mode; refining keeps its values at the shared points
    g = Grid.uniform(8, periodic=True)
    f = Field(np.cos(8 * np.pi * g.coords[0])[None, None], g)
    up = f.resample(g.refine(2))
    np.testing.assert_allclose(up.values[0, 0, ::2].numpy(), f.values[0, 0].numpy(), atol=1e-12)
    assert up.values.dtype == torch.float64


def test_spectral_float32_and_complex():
    g = Grid.uniform(10, periodic=True)
    v = fourier_series(g).astype(np.float32)
    up = Field(v, g).resample(g.refine(2))
    assert up.values.dtype == torch.float32
    np.testing.assert_allclose(up.values.numpy(), fourier_series(g.refine(2)), atol=5e-5)
    z = np.exp(2j * np.pi * 2 * g.coords[0])[None, None]
    r = Field(z, g).resample(g.with_shape([15]))
    np.testing.assert_allclose(r.values.numpy()[0, 0], np.exp(4j * np.pi * r.grid.coords[0]), atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_interpolation_exact_for_linear_functions(method):
    g = Grid([np.linspace(0, 2, 9), np.array([-1.0, -0.5, 0.2, 0.4, 1.0])], bounds=[(0, 2), (-1, 1)])
    X, Y = g.meshgrid(dtype=torch.float64)
    f = Field(torch.stack([3 * X - 2 * Y + 1, -X])[None], g)
    rng = np.random.default_rng(3)
    t = Grid([np.sort(rng.uniform(0, 2, 13)), np.sort(rng.uniform(-1, 1, 7))], bounds=[(0, 2), (-1, 1)])
    r = f.resample(t, method=method)
    X2, Y2 = t.meshgrid(dtype=torch.float64)
    torch.testing.assert_close(r.values[0, 0], 3 * X2 - 2 * Y2 + 1, atol=1e-12, rtol=0)
    torch.testing.assert_close(r.values[0, 1], -X2, atol=1e-12, rtol=0)


def test_cubic_exact_for_cubics_and_linear_is_not():
    g = Grid.uniform(11, bounds=[(0.0, 1.0)])
    f = Field((g.coords[0] ** 3)[None, None], g)
    t = Grid.uniform(23, bounds=[(0.0, 1.0)]).with_shape([17])
    exact = t.coords[0] ** 3
    cub = f.resample(t, method="cubic").values[0, 0].numpy()
    lin = f.resample(t, method="linear").values[0, 0].numpy()
    np.testing.assert_allclose(cub, exact, atol=1e-12)
    assert np.abs(lin - exact).max() > 1e-4


def test_strided_subset_is_exact_subsampling():
    g = Grid.uniform((17, 12), periodic=[False, True])
    v = np.random.default_rng(0).standard_normal((2, 1, 17, 12))  # not band-limited: only exact by striding
    coarse = g.coarsen(4)
    r = Field(v, g).resample(coarse)
    np.testing.assert_array_equal(r.values.numpy(), v[:, :, ::4, ::4])
    rs = Field(v, g).restrict(4)
    assert rs.grid == coarse
    np.testing.assert_array_equal(rs.values.numpy(), v[:, :, ::4, ::4])
    with pytest.raises(GridError, match="not divisible"):
        Field(v, g).restrict(3)


def band_limited(x: np.ndarray, lo: float, length: float, kmax: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = 2 * np.pi * (x - lo) / length
    return sum(rng.normal() * np.cos(k * t) + rng.normal() * np.sin(k * t) for k in range(kmax + 1))


def test_restrict_of_offset_grids_labels_values_at_their_points():
    # periodic cell centres (PDEBench, CF cell-edge bounds) and non-periodic cell centres
    for g in (
        Grid([(np.arange(8) + 0.5) / 8], bounds=[(0, 1)], periodic=True),
        Grid([(np.arange(9) + 0.5) / 9], bounds=[(0, 1)]),
    ):
        x = g.coords[0]
        u = Field(torch.tensor(np.sin(2 * np.pi * x))[None, None], g)
        r = u.restrict(2)
        np.testing.assert_allclose(r.grid.coords[0], x[::2], rtol=0, atol=1e-15)
        np.testing.assert_allclose(r.values[0, 0].numpy(), np.sin(2 * np.pi * r.grid.coords[0]), rtol=0, atol=1e-15)
        assert r.grid == g.coarsen(2) and g.stride_to(r.grid) == (2,)
        # resampling onto the coarsened grid is the same strided subsampling, bit for bit
        assert torch.equal(u.resample(g.coarsen(2)).values, r.values)


@pytest.mark.parametrize("lo, length", [(0.0, 1.0), (-1.0, 3.0)])
def test_spectral_resampling_of_offset_periodic_grids_is_exact(lo, length):
    n, kmax = 16, 5  # band-limited: |k| < min(n, m) / 2 for every target below
    src = Grid([lo + length * (np.arange(n) + 0.5) / n], bounds=[(lo, lo + length)], periodic=True)
    u = Field(torch.tensor(band_limited(src.coords[0], lo, length, kmax))[None, None], src)
    targets = [
        Grid.uniform(24, bounds=[(lo, lo + length)], periodic=True),  # no offset
        src.with_shape([24]),  # cell centres of 24 cells
        src.with_shape([13]),
        Grid([lo + length * (np.arange(20) + 0.3) / 20], bounds=[(lo, lo + length)], periodic=True),
    ]
    np.testing.assert_allclose(targets[1].coords[0], lo + length * (np.arange(24) + 0.5) / 24, atol=1e-14)
    for t in targets:
        exact = band_limited(t.coords[0], lo, length, kmax)
        for method in (None, "spectral"):
            np.testing.assert_allclose(u.resample(t, method=method).values[0, 0].numpy(), exact, rtol=0, atol=1e-12)
    # and back: offset-free 24 points -> cell centres of 16
    back = Field(torch.tensor(band_limited(targets[0].coords[0], lo, length, kmax))[None, None], targets[0])
    np.testing.assert_allclose(back.resample(src).values[0, 0].numpy(), u.values[0, 0].numpy(), rtol=0, atol=1e-12)


def test_float32_coordinates_resample_spectrally():
    x = np.linspace(0, 2 * np.pi, 128, endpoint=False).astype(np.float32)
    g = Grid([x], bounds=[(0, 2 * np.pi)], periodic=True)
    u = Field(torch.tensor(np.sin(3 * x.astype(np.float64)))[None, None], g)
    t = Grid.uniform(192, bounds=[(0, 2 * np.pi)], periodic=True)
    exact = np.sin(3 * t.coords[0])
    for method in (None, "spectral"):  # float32 accuracy of the coordinates, not linear interpolation's 2e-3
        np.testing.assert_allclose(u.resample(t, method=method).values[0, 0].numpy(), exact, rtol=0, atol=2e-6)


def test_at_grid_points_returns_grid_values_exactly():
    g = Grid([np.array([0.0, 0.1, 0.35, 0.7]), np.linspace(0, 1, 5)], periodic=[True, False])
    v = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    f = Field(v, g)
    assert torch.equal(f.at(g.points(dtype=torch.float64)), v.reshape(2, 3, -1))
    assert torch.equal(f.at(PointCloud(g.points(dtype=torch.float64))), v.reshape(2, 3, -1))


def test_at_is_multilinear_and_wraps_periodic_axes():
    g = Grid.uniform((8, 5), bounds=[(0, 2), (0, 1)], periodic=[True, False])
    X, Y = g.meshgrid(dtype=torch.float64)
    f = Field((2 * Y + 1 + 0 * X)[None, None], g)
    pts = np.array([[0.3, 0.33], [1.9, 0.9], [-0.1, 0.5], [4.1, 0.0]])
    np.testing.assert_allclose(f.at(pts)[0, 0].numpy(), 2 * pts[:, 1] + 1, atol=1e-13)
    # periodic wrap: the value at x and x + period agree, and between the last node and the period
    # the interpolation uses the first node
    h = Field(torch.sin(math.pi * X)[None, None], g)
    a = h.at(np.array([[0.3, 0.5]])) - h.at(np.array([[2.3, 0.5]]))
    assert a.abs().max().item() < 1e-14
    last = h.at(np.array([[1.875, 0.5]]))[0, 0, 0].item()  # midway between x=1.75 and x=2 (=0)
    assert last == pytest.approx(0.5 * math.sin(math.pi * 1.75), abs=1e-14)
    with pytest.raises(GridError, match="outside the bounds"):
        f.at(np.array([[0.5, 1.5]]))


def test_resample_onto_point_cloud_equals_at():
    g = Grid.uniform((6, 7))
    f = Field(torch.randn(1, 2, 6, 7, dtype=torch.float64), g)
    pc = PointCloud(np.random.default_rng(1).random((9, 2)))
    r = f.resample(pc)
    assert r.grid is pc and torch.equal(r.values, f.at(pc))


def test_mask_follows_resampling():
    g = Grid.uniform((9, 9))
    mask = np.zeros((9, 9), bool)
    mask[:5, :] = True
    f = Field(np.where(mask, 1.0, np.nan)[None, None], g, mask=mask)
    r = f.restrict(2)
    np.testing.assert_array_equal(r.mask.numpy(), mask[::2, ::2])
    fine = f.resample(g.refine(2))
    assert fine.mask[:9].all() and not fine.mask[10:].any()
    assert torch.isfinite(fine.values).all()


def test_incompatible_targets_raise():
    g = Grid.uniform((8,), periodic=True)
    f = Field(torch.zeros(1, 1, 8), g)
    with pytest.raises(GridError, match="periodic"):
        f.resample(Grid.uniform((8,), periodic=False))
    with pytest.raises(GridError, match="unknown resampling method"):
        f.resample(g, method="nearest")
    ng = Grid.uniform((5,))
    with pytest.raises(GridError, match="spectral resampling needs uniform periodic"):
        Field(torch.zeros(1, 1, 5), ng).resample(ng.refine(2), method="spectral")
