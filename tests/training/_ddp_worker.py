"""Run by test_training_ddp.py under torchrun (or directly): one Trainer epoch, then save weights and grads.

Usage: python _ddp_worker.py OUT.pt BATCH_SIZE
"""

from __future__ import annotations

import os
import sys

import torch
from _trainhelp import TinyConvNet, smoothing_problem

from sciml.training import Trainer, is_main, world_size


def main(out: str, batch_size: int, single_thread: bool = True) -> None:
    if single_thread:
        torch.set_num_threads(1)
    torch.manual_seed(0)
    model = TinyConvNet(width=4)
    data = smoothing_problem(8)
    trainer = Trainer(model, data, config={"epochs": 1, "batch_size": batch_size, "lr": 1e-2, "seed": 3}, device="cpu")
    ws = world_size()
    trainer.fit()
    if is_main():
        state = {
            "world_size": ws,
            "steps": trainer.global_step,
            "params": {k: v.detach().clone() for k, v in model.named_parameters()},
            "grads": {k: v.grad.detach().clone() for k, v in model.named_parameters()},
            "train_loss": trainer.history[0]["train_loss"],
        }
        torch.save(state, out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
    # the results are written; leave without interpreter teardown: gloo's process group, torn down at exit,
    # occasionally aborts a rank ("terminate called without an active exception") on this torch build
    sys.stdout.flush()
    os._exit(0)
