"""Training: one ``Trainer`` for every model, checkpoints, DDP, AMP and typed configs (losses: ``sciml.metrics``).

    from sciml.training import Trainer, TrainConfig
    trainer = Trainer(model, train_data, val_data, config=TrainConfig(epochs=20, lr=1e-3), run_dir="runs/a")
    history = trainer.fit()                  # metrics.jsonl + checkpoints/last.pt, best.pt in run_dir
    trainer.resume("runs/a"); trainer.fit()  # continue exactly where a run stopped

See docs/training.md for configs, AMP, hooks and ``torchrun``.
"""

from sciml.training.amp import fft_fp32, fp32
from sciml.training.checkpoint import load_checkpoint, save_checkpoint
from sciml.training.config import TrainConfig
from sciml.training.distributed import is_main, world_size
from sciml.training.trainer import Trainer

__all__ = [
    "Trainer",
    "TrainConfig",
    "save_checkpoint",
    "load_checkpoint",
    "is_main",
    "world_size",
    "fp32",
    "fft_fp32",
]
