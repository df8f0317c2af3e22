"""train_from_config: config validation, a tiny run that improves the fit, atomic outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from sciml.core.errors import ConfigError
from sciml.data.so3 import so3_trajectories
from sciml.dynamics.train import train_from_config
from sciml.geometry.so3 import SO3

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"


def _tiny(name: str, path: str = "ncds_lasa.yaml") -> dict:
    cfg = yaml.safe_load((CONFIGS / path).read_text())
    cfg["model"]["name"] = name
    cfg["model"]["hidden"] = 16
    cfg["data"]["subsample"] = 50
    cfg["train"].update(epochs=3, batch_size=64)
    cfg["eval"] = {"rollout_points": 20, "rtol": 1e-4}
    if name == "latent_ncds":
        cfg["model"].pop("integrator")
        cfg["model"].update(flow_layers=2, flow_hidden=8)
    return cfg


@pytest.mark.parametrize("name", ["ncds", "latent_ncds"])
def test_train_from_config_lasa(tmp_path, name):
    out = train_from_config(_tiny(name), tmp_path)
    assert out["epochs"] == 3 and out["dim"] == 2 and out["dtw"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["dtw"] == out["dtw"]
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert any(k.startswith("field.") for k in state["model"])
    losses = [json.loads(line)["train_loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_train_from_config_so3(tmp_path):
    cfg = yaml.safe_load((CONFIGS / "ncds_so3.yaml").read_text())
    cfg["model"]["hidden"] = 16
    cfg["data"].update(resolution=30)
    cfg["train"].update(epochs=2, batch_size=64)
    cfg["eval"] = {"rollout_points": 10}
    out = train_from_config(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    R = state["model"]["field.goal_rotation"].double()
    assert (R.T @ R - torch.eye(3, dtype=torch.float64)).abs().max() < 1e-5  # Riemannian steps keep it a rotation
    assert out["dim"] == 6
    # learn_goal: true, so the goal was actually trained (otherwise the orthogonality check above is trivial)
    gen = {k: v for k, v in cfg["data"].items() if k != "source"}
    initial = SO3().projx(torch.as_tensor(so3_trajectories(**gen)["goal_rotation"]).float()).double()
    assert (R - initial).abs().max() > 1e-3  # moves by ~1e-2 in these 2 epochs


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"modle": {}}, "unknown key.*'modle'.*allowed: data, eval, model, run_dir, train"),
        ({"model": {"name": "ncds", "widht": 3}}, "unknown key.*'widht'.*allowed: .*hidden"),
        ({"model": {"name": "ncdx"}}, "unknown model.name 'ncdx'; allowed: ncds, latent_ncds"),
        ({"data": {"source": "lasa", "shape": "Angle"}}, "unknown key.*'shape'.*allowed: shapes, source, subsample"),
        ({"train": {"epochz": 1}}, "epochz"),
    ],
)
def test_config_errors_name_key_and_allowed(tmp_path, patch, match):
    cfg = _tiny("ncds")
    cfg.update(patch)
    with pytest.raises(ConfigError, match=match):
        train_from_config(cfg, tmp_path)
