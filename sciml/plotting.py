"""Figures people expect from an operator-learning run, written as PNG (matplotlib, Agg backend).

* ``plot_prediction``: input / truth / prediction / error panels for a few samples (1-D lines or 2-D images
  with the grid's physical extent);
* ``plot_loss_curve``: train (and validation) loss per epoch from a run's ``metrics.jsonl``;
* ``plot_error_vs_resolution``: test error against evaluation resolution (zero-shot super-resolution);
* ``plot_power_spectrum``: radially averaged power spectra of truth and prediction.

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

from sciml.utils import atomic_path  # noqa: E402

__all__ = ["plot_prediction", "plot_loss_curve", "plot_error_vs_resolution", "plot_power_spectrum"]


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
