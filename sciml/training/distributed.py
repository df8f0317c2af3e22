"""Distributed data parallel (DDP) setup for the Trainer, driven by the ``torchrun`` environment.

``torchrun --nproc_per_node=N script.py`` starts N processes and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. ``setup(device_type)`` reads them and initialises the
default process group (NCCL for CUDA, gloo for CPU); without them (or with ``WORLD_SIZE=1``) everything
runs in one process and these helpers answer rank 0 of 1.

Each process sees ``batch_size`` samples per step (the global batch is ``N * batch_size``); DDP averages
gradients over processes, so with a per-sample-mean loss one step equals a single process stepping on the
union of the N batches. Only rank 0 logs, shows progress and writes checkpoints.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from sciml.core.errors import ConfigError

__all__ = ["DistInfo", "env_info", "setup", "cleanup", "is_main", "rank", "world_size", "barrier", "all_reduce_sum"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int


def env_info() -> DistInfo:
    """Rank, world size and local rank from the torchrun environment (0, 1, 0 when absent)."""
    try:
        r = int(os.environ.get("RANK", "0"))
        ws = int(os.environ.get("WORLD_SIZE", "1"))
        lr = int(os.environ.get("LOCAL_RANK", str(r)))
    except ValueError as e:
        raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {e}") from None
    if ws < 1 or not 0 <= r < ws:
        raise ConfigError(f"invalid torchrun environment: RANK={r}, WORLD_SIZE={ws}")
    return DistInfo(r, ws, lr)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def setup(device_type: str = "cpu", timeout_s: float = 1800.0) -> bool:
    """Initialise the process group if torchrun asked for several processes.

    Returns True when this call created the group (the caller then owns ``cleanup``), False when running
    single-process or when a group already existed.
    """
    info = env_info()
    if info.world_size == 1 or is_initialized():
        return False
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    logger.info("initialised %s process group: rank %d of %d", backend, info.rank, info.world_size)
    return True


def cleanup() -> None:
    """Barrier, then destroy the default process group (no-op when none)."""
    if is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    """This process's rank: from the process group, or from torchrun's RANK once the group is gone (0 alone)."""
    return dist.get_rank() if is_initialized() else env_info().rank


def world_size() -> int:
    """Number of processes: from the process group, or torchrun's WORLD_SIZE once the group is gone (1 alone)."""
    return dist.get_world_size() if is_initialized() else env_info().world_size


def is_main() -> bool:
    """True on rank 0 (and in single-process runs): the process that logs and writes files."""
    return rank() == 0


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over processes in place (identity without a process group)."""
    if is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t
