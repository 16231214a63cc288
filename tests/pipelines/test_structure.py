"""The code's structure: stages that cannot go stale, no import cycles, short functions.

Imports are read from the source (every `import` and `from ... import`, at module level or
inside a function), so an import a stage makes only when its command runs counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from pipelines.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("features", "models", "pipelines")
MAX_BODY_LINES = 80


def module_file(module: str) -> Path | None:
    """The file of a project module (a package's `__init__.py`), or None for other modules."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, module: str) -> Iterator[str]:
    """Project modules `path` imports anywhere in its body (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # `from package import submodule` imports the submodule; names are tried as both
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if module_file(name) is not None)


def with_parents(module: str) -> list[str]:
    """A module and the packages Python imports before it (their `__init__` run first)."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Every project module and the project modules it imports."""
    graph: dict[str, frozenset[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            graph[module] = frozenset(imported_modules(path, module))
    return graph


def closure(roots: list[str]) -> set[str]:
    """Project modules loaded when `roots` are imported (parents' `__init__` included)."""
    graph, seen, todo = import_graph(), set(), [m for r in roots for m in with_parents(r)]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for target in graph.get(module, ()):
            todo.extend(with_parents(target))
    return seen


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(stages()))
def test_stage_deps_cover_every_project_module_its_command_imports(stage: str):
    spec = stages()[stage]
    command = spec["cmd"].split()
    assert command[0] == "leadscore", f"{stage}: cmd is not a leadscore command"
    loaded = closure(["pipelines.cli", COMMANDS[command[1]][0]])
    deps = [str(dep).rstrip("/") for dep in spec["deps"]]
    uncovered = sorted(
        str(module_file(module).relative_to(ROOT))
        for module in loaded
        if not any(
            str(module_file(module).relative_to(ROOT)) == dep
            or module_file(module).relative_to(ROOT).is_relative_to(dep)
            for dep in deps
        )
    )
    assert not uncovered, f"stage {stage!r} imports code its deps do not list: {uncovered}"


def test_the_closure_sees_imports_made_inside_functions():
    # the `score` command imports the Spark engine only when --engine spark is asked for
    assert "pipelines.scoring.spark" in closure([COMMANDS["score"][0]])
    # and a stage's closure holds what the stage module imports, not the whole project
    assert "pipelines.scoring.chunk" not in closure(["pipelines.cli", COMMANDS["train"][0]])


def strongly_connected(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_project_modules():
    # a package's own `__init__` is not an edge: importing a.b runs a/__init__ first anyway
    graph = {
        module: frozenset(t for t in targets if not module.startswith(f"{t}."))
        for module, targets in import_graph().items()
    }
    assert strongly_connected(graph) == []


def test_cycle_finder_finds_a_cycle():
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_stages_never_import_each_other():
    graph = import_graph()
    stage_modules = {m for m in graph if m.startswith("pipelines.stages.")}
    sideways = {
        m: sorted(graph[m] & stage_modules) for m in stage_modules if graph[m] & stage_modules
    }
    assert sideways == {}


def test_pure_packages_never_import_pipelines():
    graph = import_graph()
    reaching = {
        module: sorted(t for t in targets if t.split(".")[0] == "pipelines")
        for module, targets in graph.items()
        if module.split(".")[0] in ("features", "models")
    }
    assert {m: t for m, t in reaching.items() if t} == {}


def test_no_function_body_over_80_lines():
    long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.body[0].lineno + 1
                    if length > MAX_BODY_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {length}")
    assert long == []
