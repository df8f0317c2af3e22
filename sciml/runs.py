"""Run directories: train an operator from an ExperimentConfig, evaluate it at several resolutions, plot it.

A run directory holds everything needed to rebuild and judge a trained model, with no pickled objects::

    RUN_DIR/config.yaml              the validated experiment config (model name + kwargs, data, train)
    RUN_DIR/checkpoints/last.pt      written every epoch (atomic), loaded with weights_only=True
    RUN_DIR/checkpoints/best.pt      best validation metric
    RUN_DIR/metrics.jsonl            one JSON line per epoch
    RUN_DIR/eval.json                written by ``evaluate_run``: metrics per resolution
    RUN_DIR/plots/*.png              written by ``plot_run``

Normalisation: with ``data.normalize`` the model is wrapped in ``Normalized`` whose per-channel means and
standard deviations (computed from the training split only, streamed) are buffers of the checkpoint, so the
statistics travel with the weights and apply at any resolution.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

import sciml.models
from sciml.core.errors import CheckpointError, ConfigError, DataFormatError
from sciml.core.files import atomic_path
from sciml.fields.datasets import OperatorDataset, TrajectoryDataset, channel_stats, split_indices
from sciml.fields.grid import Grid
from sciml.models._base import resolve_input
from sciml.models.protocol import (
    Objective,
    Stage,
    Staged,
    StepHook,
    Wrapper,
    attach_spec,
    load_matching,
    model_spec,
)
from sciml.training.checkpoint import load_checkpoint
from sciml.training.config import ExperimentConfig, dump_config, load_config
from sciml.training.trainer import Trainer, evaluate_model

log = logging.getLogger(__name__)

__all__ = ["Normalized", "train_run", "load_run_model", "evaluate_run", "plot_run", "test_dataset"]


class Normalized(nn.Module, Wrapper):
    """``y = model((x - mu_x) / s_x, grid) * s_y + mu_y`` with per-channel statistics stored as buffers.

    Build it with ``normalized(model, in_channels, out_channels)``: the wrapper then declares the same capabilities
    as the model it holds (``Objective``: the model's objective sees normalised inputs and targets; ``StepHook``;
    ``Staged``: stage patterns name the inner model's parameters, without the ``model.`` prefix).
    """

    def __init__(self, model: nn.Module, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("in_mean", torch.zeros(in_channels))
        self.register_buffer("in_std", torch.ones(in_channels))
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
        return (x - self.in_mean.view(self._shape(x))) / self.in_std.view(self._shape(x))

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


class _NormalizedStaged(Staged):
    def enter_stage(self, stage: Stage, resumed: bool = False) -> None:
        self.model.enter_stage(stage, resumed)

    def frozen_parameters(self, stage: Stage) -> list[str]:
        return self.model.frozen_parameters(stage)

    def load_pretrained(self, state, keys):
        if any(k.startswith("model.") for k in state):  # a checkpoint of a normalised run: statistics too
            return load_matching(self, state, keys)
        return self.model.load_pretrained(state, keys)


_CAPABILITIES = ((Objective, _NormalizedObjective), (StepHook, _NormalizedStepHook), (Staged, _NormalizedStaged))
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


def _datasets(cfg: ExperimentConfig):
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


def train_run(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False) -> Path:
    """Train the model of ``cfg`` into ``run_dir`` (created); returns the run directory."""

    run_dir = Path(run_dir)
    if resume and not (run_dir / "checkpoints" / "last.pt").exists():
        raise CheckpointError(f"cannot resume: {str(run_dir / 'checkpoints' / 'last.pt')!r} does not exist")
    cfg.run_dir = str(run_dir)
    torch.manual_seed(cfg.seed)
    # everything that can be refused (data, model, trainer, checkpoint) is checked before anything is written,
    # so a bad config never leaves a stray run directory nor overwrites the config.yaml of an existing run
    train, val = _datasets(cfg)
    x0, y0 = train[0]
    model = build_run_model(cfg, x0.shape[0], y0.shape[0])
    if isinstance(model, Normalized) and not resume:
        model.set_stats(*[s.float() for s in channel_stats(train, max_samples=512)])
    loss = getattr(cfg.train, "loss", "relative_l2")
    trainer = Trainer(model, train, val, grid=train.grid, loss=loss, config=cfg.train, run_dir=run_dir)
    if resume:
        trainer.resume(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, run_dir / "config.yaml")
    trainer.fit()
    return run_dir


def load_run_model(run_dir: str | Path, which: str = "best") -> tuple[nn.Module, ExperimentConfig]:
    """Rebuild the model of a run from config.yaml and a checkpoint (``best`` falls back to ``last``)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise DataFormatError(f"{str(run_dir)!r} is not a run directory: config.yaml is missing")
    cfg = load_config(cfg_path)
    ckpt_path = run_dir / "checkpoints" / f"{which}.pt"
    if which == "best" and not ckpt_path.exists():
        ckpt_path = run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(ckpt_path)
    sd = state.get("model")
    if not isinstance(sd, dict):
        raise CheckpointError(f"{str(ckpt_path)!r} holds no model weights (no 'model' state dict)")
    if cfg.data.normalize:
        if "in_mean" not in sd or "out_mean" not in sd:
            raise CheckpointError(
                f"{str(ckpt_path)!r} has no normalisation statistics but {str(cfg_path)!r} sets data.normalize: true"
            )
        in_c, out_c = sd["in_mean"].numel(), sd["out_mean"].numel()
    else:
        in_c = out_c = 1
    model = build_run_model(cfg, in_c, out_c)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {str(ckpt_path)!r} do not fit the model described by {str(cfg_path)!r} "
            f"(was config.yaml edited after training?): {str(e).splitlines()[0]} {_first_mismatch(e)}"
        ) from None
    return model.eval(), cfg


