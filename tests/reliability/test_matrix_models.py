"""The bad-input matrix of the models: every ``sciml.models.available()`` entry built small, then fed bad input.

Each model is built with a small valid config (checked to run on a valid input first), then called with inputs of
the wrong rank, channels, dtype, an empty axis, a mismatched grid or not a tensor at all, and built with unknown
keys and out-of-range values. Each must raise a ``SciMLError`` subclass whose message names what was found (the
shape or dtype given, the key or value). Case ids are ``<model>-<input>``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sciml.models
from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid

# model -> (small config, shape of a valid input)
MODELS = {
    "fno": (dict(in_channels=1, out_channels=1, n_modes=[4, 4], hidden_channels=4, n_layers=1), (2, 1, 12, 12)),
    "mgno": (dict(in_channels=1, out_channels=1, width=4, n_layers=1, levels=2), (2, 1, 12, 12)),
    "codano": (dict(variables=["a", "b"], n_modes=[4, 4], width=4, n_layers=1), (2, 2, 12, 12)),
    "vano": (
        dict(ndim=2, latent_dim=4, decoder_width=8, decoder_depth=1, encoder_width=4, encoder_pool=4),
        (2, 1, 12, 12),
    ),
    "deeponet": (dict(layer_sizes_branch=[144, 8], layer_sizes_trunk=[2, 8], activation="tanh"), (2, 1, 12, 12)),
    "sae": (dict(resolution=32, in_channels=1, n_latents=4), (2, 1, 32)),
    "lifted_sae": (dict(resolution=32, in_channels=1, n_latents=4), (2, 1, 32)),
    "sae_cnn": (dict(n_latents=4, kernel_size=5), (2, 1, 32)),
    "sae_no": (dict(n_latents=4, n_modes=5), (2, 1, 32)),
    "lifted_sae_no": (dict(n_latents=4, n_modes=5), (2, 1, 32)),
    "met2net": (
        dict(n_variables=3, t_in=2, t_out=2, hidden=4, translator_width=8, n_blocks=1, n_heads=2),
        (2, 3, 2, 8, 16),
    ),
    "ncds": (dict(dim=2, hidden=8, depth=1, n_nodes=4), (4, 2)),
    "latent_ncds": (dict(data_dim=2, latent_dim=2, flow_layers=1, flow_hidden=8, hidden=8, depth=1, n_nodes=4), (4, 2)),
    "ncds_so3": (dict(with_position=False, hidden=8, depth=1, n_nodes=4), (4, 3)),
    "mlp_field": (dict(dim=2, hidden=8, depth=1), (4, 2)),
    "linear_stable": (dict(dim=2), (4, 2)),
}

# model -> (key, out-of-range value) of a config that must be refused
BAD_VALUES = {
    "fno": ("n_modes", [0, 4]),
    "mgno": ("levels", 0),
    "codano": ("width", 0),
    "vano": ("latent_dim", 0),
    "deeponet": ("branch", [144]),
    "sae": ("n_latents", 0),
    "lifted_sae": ("n_latents", -2),
    "sae_cnn": ("kernel_size", 0),
    "sae_no": ("n_modes", 0),
    "lifted_sae_no": ("n_latents", 0),
    "met2net": ("n_heads", 0),
    "ncds": ("dim", 0),
    "latent_ncds": ("data_dim", 0),
    "ncds_so3": ("n_nodes", 0),
    "mlp_field": ("hidden", 0),
    "linear_stable": ("dim", 0),
}

STATE_MODELS = {"ncds", "latent_ncds", "ncds_so3", "mlp_field", "linear_stable"}  # inputs (batch, dim)


def _bad_input(name: str, kind: str):
    """(the bad input, grid or None, what the message must show) for input ``kind``."""
    shape = MODELS[name][1]
    x = torch.randn(*shape)
    if kind == "rank_minus_one":
        bad = x[0]
    elif kind == "rank_plus_one":
        bad = x.unsqueeze(-1)
    elif kind == "wrong_channels":
        axis = -1 if name in STATE_MODELS else 1
        size = list(shape)
        size[axis] += 1
        bad = torch.randn(*size)
        return bad, None, rf"\b{size[axis]}\b"
    elif kind == "int_dtype":
        return x.long(), None, r"int64|integer|float"
    elif kind == "bool_dtype":
        return x > 0, None, r"bool|float"
    elif kind == "empty_axis":
        size = list(shape)
        size[-1] = 0
        bad = torch.randn(*size)
    elif kind == "empty_state":
        bad = torch.randn(shape[0], 0)
    elif kind == "grid_mismatch":
        grid = Grid.uniform(tuple(s + 2 for s in shape[2:]))
        return x, grid, r"\(" + ", ".join(str(s + 2) for s in shape[2:]) + r",?\)"
    elif kind == "not_a_tensor":
        return x.numpy(), None, r"ndarray"
    else:  # pragma: no cover
        raise AssertionError(kind)
    return bad, None, r"\(" + ", ".join(map(str, bad.shape)) + r",?\)"


INPUT_KINDS = ["rank_minus_one", "rank_plus_one", "wrong_channels", "int_dtype", "bool_dtype", "not_a_tensor"]
GRID_KINDS = ["empty_axis", "grid_mismatch"]  # models on grids (batch, channels, *spatial)
STATE_KINDS = ["empty_state"]

INPUT_CASES = [
    pytest.param(name, kind, id=f"{name}-{kind}")
    for name in sorted(MODELS)
    for kind in INPUT_KINDS + (STATE_KINDS if name in STATE_MODELS else GRID_KINDS)
    if not (name == "met2net" and kind == "grid_mismatch")  # met2net has no grid argument (lat-lon windows)
]


def _build(name: str, **change):
    torch.manual_seed(0)
    return sciml.models.build(name, **{**MODELS[name][0], **change})


def test_every_model_is_in_the_matrix():
    assert set(MODELS) == set(sciml.models.available()) == set(BAD_VALUES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_small_config_runs(name):
    model = _build(name)
    with torch.no_grad():
        out = model(torch.randn(*MODELS[name][1]))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name,kind", INPUT_CASES)
def test_model_input(name, kind):
    model = _build(name)
    bad, grid, found = _bad_input(name, kind)
    args = (bad,) if grid is None else (bad, grid)
    with torch.no_grad(), pytest.raises(ShapeError, match=found):  # shapes, ranks and dtypes of inputs
        model(*args)


@pytest.mark.parametrize("name", sorted(MODELS), ids=lambda n: f"{n}-unknown_config_key")
def test_model_unknown_key(name):
    with pytest.raises(ConfigError, match=r"colour"):
        _build(name, colour="red")


@pytest.mark.parametrize("name", sorted(MODELS), ids=lambda n: f"{n}-out_of_range_config")
def test_model_out_of_range_value(name):
    key, value = BAD_VALUES[name]
    if name == "deeponet":  # its message names "branch" and the sizes, not the key
        key, value = "layer_sizes_branch", value
    with pytest.raises(ConfigError, match=BAD_VALUES[name][0]):
        _build(name, **{key: value})


def test_inputs_of_the_right_shape_still_run():
    np.testing.assert_equal(tuple(_build("fno")(torch.randn(1, 1, 12, 12)).shape), (1, 1, 12, 12))
