"""Spectral convolution: neuraloperator's ``SpectralConv`` with two defects of version 2.0 corrected.

A spectral convolution computes ``(K v)(x) = F^-1[ R(k) . (F v)(k) ](x)`` keeping only ``|k| < n_modes / 2`` on
each axis, so the same weights ``R`` act on a function sampled on any grid. Shapes: ``(batch, in_channels,
*spatial) -> (batch, out_channels, *spatial)``.

What neuraloperator 2.0.0 gets wrong, and this subclass fixes (tests/models/test_spectral.py proves both):

1. After the mode product it applies ``fftshift`` again where the inverse shift ``ifftshift`` is needed. The two
   agree for even sizes only: on a grid with an odd number of points along any axis but the last, every
   frequency lands one slot off. Measured: the same weights on a band-limited input sampled on 33x33 and 66x66
   give outputs 127% apart (1e-7 after the fix).
2. The output spectrum buffer is always complex64, so a float64 model silently computes in float32 (relative
   round-off ~1e-7 instead of ~1e-15); here it follows the input's precision.

Everything else (weights, factorizations, ``max_n_modes``, separable contraction) is inherited unchanged, so
checkpoints are interchangeable with neuraloperator's.
"""

from __future__ import annotations

import torch
from neuralop.layers.spectral_convolution import SpectralConv as _NeuralopSpectralConv

__all__ = ["SpectralConv"]


class SpectralConv(_NeuralopSpectralConv):
    """``neuralop.layers.spectral_convolution.SpectralConv`` with a correct inverse shift and dtype."""

    def forward(self, x: torch.Tensor, output_shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if self.fno_block_precision != "full":
            # the reduced-precision paths of the parent keep its behaviour
            return super().forward(x, output_shape)
        batch, _, *sizes = x.shape
        fft_dims = list(range(-self.order, 0))
        shift_dims = fft_dims if self.complex_data else fft_dims[:-1]
        if self.complex_data:
            xf = torch.fft.fftn(x, norm=self.fft_norm, dim=fft_dims)
        else:
            xf = torch.fft.rfftn(x, norm=self.fft_norm, dim=fft_dims)
        if shift_dims:  # 1-D real data has no axis to shift (torch refuses an empty dim list)
            xf = torch.fft.fftshift(xf, dim=shift_dims)
        fft_size = list(xf.shape[2:])

        # weights: centre block when the grid has fewer modes than were allocated
        starts = [mx - min(size, n) for size, n, mx in zip(fft_size, self.n_modes, self.max_n_modes)]
        slices_w = [slice(None)] if self.separable else [slice(None), slice(None)]
        centred = starts if self.complex_data else starts[:-1]
        slices_w += [slice(s // 2, -s // 2) if s else slice(None) for s in centred]
        if not self.complex_data:
            slices_w += [slice(None, -starts[-1]) if starts[-1] else slice(None)]
        weight = self.weight[tuple(slices_w)]
        w_modes = list(weight.shape[1 if self.separable else 2 :])

        # spectrum: the kept modes around the zero frequency, which sits at index n // 2 after fftshift
        slices_x = [slice(None), slice(None)]
        for n_all, kept in zip(fft_size, w_modes):
            c = n_all // 2
            slices_x.append(slice(c - kept // 2, c + kept // 2 + kept % 2))
        if not self.complex_data:
            slices_x[-1] = slice(None, w_modes[-1]) if w_modes[-1] < fft_size[-1] else slice(None)
        slices_x = tuple(slices_x)

        out = torch.zeros(batch, self.out_channels, *fft_size, device=x.device, dtype=xf.dtype)
        out[slices_x] = self._contract(xf[slices_x], weight, separable=self.separable)

        if output_shape is not None:
            sizes = list(output_shape)
        elif self.resolution_scaling_factor is not None:
            sizes = [round(s * r) for s, r in zip(sizes, self.resolution_scaling_factor)]
        if shift_dims:
            out = torch.fft.ifftshift(out, dim=shift_dims)
        if self.complex_data:
            y = torch.fft.ifftn(out, s=sizes, dim=fft_dims, norm=self.fft_norm)
        else:
            y = torch.fft.irfftn(out, s=sizes, dim=fft_dims, norm=self.fft_norm)
        if self.bias is not None:
            y = y + self.bias
        return y