def _first_mismatch(e: RuntimeError) -> str:
    lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
    return lines[0] if lines else ""


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


def evaluate_run(
    run_dir: str | Path, resolutions: Sequence[int] | None = None, data: str | None = None, which: str = "best"
) -> dict[str, dict]:
    """Evaluate a run's model at each resolution; results written to RUN_DIR/eval.json (atomic)."""
    run_dir = Path(run_dir)
    model, cfg = load_run_model(run_dir, which)
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
    out = {"checkpoint": which, "train_resolution": train_res, "data": data, "results": results}
    with atomic_path(run_dir / "eval.json") as tmp:
        tmp.write_text(json.dumps(out, indent=2))
    return results


def plot_run(run_dir: str | Path, n_samples: int = 3) -> list[Path]:
    """Write loss curve, prediction panels and (if evaluated) error-vs-resolution plots to RUN_DIR/plots.

    NCDS runs (their own training loop) are plotted by ``sciml.dynamics.train.plot_dynamics_run``.
    """
    from sciml import plotting

    run_dir = Path(run_dir)
    out = run_dir / "plots"
    paths = []
    if (run_dir / "metrics.jsonl").exists():
        paths.append(plotting.plot_loss_curve(run_dir / "metrics.jsonl", out / "loss_curve.png"))
    model, cfg = load_run_model(run_dir)
    evals = None
    if (run_dir / "eval.json").exists():
        try:
            evals = json.loads((run_dir / "eval.json").read_text())
        except json.JSONDecodeError as e:
            raise DataFormatError(
                f"{str(run_dir / 'eval.json')!r} is not valid JSON ({e}); run `sciml evaluate {run_dir}` again"
            ) from None
    resolutions = [int(r) for r in evals["results"]] if evals else [None]
    for res in resolutions:
        ds = test_dataset(cfg, res, evals.get("data") if evals else None)  # the data `evaluate --data` used
        n = min(n_samples, len(ds))
        x = torch.stack([ds[i][0] for i in range(n)])
        y = torch.stack([ds[i][1] for i in range(n)])
        with torch.no_grad():
            p = model(x, ds.grid)
        tag = "x".join(map(str, ds.grid.shape))
        paths.append(plotting.plot_prediction(x, y, p, ds.grid, out / f"prediction_{tag}.png", title=f"test at {tag}"))
        if ds.grid.ndim == 2:
            paths.append(plotting.plot_power_spectrum(y, p, out / f"spectrum_{tag}.png"))
        if callable(getattr(model, "sample", None)) and ds.grid.ndim in (1, 2):  # generative (VANO): prior samples
            with torch.no_grad():
                s = model.sample(6, ds.grid, generator=torch.Generator().manual_seed(0))
            data_rows = torch.stack([ds[i][1] for i in range(min(6, len(ds)))])
            rows = {"data": data_rows, "model samples": s}
            paths.append(plotting.plot_samples(rows, ds.grid, out / f"samples_{tag}.png", title=f"samples at {tag}"))
    if evals and len(evals["results"]) > 1:
        tr = evals.get("train_resolution")
        tr = tr[0] if isinstance(tr, list) else tr
        paths.append(plotting.plot_error_vs_resolution(evals["results"], out / "error_vs_resolution.png", tr))
    return paths
