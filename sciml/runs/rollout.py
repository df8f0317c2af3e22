"""The "rollout" task: learn a dynamical system x' = f(x) from demonstrations; judge it by rolling it out.

Config sections (YAML/JSON types)::

    model:  name: ncds | latent_ncds | ncds_so3 | mlp_field | linear_stable, plus the model's keyword arguments;
            the dimension and goal (dim / data_dim / goal / goal_rotation / goal_position) come from the data
    data:   source: lasa             -> shapes (str or list), subsample (int)
            source: so3_trajectories -> keyword arguments of sciml.data.so3.so3_trajectories
    train:  sciml.training.TrainConfig (ncds_so3 trains with geoopt's RiemannianAdam)
    eval:   rollout_points (int, default 200), rtol (float, default 1e-5)

Training minimises the model's own objective (every rollout model declares one: velocity regression on demonstrated
(position, velocity) pairs in standardised LASA units; latent NCDS adds beta times its negative ELBO; SO(3) regresses
body angular and linear velocities). After training, ``results.json`` holds the rollout metrics; ``sciml evaluate``
recomputes them from the checkpoint and ``sciml plot`` draws phase portraits, rollouts or SO(3) error curves.

Run directories written before the run system was shared (checkpoints whose weights sit under ``field.``) still
evaluate and plot: the prefix is removed on load.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

import sciml.models
from sciml.core.config import convert
from sciml.core.errors import ConfigError
from sciml.core.files import atomic_path
from sciml.core.registry import accepted_keys
from sciml.dynamics.evaluate import body_velocities, evaluate_lasa, evaluate_so3
from sciml.runs.config import ExperimentConfig
from sciml.runs.tasks import Prepared, Task

log = logging.getLogger(__name__)

__all__ = ["RolloutTask", "RolloutDataConfig", "RolloutEvalConfig"]

# model keywords that come from the data, never from the config
FILLED = ("dim", "data_dim", "goal", "goal_rotation", "goal_position")
_LASA_KEYS = ("shapes", "subsample")


@dataclass
class RolloutDataConfig:
    """Demonstrations: LASA handwriting shapes, or SO(3) trajectories made from them (``sciml.data.so3``)."""

    source: str | None = None
    shapes: str | list[str] | None = None
    subsample: int | None = None
    n_samples: int | None = None
    resolution: int | None = None
    seed: int | None = None
    shape: str | None = None
    max_angle: float | None = None
    duration: float | None = None
    goal_axis_angle: list[float] | None = None
    goal_position: list[float] | None = None


@dataclass
class RolloutEvalConfig:
    """Rollouts are compared with the demonstrations at ``rollout_points`` times; ``rtol`` of the ODE solver."""

    rollout_points: int = 200
    rtol: float = 1e-5

    def __post_init__(self) -> None:
        if self.rollout_points < 2:
            raise ConfigError(f"eval.rollout_points must be >= 2, got {self.rollout_points}")
        if not (np.isfinite(self.rtol) and self.rtol > 0):
            raise ConfigError(f"eval.rtol must be finite and > 0, got {self.rtol}")


def _source(cfg: ExperimentConfig) -> str:
    name = cfg.model.get("name")
    source = cfg.data.source or ("so3_trajectories" if name == "ncds_so3" else "lasa")
    if source not in ("lasa", "so3_trajectories"):
        raise ConfigError(f"unknown data.source {source!r}; allowed: lasa, so3_trajectories")
    if (name == "ncds_so3") != (source == "so3_trajectories"):
        raise ConfigError(f"model.name {name!r} does not go with data.source {source!r}")
    given = {k: v for k, v in vars(cfg.data).items() if v is not None and k != "source"}
    allowed = _LASA_KEYS if source == "lasa" else [k for k in accepted_keys(_so3_generator())[0] if k != "source"]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in data (source {source!r}); "
            f"allowed: source, {', '.join(sorted(allowed))}"
        )
    return source


def _so3_generator():
    from sciml.data.so3 import so3_trajectories

    return so3_trajectories


def _float_tensors(*arrays) -> list[torch.Tensor]:
    return [torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32) for a in arrays]


def load_demonstrations(cfg: ExperimentConfig) -> tuple[str, Any]:
    """``(source, data)``: standardised LASA demonstrations or the so3_trajectories dict of a rollout config."""
    source = _source(cfg)
    if source == "lasa":
        from sciml.data.lasa import load_lasa

        subsample = convert(int, cfg.data.subsample if cfg.data.subsample is not None else 1, "data.subsample")
        if subsample < 1:
            raise ConfigError(f"data.subsample must be >= 1, got {subsample}")
        return source, load_lasa(cfg.data.shapes or "Angle", standardize=True, subsample=subsample)
    params = {k: v for k, v in vars(cfg.data).items() if v is not None and k not in ("source", *_LASA_KEYS)}
    return source, _so3_generator()(**params)


def _scores(model: nn.Module, cfg: ExperimentConfig, source: str, data: Any) -> dict:
    """Rollout metrics of ``model`` on the demonstrations ``data`` (LASA or SO(3), per ``source``)."""
    model = model.cpu().eval()
    n, rtol = cfg.eval.rollout_points, cfg.eval.rtol
    metrics = evaluate_lasa(model, data, n, rtol) if source == "lasa" else evaluate_so3(model, data, n, rtol)
    return {"model": cfg.model["name"], **metrics}


class RolloutTask(Task):
    """Learned dynamical systems (NCDS in R^n, latent, on SO(3), and their baselines); see the module docstring."""

    name = "rollout"
    data_config = RolloutDataConfig
    eval_config = RolloutEvalConfig

    def prepare(self, cfg: ExperimentConfig, resume: bool = False) -> Prepared:
        given = sorted(set(cfg.model) & set(FILLED))
        if given:
            raise ConfigError(f"model keys {given} come from the data; remove them from the config")
        source, data = load_demonstrations(cfg)
        if source == "lasa":
            goal = [float(g) for g in np.asarray(data.goal).ravel()]
            kwargs = {"dim": data.dim, "data_dim": data.dim, "goal": goal}
            x, v = data.flat()
            dataset = TensorDataset(*_float_tensors(x, v))
        else:
            kwargs = {"goal_rotation": data["goal_rotation"].tolist(), "goal_position": data["goal_position"].tolist()}
            omega, vel = body_velocities(data["rotations"], data["positions"], data["t"])
            quaternion = cfg.model.get("representation") == "quaternion"
            orient = data["quaternions"] if quaternion else data["rotations"]
            n = omega.shape[0] * omega.shape[1]
            arrays = [a.reshape(n, *a.shape[2:]) for a in (orient, data["positions"], omega, vel)]
            dataset = TensorDataset(*_float_tensors(*arrays))
        return Prepared(dataset, None, None, model_kwargs=kwargs, extra={"source": source, "data": data})

    def build_model(self, cfg: ExperimentConfig, prepared: Prepared, fresh: bool = True) -> nn.Module:
        name = cfg.model["name"]
        accepted = accepted_keys(sciml.models.get(name))[0]
        fill = {k: v for k, v in prepared.model_kwargs.items() if k in accepted}
        return sciml.models.build(name, **{k: v for k, v in cfg.model.items() if k != "name"}, **fill)

    def rebuild_model(self, cfg: ExperimentConfig, state: dict, checkpoint: Path) -> nn.Module:
        sd = state["model"]
        if sd and all(k.startswith("field.") for k in sd):  # written by the former NCDS loop (a wrapper module)
            state["model"] = {k[len("field.") :]: v for k, v in sd.items()}
        if state.get("model_name") is not None and state.get("model_config") is not None:
            return sciml.models.build(state["model_name"], **state["model_config"])
        return self.build_model(cfg, self.prepare(cfg))

    def evaluate(self, model: nn.Module, cfg: ExperimentConfig, options: dict) -> dict:
        return _scores(model, cfg, *load_demonstrations(cfg))

    def after_training(self, run_dir: Path, model: nn.Module, cfg: ExperimentConfig, prepared: Prepared, history):
        results = _scores(model, cfg, prepared.extra["source"], prepared.extra["data"])  # the demos already loaded
        results.update({"epochs": len(history), "final_loss": history[-1].get("train_loss") if history else None})
        with atomic_path(run_dir / "results.json") as tmp:
            tmp.write_text(json.dumps(results, indent=2))
        log.info("rollout training finished: %s", results)

    def plot(self, run_dir: Path, model: nn.Module, cfg: ExperimentConfig, evals: dict | None) -> list[Path]:
        from sciml import plotting

        out = run_dir / "plots"
        source, data = load_demonstrations(cfg)
        model = model.cpu().eval()
        if source == "lasa":
            if data.dim == 2:
                return [plotting.plot_phase_portrait({cfg.model["name"]: model}, data, out / "phase_portrait.png")]
            return [plotting.plot_rollouts(model, data, out / "rollouts.png")]
        return [plotting.plot_so3_rollouts(model, data, out / "so3_rollouts.png", cfg.eval.rtol)]
