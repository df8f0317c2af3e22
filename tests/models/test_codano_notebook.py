"""The CoDA-NO example notebook runs end to end and reports what it claims."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[2] / "examples" / "codano_multiphysics.ipynb"


def test_codano_notebook_executes():
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NB.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "new parameters: " in text
    new_params = int(text.split("new parameters:")[1].split()[0])
    assert new_params == 4 * 11 * 6 * 2  # pe_channels x (2*6-1) x 6 modes x (re, im): only T's encoding
    gap = float(text.split("d(24, 48) = ")[1].split()[0])
    assert gap < 0.05
