"""Property-based tests (hypothesis) of the data model and the sciml HDF5 reader.

* Grid construction from random coordinates, bounds and periodic flags gives either a valid Grid whose quadrature
  weights sum to its volume (a one-point axis of zero length counts as a point evaluation, weight 1) or a
  ``GridError``; never another exception.
* Field operations: spectral resampling of band-limited periodic data to a finer grid and back is the identity;
  ``restrict`` keeps every ``factor``-th point (shapes and values).
* Readers: a truncated sciml HDF5 file, random bytes, and a file with flipped bytes give ``DataFormatError``
  (truncated, random) or at worst another ``SciMLError`` (flipped bytes can turn a value into NaN or a coordinate
  out of order), never an h5py, numpy or Python error.

Examples are few (``max_examples``) so that the file runs in seconds on one thread; the seeds are fixed by
hypothesis' database-less derandomised mode so that CI runs are reproducible.
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciml.core.errors import DataFormatError, GridError, SciMLError
from sciml.fields.field import Field
from sciml.fields.grid import Grid
from sciml.fields.hdf5 import read_field, write_fields

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
anything = st.one_of(finite, st.just(float("nan")), st.just(float("inf")), st.floats(-1e6, 1e6))


@st.composite
def axes(draw):
    ndim = draw(st.integers(1, 3))
    coords, bounds, periodic = [], [], []
    for _ in range(ndim):
        kind = draw(st.sampled_from(["sorted", "raw", "uniform"]))
        if kind == "uniform":
            n = draw(st.integers(1, 9))
            lo = draw(finite)
            c = list(lo + np.arange(n) * draw(st.floats(1e-3, 10.0)))
        else:
            c = draw(st.lists(anything if kind == "raw" else finite, min_size=0, max_size=8))
            c = sorted(c) if kind == "sorted" and not any(math.isnan(v) for v in c) else c
        coords.append(c)
        b = draw(st.one_of(st.none(), st.tuples(anything, anything)))
        bounds.append(b)
        periodic.append(draw(st.booleans()))
    return coords, bounds, periodic


@SETTINGS
@given(axes())
def test_a_grid_is_valid_with_weights_summing_to_its_volume_or_a_grid_error(spec):
    coords, bounds, periodic = spec
    use_bounds = None if all(b is None for b in bounds) else bounds
    try:
        grid = Grid(coords, bounds=use_bounds, periodic=periodic)
    except GridError as e:
        assert str(e)
        return
    w = grid.weights(dtype=torch.float64)
    assert tuple(w.shape) == grid.shape and bool((w >= 0).all())
    expected = float(np.prod([length if length > 0 else 1.0 for length in grid.lengths]))
    assert float(w.sum()) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    normalized = grid.weights(dtype=torch.float64, normalized=True)
    assert float(normalized.sum()) == pytest.approx(1.0, rel=1e-9)


def _band_limited(grid: Grid, n_modes: int, seed: int) -> torch.Tensor:
    """A real Fourier series with |k| < n_modes per axis, exact at the grid's points (period = the domain)."""
    g = torch.Generator().manual_seed(seed)
    x = grid.meshgrid(dtype=torch.float64)
    out = torch.zeros(grid.shape, dtype=torch.float64)
    for _ in range(3):
        phase = torch.zeros(grid.shape, dtype=torch.float64)
        for axis, (lo, hi) in enumerate(grid.bounds):
            k = int(torch.randint(0, n_modes, (1,), generator=g))
            phase = phase + 2 * math.pi * k * (x[axis] - lo) / (hi - lo)
        out = out + torch.randn(1, generator=g, dtype=torch.float64) * torch.cos(
            phase + float(torch.rand(1, generator=g))
        )
    return out


@SETTINGS
@given(
    shape=st.lists(st.integers(5, 12), min_size=1, max_size=2),
    lo=st.floats(-5, 5),
    length=st.floats(0.1, 10),
    factor=st.integers(2, 3),
    seed=st.integers(0, 1000),
)
def test_spectral_resampling_to_a_finer_grid_and_back_is_the_identity(shape, lo, length, factor, seed):
    grid = Grid.uniform(tuple(shape), bounds=[(lo, lo + length)] * len(shape), periodic=True)
    n_modes = (min(shape) + 1) // 2  # below Nyquist on the coarse grid
    values = _band_limited(grid, n_modes, seed)[None, None]
    field = Field(values, grid)
    fine = grid.with_shape([factor * n for n in shape])
    up = field.resample(fine, method="spectral")
    assert up.values.shape[2:] == fine.shape
    np.testing.assert_allclose(_band_limited(fine, n_modes, seed), up.values[0, 0], atol=1e-9)
    back = up.resample(grid, method="spectral")
    np.testing.assert_allclose(back.values, values, atol=1e-9)


@SETTINGS
@given(
    shape=st.lists(st.integers(2, 13), min_size=1, max_size=3),
    periodic=st.booleans(),
    factor=st.integers(1, 3),
)
def test_restrict_keeps_every_factor_th_point(shape, periodic, factor):
    grid = Grid.uniform(tuple(shape), periodic=periodic)
    values = torch.arange(float(np.prod(shape)), dtype=torch.float64).reshape(1, 1, *shape)
    field = Field(values, grid)
    try:
        coarse = field.restrict(factor)
    except GridError as e:  # a shape the factor does not divide (documented rule of restrict_grid)
        assert str(factor) in str(e)
        return
    sl = tuple(slice(None, None, factor) for _ in shape)
    expected = values[(slice(None), slice(None), *sl)]
    assert coarse.grid.shape == tuple(expected.shape[2:])
    assert torch.equal(coarse.values, expected)
    for a, b in zip(coarse.grid.coords, grid.coords):
        np.testing.assert_array_equal(a, b[::factor][: a.size])


# ---------------------------------------------------------------------------------------------- readers
@functools.cache
def _valid_file() -> bytes:
    """The bytes of a small valid sciml HDF5 file (two groups, 3 samples on a 6 x 5 grid)."""
    grid = Grid.uniform((6, 5))
    a = Field(torch.randn(3, 1, 6, 5, generator=torch.Generator().manual_seed(0)), grid, ["a"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "valid.h5"
        write_fields(path, {"input": a, "output": Field(torch.ones(3, 1, 6, 5), grid, ["u"])})
        return path.read_bytes()


def _read(data: bytes, name: str):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        return read_field(path, "input")


@SETTINGS
@given(cut=st.floats(0.0, 0.999))
def test_a_truncated_sciml_file_is_a_data_format_error(cut):
    data = _valid_file()
    with pytest.raises(DataFormatError, match=r"cut\.h5"):
        _read(data[: int(cut * len(data))], "cut.h5")


@SETTINGS
@given(data=st.binary(min_size=0, max_size=4096))
def test_random_bytes_are_a_data_format_error(data):
    with pytest.raises(DataFormatError, match=r"rand\.h5"):
        _read(data, "rand.h5")


@SETTINGS
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes_give_a_sciml_error_or_a_valid_field(flips):
    data = bytearray(_valid_file())
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    try:
        field = _read(bytes(data), "flip.h5")
    except SciMLError as e:
        assert "flip.h5" in str(e), str(e)
        return
    assert field.values.shape[0] == 3 and bool(torch.isfinite(field.values).all())
