"""Latitude-longitude grids: cell-area quadrature on the sphere, detected from names, kept through every path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr

from sciml.core.errors import GridError
from sciml.fields import Field, Grid
from sciml.fields.hdf5 import read_field, write_fields


def _lat(g: Grid) -> torch.Tensor:
    return torch.as_tensor(np.array(g.coords[0]))[:, None].expand(g.shape).double()


@pytest.mark.parametrize("shape", [(32, 64), (33, 48), (8, 16)])
def test_area_weighted_means_on_the_sphere(shape):
    g = Grid.latlon(*shape)
    w = g.weights(dtype=torch.float64, normalized=True)
    assert g.metric == "sphere" and g.volume == pytest.approx(4 * math.pi, rel=1e-12)
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
    mean_sin2 = float((torch.sin(torch.deg2rad(_lat(g))) ** 2 * w).sum())
    assert mean_sin2 == pytest.approx(1 / 3, abs=1e-3 if shape[0] >= 32 else 1e-2)
    assert float((3.7 * torch.ones(shape, dtype=torch.float64) * w).sum()) == pytest.approx(3.7, abs=1e-12)
    rows = g.axis_weights(0)  # pole rows weigh about cos(lat) of the equator rows, not half of them
    assert rows[0] / rows[shape[0] // 2] == pytest.approx(math.cos(math.radians(90 - 90 / shape[0])), rel=0.02)


def test_the_box_rule_is_what_the_sphere_fixes():
    flat = Grid(Grid.latlon(32, 64).coords, periodic=[False, True], names=["lat", "lon"], metric="euclidean")
    w = flat.weights(dtype=torch.float64, normalized=True)
    assert float((torch.sin(torch.deg2rad(_lat(flat))) ** 2 * w).sum()) == pytest.approx(0.484, abs=2e-3)


def test_an_error_only_at_the_poles_counts_little_on_the_sphere():
    g = Grid.latlon(32, 64)
    err = torch.zeros(g.shape, dtype=torch.float64)
    err[[0, -1]] = 1.0
    weighted = math.sqrt(float((err**2 * g.weights(dtype=torch.float64, normalized=True)).sum()))
    plain = math.sqrt(float((err**2).mean()))
    assert weighted < 0.3 * plain  # 0.069 vs 0.25


def test_detection_and_round_trips(tmp_path):
    lat, lon = np.linspace(-84.375, 84.375, 16), np.arange(32) * 11.25
    assert Grid([lat, lon], periodic=[False, True], names=["latitude", "longitude"]).metric == "sphere"
    assert Grid([lat, lon], periodic=[False, True], names=["y", "x"]).metric == "euclidean"
    assert Grid([lat, lon], names=["lat", "lon"], metric="euclidean").latlon_axes is None
    with pytest.raises(GridError, match="latitude axis"):
        Grid([lat, lon], names=["y", "x"], metric="sphere")
    g = Grid.latlon(16, 32)
    assert g.refine(2).metric == "sphere" and Grid.from_dict(g.to_dict()) == g
    f = Field(torch.randn(2, 1, 16, 32), g, variables=["t2m"])
    write_fields(tmp_path / "w.h5", {"f": f})
    assert read_field(tmp_path / "w.h5", "f").grid == g
    ds = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), np.random.default_rng(0).random((2, 16, 32)))},
        coords={"lat": g.coords[0], "lon": g.coords[1]},
    )
    via_xr = Field.from_xarray(ds, batch_dim="time")
    assert via_xr.grid.metric == "sphere" and via_xr.grid.bounds[0] == (-90.0, 90.0)
