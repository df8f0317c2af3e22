"""CoDA-NO: codomain attention neural operator (Rahman et al., "Pretraining Codomain Attention Neural Operators
for Solving Multiphysics PDEs", NeurIPS 2024).

Every physical variable is a token, and a token is a whole function. For an input ``u`` with ``V`` scalar variables
``u_1..u_V`` (vector fields split into components) on a grid,

    w_v   = P_lift([u_v, e_v, s])                 (pointwise MLP shared by all variables, width d)
    w     <- CoDABlock(w)  (n_layers times)        (codomain attention + spectral mixer, see layers)
    out_v = P_proj(w_v)                            (pointwise MLP shared by all variables)

where ``e_v`` is the variable-specific positional encoding (VSPE, learned Fourier coefficients keyed by the
variable's name, evaluated at physical coordinates with a grid-independent amplitude) and ``s`` are optional static
fields (geometry mask, inlet profile) shared by all tokens. An optional CLS token (a learned function of width d)
joins the attention and is dropped at the output. Because lifting, blocks and projection are shared, one set of
weights takes any number and order of variables; adding a variable adds only its encoding coefficients.

Shapes: ``forward(x, grid=None, variables=None, static=None)`` takes ``x`` ``(batch, V, *spatial)`` (or a Field,
whose variable names are used), the Grid, and the names of the ``V`` channels in order (default: the ``variables``
of the config, which must then have exactly ``V`` names); ``static`` is ``(batch or 1, static_channels,
*spatial)``. Returns ``(batch, V * out_per_variable, *spatial)``; output channel ``v * out_per_variable + c`` belongs
to input variable ``v``.

Differences from neuraloperator 2.0's ``CODANO`` and why (both break resolution invariance there):

* VSPE and CLS are evaluated at the grid's coordinates without the ``1/N`` of ``irfftn``'s default norm;
* attention logits are quadrature means of ``q k`` (L2 inner products), not sums over grid points;
* instance norms use quadrature weights; domain padding is applied only on non-periodic axes and pads
  ``round(f (n - 1)) - 1`` points, so the padded period is the same physical length on every grid (exact when
  ``f (n - 1)`` is an integer);
* one token per variable (the paper's model), not one token per hidden channel.

Training modes (``mode``): ``"supervised"`` (``training_loss`` is the relative L2 of ``forward(x)`` against the
target), ``"pretrain"`` (masked reconstruction of the clean input, see ``sciml.models.pretraining``) and
``"finetune"`` (``head_layers`` new CoDA blocks and the projection on top of a pretrained encoder: the encodings of
pretrained variables, lifting, CLS and encoder blocks). Loading and freezing are a training stage's job, never the
constructor's: a stage with ``init_from: <pretraining run>`` loads the encoder (``load_pretrained``, which adds
the encodings of the checkpoint's variables), and in finetune mode the encoder is frozen for the stage
(``frozen_parameters``) unless ``finetune_encoder=True``. ``settings: {mode: pretrain|supervised|finetune}`` of a
stage switches the objective. Outside the Trainer: ``load_encoder(path)`` then ``freeze_encoder()``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.core.errors import CheckpointError, ConfigError, GridError, ShapeError
from sciml.layers.codomain_attention import CoDABlock, PointwiseLinear
from sciml.layers.positional import FourierFunction, VariablePositionalEncoding
from sciml.metrics.losses import relative_l2
from sciml.models.inputs import resolve_input
from sciml.models.pretraining import MaskConfig, mask_fields, split_batch
from sciml.models.protocol import Objective, Stage, Staged, load_matching, matches

__all__ = ["CoDANO"]

log = logging.getLogger(__name__)

_MODES = ("supervised", "pretrain", "finetune")
_ENCODER_PREFIXES = ("encoding.", "lifting.", "cls.", "blocks.")


class _PointwiseMLP(nn.Module):
    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.fc1 = PointwiseLinear(in_channels, hidden)
        self.fc2 = PointwiseLinear(hidden, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class CoDANO(nn.Module, Objective, Staged):
    """Codomain attention neural operator (see module docstring).

    Args:
        variables: default variable names in channel order (also the initial set of positional encodings).
        n_modes: Fourier modes per spatial axis of the spectral operators (its length is the spatial dimension).
        width: hidden channels d of every token.
        n_layers: CoDA blocks in the encoder.
        n_heads, head_width: attention heads and channels per head (default ``width``).
        temperature: softmax temperature tau.
        kq_grid: run the key and query operators on this fixed coarse grid (one size per axis, each >= the modes;
            None: on the input grid); see ``sciml.layers.codomain_attention``.
        pe_channels, pe_modes: channels and Fourier modes of each positional encoding (default modes: n_modes).
        static_channels: number of static fields concatenated to every token.
        cls_token: add a learned CLS function as an extra token.
        lifting_channels, projection_channels: hidden widths of the shared pointwise MLPs.
        out_per_variable: output channels per input variable.
        domain_padding: fraction of each non-periodic axis zero-padded before the spectral layers (0: none).
        head_layers: CoDA blocks after the encoder that belong to the head (default 1 for finetune, else 0).
        mode: "supervised", "pretrain" or "finetune" (selects the objective, the default head and, in a stage, the
            frozen encoder).
        pretrained: no longer accepted (ConfigError with the migration: load weights in a training stage).
        finetune_encoder: in finetune mode, keep the loaded encoder trainable (full finetuning from the pretrained
            weights) instead of freezing it (the paper's protocol, default).
        mask_*: statistics of the pretraining masks (see ``MaskConfig``).
    """

    def __init__(
        self,
        variables: Sequence[str] | None = None,
        n_modes: Sequence[int] = (8, 8),
        width: int = 16,
        n_layers: int = 2,
        n_heads: int = 1,
        head_width: int | None = None,
        temperature: float = 1.0,
        kq_grid: Sequence[int] | None = None,
        pe_channels: int = 4,
        pe_modes: Sequence[int] | None = None,
        static_channels: int = 0,
        cls_token: bool = False,
        lifting_channels: int = 32,
        projection_channels: int = 32,
        out_per_variable: int = 1,
        domain_padding: float = 0.0,
        head_layers: int | None = None,
        mode: str = "supervised",
        pretrained: str | None = None,
        finetune_encoder: bool = False,
        mask_variable_fraction: float = 0.5,
        mask_drop_probability: float = 0.5,
        mask_point_fraction: float = 0.5,
        mask_block_fraction: float = 0.25,
    ) -> None:
        super().__init__()
        if pretrained is not None:
            raise ConfigError(
                "codano: model.pretrained was removed; load the encoder in a training stage instead: "
                f"train.stages: [{{name: finetune, epochs: N, init_from: {pretrained!r}}}] "
                "(the encoder is frozen in mode 'finetune' unless finetune_encoder: true)"
            )
        if mode not in _MODES:
            raise ConfigError(f"codano mode must be one of {_MODES}, got {mode!r}")
        if not 0.0 <= domain_padding < 1.0:
            raise ConfigError(f"domain_padding must be in [0, 1), got {domain_padding}")
        for name, val in (("width", width), ("n_layers", n_layers), ("out_per_variable", out_per_variable)):
            if int(val) < (0 if name == "n_layers" else 1):
                raise ConfigError(f"codano {name} must be positive, got {val}")
        self.n_modes = [int(m) for m in n_modes]
        self.ndim = len(self.n_modes)
        if not 1 <= self.ndim <= 3:
            raise ConfigError(f"n_modes must have 1 to 3 entries (one per spatial axis), got {list(n_modes)}")
        self.variables = list(variables) if variables is not None else None
        self.width = int(width)
        self.static_channels = int(static_channels)
        self.out_per_variable = int(out_per_variable)
        self.domain_padding = float(domain_padding)
        self.mode = mode
        self.mask_config = MaskConfig(
            mask_variable_fraction, mask_drop_probability, mask_point_fraction, mask_block_fraction
        )
        pe_modes = self.n_modes if pe_modes is None else [int(m) for m in pe_modes]
        if len(pe_modes) != self.ndim:
            raise ConfigError(f"pe_modes has {len(pe_modes)} entries but n_modes has {self.ndim}")
        self.encoding = VariablePositionalEncoding(self.variables or [], pe_channels, pe_modes)
        self.lifting = _PointwiseMLP(1 + pe_channels + self.static_channels, lifting_channels, self.width)
        self.cls = FourierFunction(self.width, pe_modes) if cls_token else None

        def block() -> CoDABlock:
            return CoDABlock(self.width, self.n_modes, n_heads, head_width, temperature, kq_grid=kq_grid)

        self.blocks = nn.ModuleList([block() for _ in range(int(n_layers))])
        if head_layers is None:
            head_layers = 1 if mode == "finetune" else 0
        self.head = nn.ModuleList([block() for _ in range(int(head_layers))])
        self.projection = _PointwiseMLP(self.width, projection_channels, self.out_per_variable)
        self.pretrained_variables: list[str] = []
        self.finetune_encoder = bool(finetune_encoder)

    # ------------------------------------------------------------------ variables
    def add_variables(self, names: Sequence[str]) -> list[str]:
        """Create positional encodings for new variable names (the only parameters a new variable adds)."""
        added = self.encoding.add_variables(names)
        if added:
            log.info("codano: added positional encodings for %s", added)
        return added

    def _names(self, x, given, n: int) -> list[str]:
        if given is None and not isinstance(x, torch.Tensor):
            meta = getattr(x, "variables", None) or getattr(x, "names", None)
            if meta is not None:
                given = [getattr(v, "name", v) for v in meta]
        if given is None:
            given = self.variables
        if given is None:
            raise ConfigError("codano: pass variables=[...] (names of the input channels) or set them in the config")
        names = [str(v) for v in given]
        if len(names) != n:
            raise ShapeError(f"codano: {len(names)} variable names {names} for an input with {n} channels")
        if len(set(names)) != n:
            raise ConfigError(f"codano: variable names must be unique, got {names}")
        return names

    # ------------------------------------------------------------------ padding and quadrature
    def _pads(self, grid) -> list[int]:
        pads = []
        for n, per in zip(grid.shape, grid.periodic):
            p = 0 if per or self.domain_padding == 0 else max(round(self.domain_padding * (n - 1)) - 1, 0)
            pads.append(p)
        return pads

    def _weights(self, grid, pads, device, dtype) -> torch.Tensor:
        w = torch.ones((), dtype=torch.float64)
        for a, p in enumerate(pads):
            if p > 0 or grid.periodic[a]:
                wa = torch.full((grid.shape[a] + p,), 1.0 / (grid.shape[a] + p), dtype=torch.float64)
            else:
                wa = torch.as_tensor(grid.axis_weights(a) / grid.lengths[a], dtype=torch.float64)
            w = w.unsqueeze(-1) * wa
        return w.to(device=device, dtype=dtype)

    @staticmethod
    def _pad(w: torch.Tensor, pads: Sequence[int]) -> torch.Tensor:
        if not any(pads):
            return w
        spec = []
        for p in reversed(pads):
            spec += [0, p]
        return F.pad(w, spec)

    @staticmethod
    def _unpad(w: torch.Tensor, pads: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
        if not any(pads):
            return w
        idx = (Ellipsis,) + tuple(slice(0, n) for n in shape)
        return w[idx]

    # ------------------------------------------------------------------ forward
    def encode(self, x: torch.Tensor, grid, names: Sequence[str], static: torch.Tensor | None = None):
        """Tokens after the encoder: ``(batch, V (+1 for CLS), width, *padded spatial)`` and the quadrature weights."""
        b, v = x.shape[:2]
        spatial = tuple(x.shape[2:])
        parts = [x.unsqueeze(2), self.encoding(names, grid).to(x.dtype).unsqueeze(0).expand(b, v, -1, *spatial)]
        if self.static_channels:
            if static is None:
                raise ConfigError(f"codano: the config has static_channels={self.static_channels}; pass static=...")
            if static.dim() != x.dim() or static.shape[1] != self.static_channels or tuple(static.shape[2:]) != spatial:
                raise ShapeError(
                    f"codano: static must be (batch, {self.static_channels}, *{spatial}), got {tuple(static.shape)}"
                )
            parts.append(static.to(x.dtype).unsqueeze(1).expand(b, v, -1, *spatial))
        elif static is not None:
            raise ConfigError("codano: static fields given but the config has static_channels=0")
        tokens = torch.cat(parts, dim=2)
        w = self.lifting(tokens.reshape(b * v, -1, *spatial)).reshape(b, v, self.width, *spatial)
        if self.cls is not None:
            w = torch.cat([self.cls(grid).to(x.dtype).expand(b, 1, -1, *spatial), w], dim=1)
        pads = self._pads(grid)
        w = self._pad(w, pads)
        weights = self._weights(grid, pads, x.device, x.dtype)
        for blk in self.blocks:
            w = blk(w, weights)
        return w, weights

    def decode(self, w: torch.Tensor, weights: torch.Tensor, grid) -> torch.Tensor:
        """Head blocks, unpadding, CLS removal and projection: ``(batch, V * out_per_variable, *spatial)``."""
        for blk in self.head:
            w = blk(w, weights)
        w = self._unpad(w, self._pads(grid), grid.shape)
        if self.cls is not None:
            w = w[:, 1:]
        b, v = w.shape[:2]
        out = self.projection(w.reshape(b * v, self.width, *grid.shape))
        return out.reshape(b, v * self.out_per_variable, *grid.shape)

    def forward(self, x, grid=None, variables=None, static=None, add_variables: bool = False) -> torch.Tensor:
        names_src = x
        x, grid = resolve_input(x, grid, self.ndim, None, "codano")
        self._check_modes(grid)
        names = self._names(names_src, variables, x.shape[1])
        if add_variables:
            self.add_variables(names)
        self.encoding.check(names)
        w, weights = self.encode(x, grid, names, static)
        return self.decode(w, weights, grid)

    def _check_modes(self, grid: Any) -> None:
        """The spectral operators keep ``n_modes`` Fourier modes per axis: a grid with fewer points cannot hold them
        (they would be dropped without a word), the rule of FNO and of ``kq_grid``."""
        for axis, (m, n) in enumerate(zip(self.n_modes, grid.shape)):
            if m > n:
                raise GridError(
                    f"codano keeps n_modes={m} Fourier modes on axis {axis} but the grid has only {n} points there "
                    f"(grid shape {tuple(grid.shape)}); evaluate on a grid with >= {m} points per axis or build the "
                    "model with fewer modes"
                )

    # ------------------------------------------------------------------ training
    def objective(self, batch, grid=None, variables=None) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss for the generic Trainer: masked reconstruction (pretrain) or next-state relative L2 (otherwise)."""
        x_in, target = split_batch(batch)
        x, grid = resolve_input(x_in, grid, self.ndim, None, "codano")
        names = self._names(x_in, variables, x.shape[1])
        if self.mode == "pretrain":
            masked, mask = mask_fields(x, grid, self.mask_config)
            pred = self(masked, grid, names)
            loss = relative_l2(pred, x, grid)  # the target is the clean input
            return loss, {"relative_l2": float(loss.detach()), "masked_fraction": float(mask.float().mean())}
        if target is None:
            raise ConfigError(f"codano mode {self.mode!r} needs (input, target) batches")
        y, _ = resolve_input(target, grid, self.ndim, None, "codano target")
        pred = self(x, grid, names)
        loss = relative_l2(pred, y, grid)
        return loss, {"relative_l2": float(loss.detach())}

    # ------------------------------------------------------------------ pretrained encoder
    def encoder_parameters(self):
        """``(name, parameter)`` pairs of the encoder (encodings, lifting, CLS, encoder blocks)."""
        return [(n, p) for n, p in self.named_parameters() if n.startswith(_ENCODER_PREFIXES)]

    def load_encoder(self, source) -> list[str]:
        """Load encoder weights from a checkpoint path or a state dict; returns the variables it provided.

        Accepts a bare state dict or a Trainer checkpoint holding it under ``"model"``. Encodings of variables this
        model does not know yet are added; variables the checkpoint lacks keep their fresh encodings.
        """
        if isinstance(source, dict):
            state = source
        else:
            try:
                state = torch.load(source, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, ValueError) as e:
                raise CheckpointError(f"codano: cannot read pretrained checkpoint {source!r}: {e}") from e
        for key in ("model", "model_state", "state_dict"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
        prefix = "encoding.coefficients."
        pre_vars = [k[len(prefix) :] for k in state if k.startswith(prefix)]
        self.add_variables(pre_vars)
        own = self.state_dict()
        wanted = [k for k in own if k.startswith(_ENCODER_PREFIXES) and not k.startswith(prefix)]
        missing = [k for k in wanted if k not in state]
        if missing:
            raise CheckpointError(f"codano: pretrained checkpoint lacks encoder weights {missing[:5]}")
        sub = {k: state[k] for k in wanted + [prefix + v for v in pre_vars]}
        for k, t in sub.items():
            if tuple(t.shape) != tuple(own[k].shape):
                raise CheckpointError(
                    f"codano: pretrained {k} has shape {tuple(t.shape)}, this model expects {tuple(own[k].shape)}"
                )
        self.load_state_dict(sub, strict=False)
        self.pretrained_variables = pre_vars
        log.info("codano: loaded encoder for variables %s", pre_vars)
        return pre_vars

    # ------------------------------------------------------------------ the Staged capability
    def enter_stage(self, stage: Stage, resumed: bool = False) -> None:
        """``stage.settings`` may switch ``mode`` (pretrain / supervised / finetune); other keys are refused."""
        unknown = sorted(set(stage.settings) - {"mode"})
        if unknown:
            raise ConfigError(f"stage {stage.name!r}: codano settings accept only 'mode', got {unknown}")
        mode = stage.settings.get("mode", self.mode)
        if mode not in _MODES:
            raise ConfigError(f"stage {stage.name!r}: codano mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode

    def frozen_parameters(self, stage: Stage) -> list[str]:
        """In finetune mode (without ``finetune_encoder``): the encoder, except encodings of variables it lacks."""
        if self.mode != "finetune" or self.finetune_encoder:
            return []
        pre = set(self.pretrained_variables)
        return [n for n, _ in self.encoder_parameters() if not n.startswith("encoding.coefficients.")] + [
            f"encoding.coefficients.{v}" for v in pre
        ]

    def load_pretrained(self, state: dict[str, torch.Tensor], keys: list[str] | None) -> list[str]:
        """The encoder of a pretraining checkpoint (``load_encoder``); ``keys`` restricts it to matching names."""
        if keys is not None:
            prefix = "encoding.coefficients."
            self.add_variables([k[len(prefix) :] for k in state if k.startswith(prefix) and matches(k, keys)])
            return load_matching(self, state, keys)
        self.load_encoder(state)
        return [n for n, _ in self.encoder_parameters()]

    def freeze_encoder(self) -> None:
        """Stop gradients to the encoder; encodings of variables absent from the pretrained set stay trainable."""
        pre = set(self.pretrained_variables)
        for name, p in self.encoder_parameters():
            if name.startswith("encoding.coefficients."):
                var = name[len("encoding.coefficients.") :]
                p.requires_grad_(var not in pre)
            else:
                p.requires_grad_(False)

    def n_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
