"""Mixed precision helpers: bf16 autocast for the Trainer, fp32 islands for FFTs and losses.

Under ``amp="bf16"`` the Trainer runs the forward pass inside ``torch.autocast(device_type, torch.bfloat16)``
(CUDA and CPU): matmuls and convolutions run in bf16, reductions and the loss in fp32. FFTs must not: bf16
keeps 8 bits of mantissa, so spectral coefficients of a 64-point transform lose most of their accuracy, and
``torch.fft`` does not accept bf16 on every backend. A model with its own spectral layer wraps it as

    from sciml.training.amp import fp32

    with fp32():                       # autocast off inside
        xh = torch.fft.rfftn(x.float(), dim=(-2, -1))
        ...

or decorates the method with ``@fft_fp32`` (autocast off and floating tensor arguments cast to fp32).
neuraloperator's ``SpectralConv`` (with its default ``fno_block_precision="full"``) already casts its input
to fp32 before the FFT and returns fp32, so FNO-style models built from it need nothing extra.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch

from sciml.core.errors import ConfigError

__all__ = ["autocast", "fp32", "fft_fp32", "to_fp32"]

_LOW = (torch.bfloat16, torch.float16)


def autocast(amp: str | None, device_type: str) -> contextlib.AbstractContextManager:
    """Context for the forward pass: bf16 autocast when ``amp == "bf16"``, a no-op when None."""
    if amp is None:
        return contextlib.nullcontext()
    if amp != "bf16":
        raise ConfigError(f"amp must be null or 'bf16', got {amp!r}")
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


@contextlib.contextmanager
def fp32() -> Iterator[None]:
    """Disable autocast (CUDA and CPU) inside the block; tensors created there stay fp32."""
    with contextlib.ExitStack() as stack:
        for dev in ("cpu", "cuda"):
            if dev == "cuda" and not torch.cuda.is_available():
                continue
            stack.enter_context(torch.autocast(device_type=dev, enabled=False))
        yield


def to_fp32(x: Any) -> Any:
    """Cast a bf16/fp16 tensor to fp32 (other values unchanged)."""
    return x.float() if isinstance(x, torch.Tensor) and x.dtype in _LOW else x


def fft_fp32(fn: Callable) -> Callable:
    """Decorator: run ``fn`` with autocast disabled and low-precision tensor arguments cast to fp32."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fp32():
            return fn(*(to_fp32(a) for a in args), **{k: to_fp32(v) for k, v in kwargs.items()})

    return wrapper
