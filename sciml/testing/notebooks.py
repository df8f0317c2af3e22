"""Run an example notebook the way the tests do and return what it printed.

``run_notebook(path)`` executes every cell (working directory: the notebook's folder unless ``cwd`` is given) and
returns the text of the code cells' stream outputs joined by newlines, so a test can parse the numbers the notebook
claims and bound them. Needs the dev extra (nbformat, nbclient, ipykernel).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_notebook"]


def run_notebook(path: str | Path, cwd: str | Path | None = None, timeout: int = 300) -> str:
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(cwd if cwd is not None else path.parent)}}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
