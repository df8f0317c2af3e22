"""Masked self-supervised pretraining and frozen-encoder finetuning helpers for CoDA-NO.

Masking (Rahman et al. 2024, section 4): for every sample of a batch ``x`` shaped ``(batch, variables, *spatial)``

* choose ``k = max(1, round(variable_fraction * V))`` variables uniformly without replacement;
* each chosen variable is blanked entirely with probability ``drop_probability``; otherwise about
  ``point_fraction`` of its points are masked by random axis-aligned boxes whose side is ``block_fraction`` of the
  domain length on every axis (boxes are placed in physical coordinates, so a mask means the same region on any
  grid; boxes wrap around periodic axes and are clipped on the others; boxes are added until the target fraction
  is reached, so the realised fraction is the target plus at most one box);
* masked values are replaced by ``fill`` (0: the data are normalised).

The pretraining loss compares the model's reconstruction of the masked input with the clean input (the target is
the unmasked field, never the masked one). ``relative_l2`` (``sciml.metrics.losses``) is the loss used throughout:
per-sample ``||pred - target|| / ||target||`` with the grid's quadrature weights, averaged over the batch.

Finetuning freezes the pretrained encoder (positional encodings of pretrained variables, lifting, CLS token and
CoDA blocks) and trains a new head; see ``CoDANO.freeze_encoder`` and ``CoDANO.load_encoder``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.core.errors import ConfigError

__all__ = ["MaskConfig", "mask_fields", "split_batch", "expected_masked_fraction"]


@dataclass
class MaskConfig:
    """Statistics of the pretraining masks (plain data; round-trips through YAML)."""

    variable_fraction: float = 0.5
    drop_probability: float = 0.5
    point_fraction: float = 0.5
    block_fraction: float = 0.25
    fill: float = 0.0

    def __post_init__(self) -> None:
        for name in ("variable_fraction", "drop_probability", "point_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"mask {name} must be in [0, 1], got {v}")
        if not 0.0 < self.block_fraction <= 1.0:
            raise ConfigError(f"mask block_fraction must be in (0, 1], got {self.block_fraction}")


def _box_mask(grid, cfg: MaskConfig, generator, device) -> torch.Tensor:
    """Union of random boxes covering about ``cfg.point_fraction`` of the points, ``grid.shape`` bool."""
    mask = torch.zeros(grid.shape, dtype=torch.bool, device=device)
    if cfg.point_fraction <= 0:
        return mask
    coords = [torch.as_tensor((c - lo) / (hi - lo), device=device) for c, (lo, hi) in zip(grid.coords, grid.bounds)]
    for _ in range(10_000):
        if mask.float().mean() >= cfg.point_fraction:
            break
        box = torch.ones((), dtype=torch.bool, device=device)
        for a, (s, per) in enumerate(zip(coords, grid.periodic)):
            start = float(torch.rand((), generator=generator)) * (1.0 if per else 1.0 - cfg.block_fraction)
            rel = (s - start) % 1.0 if per else s - start
            inside = (rel >= 0) & (rel < cfg.block_fraction)
            box = box.unsqueeze(-1) & inside.view(*([1] * a), -1)
        mask |= box
    return mask


def mask_fields(
    x: torch.Tensor, grid, config: MaskConfig | None = None, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked copy of ``x`` and the boolean mask (True = hidden), both ``x.shape``. ``x`` is not modified."""
    cfg = config or MaskConfig()
    b, v = x.shape[:2]
    k = max(1, round(cfg.variable_fraction * v)) if cfg.variable_fraction > 0 else 0
    mask = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for i in range(b):
        chosen = torch.randperm(v, generator=generator)[:k].tolist()
        for j in chosen:
            if float(torch.rand((), generator=generator)) < cfg.drop_probability:
                mask[i, j] = True
            else:
                mask[i, j] = _box_mask(grid, cfg, generator, x.device)
    return torch.where(mask, torch.full_like(x, cfg.fill), x), mask


def _values(t):
    return t.values if hasattr(t, "values") and not isinstance(t, torch.Tensor) else t


def split_batch(batch) -> tuple[object, object | None]:
    """``(input, target or None)`` from a tensor, a Field, a pair, or a dict with input/output (or x/y) keys."""
    if isinstance(batch, dict):
        for a, b in (("input", "output"), ("x", "y")):
            if a in batch:
                return batch[a], batch.get(b)
        raise ConfigError(f"batch dict needs an 'input' (or 'x') key, got keys {sorted(batch)}")
    if isinstance(batch, (tuple, list)):
        if len(batch) == 0:
            raise ConfigError("empty batch")
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def expected_masked_fraction(cfg: MaskConfig, n_variables: int) -> float:
    """Expected fraction of all values hidden (ignoring the overshoot of the last box)."""
    k = max(1, round(cfg.variable_fraction * n_variables)) if cfg.variable_fraction > 0 else 0
    per_chosen = cfg.drop_probability + (1 - cfg.drop_probability) * cfg.point_fraction
    return k / n_variables * per_chosen
