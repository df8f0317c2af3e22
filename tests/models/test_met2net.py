"""Met2Net: gradient isolation of the two losses, the copy/EMA step hook, equivariance over variables."""

from __future__ import annotations

import pytest
import torch

import sciml.models
from sciml.core.errors import GridError, ShapeError
from sciml.fields.grid import Grid
from sciml.models.met2net import Translator
from sciml.training import Trainer
from sciml.training.trainer import evaluate_model


def small(**kw) -> torch.nn.Module:
    cfg = dict(n_variables=3, t_in=2, t_out=2, hidden=4, translator_width=8, n_blocks=1, n_heads=2)
    cfg.update(kw)
    return sciml.models.build("met2net", **cfg)


def batch(c=3, t_in=2, t_out=2, b=2, h=8, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, t_in, h, w, generator=g), torch.randn(b, c, t_out, h, w, generator=g)


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_each_loss_term_reaches_only_its_parts():
    torch.manual_seed(0)
    model = small()
    x, y = batch()
    assert not any(p.requires_grad for p in model.target.parameters())
    rec, lat = model.stage_losses(x, y)  # the two terms the objective sums
    loss, terms = model.objective((x, y))
    torch.testing.assert_close(loss, rec + lat)
    torch.testing.assert_close(terms["rec"], rec.detach())
    hit = _grads(model, rec)
    assert any(n.startswith("encoders.") for n in hit) and any(n.startswith("decoders.") for n in hit)
    assert all(n.startswith(("encoders.", "decoders.")) for n in hit)
    hit = _grads(model, model.stage_losses(x, y)[1])
    assert hit and all(n.startswith("translator.") for n in hit)
    hit = _grads(model, loss)  # the sum: both groups, never the frozen copies
    assert not any(n.startswith("target.") for n in hit)


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n=4):
        self.x, self.y = batch(b=n)

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_after_one_step_frozen_copies_equal_the_copy_and_ema_and_evaluation_changes_nothing(tmp_path):
    torch.manual_seed(0)
    model = small(momentum=0.75)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, _Pairs(4), config={"epochs": 1, "batch_size": 4, "lr": 1e-2}, run_dir=tmp_path)
    trainer.fit()
    sd = model.state_dict()
    for k, v in sd.items():
        if k.startswith(("target.encoders.", "target.decoders.")):
            assert torch.equal(v, sd[k[len("target.") :]]), k
        elif k.startswith("target.translator."):
            q = sd[k[len("target.") :]]
            assert torch.allclose(v, 0.75 * before[k] + 0.25 * q, atol=1e-7), k
            assert not torch.equal(v, q)
    snapshot = {k: v.clone() for k, v in sd.items()}
    evaluate_model(model, _Pairs(4))  # an evaluation pass: no step hook, no change
    trainer.evaluate(_Pairs(2))
    assert all(torch.equal(snapshot[k], v) for k, v in model.state_dict().items())


def test_resume_in_the_middle_restores_both_copies_exactly(tmp_path):
    def trainer(out):
        torch.manual_seed(0)
        return Trainer(small(), _Pairs(8), config={"epochs": 3, "batch_size": 4, "seed": 1}, run_dir=out)

    whole = trainer(tmp_path / "a")
    whole.fit()
    cut = trainer(tmp_path / "b")
    cut.config.epochs = 1  # stops after one epoch (its checkpoint written), as a killed run would
    cut.fit()
    resumed = trainer(tmp_path / "b").resume()
    resumed.fit()
    assert any(k.startswith("target.translator.") for k in whole.model.state_dict())
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


@pytest.mark.parametrize("c", [1, 3, 5])
def test_translator_is_equivariant_over_variables_and_its_size_does_not_depend_on_them(c):
    torch.manual_seed(0)
    tr = Translator(8, 12, width=8, n_blocks=2, n_heads=2, attention=True).eval()
    z = torch.randn(2, c, 8, 4, 8)
    perm = torch.randperm(c)
    assert torch.allclose(tr(z)[:, perm], tr(z[:, perm]), atol=1e-5)
    sizes = {sum(p.numel() for p in small(n_variables=k).translator.parameters()) for k in (1, 3, 5)}
    assert len(sizes) == 1
    model = small(n_variables=c, t_in=3, t_out=2)
    assert model(batch(c, 3, 2)[0]).shape == (2, c, 2, 8, 16)


