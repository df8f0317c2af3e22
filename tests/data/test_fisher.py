"""Fisher-KPP generator: exact heat-kernel solution at second order, bounds, Taylor encoding, seeding."""

from __future__ import annotations

import numpy as np
import pytest

import sciml.data
from sciml.core.errors import ConfigError
from sciml.data.fisher import FORMS, reaction, reaction_coefficients, solve_fisher


def test_reaction_free_case_matches_the_heat_kernel_at_second_order():
    d, times = 0.05, np.linspace(0.0, 1.0, 5)
    errors = []
    for m in (17, 33, 65):
        x = np.linspace(0, 1, m)
        u0 = 0.5 + 0.3 * np.cos(np.pi * x) + 0.1 * np.cos(3 * np.pi * x)
        u = solve_fisher(u0[None], times, d, ["none"], np.ones(1), np.ones(1), rtol=1e-11, atol=1e-13)[0]
        t = times[:, None]
        exact = (
            0.5
            + 0.3 * np.exp(-d * np.pi**2 * t) * np.cos(np.pi * x)
            + 0.1 * np.exp(-9 * d * np.pi**2 * t) * np.cos(3 * np.pi * x)
        )
        errors.append(np.abs(u - exact).max())
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-3 and np.all(rates > 1.8), (errors, rates)


def test_taylor_coefficients_approximate_the_exponential_form_to_fifth_order():
    for a, b in ((0.3, 0.5), (1.0, 2.0)):
        c = reaction_coefficients("exponential", a, b)
        u = np.array([0.4, 0.2, 0.1, 0.05])
        err = np.abs(reaction("exponential", a, b, u) - sum(c[k] * u ** (k + 1) for k in range(4)))
        rates = np.log2(err[:-1] / err[1:])
        assert np.all(rates > 4.7), rates  # O(u^5): halving u divides the error by ~32
        uu = np.linspace(0, 1, 101)
        whole = np.abs(reaction("exponential", a, b, uu) - sum(c[k] * uu ** (k + 1) for k in range(4)))
        assert np.all(whole <= a * np.exp(-b) * (b**4 / 24 + b**3 / 6) * 1.5 * uu**5 + 1e-15)
    # the polynomial forms are exact
    u = np.linspace(0, 1, 11)
    for form in ("logistic", "cubic"):
        c = reaction_coefficients(form, 0.7)
        assert np.allclose(reaction(form, 0.7, 1.0, u), sum(c[k] * u ** (k + 1) for k in range(4)), atol=1e-15)


def test_generated_solutions_stay_in_the_unit_interval_and_are_seeded_per_sample():
    out = sciml.data.generate("fisher", n_samples=6, resolution=[20, 32], seed=3, progress=False, dtype="float64")
    x, u = out["input"].values, out["output"].values
    assert x.shape == (6, 5, 20, 32) and u.shape == (6, 1, 20, 32)
    assert float(u.min()) >= 0.0 and float(u.max()) <= 1.0
    assert out["input"].attrs["forms"] == list(FORMS) * 2
    assert np.allclose(u[:, 0, 0].numpy(), x[:, 0, 0].numpy())  # the output starts at the initial condition
    # the reaction drives u up: mean at t = 1 above the mean at t = 0 for every sample
    assert bool((u[:, 0, -1].mean(-1) > u[:, 0, 0].mean(-1)).all())
    again = sciml.data.generate("fisher", n_samples=2, resolution=[20, 32], seed=3, progress=False, dtype="float64")
    assert np.array_equal(again["output"].values.numpy(), u[:2].numpy())
    with pytest.raises(ConfigError, match="unknown Fisher reaction form"):
        sciml.data.generate("fisher", n_samples=1, forms=["quadratic"], progress=False)
