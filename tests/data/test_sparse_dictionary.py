"""The sparse_dictionary generator: same functions at every resolution, per-sample seeding, true atoms and codes."""

import pytest
import torch

import sciml.data
from sciml.core.errors import ConfigError
from sciml.data.recipes import run_recipe
from sciml.fields.hdf5 import list_groups, read_field


def _gen(**kw):
    kw.setdefault("n_samples", 6)
    kw.setdefault("resolution", 16)
    return sciml.data.generate("sparse_dictionary", **kw)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("atom_type", ["smooth", "rough"])
@pytest.mark.parametrize("codes", ["scalar", "conv"])
def test_same_functions_at_every_resolution(dim, atom_type, codes):
    a = _gen(dim=dim, atom_type=atom_type, codes=codes, shift_lattice=4)
    b = _gen(dim=dim, atom_type=atom_type, codes=codes, shift_lattice=4, resolution=32)
    sl = (slice(None), slice(None)) + (slice(None, None, 2),) * dim
    torch.testing.assert_close(b["field"].values[sl], a["field"].values)
    torch.testing.assert_close(b["atoms"].values[sl], a["atoms"].values)
    torch.testing.assert_close(b["codes"].values, a["codes"].values)


def test_sample_i_depends_only_on_seed_and_i():
    a, b = _gen(n_samples=3), _gen(n_samples=8)
    torch.testing.assert_close(b["field"].values[:3], a["field"].values)
    assert not torch.equal(_gen(seed=1)["field"].values, b["field"].values[:6])


def test_scalar_codes_rebuild_the_data_with_s_non_zeros():
    f = _gen(n_samples=20, sparsity=3, n_atoms=5)
    z, d, x = f["codes"].values[..., 0], f["atoms"].values, f["field"].values
    assert ((z != 0).sum(1) == 3).all()
    torch.testing.assert_close(torch.einsum("nk,kcp->ncp", z, d), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        (d.double() ** 2).mean(-1).squeeze(), torch.ones(5, dtype=torch.float64), atol=1e-4, rtol=0
    )


def test_conv_codes_shift_atoms_on_the_lattice():
    f = _gen(n_samples=10, sparsity=2, codes="conv", shift_lattice=8, resolution=32)
    z, d, x = f["codes"].values, f["atoms"].values, f["field"].values
    assert ((z != 0).flatten(1).sum(1) == 2).all()
    rebuilt = torch.zeros_like(x)
    for i, k, j in torch.nonzero(z).tolist():
        rebuilt[i] += z[i, k, j] * torch.roll(d[k], 4 * j, -1)  # shift j / 8 of the period = 4 cells of 32
    torch.testing.assert_close(rebuilt, x, atol=1e-5, rtol=0)


def test_smooth_atoms_are_band_limited_and_rough_ones_are_not():
    smooth = _gen(resolution=64, max_mode=4)["atoms"].values
    rough = _gen(resolution=64, atom_type="rough")["atoms"].values
    tail = lambda a: float((torch.fft.rfft(a.double(), dim=-1)[..., 5:].abs() ** 2).sum())  # noqa: E731
    assert tail(smooth) < 1e-8 and tail(rough) > 1.0


def test_noise_and_bad_parameters():
    clean, noisy = _gen(), _gen(noise=0.1)
    r = (noisy["field"].values - clean["field"].values).std()
    assert 0.05 < float(r) < 0.2
    for bad in (dict(dim=3), dict(atom_type="wiggly"), dict(codes="dense"), dict(sparsity=0), dict(noise=-1.0)):
        with pytest.raises(ConfigError):
            _gen(**bad)


def test_recipe_writes_data_true_atoms_and_codes(tmp_path):
    out = run_recipe("datasets/sparse_dictionary.yaml", tmp_path / "d.h5", ["n_samples=8", "resolution=32"])
    assert list_groups(out) == {"field": "field", "atoms": "field", "codes": "field"}
    assert read_field(out, "atoms").values.shape == (8, 1, 32)
    assert read_field(out, "field").values.shape == (8, 1, 32)
