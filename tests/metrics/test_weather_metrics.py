"""Forecast scores against a hand-written numpy reference of the WeatherBench definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.core.errors import ShapeError
from sciml.fields import Grid
from sciml.metrics.weather import forecast_scores, latitude_weights


def _reference(f, o, c, lat):
    """WeatherBench 1 (weighted RMSE per forecast, then mean; ACC) and 2 (area-weighted MSE mean, then root)."""
    w = np.cos(np.deg2rad(lat))
    w = (w / w.mean())[:, None]
    edges = np.concatenate([[-90.0], 0.5 * (lat[1:] + lat[:-1]), [90.0]])
    area = np.diff(np.sin(np.deg2rad(edges)))[:, None] * np.ones(f.shape[-1])
    area = area / area.sum()
    out = {}
    for lead in range(f.shape[1]):
        e = f[:, lead] - o[:, lead]
        fa, oa = f[:, lead] - c[:, lead], o[:, lead] - c[:, lead]
        acc = [(w * a * b).sum() / np.sqrt((w * a * a).sum() * (w * b * b).sum()) for a, b in zip(fa, oa)]
        out[lead] = {
            "mse": (e**2).mean(),
            "mae": np.abs(e).mean(),
            "rmse_lat": np.mean([np.sqrt((w * x**2).mean()) for x in e]),
            "rmse_area": np.sqrt(np.mean([(area * x**2).sum() for x in e])),
            "acc": np.mean(acc),
        }
    return out


def test_scores_match_an_independent_numpy_reference():
    rng = np.random.default_rng(0)
    grid = Grid.latlon(8, 16)
    lat = np.array(grid.coords[0])
    o = rng.normal(size=(5, 2, 3, 8, 16))
    f = o + rng.normal(scale=0.5, size=o.shape) * np.cos(np.deg2rad(lat))[:, None]
    c = o.mean(0, keepdims=True) + rng.normal(scale=0.1, size=o.shape)
    scores = forecast_scores(torch.as_tensor(f), torch.as_tensor(o), grid, ["a", "b"], torch.as_tensor(c))
    for v, name in enumerate(["a", "b"]):
        ref = _reference(f[:, v], o[:, v], c[:, v], lat)
        for lead in range(3):
            for k, value in ref[lead].items():
                assert scores[name][k][lead] == pytest.approx(value, rel=1e-10), (name, k, lead)
            assert scores[name]["rmse"][lead] == pytest.approx(np.sqrt(ref[lead]["mse"]), rel=1e-12)


def test_latitude_weights_and_a_perfect_forecast():
    assert latitude_weights(np.array([-60.0, 0.0, 60.0])) == pytest.approx([0.75, 1.5, 0.75])  # cos / mean cos
    grid = Grid.latlon(4, 8)
    o = torch.randn(2, 1, 2, 4, 8)
    s = forecast_scores(o, o, grid, ["x"], o * 0.5)
    assert s["x"]["rmse_lat"] == [0.0, 0.0] and s["x"]["acc"] == pytest.approx([1.0, 1.0])
    with pytest.raises(ShapeError, match="does not match the Grid"):
        forecast_scores(o, o, Grid.latlon(8, 8), ["x"])
