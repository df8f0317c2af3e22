"""Generate docs/reliability.md from the cases the reliability tests actually run.

    python tests/reliability/make_report.py            # run the matrix, rewrite docs/reliability.md
    python tests/reliability/make_report.py --check    # exit 1 when docs/reliability.md differs from a fresh run

The table lists, per area (readers, recipes, configs, models, checkpoints, properties, faults), every subject
(a reader, a recipe, a model, ...), the inputs tried (the parametrize ids ``<subject>-<input>``), how many cases
and their outcome. Slow tests (``@pytest.mark.slow``) are listed with their ids but not run here: run them with
``pytest -m slow tests/reliability``. ``tests/reliability/conftest.py`` records the outcomes of a pytest session with
the same ``Recorder``, so ``test_reliability_doc.py`` compares the doc with the session it runs in (or, when the
session ran only part of the folder, with a fresh run of this script).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOC = ROOT / "docs" / "reliability.md"
DOC_TEST = "test_reliability_doc.py"

AREAS = {
    "test_matrix_readers.py": (
        "Readers",
        "every reader of `sciml.fields.readers.READERS` and `sciml.fields.weather.open_weather` on broken files: "
        "a sciml error naming the file and the problem, and nothing written",
    ),
    "test_matrix_recipes.py": (
        "Generator recipes",
        "every `datasets/*.yaml` run by `run_recipe` with bad overrides and broken recipe files: a `ConfigError` "
        "naming the key or parameter before any generator runs, and no output file or temporary",
    ),
    "test_matrix_configs.py": (
        "Run configs",
        "`sciml.runs.load_config` and `sciml train` on broken YAML, unknown keys and out-of-range values: a "
        "`ConfigError` naming the key and value, exit status 2, no run directory",
    ),
    "test_matrix_models.py": (
        "Models",
        "every `sciml.models.available()` entry built small, then fed inputs of the wrong rank, channels or dtype, "
        "empty axes, a mismatched grid or no tensor, and built with unknown keys and out-of-range values: a sciml "
        "error showing what was found",
    ),
    "test_matrix_checkpoints.py": (
        "Checkpoints",
        "`Trainer.resume` on checkpoints of another model, config, format version or writer, and broken files: a "
        "`CheckpointError` naming the file and the mismatch, the model's weights unchanged",
    ),
    "test_properties.py": (
        "Properties (hypothesis)",
        "fuzzed Grid construction, resampling and restriction, and truncated, random and byte-flipped sciml HDF5 "
        "files: valid results or sciml errors only (each test is one case of 40 derandomised hypothesis examples)",
    ),
    "test_faults.py": (
        "Faults",
        "SIGKILLed training and data generation, read-only locations, full disks, stale temporaries: complete files "
        "or the old ones, bit-identical resumes, a `StorageError` naming the path",
    ),
}


class Recorder:
    """A pytest plugin that records every collected reliability test, whether it is slow, and its outcome."""

    def __init__(self) -> None:
        self.items: dict[str, bool] = {}  # nodeid -> slow
        self.outcomes: dict[str, str] = {}

    @staticmethod
    def _ours(nodeid: str) -> bool:
        return Path(nodeid.split("::")[0]).name in AREAS

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            if self._ours(item.nodeid):
                self.items[item.nodeid] = item.get_closest_marker("slow") is not None

    def pytest_deselected(self, items):
        for item in items:
            if self._ours(item.nodeid):
                self.items[item.nodeid] = item.get_closest_marker("slow") is not None

    def pytest_runtest_logreport(self, report):
        if not self._ours(report.nodeid):
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            if report.nodeid not in self.outcomes or outcome != "passed":
                self.outcomes[report.nodeid] = outcome

    def complete(self) -> bool:
        """True when every collected non-slow test of every area has an outcome."""
        files = {Path(n.split("::")[0]).name for n in self.items}
        fast = [n for n, slow in self.items.items() if not slow]
        return files == set(AREAS) and all(n in self.outcomes for n in fast)


def _case(nodeid: str) -> tuple[str, str, str]:
    """(file name, subject, input) of a test id."""
    path, _, rest = nodeid.partition("::")
    func, _, param = rest.partition("[")
    param = param.rstrip("]")
    if not param:
        return Path(path).name, func.removeprefix("test_"), ""
    subject, _, inp = param.partition("-")
    return Path(path).name, subject, inp or func.removeprefix("test_")


def render(rec: Recorder) -> str:
    cases: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for nodeid, slow in sorted(rec.items.items()):
        name, subject, inp = _case(nodeid)
        outcome = "slow" if slow else rec.outcomes.get(nodeid, "not run")
        cases[name][subject].append((inp, outcome))
    lines = [
        "# Reliability: what sciml is tried against, and what happens",
        "",
        "<!-- Generated by `python tests/reliability/make_report.py`; do not edit by hand. -->",
        "",
        "Every case below is a test in `tests/reliability/` that feeds sciml bad input or a fault and asserts a sciml "
        "error (a `sciml.core.errors.SciMLError` subclass, never a bare Python, h5py or xarray error) whose message "
        "names the file, variable or argument, what was expected and what was found, and that nothing was written. "
        "The numerical guards of the Trainer (gradient-norm logging, exploding and non-finite losses, a NaN/Inf "
        "batch named as bad input) and of the models (grids too coarse for their modes or levels) are tested in "
        "`tests/training/test_guards.py`. Models do not scan their inputs for NaN/Inf (a device sync per call): the "
        "readers refuse such data, and the Trainer names the batch tensor and sample when one reaches a loss.",
        "",
        "* Regenerate this file: `python tests/reliability/make_report.py` (it runs the non-slow cases; "
        "`tests/reliability/test_reliability_doc.py` fails when the file differs from a fresh run, so the table "
        "cannot drift from the tests).",
        "* Run the slow fault tests (SIGKILLed subprocesses, listed below as *slow*): "
        "`pytest -m slow tests/reliability`.",
        "",
        "## Summary",
        "",
        "| area | subjects | cases | passed | failed | slow (run with `-m slow`) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (title, _) in AREAS.items():
        subjects = cases.get(name, {})
        flat = [o for items in subjects.values() for _, o in items]
        failed = sum(o not in ("passed", "slow") for o in flat)
        lines.append(
            f"| {title} | {len(subjects)} | {len(flat)} | {flat.count('passed')} | {failed} | {flat.count('slow')} |"
        )
    for name, (title, what) in AREAS.items():
        lines += ["", f"## {title}", "", f"Source: `tests/reliability/{name}`: {what}.", ""]
        lines += ["| subject | cases | result | inputs tried |", "|---|---:|---|---|"]
        for subject, items in sorted(cases.get(name, {}).items()):
            outcomes = [o for _, o in items]
            if all(o == "passed" for o in outcomes):
                result = "all passed"
            elif all(o == "slow" for o in outcomes):
                result = "slow"
            else:
                parts = [f"{outcomes.count(o)} {o}" for o in ("passed", "slow") if o in outcomes]
                parts += [f"{inp or subject}: {o}" for inp, o in items if o not in ("passed", "slow")]
                result = ", ".join(parts)
            inputs = ", ".join(sorted(inp for inp, _ in items if inp)) or "-"
            lines.append(f"| {subject} | {len(items)} | {result} | {inputs} |")
    return "\n".join(lines) + "\n"


def run() -> Recorder:
    """Run the non-slow reliability tests in this process and return their recorded outcomes."""
    import pytest

    rec = Recorder()
    files = [str(HERE / name) for name in AREAS]
    args = [
        *files,
        "-m",
        "not slow",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--no-header",
        "-p",
        "no:randomly",
    ]
    code = pytest.main(args, plugins=[rec])
    if code not in (0, 1):  # 1: some case failed, which the table shows
        raise SystemExit(f"pytest exited with {code}")
    return rec


def main(argv: list[str]) -> int:
    text = render(run())
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            sys.stderr.write(f"{DOC} is out of date; regenerate it with python tests/reliability/make_report.py\n")
            return 1
        return 0
    if "--print" in argv:
        sys.stdout.write(text)
        return 0
    DOC.write_text(text)
    return 0


def fresh_text() -> str:
    """The doc regenerated by a separate run of this script (used when a session ran only part of the folder)."""
    env = {"OMP_NUM_THREADS": "1"}
    import os

    proc = subprocess.run(
        [sys.executable, str(Path(__file__)), "--print"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"make_report.py failed: {proc.stderr[-3000:]}")
    match = re.search(r"^# Reliability:.*", proc.stdout, flags=re.S | re.M)
    return match.group(0) if match else proc.stdout


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
