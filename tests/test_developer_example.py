"""The example model of docs/developer.md runs as written: registered, built through the registry, trained with
`sciml train` using its objective and step hook, and rebuilt for `sciml evaluate`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
import yaml

import sciml.models
from sciml.cli import main
from sciml.models.protocol import Objective, StepHook, model_spec

DOC = Path(__file__).resolve().parents[1] / "docs" / "developer.md"


def _example_source() -> str:
    text = DOC.read_text()
    start = text.index("### A complete example model")
    (code,) = re.findall(r"```python\n(.*?)```", text[start:], re.S)[:1]
    return code


def test_the_developer_example_trains_with_sciml_train(tmp_path):
    code = _example_source()
    assert len(code.splitlines()) <= 40
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    model = sciml.models.build("mean_field", in_channels=1, out_channels=1)
    assert isinstance(model, Objective) and isinstance(model, StepHook)
    assert model_spec(model).name == "mean_field"

    data = tmp_path / "darcy.h5"
    args = ["data", "generate", "datasets/darcy.yaml", "-o", str(data), "-q"]
    assert main([*args, "--set", "n_samples=12", "--set", "resolution=16"]) == 0
    cfg = {
        "model": {"name": "mean_field", "in_channels": 1, "out_channels": 1},
        "data": {"train": str(data), "split": [0.75, 0.25]},
        "train": {"epochs": 3, "batch_size": 3, "lr": 0.05, "seed": 0},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]) == 0
    rows = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"train_fit", "train_penalty"} <= set(rows[0])  # the objective's terms, not the default loss
    assert rows[-1]["train_fit"] < rows[0]["train_fit"]
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert int(state["model"]["model.steps"]) == state["global_step"] == 9  # the hook ran once per step
    assert main(["evaluate", str(tmp_path / "run"), "--checkpoint", "last"]) == 0
    again = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert int(again["model"]["model.steps"]) == 9  # evaluation never calls the step hook
