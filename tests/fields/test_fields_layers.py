"""The modules of ``sciml.fields`` import each other without cycles and without private names.

Every ``import`` statement counts, at module level or inside a function (a cycle hidden in a function body
is still a cycle), and so does ``if TYPE_CHECKING:``.
"""

import ast
from pathlib import Path

import sciml.fields

ROOT = Path(sciml.fields.__file__).resolve().parent
PACKAGE = "sciml.fields"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` of every import statement in ``path`` (absolute names)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], node.lineno))
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for target, names, _ in _imports(path):
            if target in mods:
                graph[m].add(target)
            for n in names:  # "from sciml.fields import field" imports the module sciml.fields.field
                if f"{target}.{n}" in mods:
                    graph[m].add(f"{target}.{n}")
        graph[m].discard(m)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_the_import_graph_of_sciml_fields_has_no_cycle():
    graph = _graph()
    assert len(graph) >= 8 and "sciml.fields.field" in graph
    assert _find_cycle(graph) is None, f"import cycle: {' -> '.join(_find_cycle(graph))}"


def test_the_cycle_finder_sees_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_lower_modules_never_import_field():
    graph = _graph()
    lower = ["grid", "metadata", "resample", "xarray_io", "storage", "storage.base", "storage.hdf5", "storage.xarray"]
    for m in lower:
        assert f"{PACKAGE}.field" not in graph[f"{PACKAGE}.{m}"], f"{m} imports sciml.fields.field"
    for m in ("hdf5", "datasets", "readers"):  # the Field-level modules sit above field.py
        assert f"{PACKAGE}.{m}" not in graph[f"{PACKAGE}.field"]


def test_no_private_names_imported_from_other_sciml_modules():
    bad = []
    for path in _modules().values():
        for target, names, line in _imports(path):
            if not target.startswith("sciml"):
                continue
            if any(part.startswith("_") for part in target.split(".")):
                bad.append(f"{path.name}:{line} imports private module {target}")
            private = [n for n in names if n.startswith("_") and not n.endswith("__")]  # dunders are public
            bad += [f"{path.name}:{line} imports {target}.{n}" for n in private]
    assert not bad, "private cross-imports:\n" + "\n".join(bad)
