"""Gaussian bumps: exact values at the centre, same functions at two resolutions, slowly decaying spectrum."""

from __future__ import annotations

import numpy as np
import torch

import sciml.data
from sciml.data.bumps import bumps, sample_parameters
from sciml.fields.grid import Grid
from sciml.metrics import eigen_decomposition, empirical_covariance


def test_bump_values_and_peak_location():
    c = np.array([[[0.5, 0.25]]])
    u = bumps(Grid.uniform((41, 41)), c, np.array([[2.0]]), 0.1)  # nodes at multiples of 0.025
    assert u.shape == (1, 41, 41) and u[0, 20, 10] == 2.0 and u.max() == 2.0
    assert np.isclose(u[0, 24, 10], 2.0 * np.exp(-(0.1**2) / (2 * 0.1**2)))
    # the whole field is the isotropic Gaussian 2 exp(-|x - c|^2 / (2 w^2)), first axis = first coordinate
    xs = np.linspace(0.0, 1.0, 41)
    x, y = np.meshgrid(xs, xs, indexing="ij")
    expected = 2.0 * np.exp(-((x - 0.5) ** 2 + (y - 0.25) ** 2) / (2 * 0.1**2))
    assert np.allclose(u[0], expected, rtol=1e-12, atol=1e-14)


def test_same_functions_on_two_grids_and_parameters_in_range():
    a = sciml.data.generate("bumps", n_samples=5, resolution=25, seed=4)["field"].values
    b = sciml.data.generate("bumps", n_samples=5, resolution=49, seed=4, dtype="float64")["field"].values
    assert torch.allclose(b[:, :, ::2, ::2].float(), a, atol=1e-6)
    c, amp = sample_parameters(100, 2, 3, 0, 0.2, (0.5, 1.0))
    assert c.min() >= 0.2 and c.max() <= 0.8 and amp.min() >= 0.5 and amp.max() <= 1.0


def test_spectrum_decays_slowly_unlike_a_smooth_grf():
    f = sciml.data.generate("bumps", n_samples=400, resolution=16)["field"]
    vals, _ = eigen_decomposition(empirical_covariance(f.values), f.grid.weights(dtype=torch.float64).reshape(-1))
    frac = torch.cumsum(vals, 0) / vals.sum()
    # a 2-parameter family of bumps needs many linear modes: 8 modes capture < 90 % of the variance
    assert frac[7] < 0.9 and frac[63] > 0.99
