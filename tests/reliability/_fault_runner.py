"""Run ``sciml ARGS`` and SIGKILL the process at a chosen point (used by test_faults.py).

Usage: python _fault_runner.py MODE K [ARGS...]

MODE is where the process kills itself, at the K-th occurrence (1-based):

* ``none``: never (a normal run, the reference);
* ``step``: before the K-th optimizer step of training;
* ``checkpoint``: in the middle of the K-th ``torch.save`` of a checkpoint (half of the temporary file written);
* ``rename``: just before the K-th atomic rename (the temporary file complete, the destination still the old one);
* ``h5write``: after the K-th HDF5 dataset of a data file was created (the temporary file partly written).

A SIGKILL cannot be caught or cleaned up after: it is what a power cut or the OOM killer does to a run.
"""

from __future__ import annotations

import os
import signal
import sys


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _counter(k: int):
    count = {"n": 0}

    def hit() -> bool:
        count["n"] += 1
        return count["n"] == k

    return hit


def main() -> int:
    mode, k, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    hit = _counter(k)
    if mode == "step":
        from sciml.training.trainer import Trainer

        step = Trainer._train_step

        def killing_step(self, batch):
            if hit():
                _kill()
            return step(self, batch)

        Trainer._train_step = killing_step
    elif mode == "checkpoint":
        import torch

        save = torch.save

        def killing_save(obj, f, *a, **kw):
            save(obj, f, *a, **kw)
            if hit():
                size = os.path.getsize(f)
                with open(f, "r+b") as fh:
                    fh.truncate(size // 2)
                _kill()

        torch.save = killing_save
    elif mode == "rename":
        import sciml.core.files as files

        replace = files.os.replace

        class _OS:
            def __getattr__(self, name):
                return getattr(os, name)

            @staticmethod
            def replace(src, dst):
                if hit():
                    _kill()
                return replace(src, dst)

        files.os = _OS()
    elif mode == "h5write":
        import h5py

        create = h5py.Group.create_dataset

        def killing_create(self, *a, **kw):
            out = create(self, *a, **kw)
            if hit():
                self.file.flush()
                _kill()
            return out

        h5py.Group.create_dataset = killing_create
    elif mode != "none":
        raise SystemExit(f"unknown mode {mode!r}")
    from sciml.cli import main as sciml_main

    return sciml_main(args)


if __name__ == "__main__":
    sys.exit(main())
