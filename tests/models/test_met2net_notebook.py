"""The Met2Net example notebook runs end to end and shows what it claims."""

from pathlib import Path

from sciml.testing.notebooks import run_notebook

NB = Path(__file__).resolve().parents[2] / "examples" / "met2net_weather.ipynb"


def test_met2net_notebook_trains_and_beats_persistence():
    text = run_notebook(NB)
    assert "model beats persistence: True" in text
    model = float(text.split("model: mean latitude-weighted RMSE relative to climatology ")[1].split()[0])
    persistence = float(text.split("persistence: mean latitude-weighted RMSE relative to climatology ")[1].split()[0])
    assert model < persistence
