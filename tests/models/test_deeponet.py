"""DeepONet / MT-DeepONet: DeepXDE equivalence, evaluation modes, masks, bad input, overfitting, transfer stage."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import sciml.data
import sciml.models
from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid, PointCloud
from sciml.metrics.masked import masked_relative_l2
from sciml.models.protocol import Stage
from sciml.training.trainer import Trainer


def _mlp_model(**kw):
    torch.manual_seed(0)
    cfg = dict(layer_sizes_branch=[12, 16, 16], layer_sizes_trunk=[2, 16, 16], activation="tanh")
    cfg.update(kw)
    return sciml.models.build("deeponet", **cfg)


# ----------------------------------------------------------------------------------------- DeepXDE equivalence
def _deepxde():
    import os

    os.environ.setdefault("DDE_BACKEND", "pytorch")
    try:
        import deepxde
    except Exception as e:  # noqa: BLE001 - any import failure means "cannot compare"
        pytest.skip(f"DeepXDE cannot be imported here ({type(e).__name__}: {e}); pip install deepxde to compare")
    if deepxde.backend.backend_name != "pytorch":
        pytest.skip(f"DeepXDE runs the {deepxde.backend.backend_name} backend; set DDE_BACKEND=pytorch")
    return deepxde


def _copy_fnn(dde_fnn, seq):
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(dde_fnn.linears)
    with torch.no_grad():
        for ours, theirs in zip(linears, dde_fnn.linears):
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias)


@pytest.mark.parametrize(
    "num_outputs,strategy,branch_out,trunk_out",
    [(1, None, 16, 16), (2, "independent", 16, 16), (2, "split_both", 16, 16), (2, "split_branch", 32, 16),
     (2, "split_trunk", 16, 32)],
)  # fmt: skip
def test_matches_deepxde_cartesian_prod(num_outputs, strategy, branch_out, trunk_out):
    dde = _deepxde()
    torch.manual_seed(1)
    sb, st = [10, 24, branch_out], [2, 20, trunk_out]
    theirs = dde.nn.DeepONetCartesianProd(
        sb, st, {"branch": "relu", "trunk": "tanh"}, "Glorot normal", num_outputs=num_outputs,
        multi_output_strategy=strategy,
    ).double()  # fmt: skip
    ours = sciml.models.build(
        "deeponet", layer_sizes_branch=sb, layer_sizes_trunk=st, activation={"branch": "relu", "trunk": "tanh"},
        num_outputs=num_outputs, multi_output_strategy=strategy,
    ).double()  # fmt: skip
    branches = theirs.branch if isinstance(theirs.branch, torch.nn.ModuleList) else [theirs.branch]
    trunks = theirs.trunk if isinstance(theirs.trunk, torch.nn.ModuleList) else [theirs.trunk]
    for b_ours, b_theirs in zip(ours.branch, branches):
        _copy_fnn(b_theirs, b_ours.net)
    for t_ours, t_theirs in zip(ours.trunk, trunks):
        _copy_fnn(t_theirs, t_ours.net)
    with torch.no_grad():
        for k, b in enumerate(theirs.b):
            b.fill_(0.1 * (k + 1))
            ours.bias[k] = 0.1 * (k + 1)
    u = torch.randn(5, 10, dtype=torch.float64)
    y = torch.rand(33, 2, dtype=torch.float64)
    with torch.no_grad():
        expected = theirs((u, y))
        got = ours.predict(u, y)
    expected = expected[..., None] if num_outputs == 1 else expected
    assert got.shape == expected.shape == (5, 33, num_outputs)
    assert torch.allclose(got, expected, atol=1e-6, rtol=0), float((got - expected).abs().max())


# ----------------------------------------------------------------------------------------- evaluation modes
def test_modes_agree_and_queries_can_come_from_any_grid():
    model = _mlp_model(layer_sizes_branch=[8, 16, 16], sensor_axes=[1]).eval()
    grid = Grid.uniform((5, 8))
    x = torch.randn(3, 1, 5, 8)
    out = model(x, grid)
    assert out.shape == (3, 1, 5, 8)
    u0 = x[:, 0, 0, :]
    fine = Grid.uniform((9, 15))
    on_fine = model.predict(u0, fine)
    assert on_fine.shape == (3, 1, 9, 15)
    cloud = PointCloud(fine.points().double())
    assert torch.allclose(model.predict(u0, cloud).reshape(3, 1, 9, 15), on_fine, atol=1e-6)
    # cartesian from a tensor, chunked, and aligned (each sample its own points) all give the same numbers
    pts = fine.points()
    cart = model.predict(u0, pts)
    assert torch.allclose(cart, model.predict(u0, pts, query_batch_size=7), atol=1e-6)
    aligned = model.predict(u0, pts.expand(3, -1, -1))
    assert torch.allclose(cart, aligned, atol=1e-6)
    assert torch.allclose(cart.permute(0, 2, 1).reshape(3, 1, 9, 15), on_fine, atol=1e-6)
    # a forward at another resolution is resampled to the sensors: the trunk sees the fine grid
    model2 = _mlp_model(layer_sizes_branch=[8, 16, 16], sensor_axes=[1], sensor_shape=[8]).eval()
    assert model2(torch.randn(2, 1, 9, 15), fine).shape == (2, 1, 9, 15)


def test_coefficients_ride_as_constant_channels():
    model = _mlp_model(layer_sizes_branch=[8 + 4, 16, 16], sensor_axes=[1], coefficient_channels=[1, 2, 3, 4]).eval()
    grid = Grid.uniform((5, 8))
    u0, c = torch.rand(2, 8), torch.randn(2, 4)
    x = torch.cat([u0[:, None, None, :].expand(2, 1, 5, 8), c[:, :, None, None].expand(2, 4, 5, 8)], dim=1)
    via_field = model(x, grid)
    via_pair = model.predict((u0, c), grid)
    via_flat = model.predict(torch.cat([u0, c], 1), grid)  # DeepXDE's layout: sensors then coefficients
    assert torch.allclose(via_field, via_pair, atol=1e-6) and torch.allclose(via_pair, via_flat, atol=1e-6)


# ----------------------------------------------------------------------------------------- masks
def _cnn_model(**kw):
    torch.manual_seed(0)
    cfg = dict(layer_sizes_branch=[2, 32, 32], layer_sizes_trunk=[2, 32, 32], activation="tanh", branch="cnn",
               mask_channel=1, cnn_channels=[8, 8], cnn_pool=2)  # fmt: skip
    cfg.update(kw)
    return sciml.models.build("deeponet", **cfg)


def _disc(n):
    grid = Grid.uniform((n, n))
    xx, yy = grid.meshgrid()
    return grid, ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 <= 0.4**2)


def test_output_is_exactly_zero_outside_the_mask_and_the_mask_matters_inside():
    model = _cnn_model().eval()
    grid, disc = _disc(16)
    logk = torch.randn(2, 1, 16, 16)
    x = torch.cat([logk, disc.float().expand(2, 1, 16, 16)], dim=1)
    out = model(x, grid)
    assert torch.all(out[:, :, ~disc] == 0.0)
    assert out[:, :, disc].abs().min() > 0
    square = torch.ones_like(disc)
    out_sq = model(torch.cat([logk, square.float().expand(2, 1, 16, 16)], dim=1), grid)
    assert (out_sq[:, :, disc] - out[:, :, disc]).abs().max() > 1e-4  # the geometry reaches the branch


def test_targets_outside_the_domain_do_not_change_gradients():
    model = _cnn_model()
    grid, disc = _disc(16)
    x = torch.cat([torch.randn(3, 1, 16, 16), disc.float().expand(3, 1, 16, 16)], dim=1)
    y = torch.randn(3, 1, 16, 16) * disc
    grads = []
    for target in (y, torch.where(disc, y, torch.randn_like(y) * 100)):
        model.zero_grad()
        loss, _ = model.objective((x, target), grid)
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.equal(grads[0], grads[1])
    assert grads[0].abs().max() > 0


# ----------------------------------------------------------------------------------------- bad input
def test_bad_input_gives_sciml_errors_and_warnings():
    model = _mlp_model(layer_sizes_branch=[8 + 4, 16, 16], coefficient_channels=[1, 2, 3, 4], sensor_axes=[1])
    grid = Grid.uniform((5, 8))
    x = torch.rand(2, 5, 5, 8)
    model.train()
    model(x, grid)  # records the training domain [0, 1]^2
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x, grid)  # inside: no warning
    with pytest.warns(UserWarning, match="outside the trained domain"):
        model.predict((x[:, 0, 0], x[:, 1:, 0, 0]), Grid.uniform((5, 8), bounds=[(0, 2), (0, 1)]))
    with pytest.raises(ShapeError, match=r"coefficient vectors must have shape \(batch, 4\)"):
        model.predict((x[:, 0, 0], torch.rand(2, 3)), grid)
    with pytest.raises(ShapeError, match="expects 8 sensor values"):
        model.predict((torch.rand(2, 7), torch.rand(2, 4)), grid)
    with pytest.raises(ShapeError, match=r"mask has shape \(4, 8\); expected \(5, 8\)"):
        model.predict((x[:, 0, 0], x[:, 1:, 0, 0]), grid, mask=torch.ones(4, 8, dtype=torch.bool))
    with pytest.raises(ShapeError, match="mask has shape"):
        masked_relative_l2(torch.rand(2, 1, 5, 8), torch.rand(2, 1, 5, 8), torch.ones(5, 7, dtype=torch.bool))
    with pytest.raises(ConfigError, match="split_branch"):
        _mlp_model(num_outputs=2, multi_output_strategy="split_branch")


# ----------------------------------------------------------------------------------------- learning
class _Pairs(torch.utils.data.Dataset):
    def __init__(self, x, y, grid):
        self.x, self.y, self.grid = x, y, grid

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _two_geometry_data(n=16, per_geometry=4):
    """u = a sin(pi x) sin(pi y) inside a disc or a square (zero outside), input [a constant, mask]."""
    grid, disc = _disc(n)
    xx, yy = grid.meshgrid()
    masks = [disc, torch.ones_like(disc)]
    xs, ys = [], []
    for g, m in enumerate(masks):
        for a in torch.linspace(0.5, 1.5, per_geometry):
            xs.append(torch.stack([torch.full((n, n), float(a)), m.float()]))
            ys.append((a * torch.sin(math.pi * xx) * torch.sin(math.pi * yy) * (1 + g * xx) * m)[None])
    return torch.stack(xs), torch.stack(ys), grid


def test_two_geometry_toy_problem_overfits():
    x, y, grid = _two_geometry_data()
    model = _cnn_model(trunk_features="fourier", trunk_n_features=16)  # measured 4.5e-3 after 1500 steps
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 1500)
    for _ in range(1500):
        opt.zero_grad()
        loss, _ = model.objective((x, y), grid)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        err = masked_relative_l2(model(x, grid), y, model.mask_of(x), grid)
    assert err < 1e-2, float(err)


def test_transfer_stage_trains_only_the_named_parts(tmp_path):
    x, y, grid = _two_geometry_data(per_geometry=2)
    data = _Pairs(x, y, grid)
    common = dict(batch_size=4, lr=1e-3, device="cpu", progress=False)
    Trainer(_cnn_model(), data, config=dict(epochs=1, **common), run_dir=tmp_path / "multi").fit()
    pretrained = torch.load(tmp_path / "multi" / "checkpoints" / "last.pt", weights_only=True)["model"]
    trainable = ["branch.0.conv.0.*", "branch.0.dense.*", "trunk.0.net.4.*"]
    stage = Stage(name="transfer", epochs=2, init_from=str(tmp_path / "multi"), trainable=trainable)
    torch.manual_seed(5)  # a different initialisation: everything frozen must come from the checkpoint
    model = _cnn_model()
    Trainer(model, data, config=dict(epochs=2, stages=[stage], **common), run_dir=tmp_path / "transfer").fit()
    changed, same = [], []
    for name, p in model.named_parameters():
        (changed if not torch.equal(p.detach(), pretrained[name]) else same).append(name)
    expected_changed = {n for n, _ in model.named_parameters() if any(n.startswith(t[:-1]) for t in trainable)}
    assert set(changed) == expected_changed, (changed, expected_changed)
    assert "branch.0.conv.2.weight" in same and "trunk.0.net.0.weight" in same and "bias" in same


def test_scalar_branch_on_a_masked_3d_plate():
    """heat3d's geometry enters as two scalars (number and position of holes); the mask channel zeroes the holes."""
    out = sciml.data.generate("heat3d", n_samples=3, resolution=[10, 10, 4], seed=0, progress=False)
    x, grid = out["input"].values.float(), out["input"].grid
    model = _mlp_model(layer_sizes_branch=[2, 16, 16], layer_sizes_trunk=[3, 16, 16], coefficient_channels=[0, 1],
                       mask_channel=2)  # fmt: skip
    pred = model(x, grid)
    assert pred.shape == (3, 1, 10, 10, 4)
    assert torch.all(pred[~out["output"].mask] == 0)
    assert (pred[out["output"].mask] != 0).float().mean() > 0.99  # (zero biases: the trunk vanishes at the origin)
    loss, _ = model.objective((x, out["output"].values.float()), grid)
    assert torch.isfinite(loss)
