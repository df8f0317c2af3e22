"""Boussinesq generator: exact coupled solution, conservation, resolution consistency, output contract."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.data import generate
from sciml.data.boussinesq import BoussinesqSolver, exact_buoyant_mode
from sciml.errors import ConfigError


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
    with pytest.raises(ConfigError, match=r"t_start=0\.005 must be a non-negative integer multiple"):
        generate("boussinesq", T=0.01, t_start=0.005, **small)
    out = generate("boussinesq", T=0.01, t_start=0.0, **small)  # no burn-in is allowed
    assert out["input"].values.shape == (1, 3, 8, 8)
