"""Navier-Stokes vorticity solver: exact Taylor-Green decay, exact forced single-mode flow, real and mean-free
solutions, second-order time convergence, seeds consistent across resolutions, and argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.data.navier_stokes import VorticitySolver, fno_forcing, generate, taylor_green

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


def _grid_xy(n):
    x = torch.arange(n, dtype=torch.float64) / n
    return x[:, None], x[None, :]  # axis 0 is x, axis 1 is y


def test_advection_term_matches_the_analytic_value_and_drives_the_time_step():
    """Taylor-Green and the forced mode have u.grad w = 0; this state does not. Conventions of the solver:
    -lap psi = w and u = (d psi/dy, -d psi/dx), x along axis 0, y along axis 1. For w = cos 2pi x + cos 4pi y:
    psi = cos(2pi x)/(4pi^2) + cos(4pi y)/(16pi^2), so u = -sin(4pi y)/(4pi), v = sin(2pi x)/(2pi),
    u w_x = sin(2pi x) sin(4pi y)/2, v w_y = -2 sin(2pi x) sin(4pi y), hence -u.grad w = 1.5 sin(2pi x) sin(4pi y).
    The opposite velocity convention (or a sign error in the advection) gives -1.5."""
    n = 16
    x, y = _grid_xy(n)
    w = (torch.cos(2 * math.pi * x) + torch.cos(4 * math.pi * y)).expand(n, n)[None]
    exact = 1.5 * torch.sin(2 * math.pi * x) * torch.sin(4 * math.pi * y)
    solver = VorticitySolver(n, nu=0.0)
    u, v = solver.velocity(w)
    assert torch.allclose(u[0], (-torch.sin(4 * math.pi * y) / (4 * math.pi)).expand(n, n), atol=1e-14)
    assert torch.allclose(v[0], (torch.sin(2 * math.pi * x) / (2 * math.pi)).expand(n, n), atol=1e-14)
    nonlinear = torch.fft.irfft2(solver.nonlinear(torch.fft.rfft2(w)), s=(n, n))[0]
    assert float((nonlinear - exact).abs().max()) < 1e-12
    # the stepper uses it with this sign: without viscosity or forcing dw/dt = -u.grad w, one Heun step
    # w1 = w0 + dt N(w0) + O(dt^2); the relative O(dt) remainder is ~1e-5 at dt = 1e-5
    dt = 1e-5
    snaps, _ = solver.solve(w, dt, dt)
    rate = (snaps[0, -1] - snaps[0, 0]) / dt
    assert float((rate - exact).abs().max()) < 1e-3 * 1.5


def test_pairs_and_trajectories_record_absolute_times():
    """Input at t_start, output at t_start + T (not 2 t_start + T), trajectory at t_start + k T / n_snapshots."""
    kw = dict(n_samples=2, resolution=8, dt=0.05, progress=False, dtype="float64", seed=1)
    pair = generate(t_start=0.1, T=0.2, **kw)
    torch.testing.assert_close(pair["input"].time, torch.full((2,), 0.1, dtype=torch.float64))
    torch.testing.assert_close(pair["output"].time, torch.full((2,), 0.3, dtype=torch.float64))
    # and the stored output really is the flow at t = 0.3: the same as integrating 0.3 from the GRF directly
    direct = generate(t_start=0.0, T=0.3, **kw)
    torch.testing.assert_close(direct["output"].time, pair["output"].time)
    torch.testing.assert_close(pair["output"].values, direct["output"].values, rtol=0, atol=1e-10)
    traj = generate(t_start=0.1, T=0.2, trajectory=True, n_snapshots=4, **kw)["trajectory"]
    torch.testing.assert_close(traj["time"], torch.linspace(0.1, 0.3, 5, dtype=torch.float64))
    torch.testing.assert_close(traj["values"][:, 0], pair["input"].values)
    torch.testing.assert_close(traj["values"][:, -1], pair["output"].values)


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
    # a burn-in that is not a whole number of steps is reported under its own name, not as "T"
    with pytest.raises(ConfigError, match=r"^t_start=0\.015 must be a non-negative integer multiple of dt=0\.01$"):
        generate(n_samples=1, resolution=8, t_start=0.015, T=0.1, dt=0.01, progress=False)