def test_variables_mix_with_attention_and_never_without():
    torch.manual_seed(0)
    z = torch.randn(1, 3, 8, 4, 8)
    z2 = z.clone()
    z2[:, 2] += 1.0  # change only variable 2
    for attention, mixes in ((True, True), (False, False)):
        tr = Translator(8, 8, width=8, n_blocks=2, n_heads=2, attention=attention).eval()
        diff = (tr(z2) - tr(z))[:, :2].abs().max()
        assert (diff > 1e-4) == mixes, (attention, float(diff))


def test_bad_shapes_are_named():
    model = small()
    with pytest.raises(ShapeError, match="must be even"):
        model(torch.randn(1, 3, 2, 7, 16))
    with pytest.raises(ShapeError, match=r"\(batch, 3 variables, 2 steps, H, W\)"):
        model(torch.randn(1, 4, 2, 8, 16))
    folded = torch.randn(1, 6, 8, 16)
    assert torch.equal(model(folded), model(folded.reshape(1, 3, 2, 8, 16)))


def test_end_to_end_switch_trains_one_loss_without_copies():
    model = small(two_stage=False)
    assert model.target is None
    loss, terms = model.objective(batch())
    assert set(terms) == {"mse"} and torch.allclose(loss, torch.nn.functional.mse_loss(model(batch()[0]), batch()[1]))


@pytest.mark.parametrize("periodic", [True, False])
def test_longitude_wraps_on_a_globe_and_not_on_a_regional_crop(periodic):
    """Every conv of the model pads longitude as asked: the last column reaches the first output column only on a
    globe (checked per layer: the model's GroupNorm couples all positions, so the check cannot be end to end)."""
    torch.manual_seed(0)
    model = small(periodic_lon=periodic).eval()
    convs = [m for m in model.modules() if type(m).__name__ == "_GlobeConv"]
    assert convs and all(c.periodic is periodic for c in convs)
    conv = convs[0]
    x = torch.randn(1, 1, 8, 16)
    x2 = x.clone()
    x2[..., -1] += 10.0
    with torch.no_grad():
        first = (conv(x2) - conv(x))[..., 0].abs().max()
    assert (first > 1e-3) if periodic else (first == 0)
    grid = Grid.uniform((8, 16), periodic=[False, not periodic])
    with pytest.raises(GridError, match=f"built with periodic_lon={periodic}"):
        model(batch()[0], grid)


@pytest.mark.parametrize("lon_step,expected", [(22.5, True), (2.5, False)])
def test_the_forecast_task_sets_periodic_lon_from_the_record(tmp_path, lon_step, expected):
    import numpy as np
    import xarray as xr
    import yaml

    from sciml.runs.config import load_config
    from sciml.runs.tasks import get_task

    time = np.datetime64("2010-01-01T00") + np.arange(12) * np.timedelta64(12, "h")
    values = np.random.default_rng(0).normal(size=(12, 8, 16)).astype("float32")
    ds = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), values)},
        coords={"time": time, "lat": np.linspace(-60, 60, 8), "lon": np.arange(16) * lon_step},
    )
    ds.to_netcdf(tmp_path / "record.nc", engine="h5netcdf")
    config = {
        "task": "forecast",
        "model": {"name": "met2net", "hidden": 4, "translator_width": 8, "n_blocks": 1, "n_heads": 1},
        "data": {"path": str(tmp_path / "record.nc"), "variables": ["t2m"], "t_in": 2, "t_out": 2, "train": [2010]},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    cfg = load_config(tmp_path / "c.yaml")
    task = get_task("forecast")
    model = task.build_model(cfg, task.prepare(cfg))
    assert model.wrapped.periodic_lon is expected  # 16 x 22.5 degrees close the circle, 16 x 2.5 do not
