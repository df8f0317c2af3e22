"""The shared resolution-invariance suite: every case registered in tests/resolution/cases_*.py is checked for

* discretization convergence: d(N, 2N) <= the case's bound and d(2N, 4N) <= d(N, 2N) (the gap shrinks);
* exact shift equivariance on periodic grids, for cases that claim it.

A case that cannot pass is registered with ``xfail="<reason with measured numbers>"`` and runs as strict xfail;
if it also sets ``regression_bound``, every gap it measures is bounded by that (not xfail), so a drift is caught.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

from sciml.testing.resolution import CASES, discretization_gaps, shift_error


def _load_cases() -> None:
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        mod_name = f"_sciml_resolution_{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if not CASES:
    _load_cases()

_PARAMS = [
    pytest.param(
        name,
        tuple(shape),
        id=f"{name}-{'x'.join(map(str, shape))}",
        marks=[pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else [],
    )
    for name, case in CASES.items()
    for shape in case.base_shapes
]


@functools.cache
def _gaps(name: str, shape: tuple[int, ...]) -> tuple[float, ...]:
    """Gaps of a case at a base shape, computed once (the convergence and drift tests share them)."""
    return tuple(discretization_gaps(CASES[name], shape))


@pytest.mark.parametrize("name,shape", _PARAMS)
def test_discretization_convergence(name, shape):
    case = CASES[name]
    gaps = _gaps(name, tuple(shape))
    msg = f"{name} at {shape}: d(N,2N)={gaps[0]:.3e}, d(2N,4N)={gaps[1]:.3e}, bound {case.bound:.1e}"
    assert gaps[0] <= case.bound, msg
    # shrinking; a relative slack covers round-off once both gaps are near machine precision
    assert gaps[1] <= gaps[0] * 1.02 + 1e-12, msg


_REGRESSION = [
    pytest.param(name, tuple(shape), id=f"{name}-{'x'.join(map(str, shape))}")
    for name, case in CASES.items()
    if case.xfail and case.regression_bound is not None
    for shape in case.base_shapes
]


@pytest.mark.parametrize("name,shape", _REGRESSION)
def test_known_gap_does_not_drift(name, shape):
    """An xfail case's gaps stay below its regression bound (the known failure does not get worse)."""
    case = CASES[name]
    gaps = _gaps(name, tuple(shape))
    assert max(gaps) <= case.regression_bound, (
        f"{name} at {shape}: gaps {[f'{g:.3e}' for g in gaps]} exceed the regression bound {case.regression_bound}"
    )


_SHIFT = [
    pytest.param(name, tuple(case.base_shapes[0]), id=name)
    for name, case in CASES.items()
    if case.shift_equivariant and case.periodic
]


@pytest.mark.parametrize("name,shape", _SHIFT)
def test_shift_equivariance(name, shape):
    case = CASES[name]
    err = shift_error(case, tuple(2 * s for s in shape))
    assert err <= case.shift_tol, f"{name}: shift error {err:.3e} > {case.shift_tol:.1e}"


def test_suite_has_cases():
    assert "fno" in CASES, "the FNO baseline must be registered in the resolution suite"
