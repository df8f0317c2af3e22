"""The bad-input matrix of run configs: ``sciml.runs.load_config`` and ``sciml train`` on broken YAML and values.

Each case edits ``examples/configs/fno_darcy.yaml`` (or replaces the file), asserts a ``ConfigError`` naming the key
and the value from ``load_config``, then runs ``sciml train`` on it and asserts exit status 2, the same message on
stderr, and that no run directory was created. Case ids are ``config-<input>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sciml.cli import main
from sciml.core.errors import ConfigError
from sciml.runs import load_config

BASE = Path(__file__).resolve().parents[2] / "examples" / "configs" / "fno_darcy.yaml"

# input -> (how to change the config, message fragment). A change is a dict of dotted keys -> values (None
# deletes the key), a string (the whole file), or ("--set", [overrides]).
INPUTS = {
    "missing_file": ("<missing>", r"config file '.*cfg\.yaml' does not exist"),
    "empty_file": ("", r"cfg\.yaml: no model section; give model\.name"),
    "malformed_yaml": ("model: {name: fno\n  in_channels: [1,\n", r"cfg\.yaml' is not valid YAML"),
    "tabs_in_yaml": ("model:\n\tname: fno\n", r"cfg\.yaml' is not valid YAML"),
    "not_a_mapping": ("- fno\n- darcy\n", r"cfg\.yaml' must hold a mapping at the top level, got list"),
    "unknown_top_key": ({"trian": {"epochs": 1}}, r"trian"),
    "unknown_train_key": ({"train.epocs": 3}, r"unknown key 'epocs' in train; allowed: amp"),
    "unknown_data_key": ({"data.trian": "x.h5"}, r"unknown key 'trian' in data; allowed: input"),
    "unknown_model_key": ({"model.n_mode": [4, 4]}, r"n_mode"),
    "unknown_model_name": ({"model.name": "fnoo"}, r"fnoo.*(available|known)"),
    "model_name_not_a_string": ({"model.name": 3}, r"model\.name must be a model name \(str\), got"),
    "unknown_task": ({"task": "segmentation"}, r"segmentation"),
    "epochs_zero": ({"train.epochs": 0}, r"train\.epochs must be >= 1, got 0"),
    "epochs_string": ({"train.epochs": "ten"}, r"train\.epochs.*'ten'"),
    "epochs_float": ({"train.epochs": 2.5}, r"train\.epochs.*2\.5"),
    "batch_size_negative": ({"train.batch_size": -4}, r"train\.batch_size must be >= 1, got -4"),
    "lr_negative": ({"train.lr": -0.001}, r"train\.lr must be a finite number > 0, got -0\.001"),
    "lr_nan": ({"train.lr": float("nan")}, r"train\.lr must be a finite number > 0, got nan"),
    "grad_clip_zero": ({"train.grad_clip": 0}, r"train\.grad_clip must be a finite number > 0 or null"),
    "weight_decay_negative": ({"train.weight_decay": -1.0}, r"train\.weight_decay must be a finite number >= 0"),
    "unknown_optimizer": ({"train.optimizer": "sgd"}, r"optimizer.*'sgd'"),
    "unknown_scheduler": ({"train.scheduler": "linear"}, r"scheduler.*'linear'"),
    "scheduler_params_invalid": ({"train.scheduler_params": {"pct_start": 2}}, r"pct_start must be in \(0, 1\)"),
    "unknown_loss": ({"train.loss": "l3"}, r"l3"),
    "unknown_amp": ({"train.amp": "fp8"}, r"amp.*'fp8'"),
    "explode_factor_negative": ({"train.explode_factor": -1.0}, r"train\.explode_factor must be .*> 1.*-1\.0"),
    "explode_factor_one": ({"train.explode_factor": 1.0}, r"train\.explode_factor must be .*> 1.*1\.0"),
    "seed_negative": ({"seed": -1}, r"seed must be >= 0, got -1"),
    "train_seed_negative": ({"train.seed": -3}, r"train\.seed must be >= 0, got -3"),
    "split_not_summing_to_one": ({"data.test": None, "data.split": [0.5, 0.2]}, r"data\.split fractions must sum"),
    "n_train_zero": ({"data.n_train": 0}, r"data\.n_train must be >= 1 or null, got 0"),
    "resolution_string": ({"data.resolution": "high"}, r"data\.resolution.*'high'"),
    "train_not_a_mapping": ({"train": [1, 2]}, r"train.*(mapping|dict).*list"),
    "stage_epochs_mismatch": (
        {"train.stages": [{"name": "a", "epochs": 2}, {"name": "a", "epochs": 1}]},
        r"train\.stages: stage names must be unique .*\['a', 'a'\]",
    ),
    "override_without_value": (("--set", ["train.lr"]), r"override 'train\.lr' must look like"),
    "override_into_a_value": (("--set", ["train.lr.x=1"]), r"override 'train\.lr\.x=1': train\.lr is"),
    "override_unknown_key": (("--set", ["train.learning_rate=0.1"]), r"learning_rate"),
    "override_bad_yaml": (("--set", ["train.lr=[1"]), r"override 'train\.lr=\[1': cannot parse value"),
}


def _write(tmp_path: Path, change) -> tuple[Path, list[str]]:
    path = tmp_path / "cfg.yaml"
    if change == "<missing>":
        return path, []
    if isinstance(change, str):
        path.write_text(change)
        return path, []
    data = yaml.safe_load(BASE.read_text())
    data["data"]["train"] = str(tmp_path / "never_read.h5")
    overrides: list[str] = []
    if isinstance(change, tuple):
        overrides = change[1]
    else:
        for key, value in change.items():
            *head, last = key.split(".")
            node = data
            for k in head:
                node = node.setdefault(k, {})
            if value is None:
                node.pop(last, None)
            else:
                node[last] = value
    path.write_text(yaml.safe_dump(data))
    return path, overrides


@pytest.mark.parametrize("inp", sorted(INPUTS), ids=lambda s: f"config-{s}")
def test_config(inp, tmp_path, capsys):
    change, match = INPUTS[inp]
    path, overrides = _write(tmp_path, change)
    with pytest.raises(ConfigError, match=match):
        load_config(path, overrides)
    run = tmp_path / "run"
    args = ["train", str(path), "--out", str(run)] + [a for o in overrides for a in ("--set", o)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip(), err
    assert not run.exists(), "a refused config created the run directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ([path.name] if path.exists() else [])
