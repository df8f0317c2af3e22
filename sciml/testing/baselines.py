"""Baselines from neuraloperator configured the way the papers use them, shared by tests and benchmarks."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from torch import nn


def neuralop_codano(
    variables: Sequence[str],
    width: int = 8,
    modes: int = 8,
    n_layers: int = 2,
    n_heads: int = 1,
    lifting_channels: int = 16,
    projection_channels: int = 16,
    pe_dim: int = 4,
    cls_token: bool = False,
) -> nn.Module:
    """neuraloperator 2.0's CODANO as in the CoDA-NO paper: one token per variable on a 2-D grid.

    ``attention_token_dim = width`` makes each variable one token (the library's default of 1 makes every hidden
    channel a token, which is slower and not the paper's model). neuraloperator prints a line per layer while
    building; that output is swallowed.
    """
    from neuralop.models import CODANO

    with contextlib.redirect_stdout(io.StringIO()):
        return CODANO(
            lifting_channels=lifting_channels,
            hidden_variable_codimension=width,
            projection_channels=projection_channels,
            use_positional_encoding=True,
            positional_encoding_dim=pe_dim,
            positional_encoding_modes=[modes, modes],
            variable_ids=list(variables),
            n_layers=n_layers,
            n_modes=[[modes, modes]] * n_layers,
            n_heads=[n_heads] * n_layers,
            per_layer_scaling_factors=[[1, 1]] * n_layers,
            attention_scaling_factors=[1] * n_layers,
            attention_token_dim=width,
            domain_padding=None,
            enable_cls_token=cls_token,
        )
