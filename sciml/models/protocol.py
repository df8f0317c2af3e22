"""The model contract: what every registered sciml model is, and the capabilities it may declare.

Every model is an ``nn.Module`` built by name from a JSON config (``sciml.models.build(name, **config)``) so that a
checkpoint rebuilds it without pickled classes. Its ``forward`` takes ``(x, grid=None)``: ``x`` a tensor
``(batch, channels, *spatial)`` or a ``Field``, ``grid`` the ``Grid`` it is sampled on (``resolve_input`` turns
both into ``(values, grid)`` with shape checks). Dynamical-system models (task "rollout") take ``(batch, dim)``
states and no grid.

Beyond ``forward``, a model declares what else it can do by *inheriting* one of the capability classes below.
The Trainer and the run system test ``isinstance(model, Objective)`` and so on; they never probe attributes:

* ``Objective``: the model computes its own training loss and the terms to log from a batch (VANO's ELBO, masked
  pretraining, an SAE's reconstruction + sparsity). Without it the Trainer applies the configured loss to
  ``forward(x, grid)`` and the target.
* ``StepHook``: ``after_step()`` runs after every optimizer step and never in evaluation (EMA copies, unit-norm
  dictionary atoms).
* ``Generative``: ``sample(n, grid)`` draws new functions (VANO); plots show them next to data.
* ``Staged``: the model adapts itself when a training phase starts (``enter_stage``: a mode switch), may freeze
  more than the phase names (``frozen_parameters``) and may customise how pretrained weights are loaded
  (``load_pretrained``). The phases themselves (which parameters train, optimizer settings, length, weights to
  load) are data: ``Stage``, listed in a config's ``train.stages``; every model can be trained in stages.

* ``RawInputChannels``: ``raw_input_channels()`` lists input channels that are indicators (a 0/1 geometry mask)
  and must reach the model exactly as given: the normalising wrapper of operator runs leaves them unscaled.

``ModelSpec`` is the name and config a model was built from; ``build`` attaches it and checkpoints store it.
"""

from __future__ import annotations

import abc
import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from sciml.core.errors import CheckpointError, ConfigError

__all__ = [
    "Model",
    "Objective",
    "StepHook",
    "Staged",
    "Generative",
    "RawInputChannels",
    "Stage",
    "ModelSpec",
    "model_spec",
    "attach_spec",
    "matches",
    "apply_trainable",
    "load_matching",
    "Wrapper",
]


@runtime_checkable
class Model(Protocol):
    """What every registered model provides (a typed description; every ``nn.Module`` with this forward fits)."""

    def forward(self, x: Any, grid: Any = None) -> torch.Tensor: ...


class Objective(abc.ABC):
    """Capability: the model computes its own training loss.

    ``objective(batch, grid)`` receives the batch exactly as the DataLoader yields it (moved to the device) and the
    training Grid (None for non-gridded data) and returns ``(loss, metrics)``: a scalar tensor to minimise and a
    dict of floats or 0-d tensors logged as ``train_<name>`` (per-sample means over the epoch).
    """

    @abc.abstractmethod
    def objective(self, batch: Any, grid: Any = None) -> tuple[torch.Tensor, dict[str, Any]]: ...


class Generative(abc.ABC):
    """Capability: the model draws new functions, ``sample(n, grid, generator=None) -> (n, channels, *grid.shape)``
    (VANO); ``sciml plot`` shows samples next to data."""

    @abc.abstractmethod
    def sample(self, n: int, grid: Any, generator: torch.Generator | None = None) -> torch.Tensor: ...


class StepHook(abc.ABC):
    """Capability: ``after_step()`` runs after every optimizer step (and scheduler step), never in evaluation."""

    @abc.abstractmethod
    def after_step(self) -> None: ...


class RawInputChannels(abc.ABC):
    """Capability: some input channels are indicators (e.g. DeepONet's 0/1 geometry mask) that the model reads as
    they are; wrappers that rescale inputs (``Normalized``) pass these channels through unchanged."""

    @abc.abstractmethod
    def raw_input_channels(self) -> list[int]:
        """Indices of the input channels that must not be rescaled (may be empty)."""


@dataclass
class Stage:
    """One training phase. Plain data: a config's ``train.stages`` is a list of these.

    Args:
        name: label in logs and metrics.jsonl (``stage`` column).
        epochs: length of the phase in epochs.
        lr, weight_decay: optimizer settings of the phase (None: ``train.lr`` / ``train.weight_decay``). A fresh
            optimizer (and scheduler, over the phase's epochs) starts with every phase.
        trainable: glob patterns of parameter names that train (None: all), e.g. ``["head.*", "projection.*"]``.
        frozen: glob patterns of parameter names that do not train (applied after ``trainable``).
        init_from: checkpoint (a ``.pt`` file or a run directory, whose ``checkpoints/last.pt`` is used) whose weights
            are loaded when the phase starts; never re-loaded when a run resumes inside the phase.
        init_keys: glob patterns of the state-dict keys taken from ``init_from`` (None: every key of this model).
        settings: free-form JSON settings handed to ``Staged.enter_stage`` (e.g. ``{"mode": "finetune"}``).
    """

    name: str = "train"
    epochs: int = 1
    lr: float | None = None
    weight_decay: float | None = None
    trainable: list[str] | None = None
    frozen: list[str] = field(default_factory=list)
    init_from: str | None = None
    init_keys: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"stage {self.name!r}: epochs must be >= 1, got {self.epochs}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"stage {self.name!r}: lr must be a finite number > 0 or null, got {self.lr}")
        if self.weight_decay is not None and not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"stage {self.name!r}: weight_decay must be finite and >= 0, got {self.weight_decay}")


