"""What every sparse autoencoder of the family shares: codes, sparsity, unit-norm atoms, dead latents, the objective.

    z = act(E(x - b_pre) + b_enc),    x_hat = D z + b_pre
    loss = |x - x_hat|^2 + l1_coef * sum_k |z_k| |d_k| + aux_coef * AuxK

with ``|.|^2`` the mean over grid points (summed over channels) of the squared error, ``|z_k|`` the code of latent k
(its mean over positions for convolutional codes) and ``|d_k|`` the norm of atom k in data space (``penalty_norms``:
``Q d_k`` for the lifted models). Weighting by it makes the penalty invariant to rescalings that leave the
reconstruction unchanged: between steps (atoms drift off the sphere) and, for the lifted models, ``Q -> s Q`` with
codes ``/ s``, which would otherwise let a free projection ``Q`` grow and shrink every code (the penalty then vanishes
and the codes stop being sparse; benchmarks/sae_recovery.py found it).

``act`` is ReLU or TopK (exactly k active codes per sample, or per position for convolutional codes; TopK keeps the
selected pre-activations as they are, so exactly k codes are non-zero: a negative code is a sign-flipped atom).
The base class also owns the parameters every variant has (``_init_dictionary``: decoder atoms, encoder, biases,
the optional pointwise lift ``P`` / projection ``Q``) and the atom norms; concrete models (``dense.py``,
``conv.py``) give the encoder and decoder maps and how to re-seed an atom.

Unit-norm atoms (the ``StepHook``): the component of the decoder gradient parallel to each atom is removed during
backward by a tensor hook on the decoder weight, so a step moves atoms along the sphere to first order, and
``after_step`` renormalises them. Atom norms are mean squares over their grid (a unit-RMS function), which is a fixed
multiple of the Euclidean norm of the weight, so the Euclidean projection is the exact one.

Dead latents: ``since_fired`` (a buffer) counts the training samples since each latent last fired; latents with
``since_fired >= dead_after`` are dead. ``remedy="auxk"`` adds the AuxK loss (Gao et al. 2024): the top ``aux_k``
dead pre-activations must reconstruct the residual ``x - x_hat``, normalised by the residual's energy;
``remedy="resample"`` re-seeds each dead atom with the residual of a badly reconstructed training sample in
``after_step`` (Bricken et al. 2023) and sets its encoder to the matched filter of the new atom.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError
from sciml.models.protocol import Objective, StepHook

__all__ = ["SparseAutoencoder", "ACTIVATIONS", "REMEDIES"]

ACTIVATIONS = ("relu", "topk")
REMEDIES = ("auxk", "resample", None)


class SparseAutoencoder(nn.Module, Objective, StepHook):
    """Base of the family (see the module docstring); subclasses implement the abstract methods."""

    def __init__(
        self,
        n_latents: int,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if n_latents < 1:
            raise ConfigError(f"{name}: n_latents must be >= 1, got {n_latents}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"{name}: activation must be one of {ACTIVATIONS}, got {activation!r}")
        if activation == "topk" and (k is None or not 1 <= k <= n_latents):
            raise ConfigError(f"{name}: activation 'topk' needs 1 <= k <= n_latents={n_latents}, got k={k}")
        if remedy not in REMEDIES:
            raise ConfigError(f"{name}: remedy must be one of {REMEDIES}, got {remedy!r}")
        if l1_coef < 0 or aux_coef < 0 or dead_after < 1:
            raise ConfigError(f"{name}: need l1_coef >= 0, aux_coef >= 0, dead_after >= 1")
        self.n_latents = int(n_latents)
        self.activation = activation
        self.k = k
        self.l1_coef = float(l1_coef)
        self.remedy = remedy
        self.dead_after = int(dead_after)
        self.aux_k = int(aux_k) if aux_k is not None else max(1, n_latents // 2)
        self.aux_coef = float(aux_coef)
        self.register_buffer("since_fired", torch.zeros(n_latents, dtype=torch.float64))
        self._last_residual: torch.Tensor | None = None

    def _init_dictionary(
        self,
        in_channels: int,
        lift_channels: int | None,
        atom_shape: Sequence[int],
        pre_bias_shape: Sequence[int],
        encoder_of: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        """Create ``decoder (K, c, *atom_shape)`` (unit-norm random atoms, ``c`` the lifted width or
        ``in_channels``), ``encoder = encoder_of(decoder)`` (the matched filter), zero biases and, with
        ``lift_channels``, ``lift`` P and ``project`` Q = P^T (orthonormal columns)."""
        if lift_channels is not None and lift_channels < 1:
            raise ConfigError(f"{type(self).__name__}: lift_channels must be >= 1 or null, got {lift_channels}")
        self.in_channels, self.lift_channels = int(in_channels), lift_channels
        if lift_channels is not None:
            a = torch.randn(lift_channels, in_channels)
            q, _ = torch.linalg.qr(a)
            self.lift = nn.Parameter(q[:, :in_channels].contiguous())
            self.project = nn.Parameter(q[:, :in_channels].T.contiguous())
        dec = torch.randn(self.n_latents, lift_channels or in_channels, *atom_shape)
        self.decoder = nn.Parameter(dec / self._norms(dec).view(-1, *([1] * (dec.dim() - 1))))
        self.encoder = nn.Parameter(encoder_of(self.decoder.detach()).clone())
        self.encoder_bias = nn.Parameter(torch.zeros(self.n_latents))
        self.pre_bias = nn.Parameter(torch.zeros(*pre_bias_shape))
        self._register_atom_hook(self.decoder)

    @staticmethod
    def _norms(w: torch.Tensor) -> torch.Tensor:
        """Per-atom norm of ``w (K, c, ...)``: RMS over the grid, summed over channels."""
        return (w**2).reshape(w.shape[0], w.shape[1], -1).mean(2).sum(1).sqrt()

    def atom_norms(self) -> torch.Tensor:
        """``(K,)`` norms of the atoms (RMS over their grid, summed over channels)."""
        return self._norms(self.decoder)

    def penalty_norms(self) -> torch.Tensor:
        """``(K,)`` norms of the atoms in data space (``Q d_k``), the weights of the L1 penalty."""
        return self._norms(self._from_lifted(self.decoder))

    def _to_lifted(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("lc,bc...->bl...", self.lift, x) if self.lift_channels is not None else x

    def _from_lifted(self, y: torch.Tensor) -> torch.Tensor:
        return torch.einsum("cl,bl...->bc...", self.project, y) if self.lift_channels is not None else y

    # ------------------------------------------------------------------------------------- subclass contract
    @abc.abstractmethod
    def _prepare(self, x: Any, grid: Any) -> tuple[torch.Tensor, Any]:
        """``(values, grid)`` checked for this model (ShapeError naming what was expected)."""

    @abc.abstractmethod
    def pre_activations(self, x: torch.Tensor, grid: Any) -> torch.Tensor:
        """``E(x - b_pre) + b_enc``: ``(batch, K)`` or ``(batch, K, *spatial)``."""

    @abc.abstractmethod
    def decode_codes(self, z: torch.Tensor, grid: Any) -> torch.Tensor:
        """``D z`` (without ``b_pre``): ``(batch, channels, *spatial)``."""

    @abc.abstractmethod
    def atoms(self, grid: Any = None) -> torch.Tensor:
        """The concepts as functions sampled on ``grid`` in data space: ``(K, channels, *grid.shape)``."""

    @abc.abstractmethod
    def _reseed(self, dead: torch.Tensor, residuals: torch.Tensor, grid: Any) -> None:
        """Re-seed the atoms ``dead`` (indices) from ``residuals (n, channels, *spatial)`` and their encoders."""

    @abc.abstractmethod
    def _bias(self, x: torch.Tensor) -> torch.Tensor:
        """``b_pre`` broadcast to ``x``."""

    # ------------------------------------------------------------------------------------- codes
    def _register_atom_hook(self, weight: nn.Parameter) -> None:
        def project(grad: torch.Tensor) -> torch.Tensor:
            w = weight.detach()
            flat = w.reshape(w.shape[0], -1)
            d = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
            g = grad.reshape(grad.shape[0], -1)
            return (g - (g * d).sum(1, keepdim=True) * d).reshape(grad.shape)

        weight.register_hook(project)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """ReLU, or TopK along the latent axis (per sample, or per position for convolutional codes)."""
        if self.activation == "relu":
            return torch.relu(pre)
        values, idx = pre.topk(self.k, dim=1)
        return torch.zeros_like(pre).scatter(1, idx, values)

    def encode(self, x: Any, grid: Any = None) -> torch.Tensor:
        """Codes ``z``: ``(batch, K)`` (dense) or ``(batch, K, *spatial)`` (convolutional, operator)."""
        x, grid = self._prepare(x, grid)
        return self.activate(self.pre_activations(x, grid))

    def decode(self, z: torch.Tensor, grid: Any = None) -> torch.Tensor:
        """``D z + b_pre`` on ``grid``."""
        out = self.decode_codes(z, grid)
        return out + self._bias(out)

    def forward(self, x: Any, grid: Any = None) -> torch.Tensor:
        """The reconstruction ``x_hat``, same shape as ``x``."""
        x, grid = self._prepare(x, grid)
        return self.decode(self.activate(self.pre_activations(x, grid)), grid)

    # ------------------------------------------------------------------------------------- objective
    @staticmethod
    def _energy(e: torch.Tensor) -> torch.Tensor:
        """Per-sample mean over points (summed over channels) of ``e^2``."""
        return (e**2).flatten(2).mean(2).sum(1)

    @staticmethod
    def _mass(z: torch.Tensor) -> torch.Tensor:
        """``(batch, K)``: |code| per latent, averaged over positions for convolutional codes."""
        return z.abs() if z.dim() == 2 else z.abs().flatten(2).mean(2)

    def dead_mask(self) -> torch.Tensor:
        """``(K,)`` bool: latents that have not fired in the last ``dead_after`` training samples."""
        return self.since_fired >= self.dead_after

    def objective(self, batch: Any, grid: Any = None) -> tuple[torch.Tensor, dict[str, Any]]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        x, grid = self._prepare(x, grid)
        pre = self.pre_activations(x, grid)
        z = self.activate(pre)
        x_hat = self.decode(z, grid)
        err = x - x_hat
        recon = self._energy(err).mean()
        sparsity = (self._mass(z) * self.penalty_norms()[None]).sum(1).mean()
        loss = recon + self.l1_coef * sparsity
        fired = (z != 0).flatten(2).any(2) if z.dim() > 2 else z != 0
        with torch.no_grad():
            x_c = x - x.mean(0, keepdim=True)
            metrics: dict[str, Any] = {
                "recon": recon.detach(),
                "l1": sparsity.detach(),
                "l0": (z != 0).flatten(1).sum(1).double().mean(),
                "fvu": self._energy(err).sum() / self._energy(x_c).sum().clamp_min(1e-12),
            }
        if self.training:
            with torch.no_grad():
                any_fired = fired.any(0)
                self.since_fired.add_(x.shape[0]).masked_fill_(any_fired, 0.0)
            self._last_residual = err.detach()
        dead = self.dead_mask()
        metrics["dead_fraction"] = dead.double().mean()
        if self.remedy == "auxk" and bool(dead.any()):
            aux = self._aux_loss(pre, dead, err.detach(), grid)
            loss = loss + self.aux_coef * aux
            metrics["aux"] = aux.detach()
        return loss, metrics

    def _aux_loss(self, pre: torch.Tensor, dead: torch.Tensor, residual: torch.Tensor, grid: Any) -> torch.Tensor:
        """AuxK: the top ``aux_k`` dead pre-activations reconstruct the residual (relative squared error)."""
        shape = (1, -1) + (1,) * (pre.dim() - 2)
        masked = pre.masked_fill(~dead.view(shape), float("-inf"))
        k = min(self.aux_k, int(dead.sum()))
        values, idx = masked.topk(k, dim=1)
        z_aux = torch.zeros_like(pre).scatter(1, idx, torch.relu(values))
        e_hat = self.decode_codes(z_aux, grid)
        return (self._energy(residual - e_hat) / self._energy(residual).clamp_min(1e-12)).mean()

    # ------------------------------------------------------------------------------------- after each step
    @torch.no_grad()
    def normalize_atoms_(self) -> None:
        """Divide every atom by its norm (unit norm)."""
        w = self.decoder
        norms = self.atom_norms().detach().clamp_min(1e-12)
        w.div_(norms.view(-1, *([1] * (w.dim() - 1))))

    @torch.no_grad()
    def after_step(self) -> None:
        """Renormalise the atoms; with ``remedy="resample"`` re-seed the dead ones from recent residuals."""
        if self.remedy == "resample" and self._last_residual is not None:
            dead = torch.nonzero(self.dead_mask()).flatten()
            if dead.numel():
                self._reseed(dead, self._last_residual, None)
                self.since_fired[dead] = 0.0
        self.normalize_atoms_()

    @staticmethod
    def _worst(residuals: torch.Tensor, n: int) -> torch.Tensor:
        """Indices of ``n`` residuals drawn with probability proportional to their energy (repeats allowed)."""
        energy = (residuals.double() ** 2).flatten(1).sum(1)
        if float(energy.sum()) <= 0:
            return torch.zeros(n, dtype=torch.long)
        return torch.multinomial(energy / energy.sum(), n, replacement=True)
