"""Burgers generator: Cole-Hopf exact solution with fourth-order time convergence, the dealiased flux term, the
energy law (decay at the exact rate -2 nu int u_x^2, conservation without viscosity), determinism and sample
independence, consistency across solver resolutions, the CFL and resolution warnings, argument errors, and the
shipped recipe end to end."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch

import sciml.data
from sciml.core.errors import ConfigError, InvalidValueError
from sciml.data.burgers import BurgersSolver, cole_hopf, generate
from sciml.data.recipes import load_recipe, run_recipe
from sciml.fields.hdf5 import list_groups, read_field

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny tensors: see tests/conftest.py

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
# small and cheap: moderate GRF amplitude (max|u0| ~ 5), few modes, short times
SMALL = {"progress": False, "dtype": "float64", "sigma": 60.0, "n_grf_modes": 8, "T": 0.02, "dt": 1e-3}


def _x(n):
    return torch.arange(n, dtype=torch.float64) / n


def _energy(u):
    return (u**2).mean(-1)  # int_0^1 u^2 dx by the (spectrally exact) trapezoid rule on the periodic grid


def test_cole_hopf_solution_is_matched_with_fourth_order_in_dt():
    """phi = a + b exp(-4 pi^2 nu t) cos(2 pi x) solves the heat equation, so u = -2 nu phi_x / phi solves Burgers
    exactly. With b/a = 0.8 the profile is far from a single sine (Fourier coefficients fall like 0.5^m), so the
    nonlinear term matters; 128 points resolve it to round-off, leaving the time error, which must be fourth order
    (ratio 16 when dt halves; accept orders 3.7-4.3)."""
    nu, t_final, n, a, b = 0.05, 0.24, 128, 1.0, 0.8
    exact = cole_hopf(n, nu, t_final, a, b)
    assert float(exact.abs().max()) > 0.3  # a genuinely nonlinear amplitude, not a vanishing one
    errors = []
    for dt in (0.008, 0.004, 0.002):
        snaps, times = BurgersSolver(n, nu).solve(cole_hopf(n, nu, 0.0, a, b)[None], t_final, dt)
        assert float(times[-1]) == pytest.approx(t_final)
        errors.append(float((snaps[0, -1] - exact).abs().max()))
    assert errors[-1] < 1e-9
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(3.7 < p < 4.3 for p in orders), orders
    # and the closed form is the Cole-Hopf transform of phi (guards the helper the test relies on)
    x = _x(n)
    e = b * math.exp(-4 * math.pi**2 * nu * t_final)
    phi, phi_x = a + e * torch.cos(2 * math.pi * x), -2 * math.pi * e * torch.sin(2 * math.pi * x)
    torch.testing.assert_close(exact, -2 * nu * phi_x / phi, rtol=0, atol=1e-15)


def test_nonlinear_term_is_the_dealiased_flux_derivative():
    """On 32 points (retained band |m| <= 32/3), u = cos(2 pi 9 x) + cos(2 pi 10 x) gives
    u^2/2 = 1/2 + (cos 2pi 18x + cos 2pi 20x)/4 + (cos 2pi 19x + cos 2pi x)/2, whose band part is 1/2 + cos(2 pi x)/2,
    so the dealiased -(u^2/2)_x is exactly pi sin(2 pi x); modes 18, 19, 20 alias onto 14, 13, 12 and must be cut."""
    n = 32
    x = _x(n)
    u = torch.cos(2 * math.pi * 9 * x) + torch.cos(2 * math.pi * 10 * x)
    nonlinear = torch.fft.irfft(BurgersSolver(n, 0.1).nonlinear(torch.fft.rfft(u)[None]), n=n)[0]
    torch.testing.assert_close(nonlinear, math.pi * torch.sin(2 * math.pi * x), rtol=0, atol=1e-12)


def test_energy_of_grf_data_decays_at_the_exact_rate():
    """d/dt int u^2 = -2 nu int u_x^2 for Burgers on the torus (the flux term integrates to zero). The energy of
    random GRF data must be strictly decreasing, and its central-difference rate must match the dissipation computed
    from the solution's spectrum to the O(dt^2) of the difference quotient."""
    n, nu, dt = 128, 0.1, 1e-4
    u0 = generate(n_samples=3, resolution=n, seed=4, **{**SMALL, "sigma": 200.0, "n_grf_modes": 16})["input"]
    snaps, _ = BurgersSolver(n, nu).solve(u0.values[:, 0], 0.02, dt, record_every=1)
    energy = _energy(snaps)  # (3, n_time)
    assert bool((energy[:, 1:] < energy[:, :-1]).all())
    assert float(energy[:, -1].min() / energy[:, 0].min()) < 0.9  # it really decayed, not just round-off
    rate = (energy[:, 2:] - energy[:, :-2]) / (2 * dt)
    k = 2 * math.pi * torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    u_x = torch.fft.ifft(1j * k * torch.fft.fft(snaps[:, 1:-1]), dim=-1).real
    dissipation = -2 * nu * _energy(u_x)
    assert float(((rate - dissipation) / dissipation).abs().max()) < 5e-4


