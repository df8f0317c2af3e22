"""The command line and the demo, end to end at small size (what `make demo` runs, reduced)."""

from __future__ import annotations

import json
import struct

import pytest
import yaml

from sciml.cli import main
from sciml.fields.hdf5 import read_field


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from sciml.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out, small=True)
    return out


def test_demo_writes_metrics_and_plots(demo_dir):
    run = demo_dir / "run"
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert sorted(ev, key=int) == ["8", "16", "32"]
    for res, r in ev.items():
        assert r["shape"] == [int(res), int(res)]
        # a trained model beats predicting zero (relative error 1) at every resolution
        assert 0 < r["relative_l2"] < 1.0, (res, r)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    for name in ["loss_curve", "error_vs_resolution", "prediction_16x16", "prediction_32x32"]:
        w, h = _png_size(run / "plots" / f"{name}.png")
        assert w > 100 and h > 100


def test_evaluate_resamples_a_single_test_file(demo_dir, capsys):
    run = demo_dir / "run"
    # the 32x32 test file, subsampled to 16 (exact: 31 cells -> not nested, so resampled) and kept at 32
    rc = main(["evaluate", str(run), "--resolutions", "32", "--data", str(demo_dir / "data" / "darcy_test_32.h5")])
    assert rc == 0
    ev = json.loads((run / "eval.json").read_text())["results"]
    assert list(ev) == ["32"]
    assert "rel L2" in capsys.readouterr().out


def test_data_generate_with_overrides(tmp_path):
    out = tmp_path / "d.h5"
    rc = main(
        [
            "data",
            "generate",
            "datasets/darcy.yaml",
            "-o",
            str(out),
            "--set",
            "n_samples=3",
            "--set",
            "resolution=9",
            "-q",
        ]
    )
    assert rc == 0
    u = read_field(out, "output")
    assert u.values.shape == (3, 1, 9, 9)


def test_unknown_config_key_is_a_clear_error(tmp_path, capsys):
    cfg = {"model": {"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [4, 4]}, "train": {"lrr": 1e-3}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "lrr" in err and "allowed" in err and "batch_size" in err


def test_unknown_model_key_is_a_clear_error(tmp_path, capsys):
    cfg = {"model": {"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [4, 4], "widht": 3}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "widht" in err and "hidden_channels" in err


def test_override_with_unknown_key_and_missing_run_dir(tmp_path, capsys):
    assert main(["data", "generate", "datasets/darcy.yaml", "-o", str(tmp_path / "x.h5"), "--set", "n_sample=3"]) == 2
    assert "n_sample" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "config.yaml is missing" in capsys.readouterr().err
