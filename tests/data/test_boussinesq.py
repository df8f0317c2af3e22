"""Boussinesq generator: exact coupled solution, conservation, resolution consistency, output contract."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.core.errors import ConfigError
from sciml.data import generate
from sciml.data.boussinesq import BoussinesqSolver, exact_buoyant_mode


def _random_state(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    k = torch.fft.rfft2(torch.randn(2, n, n, dtype=torch.float64, generator=g))
    kx = torch.fft.fftfreq(n, 1.0 / n).abs()[:, None]
    ky = torch.fft.rfftfreq(n, 1.0 / n)[None, :]
    k = k * ((kx <= 4) & (ky <= 4))  # smooth, resolved
    w = torch.fft.irfft2(k[:1], s=(n, n)) * 3.0
    t = torch.fft.irfft2(k[1:], s=(n, n)) + 0.7  # nonzero mean temperature
    return w, t


def test_exact_buoyant_mode_is_reproduced_with_second_order_in_dt():
    n, nu, kappa, g, t_end = 16, 0.01, 0.02, 2.0, 0.2
    w_ex, t_ex = exact_buoyant_mode(n, t_end, nu, kappa, g)
    errors = []
    for dt in (0.02, 0.01):
        s = BoussinesqSolver(n, nu, kappa, g)
        w0, t0 = exact_buoyant_mode(n, 0.0, nu, kappa, g)
        wh, th = s.integrate(torch.fft.rfft2(w0[None]), torch.fft.rfft2(t0[None]), round(t_end / dt), dt)
        w, t = torch.fft.irfft2(wh, s=(n, n))[0], torch.fft.irfft2(th, s=(n, n))[0]
        errors.append(float((w - w_ex).abs().max() / w_ex.abs().max() + (t - t_ex).abs().max()))
    assert w_ex.abs().max() > 0.1  # buoyancy really spun the fluid up
    assert errors[0] < 1e-3
    assert 3.0 < errors[0] / errors[1] < 5.0, errors  # second order


def _sin_sin(n, kx, ky, cos_x=False):
    x = torch.arange(n, dtype=torch.float64) / n  # axis 0 is x, axis 1 is y
    fx = torch.cos(2 * math.pi * kx * x) if cos_x else torch.sin(2 * math.pi * kx * x)
    return fx[:, None] * torch.sin(2 * math.pi * ky * x)[None, :]


def test_advection_terms_match_the_analytic_values_and_drive_the_time_step():
    """The buoyant mode and the conservation checks hold for either sign of u.grad, so check the advection itself.
    Conventions: -lap psi = w, (u_x, u_y) = (d psi/dy, -d psi/dx), x along axis 0, y along axis 1.
    (a) w = cos 2pi x, T = cos 4pi y: psi = cos(2pi x)/(4pi^2), u = (0, sin(2pi x)/(2pi)), T_y = -4pi sin(4pi y),
        so -u.grad T = 2 sin(2pi x) sin(4pi y); u.grad w = 0 and dT/dx = 0, so the vorticity tendency is 0.
    (b) w = cos 2pi x + cos 4pi y, T = cos 4pi y + sin 2pi x, gravity g:
        u = (-sin(4pi y)/(4pi), sin(2pi x)/(2pi)); -u.grad w = 1.5 sin(2pi x) sin(4pi y), g dT/dx = 2 pi g cos 2pi x,
        -u.grad T = 2 sin(2pi x) sin(4pi y) + 0.5 cos(2pi x) sin(4pi y)."""
    n, g = 16, 0.5
    x = torch.arange(n, dtype=torch.float64) / n
    cx, c2y = torch.cos(2 * math.pi * x)[:, None], torch.cos(4 * math.pi * x)[None, :]
    sx = torch.sin(2 * math.pi * x)[:, None]
    cases = [
        (cx.expand(n, n), c2y.expand(n, n), 0.0, torch.zeros(n, n, dtype=torch.float64), 2 * _sin_sin(n, 1, 2)),
        (
            cx + c2y,
            c2y + sx,
            g,
            1.5 * _sin_sin(n, 1, 2) + 2 * math.pi * g * cx.expand(n, n),
            2 * _sin_sin(n, 1, 2) + 0.5 * _sin_sin(n, 1, 2, cos_x=True),
        ),
    ]
    for w, temp, gravity, rhs_w, rhs_t in cases:
        s = BoussinesqSolver(n, nu=0.0, kappa=0.0, gravity=gravity)
        wh, th = torch.fft.rfft2(w[None]), torch.fft.rfft2(temp[None])
        nw, nt = (torch.fft.irfft2(r, s=(n, n))[0] for r in s.rhs(wh, th))
        assert float((nw - rhs_w).abs().max()) < 1e-12
        assert float((nt - rhs_t).abs().max()) < 1e-12
        # the stepper advances with these tendencies: one Heun step is w0 + dt rhs + O(dt^2) (remainder ~1e-5)
        dt = 1e-5
        wh1, th1 = s.integrate(wh, th, 1, dt)
        rate_w = (torch.fft.irfft2(wh1, s=(n, n))[0] - w) / dt
        rate_t = (torch.fft.irfft2(th1, s=(n, n))[0] - temp) / dt
        assert float((rate_w - rhs_w).abs().max()) < 1e-3
        assert float((rate_t - rhs_t).abs().max()) < 1e-3


def test_pairs_record_absolute_times():
    kw = dict(n_samples=2, resolution=8, progress=False, dt=0.05, dtype="float64")
    out = generate("boussinesq", t_start=0.1, T=0.2, **kw)
    torch.testing.assert_close(out["input"].time, torch.full((2,), 0.1, dtype=torch.float64))
    torch.testing.assert_close(out["output"].time, torch.full((2,), 0.3, dtype=torch.float64))
    # the output is the state at t = 0.3 whichever way the span is split between burn-in and T
    direct = generate("boussinesq", t_start=0.0, T=0.3, **kw)
    torch.testing.assert_close(direct["output"].time, out["output"].time)
    torch.testing.assert_close(out["output"].values, direct["output"].values, rtol=0, atol=1e-10)


def test_conservation_of_heat_and_vorticity_and_decay_of_temperature_variance():
    n = 32
    s = BoussinesqSolver(n, nu=1e-3, kappa=1e-3, gravity=1.0)
    w, t = _random_state(n)
    wh, th = torch.fft.rfft2(w), torch.fft.rfft2(t)
    heat0, var0, vort0 = float(t.mean()), float(t.var()), float(w.mean())
    for _ in range(5):
        wh, th = s.integrate(wh, th, 10, 5e-3)
        state = s.state(wh, th)
        assert abs(float(state[:, 2].mean()) - heat0) < 1e-12
        assert abs(float(torch.fft.irfft2(wh, s=(n, n)).mean()) - vort0) < 1e-12
        var = float(state[:, 2].var())
        assert var <= var0 * (1 + 1e-6)
        var0 = var
    # velocity is divergence-free to round-off
    kx = 2 * math.pi * torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64)[:, None]
    ky = 2 * math.pi * torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64)[None, :]
    div = 1j * kx * torch.fft.rfft2(state[:, 0]) + 1j * ky * torch.fft.rfft2(state[:, 1])
    resolved = (kx.abs() <= 2 * math.pi * n / 3) & (ky.abs() <= 2 * math.pi * n / 3)  # the dealiased band
    assert float((div * resolved).abs().max()) < 1e-9 * float(torch.fft.rfft2(state[:, 0]).abs().max())


def test_generate_contract_and_resolution_consistency():
    kw = dict(n_samples=3, seed=4, progress=False, dt=0.01, t_start=0.05, T=0.05, solver_resolution=32)
    fine = generate("boussinesq", resolution=32, **kw)
    coarse = generate("boussinesq", resolution=16, **kw)
    assert list(fine["input"].variables) == ["u_x", "u_y", "T"]
    assert fine["input"].values.shape == (3, 3, 32, 32) and fine["output"].values.shape == (3, 3, 32, 32)
    assert fine["input"].grid.periodic == (True, True)
    torch.testing.assert_close(coarse["output"].values, fine["output"].values[..., ::2, ::2])
    # deterministic in (seed, i): the second sample alone is the second sample of the batch
    again = generate("boussinesq", resolution=16, **{**kw, "n_samples": 2})
    torch.testing.assert_close(again["input"].values, coarse["input"].values[:2])
    x, y = fine["input"].values, fine["output"].values
    assert 0.5 < float(x[:, 2].std()) < 2.0 and float((y - x).norm() / x.norm()) > 1e-3
    with_w = generate("boussinesq", resolution=16, include_vorticity=True, **{**kw, "n_samples": 1})
    assert list(with_w["input"].variables) == ["u_x", "u_y", "T", "vorticity"]
    torch.testing.assert_close(with_w["output"].values[:, :3], coarse["output"].values[:1])
    with pytest.raises(ConfigError, match="multiple"):
        generate("boussinesq", resolution=24, **kw)


def test_times_must_be_whole_numbers_of_steps_in_both_torus_generators():
    small = dict(n_samples=1, resolution=8, progress=False, dt=0.01)
    for name in ("boussinesq", "navier_stokes"):
        with pytest.raises(ConfigError, match=r"T=0\.015 must be a positive integer multiple of dt=0\.01"):
            generate(name, T=0.015, **small)
    for name in ("boussinesq", "navier_stokes"):
        with pytest.raises(ConfigError, match=r"t_start=0\.015 must be a non-negative integer multiple of dt=0\.01"):
            generate(name, T=0.01, t_start=0.015, **small)
    out = generate("boussinesq", T=0.01, t_start=0.0, **small)  # no burn-in is allowed
    assert out["input"].values.shape == (1, 3, 8, 8)
