"""Field construction, metadata, indexing, selection, device/dtype moves and quadrature norms."""

import math

import numpy as np
import pytest
import torch

from sciml.core.errors import DataFormatError, SciMLError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud


def make(shape=(4, 3, 8, 6), dtype=np.float64, **kw):
    g = Grid.uniform(shape[2:], periodic=[True, False])
    return Field(np.random.default_rng(0).standard_normal(shape).astype(dtype), g, **kw)


def test_numpy_input_keeps_dtype_and_defaults():
    f64 = make()
    assert f64.values.dtype == torch.float64 and isinstance(f64.values, torch.Tensor)
    f32 = make(dtype=np.float32)
    assert f32.values.dtype == torch.float32
    assert f64.variables == ("c0", "c1", "c2")
    assert f64.units == ("", "", "") and f64.standard_names == ("", "", "")
    assert f64.batch_size == 4 and f64.n_channels == 3 and f64.spatial_shape == (8, 6) and f64.ndim == 2
    assert f64.mask is None and f64.time is None and f64.attrs == {}
    ints = Field(np.arange(8).reshape(1, 1, 8), Grid.uniform(8))
    assert ints.values.dtype == torch.float64 and ints.values[0, 0, 7].item() == 7.0


def test_units_broadcast_and_attrs_are_copied():
    attrs = {"nu": 1e-3, "tags": ["a", "b"]}
    f = make(units="m/s", attrs=attrs)
    attrs["nu"] = 5.0
    assert f.units == ("m/s",) * 3
    assert f.attrs == {"nu": 1e-3, "tags": ["a", "b"]}


def test_getitem_int_slice_list_and_bool():
    m = np.random.default_rng(1).random((4, 1, 8, 6)) > 0.5
    f = make(variables=["u", "v", "w"], mask=m, time=[0.0, 0.5, 1.0, 1.5])
    one = f[2]
    assert one.batch_size == 1
    assert torch.equal(one.values, f.values[2:3]) and torch.equal(one.mask, f.mask[2:3])
    assert one.time.tolist() == [1.0]
    sl = f[1:3]
    assert torch.equal(sl.values, f.values[1:3]) and sl.time.tolist() == [0.5, 1.0]
    picked = f[[3, 0]]
    assert torch.equal(picked.values[0], f.values[3]) and picked.time.tolist() == [1.5, 0.0]
    assert torch.equal(f[-1].values, f.values[3:])
    bm = f[np.array([True, False, False, True])]
    assert bm.time.tolist() == [0.0, 1.5]
    assert picked.variables == ("u", "v", "w")
    with pytest.raises(ShapeError, match="out of range"):
        f[4]
    with pytest.raises(ShapeError, match="batch only"):
        f[0, 1]


def test_select_reorders_channels_and_metadata():
    full_mask = np.ones((4, 3, 8, 6), bool)
    full_mask[:, 1] = False
    f = make(variables=["u", "v", "w"], units=["m", "s", "K"], standard_names=["a", "b", "c"], mask=full_mask)
    s = f.select(["w", "v"])
    assert s.variables == ("w", "v") and s.units == ("K", "s") and s.standard_names == ("c", "b")
    assert torch.equal(s.values[:, 0], f.values[:, 2]) and torch.equal(s.values[:, 1], f.values[:, 1])
    assert s.mask[:, 0].all() and not s.mask[:, 1].any()
    assert f.select("u").n_channels == 1
    with pytest.raises(DataFormatError, match=r"\['q'\].*available variables: \['u', 'v', 'w'\]"):
        f.select(["u", "q"])


def test_to_casts_values_only():
    mask = np.ones((8, 6), bool)
    mask[0, 0] = False
    f = make(time=[0.0, 1.0, 2.0, 3.0], mask=mask, variables=["u", "v", "w"], units="m")
    g = f.to(torch.float32)
    assert g.values.dtype == torch.float32 and g.time.dtype == torch.float64 and g.mask.dtype == torch.bool
    assert torch.allclose(g.values.double(), f.values, atol=1e-6)
    # everything but the values is carried over unchanged
    assert g.grid == f.grid and g.variables == ("u", "v", "w") and g.units == ("m", "m", "m")
    assert torch.equal(g.time, f.time) and torch.equal(g.mask, torch.from_numpy(mask))
    # a device alone moves without casting
    h = f.to("cpu")
    assert h.values.dtype == torch.float64 and torch.equal(h.values, f.values) and torch.equal(h.mask, f.mask)


def test_with_values_keeps_metadata_and_replace_validates():
    f = make(variables=["u", "v", "w"], units="m")
    g = f.with_values(torch.zeros(4, 3, 8, 6))
    assert g.variables == f.variables and g.units == f.units and g.grid == f.grid
    with pytest.raises(ShapeError, match="spatial shape"):
        f.with_values(torch.zeros(4, 3, 8, 5))
    with pytest.raises(DataFormatError, match="unknown Field attribute"):
        f.replace(colour="red")


def test_nan_allowed_only_where_masked():
    g = Grid.uniform((5, 5))
    v = np.zeros((2, 1, 5, 5))
    v[:, :, 0, 0] = np.nan
    mask = np.ones((5, 5), bool)
    mask[0, 0] = False
    f = Field(v, g, mask=mask)
    assert torch.isnan(f.values[0, 0, 0, 0])
    # the norm ignores masked points: all other values are zero
    assert torch.equal(f.norm(), torch.zeros(2, 1, dtype=torch.float64))


def test_norm_is_quadrature_exact():
    # periodic: int_0^1 sin^2(2 pi x) dx = 1/2, exact for the rectangle rule
    g = Grid.uniform((16,), periodic=True)
    x = torch.tensor(g.coords[0])
    f = Field(torch.stack([torch.sin(2 * math.pi * x), 3 + 0 * x])[None], g)
    n2 = f.norm()
    assert n2[0, 0].item() == pytest.approx(math.sqrt(0.5), abs=1e-14)
    assert n2[0, 1].item() == pytest.approx(3.0, abs=1e-14)
    assert f.norm(p=math.inf)[0, 1].item() == pytest.approx(3.0)
    # non-periodic 2-D: trapezoid exact for bilinear |u| = x*y >= 0 in L1: int x y = 1/4
    g2 = Grid.uniform((5, 9), bounds=[(0, 1), (0, 1)])
    X, Y = g2.meshgrid(dtype=torch.float64)
    assert Field((X * Y)[None, None], g2).norm(p=1).item() == pytest.approx(0.25, abs=1e-14)


def test_point_cloud_field_and_norm():
    pc = PointCloud(np.linspace(0, 1, 11)[:, None], weights=np.full(11, 0.5))
    f = Field(torch.ones(2, 1, 11, dtype=torch.float64), pc)
    assert f.spatial_shape == (11,)
    assert torch.allclose(f.norm(p=2), torch.full((2, 1), math.sqrt(5.5), dtype=torch.float64))


def test_errors_are_sciml_errors():
    with pytest.raises(SciMLError):
        Field(np.zeros((2, 8)), Grid.uniform(8))
