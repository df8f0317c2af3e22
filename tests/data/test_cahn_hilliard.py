"""Cahn-Hilliard solver: mass conserved to round-off, free energy decreasing, the linear growth rate of a small
perturbation k^2 (1 - 3 m^2 - gamma k^2) reproduced, and the generator's resolution consistency."""

from __future__ import annotations

import math

import pytest
import torch

import sciml.data
from sciml.core.errors import ConfigError
from sciml.data.cahn_hilliard import fourier_resample, free_energy, initial_mixture, solve


def test_mass_conserved_to_round_off_and_energy_decreases():
    c = initial_mixture(2, (32, 32), seed=3, amplitude=0.2)
    mass0 = c.mean((1, 2))
    energies = [free_energy(c, 2e-3)]
    for _ in range(10):
        c = solve(c, gamma=2e-3, dt=5e-4, n_steps=10)
        energies.append(free_energy(c, 2e-3))
        assert torch.allclose(c.mean((1, 2)), mass0, rtol=0, atol=1e-14)
    e = torch.stack(energies)
    assert torch.all(e[1:] <= e[:-1] + 1e-14), e
    assert torch.all(e[-1] < 0.8 * e[0])  # phase separation really happened
    assert (c.abs() > 0.8).double().mean() > 0.1


def test_linear_growth_rate_of_a_single_mode():
    m, gamma, eps, k = 0.2, 1e-3, 1e-7, 2 * math.pi * 3
    n = 64
    x = torch.arange(n, dtype=torch.float64) / n
    c0 = (m + eps * torch.cos(k * x))[None]
    t, dt = 0.01, 1e-6
    c = solve(c0, gamma, dt, int(round(t / dt)), stabilization=0.0)
    amp = 2 * torch.fft.rfft(c[0] - m)[3].abs() / n
    sigma = k**2 * (1 - 3 * m**2 - gamma * k**2)
    assert abs(math.log(float(amp) / eps) / t - sigma) / sigma < 1e-2


def test_energy_of_a_constant_state_and_resampling():
    c = torch.full((1, 16, 16), 0.5, dtype=torch.float64)
    assert float(free_energy(c, 1.0)) == pytest.approx((0.25 - 1) ** 2 / 4)
    u = initial_mixture(2, (24, 24), seed=0, n_modes=4)
    v = initial_mixture(2, (48, 48), seed=0, n_modes=4)
    assert torch.allclose(fourier_resample(u, (48, 48)), v, atol=1e-12)  # band-limited: exact interpolation
    assert torch.allclose(fourier_resample(v, (24, 24)), u, atol=1e-12)


def test_generator_contract_same_functions_at_two_resolutions():
    a = sciml.data.generate("cahn_hilliard", n_samples=2, resolution=32, seed=1, progress=False, t_final=0.005)
    b = sciml.data.generate("cahn_hilliard", n_samples=3, resolution=64, seed=1, progress=False, t_final=0.005)
    fa, fb = a["field"], b["field"]
    assert fa.values.shape == (2, 1, 32, 32) and fb.values.shape == (3, 1, 64, 64)
    assert torch.allclose(fb.values[:2, :, ::2, ::2], fa.values, atol=1e-6)
    assert fa.grid.periodic == (True, True)
    with pytest.raises(ConfigError, match="n_modes"):
        initial_mixture(1, (8, 8), n_modes=8)
