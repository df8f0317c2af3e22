"""Run by test_training_ddp.py under torchrun: DDP edge cases of the Trainer.

Usage: python _ddp_edge_worker.py OUT_DIR MODE, MODE in {"nan", "metrics"}.

* nan: the loss is NaN on rank 1 only, at the first step. Every rank must stop with TrainingDivergedError
  (none may wait for the others); each writes ``error_<rank>.txt`` with the message.
* metrics: ``objective`` reports the process's rank as a metric; after ``fit()`` the process that
  ``is_main()`` writes ``main_<rank>.json`` with its history (``train_rank`` must be the mean over processes).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from sciml.core.errors import TrainingDivergedError
from sciml.models.protocol import Objective
from sciml.training import Trainer, is_main


class Linear(nn.Module, Objective):
    def __init__(self, nan_on_rank: int | None) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.nan_on_rank = nan_on_rank
        self.rank = int(os.environ.get("RANK", "0"))

    def forward(self, x, grid=None):
        return x * self.w

    def objective(self, batch, grid=None):
        x, y = batch
        loss = ((self(x) - y) ** 2).mean()
        if self.rank == self.nan_on_rank:
            loss = loss * float("nan")
        return loss, {"rank": float(self.rank)}


def main(out: str, mode: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 3), torch.randn(16, 3))
    model = Linear(1 if mode == "nan" else None)
    # log_every=1: under DDP the ranks agree on finiteness at every step, so rank 0 (whose own loss is still
    # finite at step 1) must stop because rank 1's is not
    cfg = {"epochs": 2, "batch_size": 4, "lr": 1e-2, "seed": 0, "log_every": 1}
    trainer = Trainer(model, data, config=cfg, device="cpu")
    rank = int(os.environ.get("RANK", "0"))
    if mode == "nan":
        try:
            trainer.fit()
        except TrainingDivergedError as e:
            Path(out, f"error_{rank}.txt").write_text(str(e))
        return
    trainer.fit()
    if is_main():  # after fit: the process group is gone, is_main() must still be rank 0 only
        Path(out, f"main_{rank}.json").write_text(json.dumps(trainer.history))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    # the results are written; leave without interpreter teardown: gloo's process group, torn down at exit,
    # occasionally aborts a rank ("terminate called without an active exception") on this torch build
    sys.stdout.flush()
    os._exit(0)
