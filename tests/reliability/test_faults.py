"""Faults: processes killed mid-run, read-only locations, full disks, stale temporaries.

* ``sciml train`` SIGKILLed at seeded random points (before an optimizer step, in the middle of a checkpoint write,
  just before the atomic rename) leaves no corrupt checkpoint, and ``--resume`` ends with the weights and metrics of
  an uninterrupted run, bit for bit (metrics.jsonl lines equal except ``time``).
* ``sciml data generate`` SIGKILLed while writing leaves the previous file intact and nothing at the destination
  that reads as complete; the next run removes the stale temporary.
* A read-only output location and a full disk give a ``StorageError`` naming the path, on a real read-only or tiny
  tmpfs when this process may mount one (root), else by making the system calls fail with EROFS / ENOSPC.

The subprocess tests are ``@pytest.mark.slow`` (``pytest -m slow tests/reliability``); the others run in seconds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from sciml.cli import main
from sciml.core.errors import StorageError
from sciml.core.files import atomic_path
from sciml.fields.hdf5 import read_field
from sciml.training.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
RUNNER = str(Path(__file__).with_name("_fault_runner.py"))
EPOCHS, STEPS_PER_EPOCH = 3, 3  # 6 training samples (split 0.75 of 8), batch 2


def _sciml(mode: str, k: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, RUNNER, mode, str(k), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    out = tmp_path_factory.mktemp("darcy")
    args = ["data", "generate", str(ROOT / "datasets" / "darcy.yaml"), "-q", "--set", "resolution=12"]
    assert main([*args, "-o", str(out / "train.h5"), "--set", "n_samples=8"]) == 0
    return out / "train.h5"


def _config(path: Path, train: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "examples" / "configs" / "fno_darcy.yaml").read_text())
    cfg["model"].update(n_modes=[3, 3], hidden_channels=4, n_layers=1)
    cfg["data"] = {"train": str(train), "split": [0.75, 0.25]}
    cfg["train"].update(epochs=EPOCHS, batch_size=2, scheduler="onecycle", device="cpu", progress=False)
    cfg.pop("run_dir", None)
    path.write_text(yaml.safe_dump(cfg))
    return path


def _metrics(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in (run / "metrics.jsonl").open()]


@pytest.fixture(scope="module")
def reference(darcy, tmp_path_factory):
    """An uninterrupted run (in a subprocess, like the killed ones)."""
    root = tmp_path_factory.mktemp("reference")
    cfg = _config(root / "cfg.yaml", darcy)
    proc = _sciml("none", 0, "train", str(cfg), "--out", str(root / "run"), cwd=root)
    assert proc.returncode == 0, proc.stderr
    return cfg, root / "run"


# mode -> how many occurrences a run has (the kill point is drawn among them with a seeded RNG)
KILLS = [("step", 0), ("step", 1), ("step", 2), ("checkpoint", 3), ("checkpoint", 4), ("rename", 5), ("rename", 6)]


@pytest.mark.slow
@pytest.mark.parametrize("mode,seed", KILLS, ids=[f"train-sigkill_{m}_seed{s}" for m, s in KILLS])
def test_a_killed_training_run_resumes_to_the_uninterrupted_result(reference, tmp_path, mode, seed):
    cfg, ref = reference
    n = {"step": EPOCHS * STEPS_PER_EPOCH, "checkpoint": EPOCHS, "rename": EPOCHS}[mode]
    k = random.Random(seed).randint(1, n)
    run = tmp_path / "run"
    killed = _sciml(mode, k, "train", str(cfg), "--out", str(run), cwd=tmp_path)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    last = run / "checkpoints" / "last.pt"
    if last.exists():  # whatever survived the kill is a complete checkpoint, never a torn one
        state = load_checkpoint(last)
        assert 1 <= state["epoch"] <= EPOCHS
    resume = ["--resume"] if last.exists() else []
    done = _sciml("none", 0, "train", str(cfg), "--out", str(run), *resume, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    ours, theirs = load_checkpoint(last), load_checkpoint(ref / "checkpoints" / "last.pt")
    assert ours["epoch"] == theirs["epoch"] == EPOCHS
    for key, value in theirs["model"].items():
        assert torch.equal(ours["model"][key], value), f"weight {key} differs after kill at {mode} #{k} and resume"
    assert _metrics(run) == _metrics(ref)
    assert not [p.name for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")], "stale temporaries"


@pytest.mark.slow
@pytest.mark.parametrize("existing", [True, False], ids=["generate-sigkill_over_old_file", "generate-sigkill_new"])
def test_a_killed_data_generation_leaves_the_old_file_or_nothing(tmp_path, existing):
    out = tmp_path / "data.h5"
    recipe = str(ROOT / "datasets" / "darcy.yaml")
    args = ["data", "generate", recipe, "-q", "-o", str(out), "--set", "resolution=12", "--set", "n_samples=4"]
    if existing:
        assert main([*args, "--set", "seed=7"]) == 0
    before = out.read_bytes() if existing else None
    killed = _sciml("h5write", 2, *args, cwd=tmp_path)  # after the second dataset of the new file
    assert killed.returncode == -9, killed.stderr[-2000:]
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].name.startswith(".data.h5.")  # the partial file has a temporary's name
    if existing:
        assert out.read_bytes() == before
        assert read_field(out, "input").values.shape == (4, 1, 12, 12)
    else:
        assert not out.exists()
    assert main(args) == 0  # the next write removes the stale temporary and writes a complete file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.h5"]
    assert read_field(out, "output").values.shape == (4, 1, 12, 12)


# ---------------------------------------------------------------------------------------------- storage errors
@contextlib.contextmanager
def _location(tmp_path: Path, kind: str, monkeypatch):
    """A directory where writes fail: ``readonly`` (EROFS) or ``full`` (ENOSPC), a real tmpfs when we may mount one."""
    where = tmp_path / kind
    where.mkdir()
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform.startswith("linux"):
        opts = "ro,size=64k" if kind == "readonly" else "size=48k"
        mounted = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True).returncode
            == 0
        )
    try:
        if mounted and kind == "full":
            with contextlib.suppress(OSError):
                (where / "filler").write_bytes(b"\0" * 64 * 1024)  # fill it (a tiny remainder may stay free)
        elif not mounted:
            code = errno.EROFS if kind == "readonly" else errno.ENOSPC
            real_mkstemp = tempfile.mkstemp

            def failing_mkstemp(*a, dir=None, **kw):
                if dir is not None and Path(dir).resolve().is_relative_to(where.resolve()):
                    raise OSError(code, os.strerror(code), str(dir))
                return real_mkstemp(*a, dir=dir, **kw)

            monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)
            if kind == "readonly":
                real_mkdir = Path.mkdir

                def failing_mkdir(self, *a, **kw):
                    if self.resolve().is_relative_to(where.resolve()) and self.resolve() != where.resolve():
                        raise OSError(code, os.strerror(code), str(self))
                    return real_mkdir(self, *a, **kw)

                monkeypatch.setattr(Path, "mkdir", failing_mkdir)
        yield where
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


REASON = {
    "readonly": r"(Read-only file system|Permission denied)",
    "full": r"(No space left on device|torch\.save failed)",
}


@pytest.mark.parametrize("kind", ["readonly", "full"], ids=["generate-readonly_dir", "generate-disk_full"])
def test_data_generation_into_an_unwritable_place_names_the_path(tmp_path, monkeypatch, capsys, kind):
    with _location(tmp_path, kind, monkeypatch) as where:
        out = where / "sub" / "data.h5" if kind == "readonly" else where / "data.h5"
        args = ["data", "generate", str(ROOT / "datasets" / "darcy.yaml"), "-q", "-o", str(out)]
        capsys.readouterr()
        assert main([*args, "--set", "resolution=24", "--set", "n_samples=16"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(out.parent) in err, err
        assert __import__("re").search(REASON[kind], err), err
        assert not out.exists() and not [p for p in where.rglob("*.tmp")]


@pytest.mark.parametrize("kind", ["readonly", "full"], ids=["checkpoint-readonly_dir", "checkpoint-disk_full"])
def test_a_checkpoint_write_that_cannot_happen_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch, kind):
    state = {"model": {"w": torch.arange(20000.0)}, "epoch": 1}
    with _location(tmp_path, kind, monkeypatch) as where:
        target = where / "last.pt"
        if kind == "full" and not (where / "filler").exists():  # monkeypatched: the rename is what fails
            monkeypatch.setattr(os, "replace", _raise(errno.ENOSPC))
        with pytest.raises(StorageError, match=rf"{target.name}'.*{REASON[kind]}"):
            save_checkpoint(target, state)
        assert not target.exists() and not [p for p in where.iterdir() if p.name.endswith(".tmp")]


def _raise(code):
    def fail(*a, **kw):
        raise OSError(code, os.strerror(code))

    return fail


def test_a_training_run_into_a_readonly_place_is_refused_before_training(tmp_path, monkeypatch, capsys, darcy):
    cfg = _config(tmp_path / "cfg.yaml", darcy)
    with _location(tmp_path, "readonly", monkeypatch) as where:
        capsys.readouterr()
        assert main(["train", str(cfg), "--out", str(where / "run")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "cannot create directory" in err and str(where / "run") in err, err
        assert not (where / "run").exists()


def test_metrics_that_cannot_be_appended_name_the_file(tmp_path, monkeypatch):
    from torch.utils.data import TensorDataset

    import sciml.models
    from sciml.training.trainer import Trainer

    model = sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[3, 3], hidden_channels=4, n_layers=1)
    data = TensorDataset(torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8))
    trainer = Trainer(model, data, config={"epochs": 1, "batch_size": 2, "device": "cpu"}, run_dir=tmp_path / "run")
    real_open = open

    def full_open(path, mode="r", *a, **kw):
        if str(path).endswith("metrics.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(StorageError, match=r"metrics\.jsonl'.*No space left on device"):
        trainer.fit()
    assert not (tmp_path / "run" / "checkpoints").exists()  # the epoch's checkpoint is not written either


def test_stale_temporaries_of_a_data_file_are_removed_by_the_next_write(tmp_path):
    out = tmp_path / "data.h5"
    (tmp_path / ".data.h5.killed1.tmp").write_bytes(b"partial")
    (tmp_path / ".data.h5.killed2.tmp").mkdir()  # a zarr store's temporary directory
    (tmp_path / ".other.h5.x.tmp").write_bytes(b"not ours")
    args = ["data", "generate", str(ROOT / "datasets" / "darcy.yaml"), "-q", "-o", str(out)]
    assert main([*args, "--set", "resolution=8", "--set", "n_samples=2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.h5.x.tmp", "data.h5"]


def test_a_failed_atomic_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "f.h5"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "replace", _raise(errno.ENOSPC))
    with pytest.raises(StorageError, match=r"f\.h5'.*No space left on device"):
        with atomic_path(target) as tmp:
            with h5py.File(tmp, "w") as f:
                f["x"] = np.zeros(3)
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["f.h5"]
