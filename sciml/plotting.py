"""Figures people expect from an operator-learning run, written as PNG (matplotlib, Agg backend).

* ``plot_prediction``: input / truth / prediction / error panels for a few samples (1-D lines or 2-D images
  with the grid's physical extent);
* ``plot_loss_curve``: train (and validation) loss per epoch from a run's ``metrics.jsonl``;
* ``plot_error_vs_resolution``: test error against evaluation resolution (zero-shot super-resolution);
* ``plot_power_spectrum``: radially averaged power spectra of truth and prediction;
* ``plot_samples``: a gallery of functions per row (generative models: data against prior samples);
* learned dynamics (NCDS): ``plot_phase_portrait`` (streamlines, demonstrations, rollouts), ``plot_rollouts``
  (coordinates against time, any dimension), ``plot_so3_rollouts`` (orientation and position error on SO(3)).

Every function takes plain tensors/arrays plus a Grid and writes one file atomically; it returns the path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sciml.core.files import atomic_path  # noqa: E402

__all__ = [
    "plot_prediction",
    "plot_loss_curve",
    "plot_error_vs_resolution",
    "plot_power_spectrum",
    "plot_samples",
    "plot_phase_portrait",
    "plot_rollouts",
    "plot_so3_rollouts",
]


def _np(a) -> np.ndarray:
    return a.detach().float().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float32)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_prediction(
    inputs,
    truth,
    pred,
    grid,
    path: str | Path,
    n_samples: int = 3,
    channel: int = 0,
    title: str | None = None,
) -> Path:
    """Panels per sample: input, truth, prediction, |error|; tensors shaped (batch, channels, *grid.shape)."""
    inputs, truth, pred = _np(inputs), _np(truth), _np(pred)
    n = min(n_samples, truth.shape[0])
    fig, axes = plt.subplots(n, 4, figsize=(15, 3.2 * n), squeeze=False, gridspec_kw={"wspace": 0.45})
    names = ["input", "truth", "prediction", "|error|"]
    for i in range(n):
        err = np.abs(pred[i, channel] - truth[i, channel])
        rel = np.linalg.norm(pred[i, channel] - truth[i, channel]) / max(np.linalg.norm(truth[i, channel]), 1e-30)
        panels = [inputs[i, 0], truth[i, channel], pred[i, channel], err]
        vmin, vmax = truth[i, channel].min(), truth[i, channel].max()
        for j, (ax, data) in enumerate(zip(axes[i], panels)):
            if grid.ndim == 1:
                ax.plot(grid.coords[0], data)
                if j in (1, 2):
                    ax.set_ylim(vmin - 0.05 * abs(vmax - vmin), vmax + 0.05 * abs(vmax - vmin))
            else:
                (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
                kw = {"vmin": vmin, "vmax": vmax} if j in (1, 2) else {}
                im = ax.imshow(
                    data.T if data.ndim == 2 else data.reshape(grid.shape[:2]).T,
                    origin="lower",
                    extent=(x0, x1, y0, y1),
                    cmap="magma" if j == 3 else "viridis",
                    **kw,
                )
                fig.colorbar(im, cax=ax.inset_axes([1.03, 0.0, 0.05, 1.0]))
            ax.set_title(f"{names[j]}" + (f" (rel L2 {rel:.3f})" if j == 3 else ""))
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a ``metrics.jsonl`` file (a truncated last line, from a crash, is ignored)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def plot_loss_curve(metrics: str | Path | Sequence[dict], path: str | Path) -> Path:
    """Loss per epoch (log scale) from metrics rows or a metrics.jsonl path; every ``*loss*``/``val_*`` key."""
    rows = read_metrics(metrics) if isinstance(metrics, (str, Path)) else list(metrics)
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = sorted(
        {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and ("loss" in k or k.startswith("val_"))}
    )
    for k in keys:
        pts = [(r.get("epoch", i), r[k]) for i, r in enumerate(rows) if isinstance(r.get(k), (int, float))]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=k)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("training curve")
    return _save(fig, path)


def plot_error_vs_resolution(
    results: dict[str, dict[str, float]] | dict[int, dict[str, float]],
    path: str | Path,
    train_resolution: int | None = None,
    metrics: Sequence[str] = ("relative_l2", "relative_h1"),
) -> Path:
    """Test error against resolution; ``results[res][metric]``; the training resolution is marked."""
    res = sorted(int(r) for r in results)
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in metrics:
        rows = [results[str(r)] if str(r) in results else results[r] for r in res]
        pts = [(r, row[m]) for r, row in zip(res, rows) if m in row]  # e.g. no relative_h1 on coarse grids
        if pts:
            ax.plot(*zip(*pts), marker="o", label=m)
    if train_resolution is not None:
        ax.axvline(train_resolution, color="gray", ls="--", label=f"trained at {train_resolution}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(res, [str(r) for r in res])
    ax.set_xlabel("evaluation resolution (points per axis)")
    ax.set_ylabel("test error")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("error vs resolution")
    return _save(fig, path)


def radial_spectrum(values) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of (batch, *spatial) 2-D fields: (wavenumbers, mean power)."""
    v = _np(values)
    f = np.abs(np.fft.fftn(v, axes=(-2, -1))) ** 2 / np.prod(v.shape[-2:]) ** 2
    kx = np.fft.fftfreq(v.shape[-2]) * v.shape[-2]
    ky = np.fft.fftfreq(v.shape[-1]) * v.shape[-1]
    kr = np.rint(np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2)).astype(int)
    power = np.bincount(kr.ravel(), weights=f.mean(0).ravel()) / np.maximum(np.bincount(kr.ravel()), 1)
    k = np.arange(power.size)
    keep = (k > 0) & (k <= min(v.shape[-2:]) // 2)
    return k[keep], power[keep]


def plot_power_spectrum(truth, pred, path: str | Path, channel: int = 0) -> Path:
    """Radially averaged spectra of truth and prediction, (batch, channels, H, W)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, data in (("truth", truth), ("prediction", pred)):
        k, p = radial_spectrum(_np(data)[:, channel])
        ax.loglog(k, p, label=name)
    ax.set_xlabel("wavenumber |k|")
    ax.set_ylabel("power")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_samples(rows: dict, grid, path: str | Path, n_samples: int = 6, channel: int = 0, title: str = "") -> Path:
    """A gallery of functions, one row per entry of ``rows`` (e.g. ``{"data": y, "model samples": s}``).

    Each value is ``(batch, channels, *grid.shape)``; 1-D functions are overlaid in one panel per row, 2-D ones are
    shown as images on a shared colour scale. Used for generative models (VANO prior samples against data).
    """
    arrays = {k: _np(v)[:, channel] for k, v in rows.items()}
    lo = min(float(a.min()) for a in arrays.values())
    hi = max(float(a.max()) for a in arrays.values())
    if grid.ndim == 1:
        fig, axes = plt.subplots(1, len(arrays), figsize=(5 * len(arrays), 3.2), squeeze=False, sharey=True)
        for ax, (name, a) in zip(axes[0], arrays.items()):
            for f in a[:n_samples]:
                ax.plot(grid.coords[0], f, lw=1)
            ax.set_title(name)
            ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    else:
        n = min(n_samples, *(a.shape[0] for a in arrays.values()))
        fig, axes = plt.subplots(len(arrays), n, figsize=(2.2 * n, 2.3 * len(arrays)), squeeze=False)
        (x0, x1), (y0, y1) = grid.bounds[0], grid.bounds[1]
        for r, (name, a) in enumerate(arrays.items()):
            for j in range(n):
                ax = axes[r, j]
                ax.imshow(a[j].T, origin="lower", extent=(x0, x1, y0, y1), vmin=lo, vmax=hi, cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
            axes[r, 0].set_ylabel(name)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ learned dynamics
def _duration(t) -> float:
    t = np.asarray(t)
    return float(np.mean(t[:, -1] - t[:, 0]))


@torch.no_grad()
def plot_phase_portrait(fields: dict, demos, path: str | Path, n_grid: int = 40, n_points: int = 200) -> Path:
    """Streamlines of each 2-D field (grey), the demonstrations (black), rollouts from their starts (red).

    ``fields`` maps a panel title to a field ``x (n, 2) -> velocity (n, 2)`` (NCDS, an MLP field, a latent NCDS);
    ``demos`` has ``pos (n_demos, T, 2)``, ``t (n_demos, T)``, ``goal (2,)`` and ``names``.
    """
    from sciml.dynamics.evaluate import rollout_any

    flat = np.asarray(demos.pos).reshape(-1, 2)
    lo, hi = flat.min(0), flat.max(0)
    pad = 0.15 * (hi - lo)
    gx, gy = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], n_grid), np.linspace(lo[1] - pad[1], hi[1] + pad[1], n_grid)
    )
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], -1), dtype=torch.float32)
    t = torch.linspace(0, _duration(demos.t), n_points)
    fig, axes = plt.subplots(1, len(fields), figsize=(4 * len(fields), 4), squeeze=False)
    for ax, (name, field) in zip(axes[0], fields.items()):
        vel = _np(field(pts))
        ax.streamplot(gx, gy, vel[:, 0].reshape(gx.shape), vel[:, 1].reshape(gx.shape), color="0.6", density=1.0)
        for demo in demos.pos:
            ax.plot(demo[:, 0], demo[:, 1], color="k", lw=1)
        for tr in _np(rollout_any(field, torch.as_tensor(demos.pos[:, 0], dtype=torch.float32), t)):
            ax.plot(tr[:, 0], tr[:, 1], color="tab:red", lw=1.2)
        ax.plot(*demos.goal, "k*", ms=10)
        ax.set_title(name)
        ax.set_xlim(gx.min(), gx.max())
        ax.set_ylim(gy.min(), gy.max())
    fig.suptitle(f"{'+'.join(demos.names)}: streamlines (grey), demos (black), rollouts (red)")
    fig.tight_layout()
    return _save(fig, path)


@torch.no_grad()
def plot_rollouts(field, demos, path: str | Path, n_points: int = 200) -> Path:
    """Each coordinate against time: demonstrations (black) and rollouts from their starts (red), any dimension."""
    from sciml.dynamics.evaluate import rollout_any

    t = torch.linspace(0, _duration(demos.t), n_points)
    traj = _np(rollout_any(field, torch.as_tensor(demos.pos[:, 0], dtype=torch.float32), t))
    dim = traj.shape[-1]
    fig, axes = plt.subplots(dim, 1, figsize=(6, 1.8 * dim), sharex=True, squeeze=False)
    for d, ax in enumerate(axes[:, 0]):
        for k, demo in enumerate(demos.pos):
            ax.plot(demos.t[k] - demos.t[k, 0], demo[:, d], color="k", lw=1)
        for tr in traj:
            ax.plot(t.numpy(), tr[:, d], color="tab:red", lw=1)
        ax.axhline(demos.goal[d], color="0.5", ls="--", lw=0.8)
        ax.set_ylabel(f"x_{d}")
    axes[-1, 0].set_xlabel("time")
    fig.suptitle("demos (black), rollouts (red), goal (dashed)")
    return _save(fig, path)


@torch.no_grad()
def plot_so3_rollouts(field, data: dict, path: str | Path, rtol: float = 1e-5, n_points: int = 200) -> Path:
    """Orientation error |log(R_g^T R)| (rad) and position error |p - p_g| against time, demos vs rollouts.

    ``field`` is an ``SO3NCDS``; ``data`` the dict of ``sciml.data.so3.so3_trajectories``.
    """
    orient = data["quaternions"] if field.representation == "quaternion" else data["rotations"]
    t_all = np.asarray(data["t"])
    t = torch.linspace(0, _duration(t_all), n_points)
    o0 = torch.as_tensor(orient[:, 0], dtype=torch.float32)
    p0 = torch.as_tensor(data["positions"][:, 0], dtype=torch.float32) if field.with_position else None
    o_t, p_t = field.rollout(o0, p0, t, rtol=rtol, atol=rtol * 1e-2)
    b = o_t.shape[0]
    u_roll = _np(
        field.to_algebra(o_t.reshape(b * n_points, *o_t.shape[2:]), p_t.reshape(-1, 3) if p_t is not None else None)
    ).reshape(b, n_points, -1)
    demo_o = torch.as_tensor(orient, dtype=torch.float32)
    demo_p = torch.as_tensor(data["positions"], dtype=torch.float32) if field.with_position else None
    n_t = demo_o.shape[1]
    u_demo = _np(
        field.to_algebra(
            demo_o.reshape(b * n_t, *demo_o.shape[2:]), demo_p.reshape(-1, 3) if demo_p is not None else None
        )
    ).reshape(b, n_t, -1)
    panels = [("orientation error (rad)", slice(0, 3))] + ([("position error", slice(3, 6))] if p_t is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (label, sl) in zip(axes[0], panels):
        for k in range(b):
            ax.plot(t_all[k] - t_all[k, 0], np.linalg.norm(u_demo[k, :, sl], axis=-1), color="k", lw=1)
            ax.plot(t.numpy(), np.linalg.norm(u_roll[k, :, sl], axis=-1), color="tab:red", lw=1)
        ax.set_xlabel("time")
        ax.set_ylabel(label)
        ax.set_yscale("symlog", linthresh=1e-3)
    fig.suptitle("SO(3) rollouts: demos (black), rollouts (red); 0 is the goal")
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ weather forecasts
def plot_forecast_maps(truth, pred, grid, variables: Sequence[str], path: str | Path) -> Path:
    """Truth, forecast and error maps of one forecast ``(C, T, H, W)`` at the first and last lead time, one row per
    variable and lead (longitude across, latitude up)."""
    truth, pred = _np(truth), _np(pred)
    leads = sorted({0, truth.shape[1] - 1})
    rows = [(c, k) for c in range(len(variables)) for k in leads]
    fig, axes = plt.subplots(len(rows), 3, figsize=(11, 2.1 * len(rows)), squeeze=False)
    extent = (grid.bounds[1][0], grid.bounds[1][1], grid.bounds[0][0], grid.bounds[0][1])
    for r, (c, k) in enumerate(rows):
        lo, hi = float(truth[c, k].min()), float(truth[c, k].max())
        err = pred[c, k] - truth[c, k]
        e = float(np.abs(err).max()) or 1.0
        for j, (img, kw) in enumerate(
            (
                (truth[c, k], {"vmin": lo, "vmax": hi, "cmap": "viridis"}),
                (pred[c, k], {"vmin": lo, "vmax": hi, "cmap": "viridis"}),
                (err, {"vmin": -e, "vmax": e, "cmap": "RdBu_r"}),
            )
        ):
            im = axes[r, j].imshow(img, origin="lower", extent=extent, aspect="auto", **kw)
            fig.colorbar(im, ax=axes[r, j], fraction=0.04)
            axes[r, j].set_xticks([])
            axes[r, j].set_yticks([])
        axes[r, 0].set_ylabel(f"{variables[c]} +{k + 1}")
    for j, title in enumerate(("truth", "forecast", "forecast - truth")):
        axes[0, j].set_title(title)
    return _save(fig, path)


def plot_skill_curves(evals: dict, path: str | Path, metric: str = "rmse_lat") -> Path:
    """``metric`` versus lead time per variable for every forecast in ``evals["scores"]`` (model and baselines)."""
    variables, leads = evals["variables"], evals["lead_hours"]
    fig, axes = plt.subplots(1, len(variables), figsize=(3.4 * len(variables), 3.0), squeeze=False)
    for ax, v in zip(axes[0], variables):
        for who, scores in evals["scores"].items():
            ax.plot(leads, scores[v][metric], marker="o", label=who)
        ax.set_title(v)
        ax.set_xlabel("lead time (h)")
    axes[0, 0].set_ylabel(metric)
    axes[0, -1].legend(fontsize=8)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ dictionaries (SAE)
def plot_atoms(true, learned, grid, path: str | Path, recovery: dict | None = None, n: int = 8) -> Path:
    """True atoms ``(K, C, N)`` next to their matched learned atoms (``recovery`` from
    ``sciml.metrics.dictionary.matched_atom_distance``: ``assignment``, ``distances``, ``shift_invariant``); learned
    atoms shifted (convolutional codes), sign-flipped and scaled onto the true ones. Without ``true``, the learned
    atoms alone (flattened)."""
    learned = torch.as_tensor(learned).double()
    if true is None or recovery is None:
        fig, ax = plt.subplots(figsize=(6, 3))
        flat = learned.reshape(learned.shape[0], -1)
        for k in range(min(n, flat.shape[0])):
            ax.plot(_np(flat[k]), lw=1)
        ax.set_title("learned atoms")
        return _save(fig, path)
    true = torch.as_tensor(true).double()
    n = min(n, true.shape[0])
    fig, axes = plt.subplots(n, 1, figsize=(6, 1.3 * n), sharex=True, squeeze=False)
    t = grid.coords[0]
    for i in range(n):
        a, b = true[i, 0], learned[recovery["assignment"][i], 0]
        if recovery["shift_invariant"]:  # align the learned atom by its best circular shift
            corr = torch.fft.ifft(torch.fft.fft(a) * torch.fft.fft(b).conj()).real
            b = torch.roll(b, int(corr.abs().argmax()))
        b = b * torch.sign((a * b).sum()) * a.norm() / b.norm().clamp_min(1e-12)
        axes[i, 0].plot(t, _np(a), "k", lw=1.5, label="true")
        axes[i, 0].plot(t, _np(b), "C1--", lw=1.2, label="recovered")
        axes[i, 0].set_ylabel(f"{recovery['distances'][i]:.2f}", rotation=0, labelpad=18)
    axes[0, 0].legend(loc="upper right", fontsize=7)
    axes[0, 0].set_title("true vs recovered atoms (label: sine distance)")
    return _save(fig, path)


def plot_recovery_curve(distances: Sequence[float], threshold: float, path: str | Path) -> Path:
    """Fraction of true atoms recovered below each sine distance (a step curve), with the threshold marked."""
    d = sorted(distances)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.step(d, [(i + 1) / len(d) for i in range(len(d))], where="post")
    ax.axvline(threshold, color="grey", ls=":")
    ax.set_xlabel("sine distance")
    ax.set_ylabel("fraction of true atoms recovered")
    ax.set_xlim(0, 1)
    return _save(fig, path)
