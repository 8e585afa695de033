"""The layout keeps its promises (docs/architecture.md): no import cycles, and tasks that use only the
public surface. Both are read from the source by tests/import_graph.py; nothing is imported."""

from __future__ import annotations

import ast

from tests.import_graph import REPO, cycles, describe, import_graph

PUBLIC = {"opskit", "opskit.excel", "opskit.reports", "opskit.browser", "opskit.sources"}
"""What a task may import from opskit: the frame and the helper packages, never the engine or delivery."""


def test_no_import_cycles_in_opskit_or_demo():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(c, graph) for c in found)


def test_the_graph_sees_function_level_imports():
    # The walk must see imports inside functions (a cycle hidden in a function is still a cycle).
    graph = import_graph()
    nested = [(a, b) for a, edges in graph.items() for b, (_, inner) in edges.items() if inner]
    assert nested, "no function-level import found at all: the walk is broken"


def _task_imports() -> list[tuple[str, int, str, list[str]]]:
    found = []
    for path in sorted((REPO / "tasks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "opskit":
                found.append((path.name, node.lineno, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "opskit":
                        found.append((path.name, node.lineno, alias.name, []))
    return found


def test_tasks_import_only_the_public_surface():
    imports = _task_imports()
    assert len({name for name, *_ in imports}) >= 10, "the shipped tasks were not found"
    beyond = [f"tasks/{f}:{line}: {module}" for f, line, module, _ in imports if module not in PUBLIC]
    assert not beyond, "tasks import beyond the public surface:\n" + "\n".join(beyond)


def test_tasks_import_no_private_names():
    private = [
        f"tasks/{f}:{line}: {module}.{name}"
        for f, line, module, names in _task_imports()
        for name in names
        if name.startswith("_")
    ]
    assert not private, "tasks import private names:\n" + "\n".join(private)