class Staged(abc.ABC):
    """Capability: the model has training phases of its own or adapts itself when a phase starts.

    The Trainer calls, at the start of each phase (and again when a run resumes inside it, with ``resumed=True``):
    ``load_pretrained`` (fresh starts only, when the phase has ``init_from``), then ``enter_stage``, then freezes the
    parameters the phase does not train.
    """

    @abc.abstractmethod
    def enter_stage(self, stage: Stage, resumed: bool = False) -> None:
        """Adapt the model to ``stage`` (its ``settings``, e.g. a training mode); ``resumed`` inside the phase."""

    def frozen_parameters(self, stage: Stage) -> list[str]:
        """Extra glob patterns of parameters frozen in ``stage`` beyond ``stage.frozen`` (default: none)."""
        return []

    def load_pretrained(self, state: dict[str, torch.Tensor], keys: list[str] | None) -> list[str]:
        """Load the entries of ``state`` matching ``keys`` (all when None); returns the keys loaded."""
        assert isinstance(self, nn.Module)
        return load_matching(self, state, keys)


class Wrapper(abc.ABC):
    """A module that holds one model under ``self.model`` and adds something around it (``Normalized``).

    Stage patterns (``trainable``, ``frozen``) name the inner model's parameters: the ``model.`` prefix is implied.
    """

    wrapped_prefix = "model."

    @property
    @abc.abstractmethod
    def wrapped(self) -> nn.Module:
        """The inner model."""


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], keys: list[str] | None) -> list[str]:
    """Copy ``state[k]`` into ``model`` for its keys matching ``keys`` (all when None), shapes checked."""
    own = model.state_dict()
    wanted = [k for k in own if keys is None or matches(k, keys)]
    if not wanted:
        raise CheckpointError(f"no parameter of {type(model).__name__} matches init_keys {keys}")
    missing = [k for k in wanted if k not in state]
    if missing:
        raise CheckpointError(
            f"the pretrained checkpoint lacks {len(missing)} of the {len(wanted)} requested weights, e.g. {missing[:3]}"
        )
    for k in wanted:
        if tuple(state[k].shape) != tuple(own[k].shape):
            raise CheckpointError(
                f"pretrained weight {k!r} has shape {tuple(state[k].shape)}, the model expects {tuple(own[k].shape)}"
            )
    model.load_state_dict({k: state[k] for k in wanted}, strict=False)
    return wanted


def matches(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches one of the glob ``patterns`` (a bare prefix ``"head"`` also matches ``head.*``)."""
    return any(fnmatch.fnmatchcase(name, p) or name.startswith(p.rstrip(".") + ".") for p in patterns)


def apply_trainable(model: nn.Module, stage: Stage) -> list[str]:
    """Set ``requires_grad`` per ``stage`` (and the model's own ``frozen_parameters``); returns the trainable names."""
    frozen = list(stage.frozen)
    if isinstance(model, Staged):
        frozen += model.frozen_parameters(stage)
    names = []
    prefix = model.wrapped_prefix if isinstance(model, Wrapper) else ""
    for name, p in model.named_parameters():
        inner = name[len(prefix) :] if prefix and name.startswith(prefix) else name
        on = (stage.trainable is None or matches(inner, stage.trainable)) and not matches(inner, frozen)
        p.requires_grad_(on)
        if on:
            names.append(name)
    if not names:
        raise ConfigError(
            f"stage {stage.name!r} trains no parameter (trainable={stage.trainable}, frozen={frozen}); "
            f"parameter names look like {[n for n, _ in model.named_parameters()][:4]}"
        )
    return names


@dataclass(frozen=True)
class ModelSpec:
    """The registry name and JSON config a model was built from (enough to rebuild it)."""

    name: str
    config: dict[str, Any]


_SPEC_ATTR = "_sciml_spec"


def attach_spec(model: nn.Module, name: str, config: dict[str, Any]) -> nn.Module:
    """Record the spec a model was built from (done by ``sciml.models.build``)."""
    object.__setattr__(model, _SPEC_ATTR, ModelSpec(name, dict(config)))
    return model


def model_spec(model: nn.Module) -> ModelSpec | None:
    """The ``ModelSpec`` of a model built through the registry (or of the model a wrapper holds); else None."""
    return model.__dict__.get(_SPEC_ATTR)
