"""sciml's SpectralConv corrects two defects of neuraloperator 2.0's (wrong inverse shift on odd sizes; complex64
output buffer). Each test shows the stock layer failing the same check, so a fixed upstream is noticed."""

import pytest
import torch
from neuralop.layers.spectral_convolution import SpectralConv as StockSpectralConv

from sciml import Grid
from sciml.layers.spectral import SpectralConv
from sciml.testing.resolution import band_limited, to_float64


@torch.no_grad()
def _gap(conv, shape):
    g1 = Grid.uniform(shape, periodic=True)
    g2 = g1.refine(2)
    y1 = conv(band_limited(g1, modes=3))
    y2 = conv(band_limited(g2, modes=3))
    return float((y2[..., ::2, ::2] - y1).norm() / y1.norm())


@pytest.mark.parametrize("shape", [(33, 33), (33, 32), (32, 32), (21, 40)])
def test_same_function_same_output_on_any_grid(shape):
    torch.manual_seed(0)
    stock = to_float64(StockSpectralConv(2, 3, n_modes=(8, 8)))
    ours = to_float64(SpectralConv(2, 3, n_modes=(8, 8)))
    ours.load_state_dict(stock.state_dict())
    assert _gap(ours, shape) < 1e-12
    if shape[0] % 2 == 1:  # the upstream defect: odd size on a non-last axis
        assert _gap(stock, shape) > 0.1


def test_matches_stock_layer_where_stock_is_right():
    torch.manual_seed(1)
    stock = StockSpectralConv(2, 2, n_modes=(6, 6))
    ours = SpectralConv(2, 2, n_modes=(6, 6))
    ours.load_state_dict(stock.state_dict())
    x = torch.randn(3, 2, 16, 24)
    torch.testing.assert_close(ours(x), stock(x), rtol=1e-5, atol=1e-6)


def test_float64_precision_is_kept():
    torch.manual_seed(2)
    conv = to_float64(SpectralConv(1, 1, n_modes=(8, 8)))
    g1 = Grid.uniform((32, 32), periodic=True)
    assert conv(band_limited(g1)).dtype == torch.float64
    assert _gap(conv, (32, 32)) < 1e-13


def test_one_dimensional_layer_matches_stock_on_odd_and_even_grids():
    # 1-D real data has no shifted axis (the stock layer is right there); the corrected layer must not fail on it
    torch.manual_seed(0)
    ours = SpectralConv(3, 2, n_modes=(6,))
    stock = StockSpectralConv(3, 2, n_modes=(6,))
    stock.load_state_dict(ours.state_dict())
    for n in (17, 32):
        x = torch.randn(2, 3, n)
        torch.testing.assert_close(ours(x), stock(x), rtol=1e-5, atol=1e-6)
