"""Dataset recipes: ``datasets/NAME.yaml`` -> one sciml HDF5 file.

A recipe is a YAML mapping with exactly these top-level keys (only ``generator`` is required)::

    generator: darcy                 # a name from sciml.data.available()
    description: "..."               # free text, copied into the file's provenance
    output: data/darcy.h5            # default output path (relative to the working directory)
    params: {n_samples: 256, resolution: 64, seed: 0}   # keyword arguments of the generator

``load_recipe`` validates the keys (unknown ones raise ``ConfigError`` naming them and the allowed ones),
``apply_overrides`` applies ``KEY=VALUE`` strings (``params.n_samples=10``, the short form ``n_samples=10``,
or a top-level key such as ``output=x.h5``; values are parsed with ``sciml.core.config.load_yaml`` so ``10``,
``0.5``, ``1e-4``, ``[32, 32]`` and ``true`` get their YAML types), and ``run_recipe`` generates the fields and writes
them atomically with ``sciml.fields.hdf5.write_fields``, so a failing generator or write leaves any previous file
at the destination untouched. The provenance stored in the file holds the generator name, every parameter
(defaults filled in), the seed, the recipe path, the description, the sciml version and the creation time.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

import sciml.data as data
from sciml.core.config import load_yaml, parse_override
from sciml.core.errors import ConfigError, DataFormatError, SciMLError, located
from sciml.core.files import clean_stale_temporaries, make_dirs, storage_error

__all__ = ["load_recipe", "apply_overrides", "run_recipe", "RECIPE_KEYS"]

log = logging.getLogger(__name__)

RECIPE_KEYS = ("generator", "params", "output", "description")


def validate_recipe(recipe: Any, where: str = "recipe") -> dict:
    """Check the schema of a recipe dict and its generator parameters; returns the recipe."""
    if not isinstance(recipe, dict):
        raise ConfigError(
            f"{where} must be a YAML mapping with keys {', '.join(RECIPE_KEYS)}, got {type(recipe).__name__}"
        )
    unknown = sorted(set(recipe) - set(RECIPE_KEYS), key=str)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; allowed keys: {', '.join(RECIPE_KEYS)}"
        )
    if "generator" not in recipe:
        raise ConfigError(f"{where} has no 'generator' key; available generators: {', '.join(data.available())}")
    if not isinstance(recipe["generator"], str):
        raise ConfigError(
            f"'generator' in {where} must be a generator name, got {recipe['generator']!r}; "
            f"available: {', '.join(data.available())}"
        )
    params = recipe.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"'params' in {where} must be a mapping, got {type(params).__name__}")
    data.check_params(params, where)
    for key in ("output", "description"):
        if recipe.get(key) is not None and not isinstance(recipe[key], str):
            raise ConfigError(f"{key!r} in {where} must be a string, got {recipe[key]!r}")
    data.check_config(recipe["generator"], params)  # unknown generator or parameter -> ConfigError
    return recipe


def load_recipe(path: str | os.PathLike) -> dict:
    """Read and validate a recipe file; ``params`` is always a dict in the result."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"recipe file {path} does not exist")
    try:
        recipe = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path} is not valid YAML: {exc}") from None
    validate_recipe(recipe, where=f"recipe {path}")
    recipe["params"] = dict(recipe.get("params") or {})
    return recipe


def apply_overrides(recipe: dict, overrides: Iterable[str]) -> dict:
    """Return a copy of ``recipe`` with ``KEY=VALUE`` overrides applied and validated.

    ``KEY`` is ``params.NAME``, the short form ``NAME`` (a generator parameter) or a top-level recipe key.
    """
    out = copy.deepcopy(recipe)
    out["params"] = dict(out.get("params") or {})
    for item in overrides:
        parts, value = parse_override(item, form="KEY=VALUE, e.g. params.n_samples=10")
        key = ".".join(parts)
        head, dot, rest = key.partition(".")
        if dot:
            if head != "params":
                allowed = "params.<name>" if head in RECIPE_KEYS else ", ".join(RECIPE_KEYS)
                raise ConfigError(f"unknown override key {key!r}; allowed: {allowed}")
            if not rest or "." in rest:
                raise ConfigError(f"override key {key!r} must be params.<name> with a single generator parameter")
            out["params"][rest] = value
        elif key in RECIPE_KEYS:
            if key == "params":
                raise ConfigError(f"override {item!r}: set generator parameters one by one as params.<name>=VALUE")
            out[key] = value
        else:
            out["params"][key] = value
    validate_recipe(out, where="recipe with overrides")
    return out