def test_generated_trajectory_energy_is_non_increasing():
    """The same law through ``generate``: every recorded snapshot has no more energy than the one before."""
    traj = generate(n_samples=4, resolution=64, seed=2, trajectory=True, n_snapshots=20, **SMALL)["trajectory"]
    energy = _energy(traj["values"][:, :, 0])
    assert bool((energy[:, 1:] <= energy[:, :-1]).all()) and bool((energy[:, -1] < energy[:, 0]).all())


def test_inviscid_energy_is_conserved_before_the_shock():
    """nu = 0: the 2/3-dealiased Galerkin system conserves int u^2 exactly, so for u0 = 0.5 sin(2 pi x) (shock at
    t = 1/pi) the energy drifts only by the RK4 time error; with nu > 0 the same data lose energy."""
    n = 64
    u0 = (0.5 * torch.sin(2 * math.pi * _x(n)))[None]
    snaps, _ = BurgersSolver(n, 0.0).solve(u0, 0.3, 1e-3, record_every=20)
    energy = _energy(snaps)[0]
    assert float((energy - energy[0]).abs().max() / energy[0]) < 1e-10
    assert float((snaps[0, -1] - u0[0]).abs().max()) > 0.1  # the wave did steepen: the test is not vacuous
    viscous, _ = BurgersSolver(n, 0.01).solve(u0, 0.3, 1e-3)
    assert float(_energy(viscous[0, -1]) / energy[0]) < 0.99


def test_same_seed_same_data_and_sample_i_independent_of_batching():
    base = generate(n_samples=3, resolution=64, seed=7, **SMALL)
    again = generate(n_samples=3, resolution=64, seed=7, **SMALL)
    assert torch.equal(base["input"].values, again["input"].values)
    assert torch.equal(base["output"].values, again["output"].values)
    more = generate(n_samples=5, resolution=64, seed=7, batch_size=2, **SMALL)
    torch.testing.assert_close(more["output"].values[:3], base["output"].values, rtol=0, atol=1e-12)
    other = generate(n_samples=3, resolution=64, seed=8, **SMALL)
    assert not torch.allclose(other["input"].values, base["input"].values)
    # the pair is (u(0), u(T)) with those times, on the periodic 1-D grid
    assert base["input"].values.shape == (3, 1, 64) and base["input"].variables == ("u",)
    assert base["input"].grid.periodic == (True,)
    torch.testing.assert_close(base["output"].time, torch.full((3,), 0.02, dtype=torch.float64))


def test_output_is_the_strided_solver_solution_and_converges_across_solver_grids():
    kw = {**SMALL, "n_samples": 2, "seed": 3}
    fine = generate(resolution=128, **kw)
    coarse = generate(resolution=32, solver_resolution=128, **kw)
    for name in ("input", "output"):
        torch.testing.assert_close(coarse[name].values, fine[name].values[..., ::4], rtol=0, atol=1e-12)
    # a coarser solver grid gives the same function to spectral accuracy (the data are smooth at these settings)
    mid = generate(resolution=32, solver_resolution=64, **kw)
    err = float((mid["output"].values - coarse["output"].values).abs().max())
    assert err < 1e-6 * float(coarse["output"].values.abs().max())


def test_trajectory_layout_matches_the_pair():
    traj = generate(n_samples=2, resolution=32, seed=1, trajectory=True, n_snapshots=4, **SMALL)["trajectory"]
    pair = generate(n_samples=2, resolution=32, seed=1, **SMALL)
    assert traj["values"].shape == (2, 5, 1, 32) and traj["variables"] == ["u"]
    torch.testing.assert_close(traj["time"], torch.linspace(0, 0.02, 5, dtype=torch.float64))
    torch.testing.assert_close(traj["values"][:, 0], pair["input"].values)
    torch.testing.assert_close(traj["values"][:, -1], pair["output"].values)


