"""The "forecast" task through the CLI: generate a WeatherBench-layout record, train Met2Net, beat persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sciml.cli import main
from sciml.fields.weather import open_weather, weather_stats

SPLITS = [
    "data.train=[2010-11-01, 2010-12-31]",
    "data.val=[2011-01-01, 2011-01-15]",
    "data.test=[2011-01-16, 2011-02-28]",
]


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("weather") / "w.zarr"
    args = ["data", "generate", "datasets/weather.yaml", "-o", str(out), "-q"]
    sets = ["n_steps=240", "start=2010-11-01", "n_lat=16", "n_lon=32"]
    assert main([*args, *sum([["--set", s] for s in sets], [])]) == 0
    return out


def test_a_short_met2net_run_beats_persistence(record, tmp_path, capsys):
    sets = [f"data.path={record}", *SPLITS, "data.t_in=2", "data.t_out=2", "model.hidden=8"]
    sets += ["model.translator_width=16", "model.n_heads=2", "train.epochs=8", "train.batch_size=8", "train.lr=0.003"]
    sets += ["eval.max_windows=40"]
    run = tmp_path / "run"
    args = ["train", "examples/configs/met2net_weather.yaml", "--out", str(run)]
    assert main([*args, *sum([["--set", s] for s in sets], [])]) == 0
    rows = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train_rec", "train_lat", "val_relative_l2"} <= set(rows[0])  # both losses; chosen on validation
    assert main(["evaluate", str(run)]) == 0
    assert "persistence" in capsys.readouterr().out
    ev = json.loads((run / "eval.json").read_text())
    assert ev["lead_hours"] == [12.0, 24.0] and ev["n_windows"] == 40

    def mean_skill(who):  # RMSE relative to the variable's climatological spread, averaged over variables and leads
        s = ev["scores"][who]
        return np.mean([np.mean(s[v]["rmse_lat"]) / np.mean(ev["scores"]["climatology"][v]["rmse_lat"]) for v in s])

    assert mean_skill("model") < mean_skill("persistence"), (mean_skill("model"), mean_skill("persistence"))
    # the normalisation statistics in the checkpoint are those of the training period only
    state = torch.load(run / "checkpoints" / "best.pt", weights_only=True)["model"]
    ds = open_weather(record, ["u10", "v10", "t2m", "r", "tcc"])
    mean, std = weather_stats(ds, ["u10", "v10", "t2m", "r", "tcc"], ["2010-11-01", "2010-12-31"])
    torch.testing.assert_close(state["in_mean"], mean)
    torch.testing.assert_close(state["in_std"], std)
    assert main(["plot", str(run)]) == 0
    assert (run / "plots" / "forecast_maps.png").exists() and (run / "plots" / "skill_vs_lead.png").exists()
