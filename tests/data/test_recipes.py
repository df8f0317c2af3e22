"""Dataset recipes: schema validation, overrides, atomic HDF5 output with provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import sciml
import sciml.data.darcy as darcy_module
from sciml.core.errors import ConfigError
from sciml.data import generate
from sciml.data.recipes import apply_overrides, load_recipe, run_recipe
from sciml.fields.hdf5 import list_groups, read_field, read_provenance

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def _write(tmp_path: Path, recipe: dict, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe))
    return path


SMALL = {
    "generator": "darcy",
    "description": "tiny Darcy",
    "output": "darcy.h5",
    "params": {"n_samples": 3, "resolution": 17, "seed": 2, "dtype": "float64"},
}


def test_unknown_top_level_key_is_named(tmp_path):
    path = _write(tmp_path, {**SMALL, "paramz": {}})
    with pytest.raises(ConfigError, match=r"'paramz'.*allowed keys: generator, params, output, description"):
        load_recipe(path)


def test_unknown_generator_and_parameter_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'n_sample'.*allowed keys:.*n_samples"):
        load_recipe(_write(tmp_path, {**SMALL, "params": {"n_sample": 3}}))
    with pytest.raises(ConfigError, match=r"unknown generator 'darci'.*darcy"):
        load_recipe(_write(tmp_path, {**SMALL, "generator": "darci"}))
    with pytest.raises(ConfigError, match="no 'generator'"):
        load_recipe(_write(tmp_path, {"params": {}}))


def test_overrides_long_short_and_top_level(tmp_path):
    recipe = load_recipe(_write(tmp_path, SMALL))
    new = apply_overrides(
        recipe, ["params.n_samples=10", "seed=3", "resolution=[17, 33]", "coefficient=lognormal", "output=x.h5"]
    )
    assert new["params"] == {
        "n_samples": 10,
        "resolution": [17, 33],
        "seed": 3,
        "dtype": "float64",
        "coefficient": "lognormal",
    }
    assert new["output"] == "x.h5"
    assert recipe["params"]["n_samples"] == 3  # the input recipe is not modified
    with pytest.raises(ConfigError, match=r"'foo'.*allowed keys:.*a_high"):
        apply_overrides(recipe, ["foo=1"])
    with pytest.raises(ConfigError, match=r"'bogus\.x'.*generator, params, output, description"):
        apply_overrides(recipe, ["bogus.x=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(recipe, ["n_samples"])


def test_run_recipe_round_trips_with_provenance(tmp_path):
    path = _write(tmp_path, SMALL)
    out = run_recipe(path, tmp_path / "out" / "d.h5", overrides=["n_samples=2"], progress=False)
    assert out == tmp_path / "out" / "d.h5"
    a, u = read_field(out, "input"), read_field(out, "output")
    direct = generate("darcy", n_samples=2, resolution=17, seed=2, dtype="float64", progress=False)
    assert torch.equal(a.values, direct["input"].values) and torch.equal(u.values, direct["output"].values)
    assert a.grid == direct["input"].grid and u.variables == ("u",)
    prov = read_provenance(out)
    assert prov["generator"] == "darcy" and prov["seed"] == 2 and prov["recipe"] == str(path)
    assert prov["params"]["n_samples"] == 2 and prov["params"]["a_high"] == 12.0  # defaults recorded too
    assert prov["sciml_version"] == sciml.__version__ and prov["created"]
    assert prov["description"] == "tiny Darcy"


def test_failing_generator_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = _write(tmp_path, SMALL)
    target = tmp_path / "d.h5"
    run_recipe(path, target, progress=False)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(darcy_module, "solve_darcy", broken)
    with pytest.raises(RuntimeError, match="solver crashed"):
        run_recipe(path, target, overrides=["seed=9"], progress=False)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "r.yaml"]  # no temporary files left


@pytest.mark.parametrize("recipe", sorted(DATASETS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_are_valid_and_run_small(recipe, tmp_path):
    r = load_recipe(recipe)
    assert r["description"] and r["output"]
    assert recipe.name in (DATASETS / "README.md").read_text()
    overrides = ["n_samples=2", "resolution=32"]
    if "solver_resolution" in r["params"]:  # spectral solvers: solver grid a multiple of the output grid
        overrides.append("solver_resolution=32")
    params = apply_overrides(r, overrides)["params"]
    direct = generate(r["generator"], **{**params, "progress": False})
    if not isinstance(direct, dict):  # a record in another tool's layout (xarray: WeatherBench), written as zarr
        import json

        import xarray as xr

        out = run_recipe(recipe, tmp_path / "x.zarr", overrides=overrides, progress=False)
        written = xr.open_zarr(out)
        assert json.loads(written.attrs["sciml_provenance"])["generator"] == r["generator"]
        for name in direct.data_vars:
            np.testing.assert_array_equal(written[name].values, direct[name].values)
            assert np.isfinite(written[name].values).all() and written[name].shape[0] == 2, name
        return
    out = run_recipe(recipe, tmp_path / "x.h5", overrides=overrides, progress=False)
    assert read_provenance(out)["generator"] == r["generator"]
    # the file holds the generator's Fields at the overridden size, finite, equal to a direct (seeded) call
    groups = list_groups(out)
    assert set(groups) == set(direct) and set(groups.values()) == {"field"}
    for name, field in direct.items():
        written = read_field(out, name)
        assert written.values.shape == field.values.shape and written.grid == field.grid, name
        assert torch.isfinite(written.values).all(), name
        torch.testing.assert_close(written.values, field.values.to(written.values.dtype), rtol=0, atol=0)
    # the data group: 2 samples of 32 points per axis on the generator's grid (1-D, 2-D or 3-D)
    main = next(direct[k] for k in ("output", "field", "trajectory", *direct) if k in direct)
    assert main.grid.ndim in (1, 2, 3) and main.values.shape[0] == 2
    assert main.values.shape[2:] == (32,) * main.grid.ndim
    assert main.values.flatten(1).abs().amax(dim=1).min() > 0  # no all-zero sample


def test_every_generator_that_returns_fields_has_a_shipped_recipe():
    """data.md: every generator is described by a recipe datasets/NAME.yaml (so3_trajectories returns plain
    arrays, which a recipe refuses: see the next test)."""
    shipped = {load_recipe(p)["generator"] for p in DATASETS.glob("*.yaml")}
    assert set(sciml.data.available()) - {"so3_trajectories"} <= shipped


def test_generator_without_fields_is_refused_clearly(tmp_path):
    recipe = tmp_path / "so3.yaml"
    recipe.write_text("generator: so3_trajectories\ndescription: rotations\noutput: x.h5\nparams: {n_samples: 2}\n")
    with pytest.raises(ConfigError, match="not Fields"):
        run_recipe(recipe, tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()


def test_generate_refuses_the_shared_parameters_from_python_too():
    """Recipes and sciml.data.generate share one check: a float seed ran silently in some generators."""
    for params, what in (({"seed": 0.5}, "params.seed"), ({"resolution": 0}, "params.resolution")):
        for name in ("fisher", "heat3d", "darcy"):
            with pytest.raises(ConfigError, match=f"{what} in generator '{name}'"):
                generate(name, n_samples=1, **params)
