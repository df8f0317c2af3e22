"""Defects of the run system found by trying it as a new user would (each test failed before its fix)."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch
import yaml

from sciml.cli import main
from sciml.core.files import atomic_path
from sciml.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    out = tmp_path_factory.mktemp("darcy")
    args = ["data", "generate", "datasets/darcy.yaml", "-q", "--set", "resolution=12"]
    assert main([*args, "-o", str(out / "train.h5"), "--set", "n_samples=8"]) == 0
    assert main([*args, "-o", str(out / "test.h5"), "--set", "n_samples=4", "--set", "seed=1"]) == 0
    return out


def _config(tmp_path, train, test=None, name="fno") -> str:
    model = {"name": "fno", "in_channels": 1, "out_channels": 1, "n_modes": [4, 4], "hidden_channels": 8}
    if name == "mgno":
        model = {"name": "mgno", "in_channels": 1, "out_channels": 1, "width": 8, "n_layers": 1, "levels": 2}
    data = {"train": str(train), **({"test": str(test)} if test else {"split": [0.75, 0.25]})}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"model": model, "data": data, "train": {"epochs": 1, "batch_size": 4}}))
    return str(path)


def test_a_bad_test_file_is_refused_before_anything_is_written(darcy, tmp_path, capsys):
    bad = tmp_path / "nan.h5"
    bad.write_bytes((darcy / "test.h5").read_bytes())
    with h5py.File(bad, "r+") as f:
        values = f["output/values"][...]
        values[0, 0, 3, 3] = np.nan
        f["output/values"][...] = values
    cfg = _config(tmp_path, darcy / "train.h5", bad)
    assert main(["train", cfg, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nan.h5" in err and "NaN" in err
    assert not (tmp_path / "run").exists()


def test_evaluate_names_the_family_a_checkpoint_holds(darcy, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", _config(tmp_path, darcy / "train.h5"), "--out", str(run)]) == 0
    other = yaml.safe_load((tmp_path / "fno.yaml").read_text())
    other["model"] = yaml.safe_load(open(_config(tmp_path, darcy / "train.h5", name="mgno")))["model"]
    (run / "config.yaml").write_text(yaml.safe_dump(other))
    capsys.readouterr()
    for cmd in ("evaluate", "plot"):
        assert main([cmd, str(run)]) == 2
        err = capsys.readouterr().err.strip()
        assert "holds model 'fno'" in err and "describes model 'mgno'" in err, err
        assert len(err.splitlines()) == 1 and "Missing key" not in err


def test_stale_checkpoint_temporaries_are_cleaned_by_the_next_write(tmp_path):
    target = tmp_path / "checkpoints" / "last.pt"
    target.parent.mkdir()
    for i in range(3):  # what a SIGKILL between mkstemp and os.replace leaves behind
        (target.parent / f".last.pt.crash{i}.tmp").write_bytes(b"x" * 1000)
    (target.parent / ".best.pt.other.tmp").write_bytes(b"y")  # another file's temporary is not ours to remove
    save_checkpoint(target, {"model": {"w": torch.ones(2)}})
    assert sorted(os.listdir(target.parent)) == [".best.pt.other.tmp", "last.pt"]
    with atomic_path(tmp_path / "f.txt") as tmp:  # atomic_path's own temporaries are what the cleanup matches
        assert tmp.name.startswith(".f.txt.") and tmp.name.endswith(".tmp")
        tmp.write_text("ok")