def test_cfl_and_resolution_warnings_and_divergence(caplog):
    n = 64
    u0 = (20 * torch.sin(2 * math.pi * _x(n)))[None]
    with caplog.at_level(logging.WARNING, logger="sciml.data.burgers"):
        BurgersSolver(n, 0.1).solve(u0, 0.002, 1e-3)
    assert "CFL" in caplog.text and "dt" in caplog.text
    caplog.clear()
    # fronts of width ~ 4 nu / 40 = 0.005 (max|u0| = 20, nu = 0.05): 64 points cannot hold them, 512 points can,
    # and the warned solution is indeed wrong by more than 1% of max|u|
    with caplog.at_level(logging.WARNING, logger="sciml.data.burgers"):
        coarse, _ = BurgersSolver(n, 0.05).solve(u0, 0.05, 5e-4)
    assert "solver_resolution" in caplog.text
    caplog.clear()
    fine_solver = BurgersSolver(512, 0.05)
    with caplog.at_level(logging.WARNING, logger="sciml.data.burgers"):
        fine, _ = fine_solver.solve((20 * torch.sin(2 * math.pi * _x(512)))[None], 0.05, 5e-5)
    assert caplog.text == "" and fine_solver.last_unresolved_fraction < 1e-6
    assert float((coarse[0, -1] - fine[0, -1, ::8]).abs().max()) > 0.01 * float(fine[0, -1].abs().max())
    with pytest.raises(InvalidValueError, match="diverged"):
        BurgersSolver(n, 0.0).solve(2.5 * u0, 1.0, 0.01)


def test_bad_parameters_raise_config_errors_naming_them():
    kw = {"n_samples": 1, "resolution": 16, "progress": False}
    with pytest.raises(ConfigError, match="solver_resolution=24 must be a multiple of resolution=16"):
        generate(solver_resolution=24, **kw)
    with pytest.raises(ConfigError, match="n_snapshots"):
        generate(T=0.01, dt=1e-3, trajectory=True, n_snapshots=3, **kw)
    with pytest.raises(ConfigError, match=r"T=0\.015 must be a positive integer multiple of dt=0\.01"):
        generate(T=0.015, dt=0.01, **kw)
    with pytest.raises(ConfigError, match="dt"):
        generate(dt=-1e-3, **kw)
    with pytest.raises(ConfigError, match=r"dt must be a finite number, got '1e-4'"):
        generate(dt="1e-4", **kw)
    with pytest.raises(ConfigError, match="nu"):
        generate(nu=-0.1, T=0.01, dt=1e-3, **kw)
    with pytest.raises(ConfigError, match="batch_size"):
        generate(batch_size=0, T=0.01, dt=1e-3, **kw)
    with pytest.raises(ConfigError, match="resolution"):
        generate(n_samples=1, resolution=2, progress=False)
    with pytest.raises(ConfigError, match="u0 must have shape"):
        BurgersSolver(16, 0.1).solve(torch.zeros(16), 0.1, 0.01)
    # the shared parameters are checked centrally, and unknown ones are named
    with pytest.raises(ConfigError, match=r"params\.seed in generator 'burgers'"):
        sciml.data.generate("burgers", n_samples=1, resolution=16, seed=0.5)
    with pytest.raises(ConfigError, match="viscosity"):
        sciml.data.generate("burgers", n_samples=1, resolution=16, viscosity=0.1)


def test_shipped_recipe_writes_a_readable_hdf5_file(tmp_path):
    recipe = load_recipe(DATASETS / "burgers.yaml")
    assert recipe["generator"] == "burgers" and "burgers" in sciml.data.available()
    overrides = ["n_samples=2", "resolution=64", "solver_resolution=128", "T=0.002", "dt=1e-4", "dtype=float64"]
    out = run_recipe(DATASETS / "burgers.yaml", tmp_path / "burgers.h5", overrides=overrides, progress=False)
    assert list_groups(out) == {"input": "field", "output": "field"}
    u0, u = read_field(out, "input"), read_field(out, "output")
    params = {**recipe["params"], "n_samples": 2, "resolution": 64, "solver_resolution": 128, "T": 0.002}
    direct = generate(**{**params, "dt": 1e-4, "dtype": "float64", "progress": False})
    assert torch.equal(u0.values, direct["input"].values) and torch.equal(u.values, direct["output"].values)
    assert u.grid == direct["output"].grid and u.variables == ("u",) and u.values.shape == (2, 1, 64)
