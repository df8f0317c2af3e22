"""Discretization gap d(32, 64), d(64, 128) on band-limited inputs: sciml CoDA-NO, neuraloperator CODANO, FNO, MgNO.

Same protocol as the shared test suite (``sciml.testing.resolution.discretization_gaps``): one set of (untrained,
seeded) weights per model, float64, band-limited random inputs with 4 modes per axis sampled exactly on periodic
32, 64, 128 grids; outputs restricted to the shared points; relative L2 difference per refinement. A
resolution-invariant model has a small gap that shrinks with N. The MgNO row is the suite's registered case
``mgno`` (loaded from ``tests/resolution/cases_mgno.py``, so it is the suite's number at 32x32); the CoDA-NO,
CODANO and FNO rows are configured here (two variables, width 8) and are not the suite's cases.
Run: ``python benchmarks/resolution.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import torch

import sciml.models
from sciml.testing.baselines import neuralop_codano
from sciml.testing.resolution import CASES as SUITE_CASES
from sciml.testing.resolution import ResolutionCase, discretization_gaps

SUITE_DIR = Path(__file__).resolve().parent.parent / "tests" / "resolution"
VARS = ["a", "b"]


def _sciml_codano():
    torch.manual_seed(0)
    return sciml.models.build("codano", variables=VARS, n_modes=[8, 8], width=8, n_layers=2, cls_token=True)


def _neuralop_codano():
    torch.manual_seed(0)
    return neuralop_codano(VARS, width=8, modes=8, n_layers=2)


def _fno():
    torch.manual_seed(0)
    return sciml.models.build("fno", in_channels=2, out_channels=2, n_modes=[8, 8], hidden_channels=8, n_layers=2)


CASES = [
    ResolutionCase("sciml_codano", _sciml_codano, 2, [(32, 32)], forward=lambda m, x, g: m(x, g, VARS)),
    ResolutionCase(
        "neuralop_codano", _neuralop_codano, 2, [(32, 32)], forward=lambda m, x, g: m(x, input_variable_ids=VARS)
    ),
    ResolutionCase("fno", _fno, 2, [(32, 32)]),
]


def _suite_case(family: str, name: str) -> ResolutionCase:
    """A case registered in the shared suite (tests/resolution/cases_<family>.py), loaded as the suite loads it."""
    if name not in SUITE_CASES:
        path = SUITE_DIR / f"cases_{family}.py"
        spec = importlib.util.spec_from_file_location(f"_sciml_resolution_cases_{family}", path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return SUITE_CASES[name]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="accepted for uniformity; the benchmark is already small")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    mgno = _suite_case("mgno", "mgno")
    assert mgno.periodic and (32, 32) in [tuple(b) for b in mgno.base_shapes]
    for case in [*CASES, mgno]:
        d = discretization_gaps(case, (32, 32))
        rows.append(
            {
                "model": case.name,
                "suite_case": case is mgno,
                "d_32_64": d[0],
                "d_64_128": d[1],
                "shrinking": d[1] <= d[0],
            }
        )
        print(f"{case.name:18s} d(32,64)={d[0]:.3e} d(64,128)={d[1]:.3e}", flush=True)
    summary = {"seconds": time.perf_counter() - t0, "grids": "periodic 32/64/128, inputs with 4 modes per axis"}
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import save_results

    line = "; ".join(f"{r['model']} d(32,64)={r['d_32_64']:.2e} d(64,128)={r['d_64_128']:.2e}" for r in rows)
    save_results("resolution_smoke" if args.smoke else "resolution", {"rows": rows, "summary": summary}, command, line)
    return rows


if __name__ == "__main__":
    main()
