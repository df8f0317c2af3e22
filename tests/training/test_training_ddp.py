"""DDP with torchrun: 2 gloo CPU processes with batch 4 each equal 1 process with the union batch of 8."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import _ddp_worker
import pytest
import torch

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


@pytest.mark.ddp
def test_two_process_step_equals_single_process_on_union_batch(tmp_path):
    worker = str(HERE / "_ddp_worker.py")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1"]
    torchrun += ["--master_addr=127.0.0.1", f"--master_port={_free_port()}"]
    _run(torchrun + [worker, str(tmp_path / "ddp.pt"), "4"], tmp_path)
    _ddp_worker.main(str(tmp_path / "single.pt"), 8, single_thread=False)  # same code, one process, batch 8
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    single = torch.load(tmp_path / "single.pt", weights_only=True)
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["steps"] == single["steps"] == 1
    assert ddp["train_loss"] == pytest.approx(single["train_loss"], rel=1e-6)
    for k in single["params"]:
        g1, g2 = single["grads"][k], ddp["grads"][k]
        assert torch.allclose(g2, g1, rtol=1e-5, atol=1e-6), (k, (g2 - g1).abs().max())
        assert torch.allclose(ddp["params"][k], single["params"][k], rtol=0, atol=1e-6), k


@pytest.mark.ddp
def test_a_nan_on_one_rank_stops_every_rank_and_metrics_are_averaged(tmp_path):
    """A non-finite loss on rank 1 alone stops both ranks with TrainingDivergedError (before the fix rank 0 waited
    in an all-reduce for 30 min); model metrics are means over all processes; is_main() stays rank 0 after fit."""
    worker = str(HERE / "_ddp_edge_worker.py")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1"]
    torchrun += ["--master_addr=127.0.0.1", f"--master_port={_free_port()}"]
    _run(torchrun + [worker, str(tmp_path), "nan"], tmp_path)
    errors = {r: (tmp_path / f"error_{r}.txt").read_text() for r in (0, 1)}
    assert "loss is nan" in errors[1] and "epoch 1" in errors[1]
    # rank 0 sees the NaN in its own gradients (averaged over the ranks) or through the consensus on the loss
    assert "not finite on another process" in errors[0] or "gradient norm is not finite" in errors[0], errors[0]
    assert "step 1 of" in errors[0]

    torchrun[-1] = f"--master_port={_free_port()}"
    _run(torchrun + [worker, str(tmp_path), "metrics"], tmp_path)
    assert not (tmp_path / "main_1.json").exists()  # only rank 0 is the main process, also after fit()
    history = json.loads((tmp_path / "main_0.json").read_text())
    assert [h["train_rank"] for h in history] == [0.5, 0.5]  # (0 + 1) / 2, weighted by samples
