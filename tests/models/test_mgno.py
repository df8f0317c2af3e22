"""MgNO and its multigrid V-cycle: linearity, boundary conditions, shapes, resolution-free parts, training."""

from __future__ import annotations

import pytest
import torch

import sciml.models
from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid
from sciml.layers.multigrid import VCycle
from sciml.models.mgno import BiasFunction

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny tensors: see tests/conftest.py


def _perturbed(module: torch.nn.Module, scale: float = 0.1) -> torch.nn.Module:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((37, 50), {"padding": "zeros", "post_smooth": 1}),
        ((32, 32), {"padding": "circular", "residual_restriction": False}),
        ((33, 24), {"padding": "reflect", "scale_stencils": True}),
        ((37, 50), {"padding": "zeros", "consistent": True, "reference_resolution": 24}),
        ((13, 20), {"padding": "reflect", "consistent": True, "restriction": "average", "reference_resolution": 16}),
    ],
)
def test_vcycle_is_linear(shape, kw):
    torch.manual_seed(0)
    v = VCycle(3, 5, levels=3, **kw).double()
    a, b = torch.randn(2, 3, *shape, dtype=torch.float64), torch.randn(2, 3, *shape, dtype=torch.float64)
    lhs = v(2.5 * a - 1.5 * b, Grid.uniform(shape))
    rhs = 2.5 * v(a, Grid.uniform(shape)) - 1.5 * v(b, Grid.uniform(shape))
    assert torch.linalg.vector_norm(lhs - rhs) <= 1e-12 * torch.linalg.vector_norm(rhs)


def _shift_model(padding, levels=3):
    torch.manual_seed(0)
    # bias functions depend on position, so the equivariance claim is for constant (or no) bias
    m = sciml.models.build(
        "mgno",
        in_channels=2,
        out_channels=1,
        width=6,
        n_layers=2,
        levels=levels,
        padding=padding,
        bias="constant",
        post_smooth=1,
        consistent=False,  # the native cycle: equivariant for shifts by 2^(levels-1) cells of any grid
    )
    return _perturbed(m.double())


@pytest.mark.parametrize("shape", [(32, 32), (32, 48)])
def test_circular_padding_is_shift_equivariant(shape):
    m = _shift_model("auto")  # auto -> circular on the periodic grid
    grid = Grid.uniform(shape, periodic=True)
    x = torch.randn(2, 2, *shape, dtype=torch.float64)
    y = m(x, grid)
    for s in [(4, 8), (12, -4)]:  # multiples of 2^(levels-1) = 4 cells
        ys = m(torch.roll(x, s, (2, 3)), grid)
        err = torch.linalg.vector_norm(ys - torch.roll(y, s, (2, 3))) / torch.linalg.vector_norm(y)
        assert err < 1e-6, f"shift {s}: relative error {err:.2e}"


def test_zero_padding_is_not_shift_equivariant():
    # contrast: the Dirichlet model sees the boundary, so a periodic shift changes its output
    m = _shift_model("zeros")
    x = torch.randn(2, 2, 32, 32, dtype=torch.float64)
    y = m(x)
    err = torch.linalg.vector_norm(m(torch.roll(x, (8, 8), (2, 3))) - torch.roll(y, (8, 8), (2, 3)))
    assert err / torch.linalg.vector_norm(y) > 1e-2


