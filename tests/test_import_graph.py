"""The shape of the house: no import cycles anywhere in sciml, no private names imported across modules, no
attribute probing of models in training code, and `import sciml` gives the subpackages lazily."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sciml"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every sciml import in a file, at module level and inside functions alike."""
    out = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, mod] if mod else base)
            if mod.split(".")[0] == "sciml":
                out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "sciml"]
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for mod, names in _imports(path):
            targets = [f"{mod}.{n}" if f"{mod}.{n}" in modules else mod for n in names] or [mod]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_cycles_between_modules():
    graph = _graph()
    assert len(graph) > 60
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")  # dunders such as __version__ are public


def test_the_lower_fields_modules_never_import_field():
    """Field sits above the modules it is made with (grids, resampling, storage, the xarray rule), and the
    Field-level modules (hdf5, datasets, readers) sit above field.py."""
    graph = _graph()
    lower = ["grid", "metadata", "resample", "xarray_io", "storage", "storage.base", "storage.hdf5", "storage.xarray"]
    for m in lower:
        assert "sciml.fields.field" not in graph[f"sciml.fields.{m}"], f"sciml.fields.{m} imports sciml.fields.field"
    for m in ("hdf5", "datasets", "readers"):
        assert f"sciml.fields.{m}" not in graph["sciml.fields.field"]


def test_no_private_names_imported_across_modules():
    bad = []
    for path in ROOT.rglob("*.py"):
        for mod, names in _imports(path):
            if any(part.startswith("_") for part in mod.split(".")):
                bad.append(f"{path.relative_to(ROOT)} imports private module {mod}")
            bad += [f"{path.relative_to(ROOT)}: {mod}.{n}" for n in names if _private(n)]
    for path in (ROOT.parent / "benchmarks").glob("*.py"):
        for mod, names in _imports(path):
            bad += [f"benchmarks/{path.name}: {mod}.{n}" for n in names if _private(n)]
    assert not bad, bad


@pytest.mark.parametrize("module", ["training/trainer.py", "runs/run.py", "runs/operator.py", "runs/rollout.py"])
def test_training_code_does_not_probe_models_for_capabilities(module):
    """Capabilities are declared interfaces (sciml.models.protocol), never found by hasattr/getattr on a model."""
    text = (ROOT / module).read_text()
    for probe in ("training_loss", "model.after_optimizer_step", "sciml_name", "sciml_config", "attr(self.model"):
        assert probe not in text, probe
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hasattr", "getattr"):
            target = ast.unparse(node.args[0])
            assert "model" not in target, f"{module}: {ast.unparse(node)}"


def test_import_sciml_gives_the_subpackages_lazily():
    code = (
        "import json, sys, sciml\n"
        "heavy = [m for m in ('sciml.models', 'sciml.runs', 'sciml.dynamics') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'models': sciml.models.available(), 'data': sciml.data.available(),"
        " 'grid': sciml.fields.Grid is sciml.Grid, 'ncds': sciml.dynamics.NCDS.__module__,"
        " 'task': sciml.runs.get_task('rollout').name}))"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["heavy"] == []  # nothing heavy on `import sciml`
    assert {"fno", "met2net", "ncds", "sae_no", "deeponet"} <= set(out["models"])
    assert {"darcy", "weather", "fisher"} <= set(out["data"])
    assert out["grid"] and out["ncds"] == "sciml.dynamics.ncds" and out["task"] == "rollout"
