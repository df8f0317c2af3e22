"""The CoDA-NO example notebook runs end to end and reports what it claims."""

from pathlib import Path

from sciml.testing.notebooks import run_notebook

NB = Path(__file__).resolve().parents[2] / "examples" / "codano_multiphysics.ipynb"


def test_codano_notebook_executes():
    text = run_notebook(NB)
    assert "new parameters: " in text
    new_params = int(text.split("new parameters:")[1].split()[0])
    assert new_params == 4 * 11 * 6 * 2  # pe_channels x (2*6-1) x 6 modes x (re, im): only T's encoding
    gap = float(text.split("d(24, 48) = ")[1].split()[0])
    assert gap < 0.05