@pytest.mark.parametrize("shape", [(20, 28), (21, 27)])
@torch.no_grad()
def test_zero_padding_is_homogeneous_dirichlet_on_the_ghost_layer(shape):
    """padding="zeros" == the same cycle on a grid enlarged by p = 2^(levels-1) cells per side, with the field held
    at zero outside the original grid on every level (mask), cropped back. Exact, in float64."""
    torch.manual_seed(0)
    levels = 3
    v = _perturbed(VCycle(2, 3, levels=levels, post_smooth=1, padding="zeros").double())
    f = torch.randn(2, 2, *shape, dtype=torch.float64)
    p = 2 ** (levels - 1)
    big = torch.nn.functional.pad(f, (p, p, p, p))
    mask = torch.zeros(1, 1, *big.shape[2:], dtype=torch.float64)
    mask[..., p : p + shape[0], p : p + shape[1]] = 1
    # on the enlarged grid the outer padding mode is irrelevant because the mask zeroes the outside
    v_big = VCycle(2, 3, levels=levels, post_smooth=1, padding="circular").double()
    v_big.load_state_dict(v.state_dict())
    ref = v_big(big, mask=mask)[..., p : p + shape[0], p : p + shape[1]]
    out = v(f)
    assert torch.allclose(out, ref, rtol=0, atol=1e-12 * float(out.abs().max()))
    # the enlarged grid without the mask (free-space ghosts) is a different operator
    free = v_big(big)[..., p : p + shape[0], p : p + shape[1]]
    assert torch.linalg.vector_norm(free - out) > 1e-3 * torch.linalg.vector_norm(out)


@pytest.mark.parametrize("shape", [(64, 64), (128, 128), (211, 211), (255, 255), (96, 160)])
def test_output_shapes(shape):
    torch.manual_seed(0)
    m = sciml.models.build("mgno", in_channels=2, out_channels=3, width=4, n_layers=1, levels=4)
    with torch.no_grad():
        y = m(torch.randn(1, 2, *shape), Grid.uniform(shape))
    assert y.shape == (1, 3, *shape)
    assert torch.isfinite(y).all()


def test_field_input_and_default_grid_match():
    from sciml.fields.field import Field

    torch.manual_seed(0)
    m = sciml.models.build("mgno", width=4, n_layers=1, levels=2)
    x = torch.randn(2, 1, 16, 16)
    grid = Grid.uniform((16, 16))
    assert torch.equal(m(Field(x, grid)), m(x))


def test_bias_function_is_the_same_function_on_every_grid():
    torch.manual_seed(0)
    b = BiasFunction(3, resolution=7)
    with torch.no_grad():
        b.coef.normal_()
    for periodic in (False, True):
        coarse = Grid.uniform((17, 12) if not periodic else (16, 12), periodic=periodic)
        fine = coarse.refine(2)
        vc = b(coarse, torch.float64, "cpu")
        vf = b(fine, torch.float64, "cpu")
        assert torch.allclose(vf[..., ::2, ::2], vc, atol=1e-12)
        # and it interpolates its nodes: on the reference grid itself the values are the coefficients
    ref = b(Grid.uniform((7, 7)), torch.float64, "cpu")
    assert torch.allclose(ref[0], b.coef.double(), atol=1e-12)


def test_scale_stencils_is_identity_at_reference_and_scales_output():
    torch.manual_seed(0)
    kw = {"levels": 2, "padding": "zeros", "reference_resolution": 17}
    plain, scaled = VCycle(1, 1, **kw).double(), VCycle(1, 1, scale_stencils=True, **kw).double()
    scaled.load_state_dict(plain.state_dict())
    for n, factor in [(17, 1.0), (33, 0.25)]:
        f = torch.randn(1, 1, n, n, dtype=torch.float64)
        g = Grid.uniform((n, n))
        # by linearity, A*s and S/s multiply every iterate u by 1/s = (h / h_ref)^2
        assert torch.allclose(scaled(f, g), factor * plain(f, g), atol=1e-12)


def test_residual_step_and_config_errors():
    m = sciml.models.build("mgno", in_channels=2, out_channels=1, width=4, n_layers=1, levels=2, residual_step=True)
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.zero_()
    x = torch.randn(2, 2, 16, 16)
    assert torch.equal(m(x), x[:, :1])
    with pytest.raises(ConfigError, match="residual_step"):
        sciml.models.build("mgno", in_channels=1, out_channels=2, residual_step=True)
    with pytest.raises(ConfigError, match="padding"):
        sciml.models.build("mgno", padding="mirror")
    with pytest.raises(ConfigError, match="unknown key"):
        sciml.models.build("mgno", widht=8)
    with pytest.raises(ShapeError, match="too small"):
        sciml.models.build("mgno", levels=5, width=2, n_layers=1)(torch.randn(1, 1, 16, 16))


