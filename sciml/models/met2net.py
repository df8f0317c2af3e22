"""Met2Net: per-variable encoders, a translator whose tokens are the variables, implicit two-stage training.

Follows "Met^2Net: A Decoupled Two-Stage Spatio-Temporal Forecasting Model for Complex Meteorological Systems"
(ICCV 2025). For C variables, T_in input and T_out output steps on an H x W grid:

    z_c  = E_c(x_c)            per-variable encoder, (B*T_in, 1, H, W) -> (B*T_in, h, H/2, W/2), time folded into
                               channels: (B, C, T_in*h, H/2, W/2)
    z'   = P(z)                translator: 1x1 conv to width d, blocks [z <- N(z + MHA_var(z)); z <- N(z + FFN(z))],
                               1x1 conv to T_out*h; the tokens of MHA_var are the C variables (each a feature map,
                               scores <q_i, k_j> over channels and space / sqrt(size), a C x C attention matrix)
    y_c  = D_c(z'_c)           per-variable decoder (pixel shuffle x2, conv, 1x1 to one channel)

The translator has no variable embedding: it is equivariant to permutations of the variables and its parameter
count does not depend on C. Shapes: ``forward(x)`` takes ``(batch, C, T_in, H, W)`` (or ``(batch, C*T_in, H, W)``
with time folded, C-major) and returns ``(batch, C, T_out, H, W)``; H and W must be even (the encoder halves them).

Training (``two_stage=True``, the paper's implicit two stages, every step one backward and one optimizer step): the
model holds trainable copies (E^q, D^q, P^q: ``encoders``, ``decoders``, ``translator``) and frozen copies
(``target``: E^k, D^k, P^k, never requiring grad)::

    L_rec = MSE(D^q(P^k(E^q(x))), y)           reaches only the encoders and decoders
    L_lat = MSE(P^q(E^k(x)), stopgrad(E^k(y)))  reaches only the translator

and after every optimizer step (the ``StepHook``, never in evaluation) E^k <- E^q, D^k <- D^q and
P^k <- m P^k + (1 - m) P^q (``momentum`` m, default 0.9). Prediction is D^q(P^q(E^q(x))). ``two_stage=False`` trains
the same network end to end on MSE(D(P(E(x))), y) (the ablation); ``variable_attention=False`` removes MHA_var (a
SimVP-style translator, no mixing across variables).

Deviations from the reference code, and why: the copy/EMA runs after the optimizer step only (the reference runs it
inside forward, so validation changed the weights); longitude is padded circularly on a globe (zeros on a regional
crop: ``periodic_lon``), latitude with zeros.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import ConfigError, GridError, ShapeError
from sciml.models.protocol import Objective, Stage, Staged, StepHook

__all__ = ["Met2Net", "VariableAttention", "Translator"]


class _GlobeConv(nn.Module):
    """3x3 conv with zeros along latitude and, along longitude (last axis), circular padding on a whole globe or
    zeros on a regional crop (``periodic=False``)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, periodic: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=0)
        self.periodic = periodic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 0, 0), mode="circular" if self.periodic else "constant")
        return self.conv(F.pad(x, (0, 0, 1, 1)))


def _block(c_in: int, c_out: int, stride: int = 1, periodic: bool = True) -> nn.Sequential:
    return nn.Sequential(_GlobeConv(c_in, c_out, stride, periodic), nn.GroupNorm(min(4, c_out), c_out), nn.SiLU())


class _Encoder(nn.Module):
    def __init__(self, hidden: int, periodic: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(_block(1, hidden, periodic=periodic), _block(hidden, hidden, 2, periodic))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Decoder(nn.Module):
    def __init__(self, hidden: int, periodic: bool = True) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.Conv2d(hidden, 4 * hidden, 1), nn.PixelShuffle(2), nn.SiLU())
        self.conv = _block(hidden, hidden, periodic=periodic)
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(self.up(z)))


