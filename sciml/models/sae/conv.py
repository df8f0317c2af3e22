"""Convolutional and operator sparse autoencoders: SAE-CNN, SAE-NO and lifted SAE-NO (L-SAE-NO).

Tolooshams, Shen, Anandkumar, "Sparse Autoencoder Neural Operators: Model Recovery in Function Spaces" (2025).
Codes are functions of position, one per concept k, and the decoder convolves each with its concept:

    z_k(t) = act((e_k * P(x - b_pre))(t) + b_k),      x_hat(t) = Q sum_k (kappa_k * z_k)(t) + b_pre

with ``*`` the circular convolution normalised as a mean over the period, ``(f * g)(t) = mean_s f(t - s) g(s)``
(no grid size appears, so amplitudes are the same at every resolution), ``P``/``Q`` pointwise lift/projection
(identity for SAE-CNN and SAE-NO, ``lift_channels`` functions for L-SAE-NO) and ``b_pre`` one constant per channel.

* SAE-CNN (``SAECNN``): ``e_k``, ``kappa_k`` are kernels of ``kernel_size`` pixels; the mean runs over the kernel's
  pixels. The kernel is tied to the pixel grid: on a grid twice as fine it covers half the physical width, so the
  model is a different operator at every resolution (resolution.md rule 3, measured in the resolution suite).
* SAE-NO (``SAENO``): ``e_k``, ``kappa_k`` are band-limited periodic functions with Fourier modes ``|m_i| < n_modes_i``,
  stored by their values on a reference grid of ``2 n_modes_i - 1`` points (odd: every mode is exactly represented).
  The convolutions are products of Fourier coefficients, ``rfftn(., norm="forward")`` of the input (its Fourier
  coefficients, independent of N for band-limited inputs) times those of the kernel, truncated to the kept modes
  and brought back with ``irfftn(., norm="forward")``: the same weights define the same operator at any N. With all
  modes of an N-point grid (``2 n_modes - 1 = N``) and no lift, SAE-NO is exactly the circular-convolution SAE whose
  kernels are the reference-grid values (tests/models/test_sae.py checks it against SAE-CNN to 1e-5).
  ``atoms(grid)`` evaluates each concept ``Q kappa_k`` as a Fourier series at the coordinates of any Grid.

Shapes: ``forward(x, grid)`` takes and returns ``(batch, in_channels, *spatial)`` on a uniform periodic grid (any N
for SAE-NO, N >= kernel_size for SAE-CNN); ``encode`` gives ``(batch, n_latents, *spatial)``; TopK keeps exactly k
latents per position. Atom norms are RMS over the kernel grid (the L2 norm over one period for SAE-NO).

Deviations from the paper: the concepts are parametrised by their samples on the reference grid rather than by
complex Fourier weights (same function space; a unit norm is then a Euclidean one, which makes the gradient
projection exact); the encoder is a single spectral convolution (no pointwise term), initialised as the matched
filter ``e_k(t) = kappa_k(-t)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid
from sciml.models.inputs import resolve_input
from sciml.models.sae.base import SparseAutoencoder

__all__ = ["SAECNN", "SAENO", "LiftedSAENO", "spectral_convolution", "evaluate_fourier"]


# ------------------------------------------------------------------------------------------ spectral helpers
def _low_indices(kept: Sequence[int], shape: Sequence[int], device) -> list[torch.Tensor]:
    """Per-axis indices of the kept modes in an ``rfftn`` of ``shape`` (|m| < k on full axes, m < k on the last)."""
    out = []
    for i, (k, n) in enumerate(zip(kept, shape)):
        if i == len(shape) - 1:
            out.append(torch.arange(k, device=device))
        else:
            out.append(torch.cat([torch.arange(k, device=device), torch.arange(n - (k - 1), n, device=device)]))
    return out


def _gather(x: torch.Tensor, idx: list[torch.Tensor]) -> torch.Tensor:
    for a, ix in enumerate(idx):
        x = x.index_select(x.dim() - len(idx) + a, ix)
    return x


def spectral_convolution(v: torch.Tensor, kernel: torch.Tensor, n_modes: Sequence[int], equation: str) -> torch.Tensor:
    """Mean circular convolution of ``v (batch, ., *N)`` with ``kernel (K, c, *M)`` through the kept Fourier modes.

    ``equation`` contracts kernel and input coefficients, e.g. ``"kc...,bc...->bk..."`` (encoder) or
    ``"kc...,bk...->bc..."`` (decoder). Modes ``|m_i| < min(n_modes_i, ceil(N_i / 2))`` are kept.
    """
    shape, mshape = list(v.shape[2:]), list(kernel.shape[2:])
    dims = tuple(range(-len(shape), 0))
    kept = [min(k, (n + 1) // 2) for k, n in zip(n_modes, shape)]
    vh = torch.fft.rfftn(v, dim=dims, norm="forward")
    kh = torch.fft.rfftn(kernel.to(v.dtype), dim=dims, norm="forward")
    iv, ik = _low_indices(kept, shape, v.device), _low_indices(kept, mshape, v.device)
    y = torch.einsum(equation, _gather(kh, ik), _gather(vh, iv))
    out = torch.zeros(*y.shape[:2], *shape[:-1], shape[-1] // 2 + 1, dtype=y.dtype, device=v.device)
    mesh = torch.meshgrid(*iv, indexing="ij")
    out[(Ellipsis, *mesh)] = y
    return torch.fft.irfftn(out, s=shape, dim=dims, norm="forward")


def evaluate_fourier(values: torch.Tensor, grid: Grid) -> torch.Tensor:
    """The trigonometric interpolant of ``values (K, c, *M)`` (samples of periodic functions on an odd reference
    grid over one period) evaluated at the coordinates of ``grid``: ``(K, c, *grid.shape)``."""
    mshape = values.shape[2:]
    dims = tuple(range(-len(mshape), 0))
    v = torch.fft.fftn(values, dim=dims, norm="forward")
    for a, (m, coords, (lo, hi)) in enumerate(zip(mshape, grid.coords, grid.bounds)):
        freqs = torch.fft.fftfreq(m, 1.0 / m, dtype=torch.float64)
        t = (torch.tensor(coords, dtype=torch.float64) - lo) / (hi - lo)
        e = torch.exp(2j * math.pi * freqs[:, None] * t[None, :]).to(v.dtype)
        v = torch.movedim(torch.tensordot(v, e, dims=([2 + a], [0])), -1, 2 + a)
    return v.real


def check_grid(grid: Any, model: str) -> None:
    """Circular convolutions need a uniform periodic Grid."""
    if not (isinstance(grid, Grid) and all(grid.periodic) and grid.is_uniform):
        raise ShapeError(f"{model}: expected a uniform periodic Grid (circular convolutions), got {grid!r}")


# ------------------------------------------------------------------------------------------ shared base
class _Convolutional(SparseAutoencoder):
    model_name = "convolutional sae"

    def __init__(
        self,
        in_channels: int,
        ndim: int,
        kernel_shape: Sequence[int],
        n_latents: int,
        lift_channels: int | None,
        sparse_kwargs: dict[str, Any],
    ) -> None:
        super().__init__(n_latents, **sparse_kwargs)
        if in_channels < 1 or ndim not in (1, 2, 3):
            raise ConfigError(f"{self.model_name}: need in_channels >= 1 and ndim in 1..3, got {in_channels}, {ndim}")
        self.ndim = int(ndim)
        self._init_dictionary(in_channels, lift_channels, kernel_shape, (in_channels,), self._matched)

    # the convolution of the subclass: kernels (K, c, *kernel_shape)
    def _convolve(self, v: torch.Tensor, kernel: torch.Tensor, equation: str) -> torch.Tensor:
        raise NotImplementedError

    def _matched(self, kernel: torch.Tensor) -> torch.Tensor:
        """``e(t) = kappa(-t)`` on the kernel grid."""
        raise NotImplementedError

    def _kernel_from(self, r: torch.Tensor) -> torch.Tensor:
        """A kernel ``(c, *kernel_shape)`` from a function ``r (c, *N)`` centred at index 0."""
        raise NotImplementedError

    def _prepare(self, x: Any, grid: Any) -> tuple[torch.Tensor, Any]:
        if grid is None and isinstance(x, torch.Tensor) and x.dim() == self.ndim + 2 and 0 not in x.shape[2:]:
            grid = Grid.uniform(tuple(x.shape[2:]), periodic=True)
        elif grid is None and isinstance(x, Field):
            grid = x.grid
        x, grid = resolve_input(x, grid, self.ndim, self.in_channels, self.model_name)
        check_grid(grid, self.model_name)
        return x, grid

    def _bias(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_bias.view(1, -1, *([1] * (x.dim() - 2)))

    def pre_activations(self, x: torch.Tensor, grid: Any) -> torch.Tensor:
        v = self._to_lifted(x - self._bias(x))
        pre = self._convolve(v, self.encoder, "kc...,bc...->bk...")
        return pre + self.encoder_bias.view(1, -1, *([1] * self.ndim))

    def decode_codes(self, z: torch.Tensor, grid: Any) -> torch.Tensor:
        return self._from_lifted(self._convolve(z, self.decoder, "kc...,bk...->bc..."))

    @torch.no_grad()
    def _reseed(self, dead: torch.Tensor, residuals: torch.Tensor, grid: Any) -> None:
        pick = self._worst(residuals, dead.numel())
        r = self._to_lifted(residuals[pick].to(self.decoder.dtype))  # (n, c, *N)
        dims = tuple(range(2, r.dim()))
        for j, latent in enumerate(dead.tolist()):
            energy = (r[j] ** 2).sum(0)
            peak = torch.unravel_index(energy.argmax(), energy.shape)
            centred = torch.roll(r[j : j + 1], [-int(p) for p in peak], dims)[0]
            kernel = self._kernel_from(centred)
            kernel = kernel / self._norms(kernel[None]).clamp_min(1e-12)
            self.decoder[latent] = kernel
            self.encoder[latent] = self._matched(kernel[None])[0]
            self.encoder_bias[latent] = 0.0


# ------------------------------------------------------------------------------------------ SAE-CNN
class SAECNN(_Convolutional):
    """Convolutional SAE with pixel kernels (see the module docstring).

    Args:
        in_channels: channels of the data; ndim: spatial dimensions (1 or 2).
        n_latents: number of concepts K; kernel_size: odd kernel width in pixels.
        activation, k, l1_coef, remedy, dead_after, aux_k, aux_coef: see ``sciml.models.sae.base``.
    """

    model_name = "sae_cnn"

    def __init__(
        self,
        in_channels: int = 1,
        ndim: int = 1,
        n_latents: int = 16,
        kernel_size: int = 15,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"sae_cnn: kernel_size must be odd and >= 1, got {kernel_size}")
        self.kernel_size = int(kernel_size)
        kw = dict(activation=activation, k=k, l1_coef=l1_coef, remedy=remedy, dead_after=dead_after)
        kw.update(aux_k=aux_k, aux_coef=aux_coef)
        super().__init__(in_channels, ndim, [kernel_size] * ndim, n_latents, None, kw)

    def _convolve(self, v: torch.Tensor, kernel: torch.Tensor, equation: str) -> torch.Tensor:
        ks, p = self.kernel_size, self.kernel_size // 2
        if any(n < ks for n in v.shape[2:]):
            raise ShapeError(f"sae_cnn: grid {tuple(v.shape[2:])} is smaller than the kernel ({ks} pixels per axis)")
        dims = tuple(range(2, kernel.dim()))
        w = kernel.flip(dims)  # torch convolutions are correlations
        w = w if equation.startswith("kc...,bc") else w.transpose(0, 1)
        conv = (F.conv1d, F.conv2d, F.conv3d)[self.ndim - 1]
        out = conv(F.pad(v, [p, p] * self.ndim, mode="circular"), w.to(v.dtype))
        return out / ks**self.ndim

    def _matched(self, kernel: torch.Tensor) -> torch.Tensor:
        return kernel.flip(tuple(range(2, kernel.dim())))

    def _kernel_from(self, r: torch.Tensor) -> torch.Tensor:
        p = self.kernel_size // 2
        for a, n in enumerate(r.shape[1:]):
            r = r.index_select(1 + a, torch.arange(-p, p + 1, device=r.device) % n)
        return r

    def atoms(self, grid: Any = None) -> torch.Tensor:
        """``(K, in_channels, *grid.shape)``: each kernel placed on the grid's pixels around index 0 (periodic).

        Without a grid, the kernels themselves (centred). The physical width is ``kernel_size`` cells of ``grid``.
        """
        w = self.decoder.detach()
        if grid is None:
            return w
        shape = tuple(grid.shape)
        if any(n < self.kernel_size for n in shape):
            raise ShapeError(f"sae_cnn: grid {shape} is smaller than the kernel ({self.kernel_size} pixels per axis)")
        out = torch.zeros(*w.shape[:2], *shape, dtype=w.dtype)
        p = self.kernel_size // 2
        idx = [torch.arange(-p, p + 1) % n for n in shape]
        out[(Ellipsis, *torch.meshgrid(*idx, indexing="ij"))] = w
        return out


# ------------------------------------------------------------------------------------------ SAE-NO
class SAENO(_Convolutional):
    """Sparse autoencoder neural operator (see the module docstring).

    Args:
        in_channels: channels of the data; ndim: spatial dimensions (1 or 2).
        n_latents: number of concepts K.
        n_modes: Fourier modes kept per axis (``|m| < n_modes``), an int or one per axis; concepts live on a
            reference grid of ``2 n_modes - 1`` points per axis.
        lift_channels: None (SAE-NO) or the lifted width (L-SAE-NO).
        activation, k, l1_coef, remedy, dead_after, aux_k, aux_coef: see ``sciml.models.sae.base``.
    """

    model_name = "sae_no"

    def __init__(
        self,
        in_channels: int = 1,
        ndim: int = 1,
        n_latents: int = 16,
        n_modes: int | Sequence[int] = 12,
        lift_channels: int | None = None,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        modes = [int(n_modes)] * ndim if isinstance(n_modes, int) else [int(m) for m in n_modes]
        if len(modes) != ndim or any(m < 1 for m in modes):
            raise ConfigError(f"{self.model_name}: n_modes must be >= 1, one per axis ({ndim}), got {n_modes}")
        self.n_modes = modes
        kw = dict(activation=activation, k=k, l1_coef=l1_coef, remedy=remedy, dead_after=dead_after)
        kw.update(aux_k=aux_k, aux_coef=aux_coef)
        super().__init__(in_channels, ndim, [2 * m - 1 for m in modes], n_latents, lift_channels, kw)

    def _convolve(self, v: torch.Tensor, kernel: torch.Tensor, equation: str) -> torch.Tensor:
        return spectral_convolution(v, kernel, self.n_modes, equation)

    def _matched(self, kernel: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(2, kernel.dim()))
        return torch.roll(kernel.flip(dims), [1] * len(dims), dims)

    def _kernel_from(self, r: torch.Tensor) -> torch.Tensor:
        ref = Grid.uniform([2 * m - 1 for m in self.n_modes], periodic=True)
        shape = list(r.shape[1:])
        dims = tuple(range(1, r.dim()))
        kept = [min(k, (n + 1) // 2) for k, n in zip(self.n_modes, shape)]
        idx = _low_indices(kept, shape, r.device)
        rh = torch.fft.rfftn(r, dim=dims, norm="forward")
        out = torch.zeros(r.shape[0], *ref.shape[:-1], ref.shape[-1] // 2 + 1, dtype=rh.dtype)
        ridx = _low_indices(kept, list(ref.shape), r.device)
        out[(Ellipsis, *torch.meshgrid(*ridx, indexing="ij"))] = _gather(rh, idx)
        return torch.fft.irfftn(out, s=list(ref.shape), dim=dims, norm="forward")

    def atoms(self, grid: Any = None) -> torch.Tensor:
        """``(K, in_channels, *grid.shape)``: the concepts ``Q kappa_k`` evaluated on any Grid (the reference grid
        of ``2 n_modes - 1`` points per axis when None)."""
        w = self.decoder.detach()
        if self.lift_channels is not None:
            w = torch.einsum("cl,kl...->kc...", self.project.detach(), w)
        if grid is None:
            return w
        if grid.ndim != self.ndim:
            raise ShapeError(f"{self.model_name}: expected a {self.ndim}-D grid, got {grid.ndim}-D")
        return evaluate_fourier(w, grid)


class LiftedSAENO(SAENO):
    """L-SAE-NO: ``SAENO`` with a pointwise lift to ``lift_channels`` (default 4) and a projection back."""

    model_name = "lifted_sae_no"

    def __init__(
        self,
        in_channels: int = 1,
        ndim: int = 1,
        n_latents: int = 16,
        n_modes: int | Sequence[int] = 12,
        lift_channels: int = 4,
        activation: str = "relu",
        k: int | None = None,
        l1_coef: float = 1e-2,
        remedy: str | None = "auxk",
        dead_after: int = 4096,
        aux_k: int | None = None,
        aux_coef: float = 1.0 / 32,
    ) -> None:
        super().__init__(
            in_channels, ndim, n_latents, n_modes, lift_channels, activation, k, l1_coef, remedy, dead_after, aux_k,
            aux_coef,
        )  # fmt: skip
