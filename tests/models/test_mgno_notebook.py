"""The MgNO example notebook runs end to end at small size and learns the Darcy map."""

from pathlib import Path

from sciml.testing.notebooks import run_notebook

NB = Path(__file__).resolve().parents[2] / "examples" / "mgno_darcy.ipynb"


def test_mgno_notebook_executes_and_learns_darcy():
    text = run_notebook(NB)
    err = float(text.split("test relative L2: ")[1].split()[0])
    assert err < 0.2, f"notebook test relative L2 {err}"
    err_fine = float(text.split("test relative L2 at 49x49: ")[1].split()[0])
    # same weights on the refined grid: measured 0.250 vs 0.136 on the training grid (ratio 1.83); an untrained
    # model gives ~1.25 on both, and evaluating the bias functions by node index instead of physical coordinate
    # gives 0.365 (ratio 2.7), so the transfer is bounded relative to the coarse error
    assert err_fine < 2.25 * err, f"relative L2 {err_fine} at 49x49 vs {err} on the training grid"
