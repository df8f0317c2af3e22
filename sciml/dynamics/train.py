"""Training NCDS models from a plain config: velocity regression on demonstrations, then rollout metrics.

Config (YAML/JSON types; top-level keys ``model``, ``data``, ``train``, ``run_dir``, ``eval``)::

    model:  name: ncds | latent_ncds | ncds_so3, plus the keyword arguments of NCDS / LatentNCDS / SO3NCDS
            (dimension and goal are filled in from the data)
    data:   source: lasa             -> shapes (str or list), subsample (int)
            source: so3_trajectories -> the keyword arguments of sciml.data.so3.so3_trajectories
    train:  sciml.training.config.TrainConfig fields (epochs, batch_size, lr, optimizer, scheduler, seed, ...)
    eval:   rollout_points (int, default 200), rtol (float, default 1e-5)
    run_dir: output folder (metrics.jsonl, checkpoints/, results.json)

Loss: mean |f(x_i) - x'_i|^2 over demonstrated (position, velocity) pairs (standardised LASA units);
``latent_ncds`` adds beta * negative ELBO (``LatentNCDS.training_loss``); ``ncds_so3`` regresses the body
angular velocity omega_k = log(R_k^T R_{k+1}) / dt_k and the linear velocity. Training runs in sciml's
``Trainer`` (atomic checkpoints, resume, divergence checks); for ``ncds_so3`` the optimiser is geoopt's
RiemannianAdam (Adam on Euclidean parameters, Riemannian steps on the SO(3) goal when ``learn_goal``).
Evaluation: rollouts from the demonstrations' starts over their duration, mean DTW to the demonstrations
(standardised units; for SO(3), on the algebra coordinates u) and the final distance to the goal.
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

from sciml.core.config import convert
from sciml.core.errors import ConfigError
from sciml.core.files import atomic_path
from sciml.core.registry import accepted_keys
from sciml.dynamics.dtw import mean_dtw
from sciml.dynamics.latent import LatentNCDS
from sciml.dynamics.ncds import NCDS, LinearStableField, MLPField, rollout
from sciml.dynamics.so3 import SO3NCDS
from sciml.geometry.so3 import so3_log

logger = logging.getLogger(__name__)

MODELS: dict[str, type[nn.Module]] = {
    "ncds": NCDS,
    "latent_ncds": LatentNCDS,
    "ncds_so3": SO3NCDS,
    "mlp_field": MLPField,
    "linear_stable": LinearStableField,
}
_FILLED = {"dim", "data_dim", "goal", "goal_rotation", "goal_position"}
# the model names a run config may give (``sciml train`` routes them here); MODELS also holds the baselines
RUN_MODELS = ("ncds", "latent_ncds", "ncds_so3")
_TOP_KEYS = ("model", "data", "train", "eval", "run_dir")
_DATA_KEYS = {"lasa": ("source", "shapes", "subsample"), "so3_trajectories": None}
_EVAL_KEYS = ("rollout_points", "rtol")


def _check_keys(section: str, given: dict[str, Any], allowed) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {section}; allowed: {', '.join(sorted(allowed))}"
        )


class VelocityRegression(nn.Module):
    """Wraps a field so the Trainer minimises mean |f(x) - v|^2 (or the model's own ``training_loss``)."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        return self.field(x)

    def training_loss(self, batch, grid=None) -> tuple[torch.Tensor, dict[str, float]]:
        if isinstance(self.field, SO3NCDS):
            orient, pos, omega, vel = batch
            w_pred, v_pred = self.field.velocity(orient, pos if self.field.with_position else None)
            loss = ((w_pred - omega) ** 2).sum(-1).mean()
            if self.field.with_position:
                loss = loss + ((v_pred - vel) ** 2).sum(-1).mean()
            return loss, {}
        x, v = batch
        if isinstance(self.field, LatentNCDS):
            return self.field.training_loss({"x": x, "v": v})
        loss = ((self.field(x) - v) ** 2).sum(-1).mean()
        return loss, {}


def build_field(name: str, model_cfg: dict[str, Any], dim: int, goal) -> nn.Module:
    """Build one of ``MODELS`` for data of dimension ``dim`` with the given goal; unknown keys raise."""
    if name not in MODELS:
        raise ConfigError(f"unknown model.name {name!r}; allowed: {', '.join(MODELS)}")
    allowed = [k for k in accepted_keys(MODELS[name])[0] if k not in _FILLED]
    _check_keys(f"model (name {name!r})", model_cfg, allowed)
    goal = [float(g) for g in np.asarray(goal).ravel()]
    if name == "latent_ncds":
        return LatentNCDS(data_dim=dim, goal=goal, **model_cfg)
    if name == "ncds_so3":
        raise ConfigError("ncds_so3 is built by train_from_config from so3_trajectories data")
    return MODELS[name](dim, goal=goal, **model_cfg)


def _number(key: str, value: Any, kind: type, minimum: float) -> Any:
    """``value`` as ``kind`` (int or float; the typed configs' conversion, which also reads YAML 1.1's "1e-5"
    strings as floats), finite and >= ``minimum``, else a ConfigError naming ``key``."""
    value = convert(kind, value, key)
    if not (np.isfinite(value) and value >= minimum):
        raise ConfigError(f"{key} must be finite and >= {minimum}, got {value!r}")
    return value


def load_demonstrations(data_cfg: dict[str, Any]):
    """LASA demonstrations (standardised) from a ``data`` section with source lasa."""
    from sciml.data.lasa import load_lasa

    _check_keys("data (source 'lasa')", data_cfg, _DATA_KEYS["lasa"])
    return load_lasa(
        data_cfg.get("shapes", "Angle"),
        standardize=True,
        subsample=_number("data.subsample", data_cfg.get("subsample", 1), int, 1),
    )


def body_velocities(R: np.ndarray, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """omega_k = log(R_k^T R_{k+1}) / dt_k (0 at the last point) and dp/dt, for (n, T, ...) arrays."""
    Rt = torch.as_tensor(R)
    dt = np.diff(t, axis=1)[..., None]
    om = so3_log(Rt[:, :-1].transpose(-1, -2) @ Rt[:, 1:]).numpy() / dt
    omega = np.concatenate([om, np.zeros_like(om[:, :1])], 1)
    vel = np.stack([np.gradient(p[k], t[k], axis=0) for k in range(p.shape[0])])
    return omega, vel


def _fit(module: VelocityRegression, dataset, train_cfg: dict, run_dir, riemannian: bool) -> list[dict]:
    from sciml.training.trainer import Trainer

    if riemannian:
        train_cfg = {**train_cfg, "optimizer": "riemannian_adam"}
    trainer = Trainer(module, dataset, config=train_cfg, run_dir=run_dir)
    return trainer.fit()


def _float_tensors(*arrays) -> list[torch.Tensor]:
    return [torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32) for a in arrays]


@dataclass
class _Prepared:
    """A validated dynamics config with its data and a freshly built field (shared by train, evaluate, plot)."""

    name: str
    source: str
    field: nn.Module
    dataset: TensorDataset
    data: Any  # LASA demonstrations or the so3_trajectories dict
    train_cfg: dict[str, Any]
    n_eval: int
    rtol: float

    def evaluate(self) -> dict[str, Any]:
        field = self.field.cpu().eval()
        if self.source == "lasa":
            return evaluate_lasa(field, self.data, self.n_eval, self.rtol)
        return evaluate_so3(field, self.data, self.n_eval, self.rtol)


def _prepare(cfg: dict[str, Any]) -> _Prepared:
    if not isinstance(cfg, dict):
        raise ConfigError(f"config must be a mapping with keys {', '.join(_TOP_KEYS)}, got {type(cfg).__name__}")
    _check_keys("the config", cfg, _TOP_KEYS)
    for section in ("model", "data", "train", "eval"):
        if cfg.get(section) is not None and not isinstance(cfg[section], dict):
            raise ConfigError(f"{section} must be a mapping, got {type(cfg[section]).__name__} {cfg[section]!r}")
    model_cfg = dict(cfg.get("model") or {})
    data_cfg = dict(cfg.get("data") or {})
    train_cfg = dict(cfg.get("train") or {})
    eval_cfg = dict(cfg.get("eval") or {})
    _check_keys("eval", eval_cfg, _EVAL_KEYS)
    name = model_cfg.pop("name", None)
    if name is None:
        raise ConfigError(f"model.name is required; allowed: {', '.join(MODELS)}")
    source = data_cfg.get("source", "so3_trajectories" if name == "ncds_so3" else "lasa")
    if source not in _DATA_KEYS:
        raise ConfigError(f"unknown data.source {source!r}; allowed: {', '.join(_DATA_KEYS)}")
    if (name == "ncds_so3") != (source == "so3_trajectories"):
        raise ConfigError(f"model.name {name!r} does not go with data.source {source!r}")
    torch.manual_seed(_number("train.seed", train_cfg.get("seed", 0), int, 0))
    n_eval = _number("eval.rollout_points", eval_cfg.get("rollout_points", 200), int, 2)
    rtol = _number("eval.rtol", eval_cfg.get("rtol", 1e-5), float, 0.0)

    if source == "lasa":
        demos = load_demonstrations(data_cfg)
        field = build_field(name, model_cfg, demos.dim, demos.goal)
        x, v = demos.flat()
        return _Prepared(name, source, field, TensorDataset(*_float_tensors(x, v)), demos, train_cfg, n_eval, rtol)
    from sciml.data.so3 import so3_trajectories

    gen_cfg = {k: v for k, v in data_cfg.items() if k != "source"}
    allowed = accepted_keys(so3_trajectories)[0]
    _check_keys("data (source 'so3_trajectories')", gen_cfg, allowed)
    data = so3_trajectories(**gen_cfg)
    _check_keys("model (name 'ncds_so3')", model_cfg, [k for k in accepted_keys(SO3NCDS)[0] if k not in _FILLED])
    field = SO3NCDS(
        goal_rotation=data["goal_rotation"].tolist(), goal_position=data["goal_position"].tolist(), **model_cfg
    )
    omega, vel = body_velocities(data["rotations"], data["positions"], data["t"])
    orient = data["quaternions"] if field.representation == "quaternion" else data["rotations"]
    n = omega.shape[0] * omega.shape[1]
    arrays = [a.reshape(n, *a.shape[2:]) for a in (orient, data["positions"], omega, vel)]
    return _Prepared(name, source, field, TensorDataset(*_float_tensors(*arrays)), data, train_cfg, n_eval, rtol)


def train_from_config(cfg: dict[str, Any], run_dir: str | Path | None = None) -> dict[str, Any]:
    """Train the model the config names on its data, evaluate rollouts, write results.json; return the metrics.

    The run directory gets ``config.yaml`` (the config as given, so that ``sciml evaluate`` and ``sciml plot``
    can rebuild the model), ``metrics.jsonl``, ``checkpoints/last.pt`` and ``results.json``. Nothing is written
    before the config, the data and the model have been accepted.
    """
    prep = _prepare(cfg)
    run_dir = Path(run_dir if run_dir is not None else cfg.get("run_dir", "runs/ncds"))
    _write_yaml(run_dir / "config.yaml", cfg)
    history = _fit(VelocityRegression(prep.field), prep.dataset, prep.train_cfg, run_dir, prep.name == "ncds_so3")
    results = prep.evaluate()
    results.update(
        {"model": prep.name, "epochs": len(history), "final_loss": history[-1].get("train_loss") if history else None}
    )
    with atomic_path(run_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    logger.info("ncds training finished: %s", results)
    return results


def _write_yaml(path: Path, cfg: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))


def is_dynamics_run(run_dir: str | Path) -> bool:
    """True when ``run_dir/config.yaml`` names one of the NCDS families (which have their own loop)."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    model = raw.get("model") if isinstance(raw, dict) else None
    return isinstance(model, dict) and model.get("name") in RUN_MODELS


def load_dynamics_run(run_dir: str | Path) -> _Prepared:
    """Rebuild a trained NCDS run from ``config.yaml`` and ``checkpoints/last.pt`` (weights_only loading)."""
    import yaml

    from sciml.core.errors import CheckpointError
    from sciml.training.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    prep = _prepare(yaml.safe_load((run_dir / "config.yaml").read_text()))
    ckpt = run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(ckpt).get("model")
    if not isinstance(state, dict):
        raise CheckpointError(f"{str(ckpt)!r} holds no model weights")
    try:
        VelocityRegression(prep.field).load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights in {str(ckpt)!r} do not fit the model of {str(run_dir / 'config.yaml')!r}: "
            f"{str(e).splitlines()[0]}"
        ) from None
    prep.field.eval()
    return prep


def evaluate_dynamics_run(run_dir: str | Path) -> dict[str, Any]:
    """Rollout metrics of a trained NCDS run recomputed from its checkpoint; written to ``RUN_DIR/eval.json``."""
    prep = load_dynamics_run(run_dir)
    results = {"model": prep.name, **prep.evaluate()}
    with atomic_path(Path(run_dir) / "eval.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    return results


def plot_dynamics_run(run_dir: str | Path) -> list[Path]:
    """Loss curve and rollouts of a trained NCDS run: a phase portrait (2-D data) or SO(3) errors versus time."""
    from sciml import plotting

    run_dir = Path(run_dir)
    out = run_dir / "plots"
    paths = []
    if (run_dir / "metrics.jsonl").exists():
        paths.append(plotting.plot_loss_curve(run_dir / "metrics.jsonl", out / "loss_curve.png"))
    prep = load_dynamics_run(run_dir)
    if prep.source == "lasa":
        if prep.data.dim == 2:
            paths.append(plotting.plot_phase_portrait({prep.name: prep.field}, prep.data, out / "phase_portrait.png"))
        else:
            paths.append(plotting.plot_rollouts(prep.field, prep.data, out / "rollouts.png"))
    else:
        paths.append(plotting.plot_so3_rollouts(prep.field, prep.data, out / "so3_rollouts.png", prep.rtol))
    return paths


@torch.no_grad()
def rollout_any(field: nn.Module, x0: torch.Tensor, t: torch.Tensor, rtol: float = 1e-5) -> torch.Tensor:
    """Rollout for any of the Euclidean/latent fields: (batch, n_times, dim)."""
    if isinstance(field, LatentNCDS):
        return field.rollout(x0, t, rtol=rtol, atol=rtol * 1e-2)
    return rollout(field, x0, t, rtol=rtol, atol=rtol * 1e-2)


def evaluate_lasa(field: nn.Module, demos, n_points: int = 200, rtol: float = 1e-5) -> dict[str, Any]:
    """Mean DTW between rollouts from the demo starts and the demos (both at n_points), final goal distance."""
    idx = np.linspace(0, demos.pos.shape[1] - 1, n_points).round().astype(int)
    duration = float(np.mean(demos.t[:, -1] - demos.t[:, 0]))
    t = torch.linspace(0, duration, n_points)
    x0 = torch.as_tensor(demos.pos[:, 0], dtype=torch.float32)
    traj = rollout_any(field, x0, t, rtol).double().numpy()
    goal_dist = np.linalg.norm(traj[:, -1] - demos.goal, axis=-1)
    return {
        "dtw": mean_dtw(list(traj), list(demos.pos[:, idx])),
        "final_goal_distance_max": float(goal_dist.max()),
        "dim": demos.dim,
        "shapes": demos.names,
    }


@torch.no_grad()
def evaluate_so3(field: SO3NCDS, data: dict, n_points: int = 200, rtol: float = 1e-5) -> dict[str, Any]:
    """DTW in algebra coordinates u = (log(R_g^T R), p - p_g) and the final orientation error (rad)."""
    R, p, t_all = data["rotations"], data["positions"], data["t"]
    idx = np.linspace(0, R.shape[1] - 1, n_points).round().astype(int)
    orient = data["quaternions"] if field.representation == "quaternion" else R
    o0 = torch.as_tensor(orient[:, 0], dtype=torch.float32)
    p0 = torch.as_tensor(p[:, 0], dtype=torch.float32) if field.with_position else None
    t = torch.linspace(0, float(np.mean(t_all[:, -1] - t_all[:, 0])), n_points)
    o_t, p_t = field.rollout(o0, p0, t, rtol=rtol, atol=rtol * 1e-2)
    b = o_t.shape[0]
    flat_o = o_t.reshape(b * n_points, *o_t.shape[2:])
    flat_p = p_t.reshape(b * n_points, 3) if p_t is not None else None
    u_roll = field.to_algebra(flat_o, flat_p).reshape(b, n_points, -1).double().numpy()
    demo_o = torch.as_tensor(orient[:, idx], dtype=torch.float32)
    demo_p = torch.as_tensor(p[:, idx], dtype=torch.float32) if field.with_position else None
    u_demo = field.to_algebra(
        demo_o.reshape(-1, *demo_o.shape[2:]), demo_p.reshape(-1, 3) if demo_p is not None else None
    )
    u_demo = u_demo.reshape(b, n_points, -1).double().numpy()
    return {
        "dtw": mean_dtw(list(u_roll), list(u_demo)),
        "final_orientation_error_max": float(np.linalg.norm(u_roll[:, -1, :3], axis=-1).max()),
        "dim": int(field.dim),
    }
