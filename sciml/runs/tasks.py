"""Tasks: what kind of learning problem a run is, so that the run system and the CLI know tasks, not families.

A model family registers its task in its model registry entry (``("module:Class", {"task": "rollout"})``); the
default is "operator". A task says

* which config classes validate the run's ``data`` and ``eval`` sections (``data_config``, ``eval_config``);
* how the data of a run are built (``prepare``: training and validation datasets, the grid, and the model keywords
  that come from the data, such as a dimension or a goal);
* how a trained model is judged (``evaluate``, written to ``RUN_DIR/eval.json`` by the run system), how the result
  reads on a terminal (``report``), what is written after training (``after_training``) and what ``sciml plot``
  draws (``plot``).

Built-in tasks: "operator" (``sciml.runs.operator``: function-to-function maps, evaluation at several
resolutions) and "rollout" (``sciml.runs.rollout``: learned dynamical systems, rollouts against demonstrations).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from sciml.core.registry import Registry

__all__ = ["Task", "Prepared", "TASKS", "get_task", "register_task"]


@dataclass
class Prepared:
    """The data side of a run, built by ``Task.prepare`` before anything is written.

    ``model_kwargs`` are filled into the model's config (e.g. the dimension and goal of demonstrations);
    ``wrap`` is applied to the built model (e.g. the normalising wrapper with statistics of the training split).
    """

    train: Dataset
    val: Dataset | None = None
    grid: Any = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Task(abc.ABC):
    """The contract of a task (see the module docstring). Subclasses are stateless: one instance serves all runs."""

    name: str = ""
    data_config: type = dict
    eval_config: type = dict

    @abc.abstractmethod
    def prepare(self, cfg: Any, resume: bool = False) -> Prepared:
        """Open and check the run's data; raise a sciml error naming what is wrong (nothing is written yet)."""

    @abc.abstractmethod
    def build_model(self, cfg: Any, prepared: Prepared, fresh: bool = True) -> nn.Module:
        """The model of ``cfg`` for these data (``fresh``: a new run, so data statistics may be set)."""

    @abc.abstractmethod
    def rebuild_model(self, cfg: Any, state: dict[str, Any], checkpoint: Path) -> nn.Module:
        """The model of a finished run from its config and checkpoint ``state`` (weights not yet loaded)."""

    #: the ``sciml evaluate`` options (``resolutions``, ``data``) this task reads; ``evaluate_run`` refuses the others
    #: by name instead of ignoring them
    evaluate_options: frozenset[str] = frozenset()

    @abc.abstractmethod
    def evaluate(self, model: nn.Module, cfg: Any, options: dict[str, Any]) -> dict[str, Any]:
        """Metrics of a trained model; ``options`` come from the CLI (``resolutions``, ``data``...)."""

    def report(self, results: dict[str, Any]) -> list[str]:
        """Lines that show ``results`` on a terminal."""
        return [f"{k:>28}: {v}" for k, v in results.items()]

    def after_training(self, run_dir: Path, model: nn.Module, cfg: Any, prepared: Prepared, history: list) -> None:  # noqa: B027
        """Anything a task writes once training ends (default: nothing)."""

    @abc.abstractmethod
    def plot(self, run_dir: Path, model: nn.Module, cfg: Any, evals: dict[str, Any] | None) -> Sequence[Path]:
        """PNG figures of a trained run (the loss curve is drawn by the run system)."""


TASKS = Registry(
    "task",
    {
        "operator": "sciml.runs.operator:OperatorTask",
        "rollout": "sciml.runs.rollout:RolloutTask",
        "forecast": "sciml.runs.forecast:ForecastTask",
        "dictionary": "sciml.runs.dictionary:DictionaryTask",
    },
)
_INSTANCES: dict[str, Task] = {}


def get_task(name: str) -> Task:
    """The task registered as ``name`` (ConfigError naming the available ones)."""
    if name not in _INSTANCES:
        _INSTANCES[name] = TASKS.get(name)()
    return _INSTANCES[name]


def register_task(name: str, cls: type[Task]) -> None:
    """Add a task (a ``Task`` subclass) under ``name``."""
    TASKS.register(name, cls)
    _INSTANCES.pop(name, None)
