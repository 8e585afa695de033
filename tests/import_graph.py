"""The import graph of opskit/ and demo/, read from the source (nothing is imported).

An edge is every ``import``/``from ... import`` of a project module, at module level or inside a function
(both run, sooner or later); imports under ``if TYPE_CHECKING:`` are left out (they never run). Run it as
``python -m tests.import_graph`` to print the cycles, if any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("opskit", "demo")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, is_package: bool) -> Iterator[tuple[str, int, bool]]:
    """(imported name, line, at function level) for every import that runs."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    yield from walk(sub, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, in_function
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = here.split(".") if is_package else here.split(".")[:-1]
                    base = base[: len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                yield module, child.lineno, in_function
                for alias in child.names:  # `from pkg import submodule`
                    yield f"{module}.{alias.name}", child.lineno, in_function
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(child, nested)

    yield from walk(tree, False)


def import_graph() -> dict[str, dict[str, tuple[int, bool]]]:
    """module -> {imported project module: (line, function level)}."""
    modules = project_modules()
    graph: dict[str, dict[str, tuple[int, bool]]] = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line, nested in _imports(tree, name, path.name == "__init__.py"):
            if target in modules and target != name:
                graph[name].setdefault(target, (line, nested))
    return graph


def cycles(graph: dict[str, dict[str, tuple[int, bool]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def describe(component: list[str], graph: dict[str, dict[str, tuple[int, bool]]]) -> str:
    members = set(component)
    edges = [
        f"  {a} -> {b} (line {line}{', in a function' if nested else ''})"
        for a in component
        for b, (line, nested) in graph[a].items()
        if b in members
    ]
    return "\n".join([" <-> ".join(component), *edges])


if __name__ == "__main__":
    g = import_graph()
    found = cycles(g)
    for c in found:
        print(describe(c, g), end="\n\n")
    print(f"{len(found)} cycle(s) among {len(g)} modules")
    sys.exit(1 if found else 0)
