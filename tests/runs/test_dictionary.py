"""The "dictionary" task through the run system and the CLI: train, evaluate (with and without true atoms), plot."""

import json

import pytest

import sciml.data
from sciml.cli import main
from sciml.core.errors import ConfigError
from sciml.fields.hdf5 import write_fields
from sciml.runs import evaluate_run, plot_run, train_run
from sciml.runs.config import load_config


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("dict")
    fields = sciml.data.generate("sparse_dictionary", n_samples=96, resolution=32, n_atoms=4, sparsity=1, max_mode=6)
    full = write_fields(d / "dict.h5", fields)
    bare = write_fields(d / "bare.h5", {"field": fields["field"]})
    return full, bare


def _cfg(tmp_path, path, name="sae_no", **model):
    text = (
        f"model: {json.dumps({'name': name, 'n_latents': 6, **model})}\n"
        f"data: {{train: {path}, split: [0.75, 0.25]}}\n"
        "train: {epochs: 2, batch_size: 16, lr: 0.01, progress: false}\n"
    )
    (tmp_path / "c.yaml").write_text(text)
    return tmp_path / "c.yaml"


def test_example_config_is_valid():
    cfg = load_config("examples/configs/sae_no.yaml")
    assert cfg.task == "dictionary" and cfg.data.input == "field" and not cfg.data.normalize


def test_cli_train_evaluate_plot_an_sae_no(tmp_path, data_file, capsys):
    run = tmp_path / "run"
    assert main(["train", str(_cfg(tmp_path, data_file[0], n_modes=8)), "--out", str(run)]) == 0
    assert main(["evaluate", str(run), "--resolutions", "32", "64"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["task"] == "dictionary"
    assert set(ev["results"]) == {"32", "64"} and 0 <= ev["results"]["32"]["fvu"] < 2
    assert 0 <= ev["recovery"]["mean"] <= 1 and ev["recovery"]["shift_invariant"]
    assert ev["agreement"]["64"]["codes"] < 1e-3  # same weights, same functions: codes agree at shared points
    assert "recovery: mean sine distance" in capsys.readouterr().out
    assert main(["plot", str(run)]) == 0
    assert (run / "plots" / "atoms.png").exists() and (run / "plots" / "recovery.png").exists()


def test_dense_sae_is_not_available_at_other_resolutions(tmp_path, data_file):
    run = train_run(load_config(_cfg(tmp_path, data_file[0], name="lifted_sae")), tmp_path / "run")
    ev = evaluate_run(run, resolutions=[32, 64])
    assert "fvu" in ev["results"]["32"]
    assert ev["results"]["64"]["status"].startswith("not available") and "(32,)" in ev["results"]["64"]["status"]
    assert not ev["recovery"]["shift_invariant"]


def test_file_without_true_atoms_gives_recovery_not_available(tmp_path, data_file):
    run = train_run(load_config(_cfg(tmp_path, data_file[1], n_modes=6)), tmp_path / "run")
    ev = evaluate_run(run)
    assert ev["recovery"].startswith("not available") and "'atoms'" in ev["recovery"]
    assert "fvu" in ev["results"]["32"]
    assert plot_run(run)  # learned atoms only


def test_bad_data_section_is_refused(tmp_path, data_file):
    cfg = load_config(_cfg(tmp_path, data_file[0]), overrides=["data.output=other"])
    with pytest.raises(ConfigError, match="must equal data.output"):
        train_run(cfg, tmp_path / "run")
