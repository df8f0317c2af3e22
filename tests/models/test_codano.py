"""CoDA-NO: shapes, variable handling, encodings, resolution convergence, pretraining masks and finetuning."""

from __future__ import annotations

import pytest
import torch

import sciml.models
from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid
from sciml.layers.positional import VariablePositionalEncoding
from sciml.metrics.losses import relative_l2
from sciml.models.pretraining import MaskConfig, expected_masked_fraction, mask_fields
from sciml.testing.baselines import neuralop_codano
from sciml.testing.resolution import ResolutionCase, discretization_gaps, to_float64

NAMES = ["u_x", "u_y", "T", "p", "rho"]


def small(**kw):
    torch.manual_seed(0)
    cfg = dict(variables=NAMES, n_modes=[4, 4], width=8, n_layers=1, pe_channels=2, lifting_channels=8)
    cfg["projection_channels"] = 8
    cfg.update(kw)
    return sciml.models.build("codano", **cfg)


@pytest.mark.parametrize("n_var", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(12, 12), (10, 16)])
def test_shapes_any_number_of_variables(n_var, shape):
    model = small(cls_token=True, out_per_variable=2)
    x = torch.randn(2, n_var, *shape)
    y = model(x, Grid.uniform(shape, periodic=True), variables=NAMES[:n_var])
    assert y.shape == (2, 2 * n_var, *shape)
    assert torch.isfinite(y).all()


def test_one_and_three_dimensional_inputs_with_padding():
    m1 = small(n_modes=[4], domain_padding=0.25)
    assert m1(torch.randn(2, 2, 17), variables=["u_x", "T"]).shape == (2, 2, 17)
    m3 = small(n_modes=[2, 2, 2], domain_padding=0.25)
    assert m3(torch.randn(1, 3, 5, 6, 7), variables=NAMES[:3]).shape == (1, 3, 5, 6, 7)


def test_permutation_equivariance_over_variables():
    model = to_float64(small(cls_token=True, n_heads=2, head_width=4)).eval()
    grid = Grid.uniform((12, 14), periodic=True)
    x = torch.randn(2, 4, 12, 14, dtype=torch.float64)
    perm = [2, 0, 3, 1]
    y = model(x, grid, NAMES[:4])
    y_perm = model(x[:, perm], grid, [NAMES[i] for i in perm])
    torch.testing.assert_close(y_perm, y[:, perm], rtol=1e-10, atol=1e-10)
    # the names matter: swapping data without swapping names changes the result
    assert (model(x[:, perm], grid, NAMES[:4]) - y[:, perm]).abs().max() > 1e-3


