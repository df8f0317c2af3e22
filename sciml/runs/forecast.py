"""The "forecast" task: predict the next T_out states of several weather variables from the last T_in.

Config sections::

    model:  name: met2net (or any model mapping (B, C, T_in, H, W) -> (B, C, T_out, H, W)); n_variables, t_in and
            t_out come from the data section
    data:   path: a WeatherBench 1 netCDF file (or a list of them) or a WeatherBench 2 / ERA5 zarr store
            variables: [t2m, u10, v10, r, tcc]     (any alias; levels as temperature_850)
            t_in, t_out, stride                    (time steps of the record)
            train / val / test: years [2010, 2011] or [start, end] dates (all targets in it)
            normalize: z-scores per variable from the training period only, stored in the checkpoint
            cache_mb: memory budget of the window cache (the record is read in blocks of time steps)
    eval:   max_windows (cap on test windows, null: all), batch_size

Training selects ``best.pt`` on the validation period only; ``sciml evaluate`` scores the test period per variable and
lead time in physical units (MSE, MAE, RMSE, latitude-weighted RMSE as WeatherBench 1, area-weighted RMSE as
WeatherBench 2, ACC against the training-period climatology) next to persistence and climatology forecasts on the
same windows; ``sciml plot`` draws forecast maps and skill versus lead time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import sciml.models
from sciml.core.errors import ConfigError
from sciml.core.registry import accepted_keys
from sciml.fields.weather import Climatology, WeatherWindows, open_weather, weather_stats
from sciml.metrics.weather import forecast_scores
from sciml.runs.config import ExperimentConfig
from sciml.runs.operator import normalized
from sciml.runs.tasks import Prepared, Task

log = logging.getLogger(__name__)

__all__ = ["ForecastTask", "ForecastDataConfig", "ForecastEvalConfig", "forecast_windows"]


@dataclass
class ForecastDataConfig:
    """Where the weather record is and how it is cut into windows and periods (module docstring)."""

    path: str | list[str] | None = None
    variables: list[str] | None = None
    t_in: int = 2
    t_out: int = 2
    stride: int = 1
    train: list[Any] | None = None
    val: list[Any] | None = None
    test: list[Any] | None = None
    normalize: bool = True
    cache_mb: float = 256.0

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):  # YAML reads 2010-01-01 as a date: keep periods plain data
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, [v if isinstance(v, int) else str(v) for v in value])
        if not self.cache_mb > 0:
            raise ConfigError(f"data.cache_mb must be > 0, got {self.cache_mb}")
        for name in ("t_in", "t_out", "stride"):
            if getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class ForecastEvalConfig:
    """``max_windows``: score at most this many test windows (evenly spaced; null: all)."""

    max_windows: int | None = None
    batch_size: int = 16


def _open(cfg: ExperimentConfig):
    d = cfg.data
    if not d.path:
        raise ConfigError(
            "data.path is missing: give a WeatherBench netCDF file or zarr store (sciml data generate ...)"
        )
    if not d.variables:
        raise ConfigError("data.variables is missing: list the variables to forecast, e.g. [t2m, u10, v10]")
    return open_weather(d.path, d.variables)


def forecast_windows(cfg: ExperimentConfig, period: Any, ds=None) -> WeatherWindows:
    """The windows of ``cfg`` whose target steps all fall in ``period``."""
    d = cfg.data
    ds = _open(cfg) if ds is None else ds
    return WeatherWindows(ds, d.variables, d.t_in, d.t_out, d.stride, period, cache_mb=d.cache_mb)


class ForecastTask(Task):
    """Weather forecasting (Met2Net and its baselines); see the module docstring."""

    name = "forecast"
    data_config = ForecastDataConfig
    eval_config = ForecastEvalConfig

    def prepare(self, cfg: ExperimentConfig, resume: bool = False) -> Prepared:
        d = cfg.data
        if d.train is None:
            raise ConfigError("data.train is missing: the training years, e.g. [2010, 2011]")
        ds = _open(cfg)
        train = forecast_windows(cfg, d.train, ds)
        val = forecast_windows(cfg, d.val, ds) if d.val is not None else None
        kwargs = {"n_variables": len(d.variables), "t_in": d.t_in, "t_out": d.t_out}
        kwargs["periodic_lon"] = bool(train.latlon_grid.periodic[1])  # a whole globe, or a regional crop
        for k, v in kwargs.items():
            if k in cfg.model and cfg.model[k] != v:
                raise ConfigError(f"model.{k}={cfg.model[k]} but the data section gives {v}; remove it from model")
        stats = weather_stats(ds, d.variables, d.train) if d.normalize and not resume else None
        return Prepared(train, val, None, model_kwargs=kwargs, extra={"stats": stats})

    def build_model(self, cfg: ExperimentConfig, prepared: Prepared, fresh: bool = True) -> nn.Module:
        name = cfg.model.get("name")
        if not name:
            raise ConfigError("model.name is missing; available models: " + ", ".join(sciml.models.available()))
        accepted = accepted_keys(sciml.models.get(name))[0]
        fill = {k: v for k, v in prepared.model_kwargs.items() if k in accepted and k not in cfg.model}
        model = sciml.models.build(name, **{k: v for k, v in cfg.model.items() if k != "name"}, **fill)
        if not cfg.data.normalize:
            return model
        c = len(cfg.data.variables)
        wrapped = normalized(model, c, c)
        if prepared.extra.get("stats") is not None:
            mean, std = prepared.extra["stats"]
            wrapped.set_stats(mean, std, mean, std)
        return wrapped

    def rebuild_model(self, cfg: ExperimentConfig, state: dict, checkpoint: Path) -> nn.Module:
        model = sciml.models.build(state["model_name"], **state["model_config"])
        if not cfg.data.normalize:
            return model
        c = len(cfg.data.variables)
        return normalized(model, c, c)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, cfg: ExperimentConfig, options: dict) -> dict:
        d = cfg.data
        period = d.test if d.test is not None else d.val
        if period is None:
            raise ConfigError("data.test (or data.val) is missing: the years to score, e.g. [2013]")
        ds = _open(cfg)
        windows = forecast_windows(cfg, period, ds)
        n = len(windows)
        if cfg.eval.max_windows is not None and cfg.eval.max_windows < n:
            windows = windows.subset(np.linspace(0, n - 1, cfg.eval.max_windows).round().astype(int))
        clim = Climatology(ds, d.variables, d.train)
        model = model.eval()
        device = next(iter(model.parameters()), torch.empty(0)).device
        preds, truths, persist, climo = [], [], [], []
        for lo in range(0, len(windows), cfg.eval.batch_size):
            items = [windows[i] for i in range(lo, min(lo + cfg.eval.batch_size, len(windows)))]
            x = torch.stack([it[0] for it in items])
            preds.append(model(x.to(device)).float().cpu())
            truths.append(torch.stack([it[1] for it in items]))
            persist.append(x[:, :, -1:].expand(-1, -1, d.t_out, -1, -1))
            climo.append(
                torch.stack([clim.at(windows.target_times(i)).transpose(0, 1) for i in range(lo, lo + len(items))])
            )
        truth, clim_t = torch.cat(truths), torch.cat(climo)
        grid = windows.latlon_grid
        scores = {
            name: forecast_scores(torch.cat(p), truth, grid, d.variables, clim_t)
            for name, p in (("model", preds), ("persistence", persist), ("climatology", climo))
        }
        step_h = float((windows.times[1] - windows.times[0]) / np.timedelta64(1, "h")) if windows.times.size > 1 else 0
        return {
            "model_name": cfg.model.get("name"),
            "period": period,
            "n_windows": len(windows),
            "lead_hours": [step_h * (k + 1) for k in range(d.t_out)],
            "variables": list(d.variables),
            "scores": scores,
        }

    def report(self, results: dict) -> list[str]:
        leads = results["lead_hours"]
        lines = [f"test period {results['period']}: {results['n_windows']} windows; latitude-weighted RMSE (WB1)"]
        lines.append(f"{'variable':>12} {'forecast':>12} " + " ".join(f"{f'+{h:g}h':>9}" for h in leads))
        for v in results["variables"]:
            for who in ("model", "persistence", "climatology"):
                vals = results["scores"][who][v]["rmse_lat"]
                lines.append(f"{v:>12} {who:>12} " + " ".join(f"{x:>9.4g}" for x in vals))
        return lines

    @torch.no_grad()
    def plot(self, run_dir: Path, model: nn.Module, cfg: ExperimentConfig, evals: dict | None) -> list[Path]:
        from sciml import plotting

        d = cfg.data
        out, paths = run_dir / "plots", []
        period = d.test if d.test is not None else d.val
        if period is not None:
            windows = forecast_windows(cfg, period)
            x, y = windows[0]
            pred = model.eval()(x[None])[0]
            paths.append(
                plotting.plot_forecast_maps(y, pred, windows.latlon_grid, d.variables, out / "forecast_maps.png")
            )
        if evals and "scores" in evals:
            paths.append(plotting.plot_skill_curves(evals, out / "skill_vs_lead.png"))
        return paths
