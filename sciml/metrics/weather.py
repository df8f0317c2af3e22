"""Forecast skill per variable and lead time, in physical units, with the WeatherBench conventions.

For forecasts ``f`` and truth ``o`` shaped ``(N, C, T, H, W)`` (N forecasts, C variables, T lead times, a
latitude-longitude grid ``H x W``) and errors ``e = f - o``:

* ``mse``, ``mae``: plain means over forecasts and grid points; ``rmse = sqrt(mse)``;
* ``rmse_lat`` (WeatherBench 1): ``mean_n sqrt(mean_{lat,lon} w(lat) e^2)`` with ``w = cos(lat) / mean(cos(lat))``
  (latitude weights normalised to mean 1 over the rows);
* ``rmse_area`` (WeatherBench 2): ``sqrt(mean_n sum_{lat,lon} a e^2)`` with ``a`` the cell areas of the Grid
  (``Grid.weights(normalized=True)`` on the sphere), i.e. the root of the time-mean area-weighted MSE;
* ``acc``: the anomaly correlation coefficient against a climatology ``c`` (e.g. of the training years):
  ``mean_n sum w f' o' / sqrt(sum w f'^2 sum w o'^2)`` with ``f' = f - c``, ``o' = o - c`` and the latitude weights
  ``w`` (WeatherBench 1's definition, anomalies not re-centred).

``forecast_scores`` returns ``{variable: {metric: [value per lead time]}}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sciml.core.errors import ShapeError
from sciml.fields.grid import Grid

__all__ = ["latitude_weights", "forecast_scores"]


def latitude_weights(lat_degrees: np.ndarray) -> np.ndarray:
    """WeatherBench 1 latitude weights ``cos(lat) / mean(cos(lat))`` (mean 1 over the rows), shape ``(H,)``."""
    w = np.cos(np.deg2rad(np.asarray(lat_degrees, dtype=np.float64)))
    return w / w.mean()


def forecast_scores(
    forecast: torch.Tensor,
    truth: torch.Tensor,
    grid: Grid,
    variables: Sequence[str],
    climatology: torch.Tensor | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Scores per variable and lead time (module docstring); ``climatology`` ``(N, C, T, H, W)`` enables ``acc``."""
    f, o = torch.as_tensor(forecast).double(), torch.as_tensor(truth).double()
    if f.shape != o.shape or f.dim() != 5:
        raise ShapeError(f"forecast and truth must both be (N, C, T, H, W), got {tuple(f.shape)} and {tuple(o.shape)}")
    if tuple(f.shape[-2:]) != tuple(grid.shape):
        raise ShapeError(f"forecast grid {tuple(f.shape[-2:])} does not match the Grid {grid.shape}")
    if len(variables) != f.shape[1]:
        raise ShapeError(f"{len(variables)} variable names for {f.shape[1]} variables")
    lat_axis = grid.latlon_axes[0] if grid.latlon_axes is not None else 0
    w_lat = torch.as_tensor(latitude_weights(grid.coords[lat_axis]), dtype=torch.float64)
    w_lat = w_lat.view(-1, 1) if lat_axis == 0 else w_lat.view(1, -1)
    area = grid.weights(dtype=torch.float64, normalized=True)
    e = f - o
    se = e**2
    out: dict[str, dict[str, list[float]]] = {}
    for c, name in enumerate(variables):
        sc = se[:, c]  # (N, T, H, W)
        scores = {
            "mse": sc.mean((0, 2, 3)).tolist(),
            "mae": e[:, c].abs().mean((0, 2, 3)).tolist(),
            "rmse": sc.mean((0, 2, 3)).sqrt().tolist(),
            "rmse_lat": (sc * w_lat).mean((2, 3)).sqrt().mean(0).tolist(),
            "rmse_area": (sc * area).sum((2, 3)).mean(0).sqrt().tolist(),
        }
        if climatology is not None:
            clim = torch.as_tensor(climatology).double()[:, c]
            fa, oa = f[:, c] - clim, o[:, c] - clim
            num = (w_lat * fa * oa).sum((2, 3))
            den = ((w_lat * fa**2).sum((2, 3)) * (w_lat * oa**2).sum((2, 3))).sqrt().clamp_min(1e-300)
            scores["acc"] = (num / den).mean(0).tolist()
        out[name] = scores
    return out