def test_adding_a_variable_adds_only_its_encoding():
    model = small(variables=["u_x", "u_y"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grid = Grid.uniform((12, 12), periodic=True)
    x = torch.randn(1, 2, 12, 12)
    y_before = model(x, grid)
    assert model.add_variables(["T"]) == ["T"]
    after = model.state_dict()
    assert set(after) - set(before) == {"encoding.coefficients.T"}
    assert all(torch.equal(before[k], after[k]) for k in before)
    n_new = after["encoding.coefficients.T"].numel()
    assert model.n_parameters() == sum(v.numel() for v in before.values()) + n_new
    torch.testing.assert_close(model(x, grid), y_before)
    assert model(torch.randn(1, 3, 12, 12), grid, ["u_x", "T", "u_y"]).shape == (1, 3, 12, 12)


def test_unknown_variable_is_a_clear_error_unless_added():
    model = small(variables=["u_x", "u_y"])
    x = torch.randn(1, 2, 8, 8)
    with pytest.raises(ConfigError, match=r"unknown variable.*'T'.*add_variables"):
        model(x, variables=["u_x", "T"])
    y = model(x, variables=["u_x", "T"], add_variables=True)
    assert y.shape == (1, 2, 8, 8) and "T" in model.encoding.variables
    with pytest.raises(ShapeError, match="3 variable names"):
        model(x, variables=["u_x", "u_y", "T"])
    with pytest.raises(ConfigError, match="mode"):
        sciml.models.build("codano", variables=["a"], mode="bogus")


def test_encoding_amplitude_does_not_depend_on_grid_size():
    torch.manual_seed(0)
    pe = VariablePositionalEncoding(["a", "b"], channels=3, n_modes=[5, 5])
    values = {n: pe(["a", "b"], Grid.uniform((n, n), periodic=True)) for n in (16, 32, 64, 128)}
    rms = {n: float(v.detach().pow(2).mean().sqrt()) for n, v in values.items()}
    assert max(rms.values()) / min(rms.values()) < 1.05, rms
    for n in (32, 64, 128):  # same function: identical values at the shared points
        torch.testing.assert_close(values[n][..., :: n // 16, :: n // 16], values[16], rtol=1e-4, atol=1e-5)
    # neuraloperator's encoding is irfftn with the default norm: it shrinks ~4x per doubling of a 2-D grid
    coef = torch.randn(1, 3, 9, 5, dtype=torch.cfloat)
    stock = {n: float(torch.fft.irfftn(coef, s=(n, n)).pow(2).mean().sqrt()) for n in (16, 32)}
    assert stock[16] / stock[32] > 3.5


def _codano_case(factory, forward=None, levels=3):
    return ResolutionCase(
        name="direct", factory=factory, in_channels=2, base_shapes=[(32, 32)], forward=forward, levels=levels
    )


def test_discretization_convergence_side_by_side_with_neuraloperator():
    bound = 0.02

    def ours():
        torch.manual_seed(0)
        return sciml.models.build("codano", variables=["a", "b"], n_modes=[8, 8], width=8, n_layers=2, cls_token=True)

    def stock():
        torch.manual_seed(0)
        return neuralop_codano(["a", "b"], width=8, modes=8, n_layers=2)

    d = discretization_gaps(_codano_case(ours), (32, 32))
    assert d[0] < bound and d[1] <= d[0], f"sciml CoDA-NO: d(32,64)={d[0]:.2e}, d(64,128)={d[1]:.2e}"
    d_stock = discretization_gaps(
        _codano_case(stock, lambda m, x, g: m(x, input_variable_ids=["a", "b"]), levels=2), (32, 32)
    )
    assert d_stock[0] > 2 * bound, f"neuraloperator CODANO unexpectedly passed: d(32,64)={d_stock[0]:.2e}"


def test_odd_grids_keep_the_discretization_gap_small():
    # the stock neuraloperator SpectralConv misplaces every frequency on odd leading axes (tests/models/
    # test_spectral.py); CoDA-NO's K, Q, V and mixers use sciml's corrected layer, so 33 -> 66 -> 132 converges
    def ours():
        torch.manual_seed(0)
        return sciml.models.build("codano", variables=["a", "b"], n_modes=[8, 8], width=8, n_layers=1)

    d = discretization_gaps(_codano_case(ours), (33, 33))
    assert d[0] < 0.02 and d[1] <= d[0], f"d(33,66)={d[0]:.2e}, d(66,132)={d[1]:.2e}"


def _trig_tokens(n: int, degree: int, b: int = 2, t: int = 3, c: int = 8) -> torch.Tensor:
    """Random trigonometric polynomials of the given degree per axis on an n x n periodic grid."""
    g = torch.Generator().manual_seed(0)
    x = torch.arange(n, dtype=torch.float64) / n
    out = torch.zeros(b, t, c, n, n, dtype=torch.float64)
    for kx in range(-degree, degree + 1):
        for ky in range(-degree, degree + 1):
            a, p = torch.randn(b, t, c, 1, 1, generator=g, dtype=torch.float64), float(torch.rand((), generator=g))
            out += a * torch.cos(2 * torch.pi * (kx * x[:, None] + ky * x[None, :] + p))
    return out


def test_key_query_on_a_fixed_coarse_grid():
    from sciml.layers.codomain_attention import CodomainAttention

    torch.manual_seed(0)
    att = to_float64(CodomainAttention(8, (4, 4), n_heads=2, head_width=4, kq_grid=(8, 8)))
    # tokens of degree 3: q, k have degree <= 3, so the mean of q k is exact on 8 points per axis and the coarse
    # scores must equal the full-grid ones, at every input resolution
    full = {}
    for n in (16, 32, 64):
        w = _trig_tokens(n, 3)
        coarse = att.scores(w, torch.full((n, n), 1.0 / n**2, dtype=torch.float64))
        att.kq_grid = None  # the same layer on the input grid
        full[n] = att.scores(w, torch.full((n, n), 1.0 / n**2, dtype=torch.float64))
        att.kq_grid = [8, 8]
        torch.testing.assert_close(coarse, full[n], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(full[16], full[64], rtol=1e-10, atol=1e-12)
    assert (full[16] - 1.0 / 3).abs().max() > 1e-2  # the scores are not trivially uniform

    def model():
        torch.manual_seed(0)
        return sciml.models.build(
            "codano", variables=["a", "b"], n_modes=[8, 8], width=8, n_layers=2, kq_grid=[16, 16]
        )  # fmt: skip

    d = discretization_gaps(_codano_case(model), (32, 32))
    assert d[0] < 0.02 and d[1] <= d[0], f"kq_grid model: d(32,64)={d[0]:.2e}, d(64,128)={d[1]:.2e}"
    with pytest.raises(ConfigError, match="kq_grid"):
        small(kq_grid=[2, 8])  # fewer points than modes on the first axis


def test_gradients_reach_encodings_and_cls():
    model = small(cls_token=True)
    x = torch.randn(2, 3, 12, 12)
    model(x, variables=["u_x", "T", "p"]).pow(2).mean().backward()
    for name in ("u_x", "T", "p"):
        g = model.encoding.coefficients[name].grad
        assert g is not None and g.abs().sum() > 0, name
    assert model.encoding.coefficients["rho"].grad is None  # unused variable: untouched
    assert model.cls.coef.grad is not None and model.cls.coef.grad.abs().sum() > 0


def test_mask_statistics():
    cfg = MaskConfig(variable_fraction=0.5, drop_probability=0.5, point_fraction=0.5, block_fraction=0.25)
    grid = Grid.uniform((32, 32), periodic=True)
    x = torch.randn(200, 4, 32, 32) + 3.0  # no exact zeros in the data
    g = torch.Generator().manual_seed(1)
    masked, mask = mask_fields(x, grid, cfg, generator=g)
    assert torch.equal(masked[mask], torch.zeros(int(mask.sum()))) and torch.equal(masked[~mask], x[~mask])
    frac = mask.float().mean(dim=(2, 3))  # (sample, variable)
    touched = frac > 0
    assert (touched.sum(1) == 2).all()  # exactly half of the 4 variables are chosen in every sample
    dropped = frac == 1.0
    assert abs(dropped.sum() / touched.sum() - cfg.drop_probability) < 0.08
    partial = frac[touched & ~dropped]
    assert partial.min() >= 0.5 and partial.max() <= 0.5 + 0.0625 + 1e-6  # target plus at most one box
    assert abs(mask.float().mean() - expected_masked_fraction(cfg, 4)) < 0.05


def test_pretraining_loss_targets_the_clean_input():
    model = small(mode="pretrain")
    grid = Grid.uniform((16, 16), periodic=True)
    x = torch.randn(3, 2, 16, 16)
    torch.manual_seed(5)
    loss, metrics = model.objective(x, grid, variables=["u_x", "u_y"])
    torch.manual_seed(5)
    masked, mask = mask_fields(x, grid, model.mask_config)
    pred = model(masked, grid, ["u_x", "u_y"])
    assert mask.any() and metrics["masked_fraction"] > 0
    torch.testing.assert_close(loss, relative_l2(pred, x, grid))
    assert abs(float(loss.detach()) - float(relative_l2(pred, masked, grid).detach())) > 1e-3


def _finetune_in_a_stage(tmp_path, finetune_encoder: bool, epochs: int = 3):
    """Pretrain-shaped weights saved as a checkpoint, then a Trainer stage that loads and finetunes them."""
    from torch.utils.data import TensorDataset

    from sciml.models.protocol import Stage
    from sciml.training import Trainer, save_checkpoint

    pre = small(variables=["u_x", "u_y"], mode="pretrain")
    path = tmp_path / "pre.pt"
    save_checkpoint(path, {"model": pre.state_dict()})
    model = small(variables=["u_x", "u_y", "T"], mode="finetune", finetune_encoder=finetune_encoder)
    grid = Grid.uniform((12, 12), periodic=True)
    data = TensorDataset(torch.randn(4, 3, 12, 12), torch.randn(4, 3, 12, 12))
    stage = Stage(name="finetune", epochs=epochs, init_from=str(path))
    cfg = {"batch_size": 4, "lr": 1e-2, "optimizer": "adamw", "weight_decay": 0.1, "stages": [stage]}
    trainer = Trainer(model, data, grid=grid, config=cfg, device="cpu")
    return pre, model, trainer


def test_a_finetuning_stage_keeps_the_frozen_encoder_bit_identical(tmp_path):
    pre, model, trainer = _finetune_in_a_stage(tmp_path, finetune_encoder=False)
    assert len(model.head) == 1 and model.pretrained_variables == []  # nothing loaded in __init__
    fresh_lifting = model.lifting.fc1.weight.detach().clone()
    trainer.fit()
    assert model.pretrained_variables == ["u_x", "u_y"]
    assert not torch.equal(model.lifting.fc1.weight, fresh_lifting)  # loaded by the stage
    now = dict(model.named_parameters())
    for n, p in pre.named_parameters():
        if n.startswith(("lifting.", "blocks.", "encoding.")):
            assert torch.equal(now[n], p), f"frozen encoder parameter {n} changed"
    assert now["encoding.coefficients.T"].requires_grad, "the new variable's encoding must train"
    assert all(not now[n].requires_grad for n in now if n.startswith(("lifting.", "blocks.")))
    assert all(now[n].requires_grad for n in now if n.startswith(("head.", "projection.")))


def test_a_full_finetuning_stage_starts_from_the_pretrained_encoder_and_trains_it(tmp_path):
    pre, model, trainer = _finetune_in_a_stage(tmp_path, finetune_encoder=True, epochs=2)
    trainer.fit()
    assert all(p.requires_grad for _, p in model.encoder_parameters())
    assert not torch.equal(model.lifting.fc1.weight, pre.lifting.fc1.weight)  # loaded, then trained
    # two Adam steps of lr 1e-2 from the pretrained weights (a fresh initialisation differs by far more)
    assert (model.lifting.fc1.weight - pre.lifting.fc1.weight).abs().max() < 0.05


def test_the_removed_pretrained_argument_says_how_to_migrate():
    with pytest.raises(ConfigError, match="train.stages"):
        small(variables=["u_x"], mode="finetune", pretrained="runs/pre")
