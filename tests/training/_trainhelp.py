"""Tiny models and datasets shared by the training tests (kept small: the suite runs on 2 shared cores)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import TensorDataset

from sciml.fields.grid import Grid


class GridDataset(TensorDataset):
    """A TensorDataset of (x, y) pairs that carries the Grid its values live on."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, grid: Grid) -> None:
        super().__init__(x, y)
        self.grid = grid


def smoothing_problem(n_samples: int = 16, n: int = 16, seed: int = 0) -> GridDataset:
    """Inputs: random low-mode Fourier series on a periodic grid; outputs: a fixed linear map of them
    (a shift plus a scaling) that a 3x3 conv net can learn."""
    g = torch.Generator().manual_seed(seed)
    grid = Grid.uniform((n, n), periodic=True)
    X = grid.meshgrid(dtype=torch.float32)
    x = torch.zeros(n_samples, 1, n, n)
    for k1 in range(1, 3):
        for k2 in range(0, 3):
            a = torch.randn(n_samples, 1, 1, 1, generator=g)
            x += a * torch.sin(2 * math.pi * (k1 * X[0] + k2 * X[1]))
    y = 0.5 * torch.roll(x, 1, dims=-1) + 0.25 * x
    return GridDataset(x, y, grid)


class TinyConvNet(nn.Module):
    """Two 3x3 circular conv layers with dropout between them; forward(x, grid)."""

    def __init__(self, width: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, width, 3, padding=1, padding_mode="circular")
        self.drop = nn.Dropout(dropout)
        self.c2 = nn.Conv2d(width, 1, 3, padding=1, padding_mode="circular")

    def forward(self, x: torch.Tensor, grid: Grid | None = None) -> torch.Tensor:
        return self.c2(self.drop(torch.nn.functional.gelu(self.c1(x))))


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