def test_small_darcy_training_reaches_bound():
    """MgNO learns the Darcy map a -> u on a 25x25 node grid from 64 samples in a CPU-sized run (about 15 s)."""
    from sciml.data.darcy import generate

    n_train, n_test, epochs, bs, lr = 64, 32, 15, 8, 5e-3
    data = generate(n_samples=n_train + n_test, resolution=25, seed=0, progress=False)
    a, u = data["input"].values.float(), data["output"].values.float()
    a, u = (a - a.mean()) / a.std(), u / u.std()
    torch.manual_seed(0)
    m = sciml.models.build(
        "mgno", width=10, n_layers=3, levels=3, padding="zeros", bias="function", reference_resolution=25
    )
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * (n_train // bs))
    g = torch.Generator().manual_seed(0)

    def rel_l2(p, t):
        return (torch.linalg.vector_norm(p - t, dim=(1, 2, 3)) / torch.linalg.vector_norm(t, dim=(1, 2, 3))).mean()

    with torch.no_grad():
        err0 = float(rel_l2(m(a[n_train:]), u[n_train:]))
    for _ in range(epochs):
        perm = torch.randperm(n_train, generator=g)
        for i in range(0, n_train, bs):
            idx = perm[i : i + bs]
            loss = rel_l2(m(a[idx]), u[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        err = float(rel_l2(m(a[n_train:]), u[n_train:]))
    # untrained: about 1; measured after training: 0.12 (bound with margin for platform differences)
    assert err0 > 0.5
    assert err < 0.17, f"test relative L2 {err:.3f}"


def test_bias_function_cache_follows_the_grid():
    """Switching grids (and dtypes) between calls gives exactly the values of a freshly built BiasFunction."""
    torch.manual_seed(0)
    b = BiasFunction(2, resolution=5)
    with torch.no_grad():
        b.coef.normal_()
    g1, g2 = Grid.uniform((9, 13)), Grid.uniform((17, 25))
    for grid, dtype in [(g1, torch.float64), (g2, torch.float64), (g1, torch.float32), (g1, torch.float64)]:
        fresh = BiasFunction(2, resolution=5)
        fresh.load_state_dict(b.state_dict())
        out = b(grid, dtype, "cpu")
        assert out.shape == (1, 2, *grid.shape) and out.dtype == dtype
        assert torch.equal(out, fresh(grid, dtype, "cpu"))
    assert "_cache" not in str(list(b.state_dict()))


def test_norm_none_output_is_standard_layout_and_matches_float64():
    """The channels-last internal layout is invisible: standard-contiguous output, same values as in float64."""
    torch.manual_seed(0)
    m = sciml.models.build("mgno", width=8, n_layers=2, levels=3, norm="none", padding="zeros")
    x = torch.randn(2, 1, 24, 20)
    with torch.no_grad():
        y = m(x)
        y64 = m.double()(x.double())
    assert y.is_contiguous() and y.shape == (2, 1, 24, 20)
    assert torch.allclose(y.double(), y64, rtol=1e-4, atol=1e-5 * float(y64.abs().max()))


# ------------------------------------------------------------------ discretization-consistent V-cycle (issue #17)
def _smooth(grid, channels=2):
    import math

    x, y = torch.meshgrid(torch.tensor(grid.coords[0]), torch.tensor(grid.coords[1]), indexing="ij")
    fs = [
        torch.sin(2 * math.pi * x) * torch.cos(4 * math.pi * y) + torch.cos(2 * math.pi * (x + y)),
        torch.cos(2 * math.pi * x) * torch.sin(2 * math.pi * y),
    ]
    return torch.stack(fs[:channels])[None]


def test_consistent_is_the_native_cycle_at_the_reference_grid_with_the_same_parameters():
    """consistent=True adds no parameters (old checkpoints load) and is the identity option at the reference."""
    torch.manual_seed(0)
    kw = {"in_channels": 1, "out_channels": 1, "width": 6, "n_layers": 2, "levels": 3, "norm": "none"}
    old = sciml.models.build("mgno", reference_resolution=24, consistent=False, **kw).double()
    new = sciml.models.build("mgno", reference_resolution=24, **kw).double()  # consistent=True is the default
    assert all(c.consistent for c in new.cycles)
    assert list(old.state_dict()) == list(new.state_dict())
    new.load_state_dict(old.state_dict())
    x = torch.randn(2, 1, 24, 24, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(new(x), old(x))
        # off the reference grid they differ: the native cycle applies its stencils at the new spacing
        x2 = torch.randn(2, 1, 47, 47, dtype=torch.float64)
        assert torch.linalg.vector_norm(new(x2) - old(x2)) > 1e-3 * torch.linalg.vector_norm(old(x2))


@torch.no_grad()
def test_consistent_model_is_exactly_grid_independent_on_nested_periodic_grids():
    """On grids containing the reference nodes (N = k N_ref, periodic) the learned levels see exactly the reference
    samples (injection) and the prolongation interpolates, so the whole network (pointwise maps, bias functions,
    activations; norm="none") gives the same values at the shared points, to round-off. The native cycle does not
    (its stencils change with the spacing)."""
    kw = {"in_channels": 1, "out_channels": 1, "width": 6, "n_layers": 2, "levels": 3, "norm": "none"}
    torch.manual_seed(0)
    m = _perturbed(sciml.models.build("mgno", reference_resolution=16, consistent=True, **kw).double()).eval()
    native = sciml.models.build("mgno", reference_resolution=16, consistent=False, **kw).double().eval()
    native.load_state_dict(m.state_dict())
    g = Grid.uniform((16, 16), periodic=True)
    y = m(_smooth(g, 1), g)
    for k in (2, 3, 4):
        gk = Grid.uniform((16 * k, 16 * k), periodic=True)
        yk = m(_smooth(gk, 1), gk)[..., ::k, ::k]
        assert torch.allclose(yk, y, rtol=0, atol=1e-12 * float(y.abs().max())), k
    g2 = Grid.uniform((32, 32), periodic=True)
    y_nat = native(_smooth(g, 1), g)
    gap = torch.linalg.vector_norm(native(_smooth(g2, 1), g2)[..., ::2, ::2] - y_nat) / torch.linalg.vector_norm(y_nat)
    assert gap > 0.05  # measured 0.2-0.3: the defect of issue #17


@torch.no_grad()
def test_consistent_cycle_converges_at_second_order_on_non_nested_grids():
    """On grids that do not contain the reference nodes (n = 40, 80, 160, 320 nodes, walls), the cycle applied to a
    smooth function converges to the reference-grid result, interpolated, at second order in h: measured errors
    7.2e-3, 1.7e-3, 3.7e-4, 1.1e-4 (ratios 4.2, 4.6, 3.5)."""
    torch.manual_seed(0)
    v = _perturbed(VCycle(2, 3, levels=3, consistent=True, reference_resolution=32, padding="zeros").double())
    ref = Grid.uniform((32, 32))
    u_ref = v(_smooth(ref), ref)
    errs = []
    for n in (40, 80, 160, 320):
        g = Grid.uniform((n, n))
        _, _, _, py, px = v.transfers(g)
        exact = py @ u_ref @ px.T  # the reference result as a piecewise-bilinear function, sampled on g
        errs.append(float(torch.linalg.vector_norm(v(_smooth(g), g) - exact) / torch.linalg.vector_norm(exact)))
    assert errs[0] < 2e-2, errs
    for a, b in zip(errs, errs[1:]):
        assert b < a / 2.5, errs


@torch.no_grad()
def test_consistent_levels_live_on_fixed_physical_spacings():
    """The learned levels run on the reference grid whatever the input grid, so the coarsest level has a fixed
    physical size: every stencil sees the reference level shapes (the native cycle sees N, N/2, ...). An input grid
    must still resolve the coarsest level (the native rule)."""
    torch.manual_seed(0)
    v = VCycle(1, 2, levels=4, reference_resolution=32, consistent=True).double()
    shapes = []
    orig = torch.nn.functional.conv2d

    def spy(x, w, *a, **k):
        shapes.append(tuple(x.shape[2:]))
        return orig(x, w, *a, **k)

    for n in (16, 32, 100):
        shapes.clear()
        torch.nn.functional.conv2d = spy
        try:
            out = v(torch.randn(1, 1, n, n, dtype=torch.float64), Grid.uniform((n, n)))
        finally:
            torch.nn.functional.conv2d = orig
        assert out.shape == (1, 2, n, n)
        # zero padding is built into the convolution: the inputs are the level grids 32, 16, 8, 4 (coarsest)
        assert set(shapes) == {(32, 32), (16, 16), (8, 8), (4, 4)}, (n, set(shapes))
    for consistent in (False, True):
        with pytest.raises(ShapeError, match="too small"):
            VCycle(1, 2, levels=4, reference_resolution=32, consistent=consistent)(torch.randn(1, 1, 8, 8))


def test_average_restriction_is_full_weighting_at_twice_the_reference():
    v = VCycle(1, 1, levels=2, reference_resolution=8, consistent=True, restriction="average")
    _, ry, rx, py, px = v.transfers(Grid.uniform((16, 16), periodic=True))
    row = torch.zeros(16, dtype=torch.float64)
    row[[15, 0, 1]] = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    assert torch.allclose(rx[0], row) and torch.allclose(ry[3], torch.roll(row, 6))
    # prolongation: linear interpolation, exact at the shared nodes
    assert torch.allclose(px[::2], torch.eye(8, dtype=torch.float64))
    assert torch.allclose(px[1, :2], torch.tensor([0.5, 0.5], dtype=torch.float64))
    with pytest.raises(ConfigError, match="restriction"):
        sciml.models.build("mgno", consistent=True, restriction="cubic")


def test_fourier_transfer_is_interpolatory_and_exact_for_band_limited_functions():
    import math

    from sciml.layers.multigrid import fourier_interp_matrix

    for n_src in (16, 15):
        src = torch.arange(n_src, dtype=torch.float64) / n_src
        dst = torch.linspace(0, 1, 37, dtype=torch.float64)[:-1] + 0.013

        def f(t):
            return torch.sin(2 * math.pi * 3 * t) + 0.5 * torch.cos(2 * math.pi * 7 * t)  # below Nyquist

        mat = torch.as_tensor(fourier_interp_matrix(n_src, dst.numpy(), 0.0, 1.0))
        assert torch.allclose(mat @ f(src), f(dst), atol=1e-12)
        assert torch.allclose(
            torch.as_tensor(fourier_interp_matrix(n_src, src.numpy(), 0.0, 1.0)),
            torch.eye(n_src, dtype=torch.float64),
            atol=1e-12,
        )
    v = VCycle(1, 1, levels=2, reference_resolution=16, consistent=True, interpolation="fourier")
    _, ry, rx, py, px = v.transfers(Grid.uniform((32, 20), periodic=(True, False)))
    assert torch.allclose(ry, torch.eye(32, dtype=torch.float64)[::2], atol=1e-12)  # injection on nested nodes
    assert (px >= 0).all() and (py < 0).any()  # linear on the wall axis, trigonometric on the periodic one
    with pytest.raises(ConfigError, match="interpolation"):
        sciml.models.build("mgno", interpolation="cubic")
