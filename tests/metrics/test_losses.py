"""Quadrature losses against closed-form integrals, spectral/FD derivative accuracy, resolution invariance."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid
from sciml.metrics.losses import (
    H1Loss,
    LpLoss,
    MSELoss,
    get_loss,
    h1_norm,
    h1_seminorm,
    l2_norm,
    relative_h1,
    relative_l2,
)

D = torch.float64


def _mesh(grid: Grid) -> torch.Tensor:
    return grid.meshgrid(dtype=D)


def test_relative_l2_closed_form_nonperiodic():
    # t = sin(pi x) sin(pi y): int t^2 = 1/4; p - t = x: int x^2 = 1/3 on [0,1]^2
    errs = []
    for n in (33, 65):
        grid = Grid.uniform((n, n))
        X = _mesh(grid)
        t = (torch.sin(math.pi * X[0]) * torch.sin(math.pi * X[1]))[None, None]
        p = t + X[0][None, None]
        exact = math.sqrt(1 / 3) / 0.5
        errs.append(abs(relative_l2(p, t, grid).item() - exact))
    assert errs[1] < 1e-3
    assert errs[0] / errs[1] > 3.5  # trapezoid rule: second order


def test_relative_l2_exact_on_periodic_grid_with_physical_bounds_and_batch():
    grid = Grid.uniform((16, 12), bounds=[(0.0, 2.0), (-1.0, 2.0)], periodic=True)
    X = _mesh(grid)
    t = torch.sin(2 * math.pi * X[0] / 2) * torch.cos(2 * math.pi * X[1] / 3)  # int t^2 = 6/4
    e = torch.cos(2 * math.pi * 2 * X[0] / 2)  # int e^2 = 6/2
    tt = torch.stack([t, 2 * t])[:, None]
    pp = tt + torch.stack([e, e])[:, None]
    r = relative_l2(pp, tt, grid, reduction="none")
    assert torch.allclose(r, torch.tensor([math.sqrt(3 / 1.5), math.sqrt(3 / 6)], dtype=D), rtol=1e-12)
    assert relative_l2(pp, tt, grid).item() == pytest.approx(r.mean().item(), rel=1e-14)
    assert relative_l2(pp, tt, grid, reduction="sum").item() == pytest.approx(r.sum().item(), rel=1e-14)
    # the L2 norm itself is the integral, so it scales with the domain volume
    assert l2_norm(t[None, None], grid).item() == pytest.approx(math.sqrt(1.5), rel=1e-12)
    # no grid: uniform mean over points, the same ratio on a uniform periodic grid
    assert torch.allclose(relative_l2(pp, tt, None, reduction="none"), r, rtol=1e-12)


def test_relative_l2_is_resolution_independent():
    def rel(n: int, periodic: bool) -> float:
        grid = Grid.uniform((n, n + 4), periodic=periodic)
        X = grid.meshgrid(dtype=torch.float32)
        t = torch.exp(torch.sin(2 * math.pi * X[0])) * torch.cos(2 * math.pi * X[1])
        p = t + 0.1 * torch.sin(2 * math.pi * (X[0] + 2 * X[1]))
        return relative_l2(p[None, None], t[None, None], grid).item()

    assert rel(24, True) == pytest.approx(rel(48, True), rel=1e-5)
    assert rel(33, False) == pytest.approx(rel(65, False), rel=1e-3)


def test_mask_gives_zero_weight_outside():
    grid = Grid.uniform((32, 8), periodic=True)
    X = _mesh(grid)
    t = (1.0 + torch.sin(2 * math.pi * X[1]))[None, None]
    inside = X[0] < 0.5
    e = torch.where(inside, 0.0, 5.0)[None, None]
    assert relative_l2(t + e, t, grid, mask=inside).item() == 0.0
    assert relative_l2(t + e, t, grid, mask=~inside).item() == pytest.approx(5 / math.sqrt(1.5), rel=1e-12)
    assert relative_l2(t + e, t, grid).item() > 1.0
    with pytest.raises(ShapeError, match="mask of shape"):
        relative_l2(t, t, grid, mask=torch.ones(3, 5, dtype=torch.bool))


@pytest.mark.parametrize("k", [(1, 2), (3, 1), (4, 5)])
def test_h1_spectral_exact_on_periodic_grid(k):
    lx, ly = 2.0, 0.5
    grid = Grid.uniform((24, 16), bounds=[(0.0, lx), (1.0, 1.0 + ly)], periodic=True)
    X = _mesh(grid)
    u = (torch.sin(2 * math.pi * k[0] * X[0] / lx) * torch.sin(2 * math.pi * k[1] * X[1] / ly))[None, None]
    l2sq = lx * ly / 4
    semi = ((2 * math.pi * k[0] / lx) ** 2 + (2 * math.pi * k[1] / ly) ** 2) * l2sq
    assert h1_seminorm(u, grid).item() ** 2 == pytest.approx(semi, rel=1e-11)
    assert h1_norm(u, grid).item() ** 2 == pytest.approx(l2sq + semi, rel=1e-11)
    assert relative_h1(torch.zeros_like(u), u, grid).item() == pytest.approx(1.0, rel=1e-12)


def test_relative_h1_weights_gradients():
    # same L2 error, higher-frequency error has a larger H1 error: (1 + (2 pi 3)^2) / (1 + (2 pi)^2)
    grid = Grid.uniform((32,), periodic=True)
    x = _mesh(grid)[0]
    t = torch.sin(2 * math.pi * x)[None, None]
    lo = relative_h1(t + torch.cos(2 * math.pi * x), t, grid).item()
    hi = relative_h1(t + torch.cos(2 * math.pi * 3 * x), t, grid).item()
    w = 2 * math.pi
    assert lo == pytest.approx(1.0, rel=1e-12)
    assert hi**2 == pytest.approx((1 + 9 * w**2) / (1 + w**2), rel=1e-12)


def _semi_sq_exact() -> float:
    # u = sin(3x) cos(2y) on [0,1]^2; int_0^1 cos^2(ax) = 1/2 + sin(2a)/(4a), sin^2 = 1/2 - sin(2a)/(4a)
    def c2(a):
        return 0.5 + math.sin(2 * a) / (4 * a)

    def s2(a):
        return 0.5 - math.sin(2 * a) / (4 * a)

    return 9 * c2(3) * c2(2) + 4 * s2(3) * s2(2)


@pytest.mark.parametrize("stretched", [False, True])
def test_h1_second_order_on_nonperiodic_grids(stretched):
    errs = []
    for n in (33, 65, 129):
        if stretched:  # non-uniform nodes clustered towards x = 0
            s = torch.linspace(0, 1, n, dtype=D)
            grid = Grid([(s + s**2) / 2, torch.linspace(0, 1, n, dtype=D)])
        else:
            grid = Grid.uniform((n, n))
        X = _mesh(grid)
        u = (torch.sin(3 * X[0]) * torch.cos(2 * X[1]))[None, None]
        errs.append(abs(h1_seminorm(u, grid).item() ** 2 - _semi_sq_exact()))
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert errs[-1] < 1e-3
    assert min(rates) > 1.7, rates  # second order (rate -> 2); first order would give ~1


def test_h1_periodic_nonuniform_falls_back_to_finite_differences():
    n = 64
    s = torch.arange(n, dtype=D) / n
    x = s + 0.03 * torch.sin(2 * math.pi * s)  # periodic, non-uniform, strictly increasing
    grid = Grid([x], bounds=[(0.0, 1.0)], periodic=True)
    u = torch.sin(2 * math.pi * x)[None, None]
    # trapezoid-like weights on a non-uniform periodic grid + 2nd-order FD: close to 2 pi^2
    assert h1_seminorm(u, grid).item() ** 2 == pytest.approx(2 * math.pi**2, rel=2e-2)


def test_loss_callables_and_registry():
    grid = Grid.uniform((16, 16), periodic=True)
    g = torch.Generator().manual_seed(0)
    p, t = torch.randn(3, 2, 16, 16, generator=g), torch.randn(3, 2, 16, 16, generator=g)
    assert LpLoss()(p, t, grid).item() == pytest.approx(relative_l2(p, t, grid).item(), rel=1e-6)
    assert H1Loss()(p, t, grid).item() == pytest.approx(relative_h1(p, t, grid).item(), rel=1e-6)
    assert MSELoss()(p, t, grid).item() == pytest.approx(((p - t) ** 2).mean().item(), rel=1e-6)
    # absolute L1 with a uniform grid of volume 1 is the mean absolute error summed over channels
    l1 = LpLoss(p=1, relative=False, reduction="none")(p, t, grid)
    assert torch.allclose(l1, (p - t).abs().mean(dim=(2, 3)).sum(1), rtol=1e-5)
    for name, cls in [("l2", LpLoss), ("relative_l2", LpLoss), ("h1", H1Loss), ("relative_h1", H1Loss)]:
        assert isinstance(get_loss(name), cls)
    with pytest.raises(ConfigError, match="unknown loss 'l3'.*available: h1, l2, mse"):
        get_loss("l3")
    with pytest.raises(ConfigError, match="reduction"):
        relative_l2(p, t, grid, reduction="avg")
    with pytest.raises(ShapeError, match="grid has shape"):
        relative_l2(p, t, Grid.uniform((8, 8)))


def test_losses_run_in_fp32_for_bf16_inputs():
    grid = Grid.uniform((16, 16), periodic=True)
    gen = torch.Generator().manual_seed(0)
    t = torch.randn(2, 1, 16, 16, generator=gen)
    p = t + 0.01 * torch.randn(2, 1, 16, 16, generator=gen)
    pb, tb = p.bfloat16(), t.bfloat16()
    r = relative_l2(pb, tb, grid)
    assert r.dtype == torch.float32
    # fp32 arithmetic on the bf16-rounded inputs: the same number up to fp32 summation order
    assert torch.allclose(r, relative_l2(pb.float(), tb.float(), grid), rtol=1e-5, atol=0)
    # and the only loss of accuracy is the rounding of the inputs: bf16 has unit roundoff u = 2^-8, so
    # ||(pb - tb) - (p - t)|| <= u (||p|| + ||t||) = u (2 + r) ||t|| and ||tb|| >= (1 - u) ||t||, hence
    # |r(pb, tb) - r(p, t)| <= u (2 + 2 r) / (1 - u) ~ 2^-7 (measured 3e-4 with r ~ 0.01)
    assert abs(r - relative_l2(p, t, grid)) <= 1.05 * 2**-7
    h = relative_h1(pb, t, grid)
    assert h.dtype == torch.float32
    assert torch.allclose(h, relative_h1(pb.float(), t, grid), rtol=1e-5, atol=0)
    hb = relative_h1(pb, tb, grid)
    assert hb.dtype == torch.float32
    assert torch.allclose(hb, relative_h1(pb.float(), tb.float(), grid), rtol=1e-5, atol=0)