def _effective_params(generator: str, params: dict) -> dict:
    """Parameters with the generator's JSON-typed defaults filled in (what provenance records)."""
    fn = data.get(generator)
    full = {}
    for p in inspect.signature(fn).parameters.values():
        if p.default is not inspect.Parameter.empty and p.name != "progress":
            full[p.name] = p.default
    full.update({k: v for k, v in params.items() if k != "progress"})
    return full


def run_recipe(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    overrides: Iterable[str] = (),
    *,
    progress: bool | None = None,
) -> Path:
    """Generate the data set described by recipe ``path`` and write it to ``out`` (default: its ``output``).

    ``progress`` (if given) overrides the generator's progress bar. Returns the written path.
    """
    recipe = apply_overrides(load_recipe(path), overrides)
    target = out if out is not None else recipe.get("output")
    if not target:
        raise ConfigError(f"recipe {path} has no 'output' and no output path was given")
    generator, params = recipe["generator"], dict(recipe["params"])
    if progress is not None:
        params["progress"] = bool(progress)
    log.info("recipe %s: generator %s -> %s", path, generator, target)
    with located(f"recipe {path} (generator {generator!r})", key=path):  # a generator's own checks name the recipe
        return generate_to_file(
            generator, params, target, recipe=str(path), description=recipe.get("description") or ""
        )


def generate_to_file(
    generator: str, params: dict, out: str | os.PathLike, recipe: str | None = None, description: str = ""
) -> Path:
    """Run ``generator`` with ``params`` and write its Fields (or trajectories) atomically to ``out``.

    Provenance records the generator, every parameter with defaults filled in, the seed, the recipe (if any),
    the sciml version and the time. Generators that return plain arrays are refused with a ConfigError.
    """
    from sciml.fields.field import Field
    from sciml.fields.hdf5 import write_fields, write_trajectories

    _check_target(out)
    # temporaries of an earlier write of ``out`` that was killed (one writer per destination, as for checkpoints)
    clean_stale_temporaries(out)
    fields = data.generate(generator, **params)
    if _is_xarray(fields):  # records in the layout of other tools (WeatherBench): netCDF or a zarr store
        return _write_xarray(fields, out, _provenance(generator, params, recipe, description))
    writable = isinstance(fields.get("trajectory"), dict) or all(isinstance(f, Field) for f in fields.values())
    if not writable:
        raise ConfigError(
            f"generator {generator!r} returns {sorted(fields)} as plain arrays, not Fields: it cannot be written to "
            f"sciml's HDF5 schema by a recipe; call sciml.data.generate({generator!r}, ...) from Python instead"
        )
    provenance = _provenance(generator, params, recipe, description)
    if isinstance(fields.get("trajectory"), dict):  # generators with trajectory=True (e.g. navier_stokes)
        return write_trajectories(out, **fields["trajectory"], provenance=provenance)
    return write_fields(out, fields, provenance=provenance)


def _check_target(out: str | os.PathLike) -> None:
    """Refuse an output path that is an existing directory (other than a zarr store) before generating anything."""
    path = Path(out)
    is_store = any((path / marker).exists() for marker in ("zarr.json", ".zgroup", ".zattrs"))
    if path.resolve().is_dir() and not is_store:
        raise ConfigError(f"cannot write {str(out)!r}: it is a directory; give a file path (e.g. {path / 'data.h5'})")


def _provenance(generator: str, params: dict, recipe: str | None, description: str) -> dict:
    full = _effective_params(generator, params)
    return {
        "generator": generator,
        "params": full,
        "seed": full.get("seed"),
        "recipe": recipe,
        "description": description,
        "sciml_version": _version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }


def _is_xarray(obj: object) -> bool:
    return type(obj).__name__ == "Dataset" and type(obj).__module__.startswith("xarray")


def _write_xarray(ds, out: str | os.PathLike, provenance: dict) -> Path:
    """Write an xarray Dataset as netCDF (``.nc``, through a temporary file) or a zarr store (any other path,
    through a temporary directory renamed into place); the previous output survives a failed write."""
    import json
    import shutil
    import tempfile

    from sciml.core.files import atomic_path

    out = Path(out)
    ds = ds.assign_attrs(sciml_provenance=json.dumps(provenance, default=str))
    if out.suffix in (".nc", ".nc4", ".netcdf"):
        with atomic_path(out) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
        return out
    make_dirs(out.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise storage_error(out, e) from None
    try:
        ds.to_zarr(tmp, mode="w")
        old = out.with_name(f".{out.name}.old") if out.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, SciMLError):
            raise storage_error(out, e) from None
        raise
    return out


def _version() -> str:
    from sciml.core.version import __version__

    return str(__version__)
