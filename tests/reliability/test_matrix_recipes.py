"""The bad-input matrix of the generator recipes: every ``datasets/*.yaml`` with bad overrides and broken files.

Each case runs ``sciml.data.recipes.run_recipe`` (what ``sciml data generate`` calls) and asserts a ``SciMLError``
subclass naming the recipe key or parameter, and that no output file (nor a temporary) was written. Case ids are
``<recipe>-<input>``.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
import yaml

import sciml.data
from sciml.core.errors import ConfigError, DataFormatError, SciMLError
from sciml.data.recipes import run_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p.stem for p in (ROOT / "datasets").glob("*.yaml"))


def _params(recipe: str) -> set[str]:
    gen = yaml.safe_load((ROOT / "datasets" / f"{recipe}.yaml").read_text())["generator"]
    return set(inspect.signature(sciml.data.get(gen)).parameters)


# input -> (overrides or a file edit, error class, message fragment, the generator parameter it needs or None)
INPUTS = {
    "unknown_param": (["colour=red"], ConfigError, r"colour", None),
    "unknown_top_key": ("extra: 1\n", ConfigError, r"unknown key\(s\) 'extra'.*allowed keys", None),
    "n_samples_zero": (["n_samples=0"], ConfigError, r"params\.n_samples .* must be an int >= 1, got 0", None),
    "n_samples_string": (["n_samples=many"], ConfigError, r"params\.n_samples .* got 'many'", None),
    "resolution_zero": (["resolution=0"], ConfigError, r"resolution", "resolution"),
    "resolution_negative": (["resolution=-8"], ConfigError, r"resolution", "resolution"),
    "resolution_string": (["resolution=fine"], ConfigError, r"resolution", "resolution"),
    "seed_negative": (["seed=-1"], ConfigError, r"seed", "seed"),
    "seed_float": (["seed=0.5"], ConfigError, r"seed", "seed"),
    "dtype_unknown": (["dtype=float8"], ConfigError, r"dtype", "dtype"),
    "malformed_yaml": ("params: {n_samples: [1, 2\n", ConfigError, r"is not valid YAML", None),
    "not_a_mapping": ("- just\n- a list\n", ConfigError, r"must be a YAML mapping", None),
    "params_not_a_mapping": ({"params": [1, 2]}, ConfigError, r"'params' in recipe .* must be a mapping", None),
    "empty_recipe_file": ("", ConfigError, r"must be a YAML mapping", None),
    "output_is_a_directory": (["output=."], ConfigError, r"is a directory", None),
}

CASES = [
    pytest.param(recipe, inp, id=f"{recipe}-{inp}")
    for recipe in RECIPES
    for inp, (_, _, _, needs) in INPUTS.items()
    if needs is None or needs in _params(recipe)
]


def _listing(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def test_every_recipe_is_in_the_matrix():
    assert {c.values[0] for c in CASES} == set(RECIPES) and len(RECIPES) >= 10


@pytest.mark.parametrize("recipe,inp", CASES)
def test_recipe(recipe, inp, tmp_path, monkeypatch):
    change, exc, match, _ = INPUTS[inp]
    assert issubclass(exc, SciMLError)
    src = ROOT / "datasets" / f"{recipe}.yaml"
    path = tmp_path / f"{recipe}.yaml"
    overrides: list[str] = []
    if isinstance(change, list):
        path.write_text(src.read_text())
        overrides = change if inp.startswith("n_samples") else ["n_samples=1", *change]  # fail fast if not refused
    elif isinstance(change, dict):
        path.write_text(yaml.safe_dump({**yaml.safe_load(src.read_text()), **change}))
    elif inp in ("unknown_top_key",):
        path.write_text(src.read_text() + change)
    else:
        path.write_text(change)
    out = tmp_path / "out" / "data.h5"
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    with pytest.raises(exc, match=match) as info:
        run_recipe(path, out=None if inp == "output_is_a_directory" else out, overrides=overrides, progress=False)
    if inp not in ("malformed_yaml", "not_a_mapping", "empty_recipe_file", "output_is_a_directory"):
        assert recipe in str(info.value) or "recipe" in str(info.value) or "params" in str(info.value)
    assert _listing(tmp_path) == before, "the failed recipe wrote files"
    assert not out.parent.exists()


def test_a_missing_recipe_file_is_named(tmp_path):
    with pytest.raises(DataFormatError, match=r"recipe file .*nope\.yaml does not exist"):
        run_recipe(tmp_path / "nope.yaml", out=tmp_path / "x.h5")
    assert os.listdir(tmp_path) == []
