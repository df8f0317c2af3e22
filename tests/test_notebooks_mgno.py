"""The MgNO example notebook runs end to end at small size and learns the Darcy map."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[1] / "examples" / "mgno_darcy.ipynb"


def test_mgno_notebook_executes_and_learns_darcy():
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NB.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    err = float(text.split("test relative L2: ")[1].split()[0])
    assert err < 0.2, f"notebook test relative L2 {err}"
    err_fine = float(text.split("test relative L2 at 49x49: ")[1].split()[0])
    assert err_fine < 1.0  # finite and no blow-up on the finer grid (the measured value is in the docs)
