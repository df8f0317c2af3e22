"""The VANO example notebook runs end to end and shows what it claims."""

from pathlib import Path

from sciml.testing.notebooks import run_notebook

NB = Path(__file__).resolve().parents[2] / "examples" / "vano_grf.ipynb"


def test_vano_notebook_executes_and_recovers_the_leading_mode():
    text = run_notebook(NB)
    assert float(text.split("max difference at shared points: ")[1].split()[0]) < 1e-5
    assert float(text.split("covariance error: ")[1].split()[0]) < 0.35
    align = text.split("alignment of leading eigenfunctions: [")[1].split("]")[0]
    assert float(align.split(",")[0]) > 0.99
    assert float(text.split("test reconstruction relative L2: ")[1].split()[0]) < 0.5
