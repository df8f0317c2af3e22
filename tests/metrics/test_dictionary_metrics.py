"""Dictionary-recovery metrics: exact values on constructed cases."""

import math

import pytest
import torch

from sciml.core.errors import ShapeError
from sciml.metrics import (
    coherence,
    dead_fraction,
    fvu,
    l0,
    matched_atom_distance,
    resolution_agreement,
    shift_invariant_distances,
    sine_distances,
)


def _dictionary(k=6, n=32, seed=0):
    return torch.randn(k, 1, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_matched_distance_is_zero_for_a_permuted_sign_flipped_rescaled_copy():
    d = _dictionary()
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    signs = torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64).view(-1, 1, 1)
    copy = d[perm] * signs * 2.5
    r = matched_atom_distance(d, copy)
    assert r["mean"] < 1e-7 and r["max"] < 1e-7 and r["fraction_below"] == 1.0
    assert [r["assignment"][int(p)] for p in perm] == list(range(6))


def test_matched_distance_grows_with_noise():
    d = _dictionary()
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(d.shape, generator=g, dtype=torch.float64)
    means = [matched_atom_distance(d, d + s * noise)["mean"] for s in (0.01, 0.1, 0.5, 2.0)]
    assert all(a < b for a, b in zip(means, means[1:]))
    assert means[0] < 0.02 and means[-1] > 0.5


def test_sine_distance_values_and_extra_learned_atoms():
    e = torch.eye(3, dtype=torch.float64).view(3, 1, 3)
    mixed = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64).view(1, 1, 3)
    dist = sine_distances(e[:1], mixed)
    assert float(dist) == pytest.approx(math.sqrt(0.5))
    r = matched_atom_distance(e[:2], torch.cat([mixed, e]))  # 4 learned atoms for 2 true ones
    assert r["mean"] < 1e-12
    with pytest.raises(ShapeError):
        matched_atom_distance(e, e[:2])


def test_shift_invariant_distance_ignores_circular_shifts_only():
    d = _dictionary(k=3)
    shifted = torch.roll(d, 7, dims=-1)
    assert matched_atom_distance(d, shifted)["mean"] > 0.3
    assert matched_atom_distance(d, shifted, shift_invariant=True)["mean"] < 1e-7
    assert shift_invariant_distances(d, d).diagonal().max() < 1e-7


def test_fvu_l0_dead_fraction_coherence():
    x = torch.randn(16, 1, 8, dtype=torch.float64)
    assert fvu(x, x) == 0.0
    assert fvu(x, x.mean(0, keepdim=True).expand_as(x)) == pytest.approx(1.0)
    z = torch.zeros(3, 4, 5)
    z[0, 1, 2] = 1.0
    z[1, 1, 0] = 2.0
    z[1, 3, 4] = -1.0
    assert l0(z).tolist() == [1.0, 2.0, 0.0]
    assert dead_fraction(z) == pytest.approx(0.5)
    assert coherence(torch.eye(4).view(4, 1, 4)) == 0.0
    assert coherence(torch.tensor([[1.0, 0.0], [1.0, 1.0]])) == pytest.approx(1 / math.sqrt(2))


def test_resolution_agreement_on_shared_points():
    t = torch.linspace(0, 1, 65)[:-1]
    fine = torch.sin(2 * math.pi * t).view(1, 1, -1)
    assert resolution_agreement(fine[..., ::2], fine) == 0.0
    assert resolution_agreement(fine[..., ::2] * 1.1, fine) == pytest.approx(1 / 11, rel=1e-5)
    with pytest.raises(ShapeError):
        resolution_agreement(fine[..., :30], fine)
