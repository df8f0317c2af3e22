"""The "dictionary" task: sparse autoencoders that explain functions as sparse combinations of learned concepts.

Data: ``DictionaryDataConfig`` (``DataConfig`` with ``input == output``, default group ``"field"``, no normalisation):
an HDF5 file written by the ``sparse_dictionary`` generator (or any file with one field group); validation and test
files or a split of the training file. The model keywords that come from the data (``in_channels``, ``ndim`` and,
for the dense SAEs, ``resolution``) are filled in unless the config gives them.

Evaluation, at each requested resolution: FVU, relative L2, mean L0 of the codes per sample and the fraction of
latents that never fire on the test set; when the file holds the true atoms (group ``eval.atoms_group``), the matched
sine distance of the learned concepts (shift-invariant for convolutional codes), the fraction recovered below
``eval.threshold`` and the coherence of the learned atoms, else ``"not available"``. With several resolutions, the
agreement of codes and reconstructions with those at the training resolution on shared points. A model that cannot
run at a resolution (the dense SAEs are tied to their grid) gets ``"not available"`` with the reason there.

Plots: true versus recovered atoms (matched pairs) and the recovery curve (fraction of true atoms recovered below
each sine-distance threshold).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

import sciml.models
from sciml.core.errors import ConfigError, ShapeError
from sciml.core.registry import accepted_keys
from sciml.fields.hdf5 import list_groups, read_field
from sciml.metrics.dictionary import (
    coherence,
    dead_fraction,
    fvu,
    l0,
    matched_atom_distance,
    resolution_agreement,
)
from sciml.metrics.losses import relative_l2
from sciml.runs.config import DataConfig, ExperimentConfig
from sciml.runs.operator import open_dataset, test_dataset, train_val_datasets
from sciml.runs.tasks import Prepared, Task

log = logging.getLogger(__name__)

__all__ = ["DictionaryTask", "DictionaryDataConfig", "DictionaryEvalConfig"]

NOT_AVAILABLE = "not available"


@dataclass
class DictionaryDataConfig(DataConfig):
    """``DataConfig`` for dictionary learning: one group is both input and target, not normalised."""

    input: str = "field"
    output: str = "field"
    normalize: bool = False


@dataclass
class DictionaryEvalConfig:
    """``atoms_group``: where the true atoms are; ``threshold`` of the recovered fraction; ``batch_size``."""

    atoms_group: str = "atoms"
    threshold: float = 0.1
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1 or self.batch_size < 1:
            raise ConfigError(f"eval.threshold must be in (0, 1] and eval.batch_size >= 1, got {self}")


def _datasets(cfg: ExperimentConfig):
    d = cfg.data
    if d.input != d.output:
        raise ConfigError(f"a dictionary run reconstructs its input: data.input ({d.input!r}) must equal data.output")
    return train_val_datasets(cfg)


def _run(model: nn.Module, ds, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    xs, zs, recs = [], [], []
    with torch.no_grad():
        for start in range(0, len(ds), batch_size):
            x = torch.stack([ds[i][0] for i in range(start, min(start + batch_size, len(ds)))]).float()
            z = model.encode(x, ds.grid)
            xs.append(x)
            zs.append(z)
            recs.append(model.decode(z, ds.grid))
    return torch.cat(xs), torch.cat(zs), torch.cat(recs)


def true_atoms(path: str, group: str):
    """The true atoms Field stored in ``path`` (None when the file has no such group)."""
    if not str(path).endswith((".h5", ".hdf5")) or group not in list_groups(path):
        return None
    return read_field(path, group)


def recovery(model: nn.Module, atoms_field, threshold: float) -> dict[str, Any]:
    """Matched distance of the model's concepts (on the true atoms' grid) to the true atoms."""
    learned = model.atoms(atoms_field.grid).double()
    from sciml.models.sae import SAECNN, SAENO

    shift = isinstance(model, (SAECNN, SAENO))  # convolutional concepts are defined up to a translation
    r = matched_atom_distance(atoms_field.values.double(), learned, shift_invariant=shift, threshold=threshold)
    return {**r, "shift_invariant": bool(shift), "coherence": coherence(learned)}


class DictionaryTask(Task):
    """Sparse autoencoders (sae, lifted_sae, sae_cnn, sae_no, lifted_sae_no); see the module docstring."""

    evaluate_options = frozenset({"resolutions", "data"})

    name = "dictionary"
    data_config = DictionaryDataConfig
    eval_config = DictionaryEvalConfig

    def prepare(self, cfg: ExperimentConfig, resume: bool = False) -> Prepared:
        train, val = _datasets(cfg)
        x0 = train[0][0]  # the dataset refuses a sample with NaN/Inf on read
        kwargs = {"in_channels": int(x0.shape[0]), "ndim": x0.dim() - 1, "resolution": list(x0.shape[1:])}
        return Prepared(train, val, train.grid, model_kwargs=kwargs)

    def build_model(self, cfg: ExperimentConfig, prepared: Prepared, fresh: bool = True) -> nn.Module:
        name = cfg.model.get("name")
        if not name:
            raise ConfigError("model.name is missing; available models: " + ", ".join(sciml.models.available()))
        given = {k: v for k, v in cfg.model.items() if k != "name"}
        accepted = accepted_keys(sciml.models.get(name))[0]
        fill = {k: v for k, v in prepared.model_kwargs.items() if k in accepted and k not in given}
        return sciml.models.build(name, **given, **fill)

    def rebuild_model(self, cfg: ExperimentConfig, state: dict, checkpoint: Path) -> nn.Module:
        if state.get("model_name") is not None and state.get("model_config") is not None:
            return sciml.models.build(state["model_name"], **state["model_config"])
        return self.build_model(cfg, self.prepare(cfg))

    def evaluate(self, model: nn.Module, cfg: ExperimentConfig, options: dict) -> dict:
        model = model.cpu().eval()
        resolutions, data = options.get("resolutions"), options.get("data")
        ev = cfg.eval
        results: dict[str, Any] = {}
        native = None
        outputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for res in resolutions or [None]:
            ds = test_dataset(cfg, res, data)
            key = "x".join(map(str, ds.grid.shape))
            try:
                x, z, x_hat = _run(model, ds, ev.batch_size)
            except ShapeError as e:
                results[key] = {"status": f"{NOT_AVAILABLE}: {e}", "n_samples": len(ds)}
                continue
            results[key] = {
                "fvu": fvu(x, x_hat),
                "relative_l2": float(relative_l2(x_hat, x, ds.grid)),
                "l0": float(l0(z).mean()),
                "dead_fraction": dead_fraction(z),
                "n_samples": len(ds),
                "shape": list(ds.grid.shape),
            }
            outputs[key] = (z[:16], x_hat[:16])
            native = native or key
            log.info("resolution %s: %s", key, results[key])
        train_key = "x".join(map(str, open_dataset(cfg, cfg.data.train).grid.shape)) if cfg.data.train else None
        base = train_key if train_key in outputs else native
        agreement = {}
        for key, (z, x_hat) in outputs.items():
            if key == base:
                continue
            bz, bx = outputs[base]
            coarse, fine = ((z, x_hat), (bz, bx)) if z.shape[-1] < bz.shape[-1] else ((bz, bx), (z, x_hat))
            try:
                codes = resolution_agreement(coarse[0], fine[0]) if z.dim() > 2 else NOT_AVAILABLE
                agreement[key] = {"codes": codes, "reconstruction": resolution_agreement(coarse[1], fine[1])}
            except ShapeError as e:
                agreement[key] = f"{NOT_AVAILABLE}: {e}"
        path = data or cfg.data.test or cfg.data.val or cfg.data.train
        atoms = true_atoms(path, ev.atoms_group) if path and "{res}" not in path else None
        if atoms is None:
            rec: Any = f"{NOT_AVAILABLE}: {path!r} has no {ev.atoms_group!r} group of true atoms"
        else:
            try:
                rec = recovery(model, atoms, ev.threshold)
            except ShapeError as e:
                rec = f"{NOT_AVAILABLE}: {e}"
        return {
            "train_resolution": train_key,
            "data": data,
            "results": results,
            "agreement": agreement,
            "recovery": rec,
        }

    def report(self, results: dict) -> list[str]:
        lines = [f"{'resolution':>10} {'FVU':>10} {'L0':>8} {'dead':>6}"]
        for res, r in results["results"].items():
            if "status" in r:
                lines.append(f"{res:>10} {r['status']}")
            else:
                lines.append(f"{res:>10} {r['fvu']:>10.4f} {r['l0']:>8.2f} {r['dead_fraction']:>6.2f}")
        rec = results["recovery"]
        if isinstance(rec, dict):
            lines.append(
                f"recovery: mean sine distance {rec['mean']:.4f} (median {rec['median']:.4f}, max {rec['max']:.4f}), "
                f"{100 * rec['fraction_below']:.0f}% below {rec['threshold']}"
            )
        else:
            lines.append(f"recovery: {rec}")
        for res, a in results.get("agreement", {}).items():
            lines.append(f"agreement with the training resolution at {res}: {a}")
        return lines

    def plot(self, run_dir: Path, model: nn.Module, cfg: ExperimentConfig, evals: dict | None) -> list[Path]:
        from sciml import plotting

        out = run_dir / "plots"
        path = (evals or {}).get("data") or cfg.data.test or cfg.data.val or cfg.data.train
        atoms = true_atoms(path, cfg.eval.atoms_group) if path and "{res}" not in path else None
        model = model.cpu().eval()
        if atoms is None or atoms.grid.ndim != 1:
            log.info("no 1-D true atoms in %s: plotting the learned atoms only", path)
            grid = atoms.grid if atoms is not None else test_dataset(cfg, None, None).grid
            return [plotting.plot_atoms(None, model.atoms(grid).double(), grid, out / "atoms.png")]
        rec = recovery(model, atoms, cfg.eval.threshold)
        learned = model.atoms(atoms.grid).double()
        return [
            plotting.plot_atoms(atoms.values.double(), learned, atoms.grid, out / "atoms.png", rec),
            plotting.plot_recovery_curve(rec["distances"], cfg.eval.threshold, out / "recovery.png"),
        ]
