"""Checkpoint files: atomic writes, plain-data content, clear errors for missing/truncated/corrupt files."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from sciml.core.errors import CheckpointError
from sciml.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state


class Custom:  # arbitrary classes need pickle: refused by weights_only=True
    pass


def _state():
    return {"model": {"w": torch.arange(1000.0)}, "epoch": 3, "metrics": [{"loss": 0.5}], "name": "x"}


def test_round_trip_and_weights_only(tmp_path):
    p = save_checkpoint(tmp_path / "ck" / "last.pt", _state())
    s = load_checkpoint(p)
    assert torch.equal(s["model"]["w"], torch.arange(1000.0)) and s["epoch"] == 3 and s["metrics"][0]["loss"] == 0.5
    assert [f for f in os.listdir(tmp_path / "ck")] == ["last.pt"]  # no temp files left behind


def test_missing_truncated_random_and_empty_files(tmp_path):
    with pytest.raises(CheckpointError, match=r"'.*nope\.pt' does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    p = save_checkpoint(tmp_path / "good.pt", _state())
    data = p.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"'.*trunc\.pt' \({len(data) // 2} bytes\) is truncated or corrupt"):
        load_checkpoint(trunc)
    rnd = tmp_path / "random.pt"
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match=r"random\.pt' \(4096 bytes\) is truncated or corrupt: it is not"):
        load_checkpoint(rnd)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt' is empty \(0 bytes\)"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="is not a file"):
        load_checkpoint(tmp_path)


def test_foreign_files_are_rejected(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a sciml checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")

    torch.save({"format": "sciml-checkpoint", "version": "one"}, tmp_path / "version.pt")
    with pytest.raises(CheckpointError, match="non-integer format version 'one'"):
        load_checkpoint(tmp_path / "version.pt")

    torch.save({"format": "sciml-checkpoint", "obj": Custom()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="weights_only=True.*Custom"):
        load_checkpoint(tmp_path / "pickled.pt")


def test_failed_write_keeps_previous_file(tmp_path):
    p = save_checkpoint(tmp_path / "last.pt", _state())
    before = p.read_bytes()
    with pytest.raises(CheckpointError, match="only tensors and plain types"):
        save_checkpoint(p, {"bad": lambda: None})  # not serialisable: the write fails midway
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_rng_state_round_trip_through_a_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's state
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)], np.random.normal())
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)], np.random.normal())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2] and got[3] == expected[3]
