"""The Met2Net example notebook runs end to end and shows what it claims."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[2] / "examples" / "met2net_weather.ipynb"


def test_met2net_notebook_trains_and_beats_persistence():
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NB.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "model beats persistence: True" in text
    model = float(text.split("model: mean latitude-weighted RMSE relative to climatology ")[1].split()[0])
    persistence = float(text.split("persistence: mean latitude-weighted RMSE relative to climatology ")[1].split()[0])
    assert model < persistence
