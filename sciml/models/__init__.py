"""Operator-learning models, built by name from plain configs.

    >>> import sciml.models
    >>> model = sciml.models.build("fno", in_channels=1, out_channels=1, n_modes=[12, 12], hidden_channels=32)

Every model is an ``nn.Module`` whose ``forward(x, grid=None)`` takes ``x`` shaped ``(batch, channels,
*spatial)`` (or a ``Field``) and the ``Grid`` it is sampled on, and returns ``(batch, out_channels,
*spatial)``. ``build`` records the name and config on the module (``sciml.models.protocol.model_spec(model)``) so
that checkpoints rebuild it without pickling classes. The contract every model follows, and the capabilities it
may declare (``Objective``, ``StepHook``, ``Staged``), are in ``sciml.models.protocol`` and docs/developer.md.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sciml.core.registry import Registry
from sciml.models.protocol import attach_spec, model_spec

_MODELS = Registry(
    "model",
    {
        "fno": "sciml.models.fno:FNO",
        "mgno": "sciml.models.mgno:MgNO",
        "codano": "sciml.models.codano:CoDANO",
        "vano": "sciml.models.vano:VANO",
        "deeponet": "sciml.models.deeponet:DeepONet",
        "sae": ("sciml.models.sae:SAE", {"task": "dictionary"}),
        "lifted_sae": ("sciml.models.sae:LiftedSAE", {"task": "dictionary"}),
        "sae_cnn": ("sciml.models.sae:SAECNN", {"task": "dictionary"}),
        "sae_no": ("sciml.models.sae:SAENO", {"task": "dictionary"}),
        "lifted_sae_no": ("sciml.models.sae:LiftedSAENO", {"task": "dictionary"}),
        "met2net": ("sciml.models.met2net:Met2Net", {"task": "forecast"}),
        "ncds": ("sciml.dynamics.ncds:NCDS", {"task": "rollout"}),
        "latent_ncds": ("sciml.dynamics.latent:LatentNCDS", {"task": "rollout"}),
        "ncds_so3": ("sciml.dynamics.so3:SO3NCDS", {"task": "rollout"}),
        "mlp_field": ("sciml.dynamics.ncds:MLPField", {"task": "rollout"}),
        "linear_stable": ("sciml.dynamics.ncds:LinearStableField", {"task": "rollout"}),
    },
)

register = _MODELS.register
available = _MODELS.available
check_config = _MODELS.check_config
get = _MODELS.get


def task_of(name: str) -> str:
    """The task a model is trained and evaluated as ("operator" unless its registry entry says otherwise)."""
    return _MODELS.meta(name).get("task", "operator")


def build(name: str, **config: Any) -> nn.Module:
    """Build model ``name`` from keyword config; an unknown key raises ConfigError naming allowed keys."""
    model = _MODELS.build(name, **config)
    return attach_spec(model, name, config)


__all__ = ["build", "available", "register", "check_config", "get", "task_of", "model_spec"]
