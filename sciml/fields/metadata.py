"""Validation of what a Field carries beside its values: channel names, units, JSON attributes, mask layout.

Shared by ``Field`` and the file writers (``sciml.fields.hdf5.write_trajectories``, the lazy readers), so a
name list, an ``attrs`` dict or a mask is accepted or refused by the same rule wherever it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sciml.core.errors import DataFormatError, InvalidValueError, ShapeError

__all__ = ["channel_names", "canonical_attrs", "check_mask_layout"]


def channel_names(value: Any, n: int, what: str, default: Callable[[int], str]) -> tuple[str, ...]:
    """``n`` per-channel strings from ``value`` (None: ``default(i)``; one string: repeated, except for
    ``what="variables"`` with ``n != 1``); ShapeError when the count differs from the channels."""
    if value is None:
        return tuple(default(i) for i in range(n))
    if isinstance(value, str):
        if what == "variables" and n != 1:
            raise ShapeError(f"variables has 1 name ({value!r}) but the values have {n} channels")
        return (value,) * n
    out = tuple(str(v) for v in value)
    if len(out) != n:
        raise ShapeError(f"{what} has {len(out)} entries {list(out)} but the values have {n} channels")
    return out


def canonical_attrs(attrs: dict | None) -> dict:
    """A JSON round-tripped copy of ``attrs`` (DataFormatError naming the key that is not serialisable)."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise DataFormatError(f"attrs must be a dict, got {type(attrs).__name__}")
    for k, v in attrs.items():
        try:
            json.dumps(v, allow_nan=True)
        except (TypeError, ValueError) as e:
            raise DataFormatError(f"attrs[{k!r}] is not JSON-serialisable ({type(v).__name__}): {e}") from None
    return json.loads(json.dumps(attrs))


def check_mask_layout(
    is_bool: bool,
    dtype: Any,
    shape: Sequence[int],
    values_shape: Sequence[int],
    spatial: Sequence[int],
    where: str = "",
) -> None:
    """The schema's rule for a mask of values ``values_shape``: boolean, shaped ``spatial`` (one mask for all
    samples), ``(n, 1, *spatial)`` (one per sample or trajectory) or like the values. Shared by ``Field`` and
    the HDF5 readers (which check a stored mask without reading it); ``where`` prefixes the message."""
    prefix = f"{where}: " if where else ""
    if not is_bool:
        raise InvalidValueError(f"{prefix}mask must be boolean (True where the field is defined), got dtype {dtype}")
    spatial, values_shape = tuple(spatial), tuple(values_shape)
    per_sample = (values_shape[0], 1, *spatial)
    if tuple(shape) not in (spatial, per_sample, values_shape):
        raise ShapeError(
            f"{prefix}mask has shape {tuple(shape)}; expected {spatial} (one mask for all samples), "
            f"{per_sample} (one per sample) or the values' shape {values_shape}"
        )
