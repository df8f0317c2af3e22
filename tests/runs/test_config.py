"""Typed config validation: unknown keys, wrong types, overrides, YAML round trip."""

from __future__ import annotations

import dataclasses

import pytest

from sciml.core.config import apply_overrides, dump_config, from_dict, to_dict
from sciml.core.errors import ConfigError
from sciml.runs.config import DataConfig, ExperimentConfig, load_config
from sciml.training.config import TrainConfig


def test_unknown_key_names_key_and_allowed_ones():
    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, {"lrr": 0.1}, where="train")
    msg = str(e.value)
    assert "unknown key 'lrr' in train" in msg
    allowed = msg.split("allowed: ")[1].split(", ")
    assert allowed == sorted(f.name for f in dataclasses.fields(TrainConfig))


def test_wrong_types_name_the_path_expected_and_found():
    cases = [
        ({"epochs": "ten"}, "train.epochs must be int, got str 'ten'"),
        ({"epochs": 2.5}, "train.epochs must be int, got float 2.5"),
        ({"epochs": True}, "train.epochs must be int, got bool True"),
        ({"compile": 1}, "train.compile must be bool"),
        ({"optimizer": "sgd"}, "train.optimizer must be one of 'adam', 'adamw', 'riemannian_adam', got str 'sgd'"),
        ({"scheduler_params": [1, 2]}, "train.scheduler_params must be a mapping"),
        ({"grad_clip": "big"}, "train.grad_clip must be float or null"),
    ]
    for data, expected in cases:
        with pytest.raises(ConfigError) as e:
            from_dict(TrainConfig, data, where="train")
        assert expected in str(e.value), (data, str(e.value))
    with pytest.raises(ConfigError, match=r"data.variables must be list of str or null, got int 3"):
        from_dict(DataConfig, {"variables": 3}, where="data")
    with pytest.raises(ConfigError, match=r"data.variables\[1\] must be str, got int 2"):
        from_dict(DataConfig, {"variables": ["u", 2]}, where="data")


def test_ints_accepted_for_floats_and_nested_sections():
    cfg = from_dict(ExperimentConfig, {"train": {"lr": 1, "grad_clip": 2}, "data": {"resolution": [32, 64]}}, "")
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1.0
    assert cfg.train.grad_clip == 2.0 and isinstance(cfg.data, DataConfig)
    assert cfg.data.resolution == [32, 64]
    assert from_dict(TrainConfig, {"lr": "1e-3"}, "train").lr == 1e-3  # PyYAML reads 1e-3 as a string
    with pytest.raises(ConfigError, match="unknown key 'bogus' in data"):
        from_dict(ExperimentConfig, {"data": {"bogus": 1}}, "")
    with pytest.raises(ConfigError, match="unknown key 'trian' in the top level"):
        from_dict(ExperimentConfig, {"trian": {}}, "")


def test_value_checks():
    with pytest.raises(ConfigError, match="train.epochs must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="sum to 1"):
        DataConfig(split=[0.5, 0.2])
    # values that torch or numpy would only refuse later, with their own traceback
    bad = [
        (dict(weight_decay=float("nan")), "train.weight_decay must be a finite number"),
        (dict(lr=float("inf")), "train.lr must be a finite number"),
        (dict(seed=-1), "train.seed must be >= 0"),
        (dict(scheduler="step", scheduler_params={"step_size": 0}), "scheduler_params.step_size must be"),
        (dict(scheduler="cosine", scheduler_params={"T_max": 0}), "scheduler_params.T_max must be"),
        (dict(scheduler="onecycle", scheduler_params={"pct_start": 2}), r"pct_start must be in \(0, 1\)"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ConfigError, match=message):
            TrainConfig(**kwargs)
    TrainConfig(scheduler="onecycle", scheduler_params={"pct_start": 0.3})  # a valid one passes
    for name in ("n_in", "n_out", "step"):
        with pytest.raises(ConfigError, match=f"data.{name} must be >= 1"):
            DataConfig(**{name: 0})
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        from_dict(ExperimentConfig, {"seed": -3}, "")
    with pytest.raises(ConfigError, match="model must be a mapping"):
        from_dict(ExperimentConfig, {"model": "fno"}, "")
    with pytest.raises(ConfigError, match="model.name must be a model name"):
        from_dict(ExperimentConfig, {"model": {"name": ["fno"]}}, "")


def test_round_trip_and_overrides(tmp_path):
    cfg = ExperimentConfig(train=TrainConfig(epochs=3, scheduler="cosine", scheduler_params={"eta_min": 1e-6}))
    path = tmp_path / "exp.yaml"
    dump_config(cfg, path)
    back = load_config(path, validate_model=False)
    assert back == cfg
    over = load_config(
        path,
        ["train.lr=1e-3", "train.epochs=7", "model.width=32", "data.variables=[u, v]", "train.amp=bf16", "run_dir=x"],
        validate_model=False,
    )
    assert over.train.lr == 1e-3 and over.train.epochs == 7 and over.train.amp == "bf16"
    assert over.model == {"width": 32} and over.data.variables == ["u", "v"] and over.run_dir == "x"
    assert to_dict(over)["train"]["epochs"] == 7
    with pytest.raises(ConfigError, match="train.epochs must be int, got str 'many'"):
        load_config(path, ["train.epochs=many"], validate_model=False)
    with pytest.raises(ConfigError, match="unknown key 'lrr' in train"):
        load_config(path, ["train.lrr=1"], validate_model=False)
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["train.lr"])
    with pytest.raises(ConfigError, match="train.epochs is int 3, not a section"):
        apply_overrides({"train": {"epochs": 3}}, ["train.epochs.x=1"])


def test_model_section_validated_against_registry(tmp_path):
    import sciml.models

    @sciml.models.register("_cfg_test_model")
    def _factory(width: int = 8, depth: int = 2):  # pragma: no cover - never called
        raise AssertionError

    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  name: _cfg_test_model\n  width: 16\n")
    assert load_config(path).model == {"name": "_cfg_test_model", "width": 16}
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) 'widht'.*allowed keys: depth, width"):
        load_config(path, ["model.widht=3"])
    path.write_text("model:\n  width: 16\n")
    with pytest.raises(ConfigError, match="model.name must be a model name"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
