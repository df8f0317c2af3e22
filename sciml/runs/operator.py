"""The "operator" task: learn a map between functions; evaluate it at several resolutions.

Data: ``DataConfig`` (``sciml.runs.config``): an HDF5/xarray file of input -> output pairs (``OperatorDataset``) or
of trajectories cut into windows (``TrajectoryDataset``); validation and test files or a split of the training
file. Evaluation: mean relative L2 (and H1 on grids) per test resolution, plus an autoregressive rollout for
trajectory data. Plots: prediction panels, power spectra, prior samples of generative models, error versus
resolution.

Normalisation: with ``data.normalize`` the model is wrapped in ``Normalized`` whose per-channel means and
standard deviations (computed from the training split only, streamed) are buffers of the checkpoint, so the
statistics travel with the weights and apply at any resolution. The wrapper declares the capabilities of the model
it holds (an objective sees normalised data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import sciml.models
from sciml.core.errors import CheckpointError, ConfigError
from sciml.fields.datasets import OperatorDataset, TrajectoryDataset, channel_stats, split_indices
from sciml.fields.grid import Grid
from sciml.models.inputs import resolve_input
from sciml.models.protocol import (
    Generative,
    Objective,
    RawInputChannels,
    Stage,
    Staged,
    StepHook,
    Wrapper,
    attach_spec,
    load_matching,
    model_spec,
)
from sciml.runs.config import DataConfig, ExperimentConfig
from sciml.runs.tasks import Prepared, Task
from sciml.training.trainer import evaluate_model

log = logging.getLogger(__name__)

__all__ = [
    "OperatorTask",
    "Normalized",
    "normalized",
    "build_run_model",
    "open_dataset",
    "test_dataset",
    "train_val_datasets",
]


@dataclass
class OperatorEvalConfig:
    """The ``eval`` section of operator runs: nothing yet (resolutions and files come from ``sciml evaluate``)."""


class Normalized(nn.Module, Wrapper):
    """``y = model((x - mu_x) / s_x, grid) * s_y + mu_y`` with per-channel statistics stored as buffers.

    Build it with ``normalized(model, in_channels, out_channels)``: the wrapper then declares the same capabilities
    as the model it holds (``Objective``: the model's objective sees normalised inputs and targets; ``StepHook``;
    ``Staged``: stage patterns name the inner model's parameters, without the ``model.`` prefix). Input channels
    the model lists through ``RawInputChannels`` (a 0/1 mask) are passed through unscaled.
    """

    def __init__(self, model: nn.Module, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("in_mean", torch.zeros(in_channels))
        self.register_buffer("in_std", torch.ones(in_channels))
        raw = torch.zeros(in_channels, dtype=torch.bool)
        for c in model.raw_input_channels() if isinstance(model, RawInputChannels) else []:
            if not -in_channels <= c < in_channels:
                raise ConfigError(f"raw input channel {c} does not exist: the data has {in_channels} input channels")
            raw[c] = True
        # indicator channels (a 0/1 mask) pass unscaled, also for checkpoints whose statistics include them
        self.register_buffer("in_raw", raw, persistent=False)
        self.register_buffer("out_mean", torch.zeros(out_channels))
        self.register_buffer("out_std", torch.ones(out_channels))
        spec = model_spec(model)
        if spec is not None:
            attach_spec(self, spec.name, spec.config)

    @property
    def wrapped(self) -> nn.Module:
        return self.model

    def set_stats(self, mean_x, std_x, mean_y, std_y, eps: float = 1e-6) -> None:
        self.in_mean.copy_(mean_x)
        self.in_std.copy_(std_x.clamp_min(eps))
        self.out_mean.copy_(mean_y)
        self.out_std.copy_(std_y.clamp_min(eps))

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (x.dim() - 2)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.in_mean.masked_fill(self.in_raw, 0.0), self.in_std.masked_fill(self.in_raw, 1.0)
        return (x - mean.view(self._shape(x))) / std.view(self._shape(x))

    def normalize_output(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.out_mean.view(self._shape(y))) / self.out_std.view(self._shape(y))

    def forward(self, x, grid=None) -> torch.Tensor:
        x, grid = resolve_input(x, grid, None, None, "normalized model")
        y = self.model(self.normalize_input(x), grid)
        return y * self.out_std.view(self._shape(y)) + self.out_mean.view(self._shape(y))


class _NormalizedObjective(Objective):
    def objective(self, batch, grid=None):
        x, *rest = batch
        if rest:
            rest[0] = self.normalize_output(rest[0])
        return self.model.objective((self.normalize_input(x), *rest), grid)


class _NormalizedStepHook(StepHook):
    def after_step(self) -> None:
        self.model.after_step()


class _NormalizedGenerative(Generative):
    def sample(self, n, grid, generator=None):
        s = self.model.sample(n, grid, generator=generator)
        return s * self.out_std.view(self._shape(s)) + self.out_mean.view(self._shape(s))


class _NormalizedStaged(Staged):
    def enter_stage(self, stage: Stage, resumed: bool = False) -> None:
        self.model.enter_stage(stage, resumed)

    def frozen_parameters(self, stage: Stage) -> list[str]:
        return self.model.frozen_parameters(stage)

    def load_pretrained(self, state, keys):
        if any(k.startswith("model.") for k in state):  # a checkpoint of a normalised run: statistics too
            return load_matching(self, state, keys)
        return self.model.load_pretrained(state, keys)


_CAPABILITIES = (
    (Objective, _NormalizedObjective),
    (StepHook, _NormalizedStepHook),
    (Staged, _NormalizedStaged),
    (Generative, _NormalizedGenerative),
)
_CLASSES: dict[tuple[type, ...], type] = {}


def normalized(model: nn.Module, in_channels: int, out_channels: int) -> Normalized:
    """``model`` wrapped in ``Normalized``, declaring the same capabilities as ``model``."""
    mixins = tuple(mixin for cap, mixin in _CAPABILITIES if isinstance(model, cap))
    if mixins not in _CLASSES:
        _CLASSES[mixins] = type("Normalized", (Normalized, *mixins), {"__module__": __name__}) if mixins else Normalized
    return _CLASSES[mixins](model, in_channels, out_channels)


def _model_section(cfg: ExperimentConfig) -> tuple[str, dict]:
    section = dict(cfg.model)
    name = section.pop("name", None)
    if not name:
        raise ConfigError("model.name is missing; available models: " + ", ".join(sciml.models.available()))
    return name, section


def build_run_model(cfg: ExperimentConfig, in_channels: int, out_channels: int) -> nn.Module:
    """The model a config describes, wrapped in ``Normalized`` when ``data.normalize``."""
    name, kwargs = _model_section(cfg)
    model = sciml.models.build(name, **kwargs)
    return normalized(model, in_channels, out_channels) if cfg.data.normalize else model


def _is_trajectory(cfg: ExperimentConfig, path: str) -> bool:
    from sciml.fields.hdf5 import list_groups

    if cfg.data.input != cfg.data.output or not str(path).endswith((".h5", ".hdf5")):
        return False
    return list_groups(path).get(cfg.data.input) == "trajectory"


def open_dataset(cfg: ExperimentConfig, path: str, resolution=None):
    """OperatorDataset, or TrajectoryDataset windows when ``data.input`` names a trajectory group."""
    d = cfg.data
    if _is_trajectory(cfg, path):
        return TrajectoryDataset(
            path, group=d.input, n_in=d.n_in, n_out=d.n_out, step=d.step, variables=d.variables, resolution=resolution
        )
    return OperatorDataset(
        path,
        input=d.input,
        output=d.output,
        resolution=resolution,
        input_variables=d.variables,
        output_variables=d.variables,
    )


def _n_units(ds) -> int:
    """Samples of an OperatorDataset, trajectories of a TrajectoryDataset (the unit that splits use)."""
    return int(ds.indices.size)


def _split(cfg: ExperimentConfig, ds):
    parts = split_indices(_n_units(ds), cfg.data.split or [0.8, 0.2], seed=cfg.seed)
    return [ds.subset(p) for p in parts]


def train_val_datasets(cfg: ExperimentConfig):
    """The training and validation datasets of ``cfg.data``: files, or a seeded split of the training file;
    ``n_train`` (refused when the file has fewer) and ``n_test`` applied."""
    d = cfg.data
    if not d.train:
        raise ConfigError("data.train is missing: give the path of a training file (sciml data generate ...)")
    full = open_dataset(cfg, d.train, d.resolution)
    if d.val or d.test:
        train = full
        val_path = d.val or d.test
        if "{res}" in val_path:
            val_path = val_path.format(res=_native_res(full.grid))
        val = open_dataset(cfg, val_path, d.resolution)
    else:
        train, val = _split(cfg, full)[:2]
    if d.n_train is not None:
        if d.n_train > _n_units(train):
            raise ConfigError(
                f"data.n_train={d.n_train} but {d.train!r} provides only {_n_units(train)} training samples"
            )
        train = train.subset(range(d.n_train))
    if d.n_test is not None and d.n_test < _n_units(val):
        val = val.subset(range(d.n_test))
    return train, val


def _native_res(grid: Grid) -> int:
    return int(grid.shape[0])


def test_dataset(cfg: ExperimentConfig, resolution: int | None, data: str | None = None):
    """The test set at one resolution: ``{res}`` in the path picks a file per resolution, else resample.

    Without a test (or validation) file, the held-out split of the training file is used: the last split when
    ``data.split`` has three fractions, the second otherwise.
    """
    path = data or cfg.data.test or cfg.data.val or cfg.data.train
    if path is None:
        raise ConfigError("no test data: give --data or set data.test in the config")
    if "{res}" in path:
        if resolution is None:
            raise ConfigError(f"data path {path!r} contains {{res}}: give --resolutions")
        return open_dataset(cfg, path.format(res=resolution))
    ds = open_dataset(cfg, path, resolution)
    if path == cfg.data.train and not (cfg.data.val or cfg.data.test):
        ds = _split(cfg, ds)[-1]
    if cfg.data.n_test is not None and cfg.data.n_test < _n_units(ds):
        ds = ds.subset(range(cfg.data.n_test))
    return ds


@torch.no_grad()
def rollout_errors(model: nn.Module, ds: TrajectoryDataset, max_trajectories: int = 16) -> list[float]:
    """Autoregressive rollout from frame 0 of test trajectories (one-step models): mean relative L2 per step.

    The model's prediction is fed back as the next input, so errors accumulate as in deployment. Reads one
    window per trajectory holding frame 0 and every later frame ``step`` apart.
    """
    from sciml.metrics.losses import relative_l2

    if ds.n_in != 1 or ds.n_out != 1:
        return []
    steps = (ds.n_time - 1) // ds.step
    whole = ds.rewindow(n_out=steps, stride=ds.n_time, fold_time=False)
    whole = whole.subset(range(min(max_trajectories, ds.indices.size)))
    totals = torch.zeros(steps, dtype=torch.float64)
    for k in range(len(whole)):
        x, ys = whole[k]  # (1, C, *spatial), (steps, C, *spatial)
        for t in range(steps):
            x = model(x, ds.grid)
            totals[t] += float(relative_l2(x, ys[t : t + 1], ds.grid, reduction="sum"))
    return (totals / len(whole)).tolist()


class OperatorTask(Task):
    """Function-to-function maps (FNO, MgNO, CoDA-NO, VANO, ...); see the module docstring."""

    evaluate_options = frozenset({"resolutions", "data"})

    name = "operator"
    data_config = DataConfig
    eval_config = OperatorEvalConfig

    def prepare(self, cfg: ExperimentConfig, resume: bool = False) -> Prepared:
        train, val = train_val_datasets(cfg)
        # reading a sample makes the datasets check it (NaN/Inf, grids): a bad validation/test file is refused now,
        # before the run directory exists, not at the first evaluation
        if val is not None and len(val) > 0:
            val[0]
        x0, y0 = train[0]
        return Prepared(train, val, train.grid, extra={"channels": (x0.shape[0], y0.shape[0])})

    def build_model(self, cfg: ExperimentConfig, prepared: Prepared, fresh: bool = True) -> nn.Module:
        in_c, out_c = prepared.extra["channels"]
        model = build_run_model(cfg, in_c, out_c)
        if isinstance(model, Normalized) and fresh:
            model.set_stats(*[s.float() for s in channel_stats(prepared.train, max_samples=512)])
        return model

    def rebuild_model(self, cfg: ExperimentConfig, state: dict, checkpoint: Path) -> nn.Module:
        sd = state["model"]
        if cfg.data.normalize:
            if "in_mean" not in sd or "out_mean" not in sd:
                raise CheckpointError(
                    f"{str(checkpoint)!r} has no normalisation statistics but the run sets data.normalize: true"
                )
            in_c, out_c = sd["in_mean"].numel(), sd["out_mean"].numel()
        else:
            in_c = out_c = 1
        return build_run_model(cfg, in_c, out_c)

    def evaluate(self, model: nn.Module, cfg: ExperimentConfig, options: dict) -> dict:
        resolutions, data = options.get("resolutions"), options.get("data")
        results: dict[str, dict] = {}
        for res in resolutions or [None]:
            ds = test_dataset(cfg, res, data)
            key = str(res if res is not None else ds.grid.shape[0])
            results[key] = {**evaluate_model(model, ds), "n_samples": len(ds), "shape": list(ds.grid.shape)}
            if isinstance(ds, TrajectoryDataset):
                results[key]["rollout_relative_l2"] = rollout_errors(model, ds)
            log.info("resolution %s: %s", key, results[key])
        train_res = cfg.data.resolution
        if train_res is None and cfg.data.train:
            train_res = list(open_dataset(cfg, cfg.data.train).grid.shape)
        return {"train_resolution": train_res, "data": data, "results": results}

    def report(self, results: dict) -> list[str]:
        lines = [f"{'resolution':>10} {'rel L2':>10} {'rel H1':>10} {'samples':>8}"]
        for res, r in results["results"].items():
            h1 = r.get("relative_h1", float("nan"))  # absent on point clouds and grids too coarse for derivatives
            lines.append(f"{res:>10} {r['relative_l2']:>10.4f} {h1:>10.4f} {r['n_samples']:>8d}")
        return lines

    def plot(self, run_dir: Path, model: nn.Module, cfg: ExperimentConfig, evals: dict | None) -> list[Path]:
        from sciml import plotting

        out, paths, n_samples = run_dir / "plots", [], 3
        resolutions = [int(r) for r in evals["results"]] if evals else [None]
        for res in resolutions:
            ds = test_dataset(cfg, res, evals.get("data") if evals else None)  # the data `evaluate --data` used
            n = min(n_samples, len(ds))
            x = torch.stack([ds[i][0] for i in range(n)])
            y = torch.stack([ds[i][1] for i in range(n)])
            with torch.no_grad():
                p = model(x, ds.grid)
            tag = "x".join(map(str, ds.grid.shape))
            paths.append(
                plotting.plot_prediction(x, y, p, ds.grid, out / f"prediction_{tag}.png", title=f"test at {tag}")
            )
            if ds.grid.ndim == 2:
                paths.append(plotting.plot_power_spectrum(y, p, out / f"spectrum_{tag}.png"))
            if isinstance(model, Generative) and ds.grid.ndim in (1, 2):  # prior samples next to data
                with torch.no_grad():
                    s = model.sample(6, ds.grid, generator=torch.Generator().manual_seed(0))
                data_rows = torch.stack([ds[i][1] for i in range(min(6, len(ds)))])
                rows = {"data": data_rows, "model samples": s}
                paths.append(
                    plotting.plot_samples(rows, ds.grid, out / f"samples_{tag}.png", title=f"samples at {tag}")
                )
        if evals and len(evals["results"]) > 1:
            tr = evals.get("train_resolution")
            tr = tr[0] if isinstance(tr, list) else tr
            paths.append(plotting.plot_error_vs_resolution(evals["results"], out / "error_vs_resolution.png", tr))
        return paths
