"""Navier-Stokes vorticity solver: exact Taylor-Green decay, exact forced single-mode flow, real and mean-free
solutions, second-order time convergence, seeds consistent across resolutions, and argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.data.navier_stokes import VorticitySolver, fno_forcing, generate, taylor_green
from sciml.errors import ConfigError

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny tensors: see tests/conftest.py


def _rel(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def test_taylor_green_decays_at_the_exact_rate_with_second_order_in_dt():
    nu, m, t_final = 0.01, 2, 1.0
    exact = taylor_green(32, m=m, amplitude=3.0, t=t_final, nu=nu)
    errors = []
    for dt in (0.02, 0.01):
        snaps, times = VorticitySolver(32, nu).solve(taylor_green(32, m=m, amplitude=3.0)[None], t_final, dt)
        assert times[-1] == pytest.approx(t_final)
        errors.append(_rel(snaps[0, -1], exact))
    # exact decay factor exp(-8 pi^2 m^2 nu t) = 0.042: the solution decays by 24x, the error is O(dt^2)
    assert errors[1] < 5e-4
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.05)
    # the measured decay rate matches 8 pi^2 m^2 nu
    snaps, _ = VorticitySolver(32, nu).solve(taylor_green(32, m=m)[None], t_final, 0.005)
    rate = -math.log(float(snaps[0, -1].abs().max() / snaps[0, 0].abs().max())) / t_final
    assert rate == pytest.approx(8 * math.pi**2 * m**2 * nu, rel=1e-4)


def test_forced_single_mode_flow_is_exact():
    """The FNO forcing is one Fourier shell (k = (1, 1)), on which the advection term vanishes, so from rest
    w(t) = f / (8 pi^2 nu) (1 - exp(-8 pi^2 nu t)) exactly."""
    nu, n = 0.02, 16
    f = fno_forcing(n, 0.1)
    snaps, _ = VorticitySolver(n, nu, forcing=f).solve(torch.zeros(1, n, n, dtype=torch.float64), 1.0, 0.01)
    lam = 8 * math.pi**2 * nu
    exact = f / lam * (1 - math.exp(-lam * 1.0))
    assert _rel(snaps[0, -1], exact) < 1e-4


def test_generated_flow_is_real_mean_free_and_consistent_across_resolutions():
    kw = {"n_samples": 3, "seed": 5, "T": 0.2, "dt": 0.005, "progress": False, "dtype": "float64", "nu": 1e-3}
    coarse = generate(resolution=16, solver_resolution=32, **kw)
    fine = generate(resolution=32, **kw)
    w_in, w_out = coarse["input"].values, coarse["output"].values
    assert w_out.dtype == torch.float64 and not w_out.is_complex()
    assert w_in.shape == w_out.shape == (3, 1, 16, 16)
    # on the solver grid the mean (Fourier mode 0) is zero to round-off relative to the field's size
    for w in (fine["input"].values, fine["output"].values):
        assert float(w.mean(dim=(-2, -1)).abs().max()) < 1e-12 * float(w.abs().max())
    # the flow changed (advection + forcing) but stayed bounded
    assert 1e-3 < _rel(w_out, w_in) < 1.0
    # same seed -> the same flows; the coarse output is the strided subset of the solver grid
    assert torch.allclose(fine["output"].values[..., ::2, ::2], w_out, atol=1e-12)
    assert torch.allclose(fine["input"].values[..., ::2, ::2], w_in, atol=1e-12)
    # samples are independent of the batch composition: sample i depends only on (seed, i)
    one = generate(resolution=16, solver_resolution=32, batch_size=1, **kw)
    assert torch.allclose(one["output"].values, w_out, atol=1e-12)


def test_trajectory_output_layout():
    out = generate(n_samples=2, resolution=16, T=0.1, dt=0.01, n_snapshots=5, trajectory=True, progress=False)
    traj = out["trajectory"]
    assert traj["values"].shape == (2, 6, 1, 16, 16)
    assert torch.allclose(traj["time"], torch.linspace(0, 0.1, 6, dtype=torch.float64))
    assert traj["grid"].periodic == (True, True) and traj["variables"] == ["vorticity"]


def test_argument_errors_name_the_problem():
    with pytest.raises(ConfigError, match="multiple of resolution"):
        generate(n_samples=1, resolution=16, solver_resolution=24, T=0.1, dt=0.01, progress=False)
    with pytest.raises(ConfigError, match="n_snapshots"):
        generate(n_samples=1, resolution=16, T=0.1, dt=0.01, n_snapshots=3, trajectory=True, progress=False)
    with pytest.raises(ConfigError, match="nu"):
        VorticitySolver(16, -1.0)