class VariableAttention(nn.Module):
    """Multi-head attention whose tokens are variables; ``(B, C, d, h, w) -> (B, C, d, h, w)``."""

    def __init__(self, width: int, n_heads: int) -> None:
        super().__init__()
        if width % n_heads:
            raise ConfigError(f"met2net translator_width {width} must be divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Conv2d(width, 3 * width, 1)
        self.proj = nn.Conv2d(width, width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = z.shape
        q, k, v = self.qkv(z.reshape(b * c, d, h, w)).reshape(b, c, 3, self.n_heads, d // self.n_heads, h * w).unbind(2)
        q, k, v = (t.permute(0, 2, 1, 3, 4).reshape(b, self.n_heads, c, -1) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, C, C)
        out = scores.softmax(-1) @ v  # (B, heads, C, d/heads * h * w)
        out = out.reshape(b, self.n_heads, c, d // self.n_heads, h, w).permute(0, 2, 1, 3, 4, 5)
        return self.proj(out.reshape(b * c, d, h, w)).reshape(b, c, d, h, w)


class _FFN(nn.Module):
    """Per-variable spatio-temporal conv block: depthwise large kernel + dilated depthwise + 1x1, gated, MLP."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.local = nn.Conv2d(width, width, 5, padding=2, groups=width)
        self.dilated = nn.Conv2d(width, width, 3, padding=2, dilation=2, groups=width)
        self.gate = nn.Conv2d(width, 2 * width, 1)
        self.mlp = nn.Sequential(nn.Conv2d(width, 2 * width, 1), nn.GELU(), nn.Conv2d(2 * width, width, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a, g = self.gate(self.dilated(self.local(z))).chunk(2, dim=1)
        return self.mlp(a * torch.sigmoid(g))


class _TranslatorBlock(nn.Module):
    def __init__(self, width: int, n_heads: int, attention: bool) -> None:
        super().__init__()
        self.attn = VariableAttention(width, n_heads) if attention else None
        self.norm1 = nn.GroupNorm(1, width)
        self.ffn = _FFN(width)
        self.norm2 = nn.GroupNorm(1, width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = z.shape
        if self.attn is not None:
            z = self.norm1((z + self.attn(z)).reshape(b * c, d, h, w)).reshape(b, c, d, h, w)
        flat = z.reshape(b * c, d, h, w)
        return self.norm2(flat + self.ffn(flat)).reshape(b, c, d, h, w)


class Translator(nn.Module):
    """``(B, C, T_in*h, h', w') -> (B, C, T_out*h, h', w')``; shared across variables (no variable embedding)."""

    def __init__(self, c_in: int, c_out: int, width: int, n_blocks: int, n_heads: int, attention: bool) -> None:
        super().__init__()
        self.inp = nn.Conv2d(c_in, width, 1)
        self.blocks = nn.ModuleList([_TranslatorBlock(width, n_heads, attention) for _ in range(n_blocks)])
        self.out = nn.Conv2d(width, c_out, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, _, h, w = z.shape
        z = self.inp(z.reshape(b * c, -1, h, w))
        z = z.reshape(b, c, -1, h, w)
        for blk in self.blocks:
            z = blk(z)
        return self.out(z.reshape(b * c, -1, h, w)).reshape(b, c, -1, h, w)


class _Parts(nn.Module):
    """One copy of the three parts (the frozen ``target`` holds another)."""

    def __init__(self, encoders: nn.ModuleList, decoders: nn.ModuleList, translator: Translator) -> None:
        super().__init__()
        self.encoders, self.decoders, self.translator = encoders, decoders, translator


class Met2Net(nn.Module, Objective, StepHook, Staged):
    """Met2Net forecaster (see the module docstring).

    Args:
        n_variables: C, the number of weather variables (one encoder and decoder each).
        t_in, t_out: input and output time steps.
        hidden: channels h of every encoded frame.
        translator_width: width d of the translator; n_blocks, n_heads: its depth and attention heads.
        variable_attention: attention across variables (False: a SimVP-style translator, no mixing).
        two_stage: the implicit two-stage training with frozen copies (False: end to end, one loss).
        momentum: EMA momentum m of the frozen translator.
        periodic_lon: pad longitude circularly (a whole globe, default) or with zeros (a regional crop). The forecast
            task sets it from the record's longitudes; ``forward(x, grid)`` refuses a Grid that says otherwise.
    """

    def __init__(
        self,
        n_variables: int,
        t_in: int = 2,
        t_out: int = 2,
        hidden: int = 16,
        translator_width: int = 64,
        n_blocks: int = 2,
        n_heads: int = 4,
        variable_attention: bool = True,
        two_stage: bool = True,
        momentum: float = 0.9,
        periodic_lon: bool = True,
    ) -> None:
        super().__init__()
        named = (
            ("n_variables", n_variables),
            ("t_in", t_in),
            ("t_out", t_out),
            ("hidden", hidden),
            ("n_heads", n_heads),
        )
        for name, v in named:
            if int(v) < 1:
                raise ConfigError(f"met2net {name} must be >= 1, got {v}")
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"met2net momentum must be in [0, 1), got {momentum}")
        self.n_variables, self.t_in, self.t_out, self.hidden = int(n_variables), int(t_in), int(t_out), int(hidden)
        self.two_stage, self.momentum = bool(two_stage), float(momentum)
        self.periodic_lon = bool(periodic_lon)
        self.encoders = nn.ModuleList([_Encoder(hidden, self.periodic_lon) for _ in range(self.n_variables)])
        self.decoders = nn.ModuleList([_Decoder(hidden, self.periodic_lon) for _ in range(self.n_variables)])
        self.translator = Translator(
            self.t_in * hidden, self.t_out * hidden, translator_width, n_blocks, n_heads, variable_attention
        )
        self.target: _Parts | None = None
        if self.two_stage:
            self.target = _Parts(*(copy.deepcopy(m) for m in (self.encoders, self.decoders, self.translator)))
            self.target.requires_grad_(False)

    # ------------------------------------------------------------------ shapes
    def _check(self, x: torch.Tensor, steps: int, what: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ShapeError(f"met2net {what} must be a tensor, got {type(x).__name__}")
        if x.dim() == 4 and x.shape[1] == self.n_variables * steps:
            x = x.reshape(x.shape[0], self.n_variables, steps, *x.shape[2:])
        if x.dim() != 5 or x.shape[1] != self.n_variables or x.shape[2] != steps:
            raise ShapeError(
                f"met2net {what} must be (batch, {self.n_variables} variables, {steps} steps, H, W) or "
                f"(batch, {self.n_variables * steps}, H, W), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ShapeError(f"met2net {what} must be a floating-point tensor, got dtype {x.dtype}")
        if x.shape[-2] < 2 or x.shape[-1] < 2 or x.shape[-2] % 2 or x.shape[-1] % 2:
            raise ShapeError(
                f"met2net {what}: the encoder halves the grid, so H and W must be even and >= 2; got "
                f"{tuple(x.shape[-2:])} in shape {tuple(x.shape)}"
            )
        return x

    def _encode(self, encoders: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        z = [encoders[i](x[:, i].reshape(b * t, 1, h, w)) for i in range(c)]  # (B*T, hid, h/2, w/2) each
        return torch.stack([zi.reshape(b, t * self.hidden, h // 2, w // 2) for zi in z], dim=1)

    def _decode(self, decoders: nn.ModuleList, z: torch.Tensor) -> torch.Tensor:
        b, c, _, h2, w2 = z.shape
        frames = z.reshape(b, c, self.t_out, self.hidden, h2, w2)
        y = [decoders[i](frames[:, i].reshape(b * self.t_out, self.hidden, h2, w2)) for i in range(c)]
        return torch.stack([yi.reshape(b, self.t_out, 2 * h2, 2 * w2) for yi in y], dim=1)

    def forward(self, x, grid=None) -> torch.Tensor:
        x = self._check(x, self.t_in, "input")
        if (
            grid is not None
            and tuple(grid.shape) == tuple(x.shape[-2:])
            and bool(grid.periodic[-1]) != self.periodic_lon
        ):
            raise GridError(
                f"met2net was built with periodic_lon={self.periodic_lon} but the grid's longitude axis is "
                f"{'periodic' if grid.periodic[-1] else 'not periodic'}; build it with periodic_lon={grid.periodic[-1]}"
            )
        return self._decode(self.decoders, self.translator(self._encode(self.encoders, x)))

    # ------------------------------------------------------------------ the contract
    def objective(self, batch, grid=None) -> tuple[torch.Tensor, dict]:
        x = self._check(batch[0], self.t_in, "input")
        y = self._check(batch[1], self.t_out, "target")
        if not self.two_stage:
            loss = F.mse_loss(self.forward(x), y)
            return loss, {"mse": loss.detach()}
        rec, lat = self.stage_losses(x, y)
        return rec + lat, {"rec": rec.detach(), "lat": lat.detach()}

    def stage_losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L_rec, L_lat)`` of the two-stage scheme on checked ``(B, C, T, H, W)`` tensors (module docstring)."""
        t = self.target
        rec = F.mse_loss(self._decode(self.decoders, t.translator(self._encode(self.encoders, x))), y)
        with torch.no_grad():
            latent_target = self._encode(t.encoders, y)  # stop-gradient target (frozen encoders, T_out frames)
            z_in = self._encode(t.encoders, x)
        lat = F.mse_loss(self.translator(z_in), latent_target)
        return rec, lat

    @torch.no_grad()
    def after_step(self) -> None:
        if self.target is None:
            return
        for q, k in ((self.encoders, self.target.encoders), (self.decoders, self.target.decoders)):
            for pk, pq in zip(k.parameters(), q.parameters()):
                pk.copy_(pq)
        m = self.momentum
        for pk, pq in zip(self.target.translator.parameters(), self.translator.parameters()):
            pk.mul_(m).add_(pq, alpha=1.0 - m)

    def enter_stage(self, stage: Stage, resumed: bool = False) -> None:
        if stage.settings:
            raise ConfigError(f"stage {stage.name!r}: met2net takes no stage settings, got {sorted(stage.settings)}")

    def frozen_parameters(self, stage: Stage) -> list[str]:
        return ["target.*"]  # the frozen copies never train, whatever a stage names
