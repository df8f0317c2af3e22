"""sciml's FNO wrapper: positions from the Grid, shapes, config and input errors."""

import math

import pytest
import torch

import sciml.models
from sciml import ConfigError, Grid, ShapeError


def _fno(**kw):
    torch.manual_seed(0)
    cfg = dict(in_channels=1, out_channels=2, n_modes=[6, 6], hidden_channels=8, n_layers=2)
    cfg.update(kw)
    return sciml.models.build("fno", **cfg)


def test_shapes_on_square_and_non_square_grids():
    model = _fno()
    for shape in [(16, 16), (17, 30)]:
        assert model(torch.randn(2, 1, *shape), Grid.uniform(shape)).shape == (2, 2, *shape)


def test_positions_come_from_physical_coordinates():
    # Same samples, different domain: with positions the output must change, without it must not.
    x = torch.randn(1, 1, 16, 16)
    g_unit = Grid.uniform((16, 16))
    g_left = Grid.uniform((16, 16), bounds=[(0, 0.5), (0, 1)])  # half the domain: positions differ from g_unit
    g_right = Grid(
        [g_left.coords[0] + 0.5, g_left.coords[1]], bounds=[(0.5, 1.0), (0.0, 1.0)]
    )  # coordinates relative to bounds identical to g_left
    m = _fno(positional_embedding="grid")
    with torch.no_grad():
        torch.testing.assert_close(m(x, g_left), m(x, g_right))
        nonuniform = Grid([torch.linspace(0, 1, 16) ** 2, torch.linspace(0, 1, 16)])
        assert not torch.allclose(m(x, g_unit), m(x, nonuniform))
    m0 = _fno(positional_embedding="none")
    with torch.no_grad():
        torch.testing.assert_close(m0(x, g_unit), m0(x, nonuniform))


def test_periodic_positions_are_continuous_across_the_boundary():
    m = _fno()
    pos = m.positions(Grid.uniform((8, 8), periodic=True), "cpu", torch.float64)
    assert pos.shape == (4, 8, 8)
    # a periodic grid of 8 points on [0, 1) sits at s = i / 8: channels (cos, sin)(2 pi s) per axis
    ang = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    assert torch.allclose(pos[0, :, 0], torch.cos(ang), atol=1e-12)
    assert torch.allclose(pos[1, :, 0], torch.sin(ang), atol=1e-12)
    assert torch.allclose(pos[2, 0, :], torch.cos(ang), atol=1e-12)
    assert torch.allclose(pos[3, 0, :], torch.sin(ang), atol=1e-12)
    # no jump at the seam: the last point is as close to the first as the first is to its neighbour
    seam = torch.linalg.norm(pos[:2, -1, 0] - pos[:2, 0, 0])
    step = torch.linalg.norm(pos[:2, 1, 0] - pos[:2, 0, 0])
    assert torch.allclose(seam, step, atol=1e-12)
    assert torch.allclose(step, torch.tensor(2 * math.sin(math.pi / 8), dtype=torch.float64))


def test_bad_input_and_config_errors():
    model = _fno()
    with pytest.raises(ShapeError, match="4 dimensions"):
        model(torch.randn(1, 16, 16))
    with pytest.raises(ShapeError, match="expected 1 input channels"):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(ShapeError, match="does not match the grid shape"):
        model(torch.randn(1, 1, 16, 16), Grid.uniform((8, 8)))
    with pytest.raises(ConfigError, match="unknown key.*'widht'.*allowed keys"):
        sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[4], widht=3)
    with pytest.raises(ConfigError, match="unknown model 'fnoo'"):
        sciml.models.build("fnoo")


def test_build_records_name_and_config_for_checkpoints():
    model = _fno(hidden_channels=12)
    spec = sciml.models.model_spec(model)
    assert spec.name == "fno" and spec.config["hidden_channels"] == 12
    rebuilt = sciml.models.build(spec.name, **spec.config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))


def test_state_dict_holds_only_tensors_and_loads_weights_only(tmp_path):
    model = _fno()
    sd = model.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    torch.save(sd, tmp_path / "w.pt")
    loaded = torch.load(tmp_path / "w.pt", weights_only=True)
    assert loaded.keys() == sd.keys()


def test_fno_refuses_a_grid_below_its_modes():
    """n_modes above the Nyquist limit of the grid would silently drop modes; it is a GridError naming the axis."""
    from sciml.core.errors import GridError

    model = sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[12, 8], hidden_channels=4)
    assert model(torch.randn(1, 1, 12, 8)).shape == (1, 1, 12, 8)  # exactly at the limit
    with pytest.raises(GridError, match="n_modes=12 Fourier modes on axis 0 but the grid has only 10 points"):
        model(torch.randn(1, 1, 10, 16))
