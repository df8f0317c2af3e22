"""Fully connected networks and the one table of activation names used across sciml.

``mlp([d_in, h, h, d_out], "tanh")`` is ``Linear, act, Linear, act, Linear``: an activation between layers and none
after the last, so the last layer is affine (outputs, coefficients, log-variances). Layer ``i`` of the returned
``nn.Sequential`` sits at index ``2 i``; checkpoints rely on that numbering.

``ACTIVATIONS`` maps config names to module classes; ``activation(name)`` builds one or raises ConfigError naming the
allowed names. ``"sin"`` is the sine activation used by SIREN-style trunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciml.core.errors import ConfigError

__all__ = ["ACTIVATIONS", "activation", "mlp", "Sine"]


class Sine(nn.Module):
    """``sin(x)`` as a module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "sin": Sine,
}


def activation(name: str | type[nn.Module]) -> nn.Module:
    """A new activation module from its name (or class)."""
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name()
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def mlp(sizes: Sequence[int], act: str | type[nn.Module] = "gelu") -> nn.Sequential:
    """``Linear(sizes[0], sizes[1]), act, ..., Linear(sizes[-2], sizes[-1])`` (no activation after the last)."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ConfigError(f"an MLP needs at least two layer sizes, all >= 1; got {sizes}")
    activation(act)  # validate the name once, before building
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)
