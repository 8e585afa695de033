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


def _function_level_imports() -> list[tuple[str, int, str, bool]]:
    """(file, line, module, explained) for each import of opskit's own modules inside a function body."""
    found = []
    for path in sorted((REPO / "opskit").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("opskit")):
                    line, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
                    explained = "#" in line or above.startswith("#")
                    found.append((str(path.relative_to(REPO)), node.lineno, node.module or ".", explained))
    return found


def test_function_level_imports_say_why():
    """An import inside a function is there to keep a start-up light or to break a cycle: it says which."""
    imports = _function_level_imports()
    assert len(imports) > 10  # the walk sees them (the CLI defers most of its commands' imports)
    unexplained = [f"{file}:{line} {module}" for file, line, module, explained in imports if not explained]
    assert not unexplained, "function-level imports without a comment saying why:\n" + "\n".join(unexplained)
