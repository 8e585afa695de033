"""The seams of delivery and config, read from the source (tests/import_graph.py): imports flow one way.

- Delivery is one pipeline: each module imports only modules below it in ``LAYERS`` (the order that
  ``opskit/delivery/__init__.py`` documents), never one above it, not even inside a function.
- Delivery never imports the engine at run time (the engine calls delivery, not the other way round).
- Config imports nothing but config and ``opskit.errors``: no delivery, no browser code.
- The weekly review task imports only the public surface.
"""

from __future__ import annotations

import ast

import pytest

from tests.import_graph import REPO, import_graph

# Top to bottom: a module may import only modules after it.
LAYERS = [
    "pipeline",
    "gates",
    "report",
    "sections",
    "alerts",
    "compose",
    "render",
    "formats",
    "charts",
    "smtp",
    "outbox",
    "mail",
    "chat",
    "record",
]
DELIVERY = [f"opskit.delivery.{name}" for name in LAYERS]
PUBLIC_FOR_TASKS = ("opskit", "opskit.excel", "opskit.reports", "opskit.browser")


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_delivery_module_has_its_place_in_the_layers(graph):
    modules = {m for m in graph if m.startswith("opskit.delivery.")}
    assert modules == set(DELIVERY)


def test_no_delivery_module_imports_one_above_it(graph):
    upward = [
        f"{module} imports {target} (line {line})"
        for i, module in enumerate(DELIVERY)
        for target, (line, _nested) in graph[module].items()
        if target in DELIVERY and DELIVERY.index(target) <= i
    ]
    assert upward == []


def test_the_delivery_package_documents_the_same_order():
    doc = ast.get_docstring(ast.parse((REPO / "opskit/delivery/__init__.py").read_text()))
    listed = [line.split("``")[1] for line in doc.splitlines() if line.startswith("- ``")]
    assert listed == LAYERS


def test_delivery_never_imports_the_engine_at_run_time(graph):
    found = [
        f"{module} -> {target}"
        for module in graph
        if module == "opskit.delivery" or module.startswith("opskit.delivery.")
        for target in graph[module]
        if target == "opskit.engine" or target.startswith("opskit.engine.")
    ]
    assert found == []


def test_config_imports_only_config_and_errors(graph):
    found = [
        f"{module} -> {target}"
        for module in graph
        if module == "opskit.config" or module.startswith("opskit.config.")
        for target in graph[module]
        if not (target.startswith("opskit.config.") or target == "opskit.errors")
    ]
    assert found == []


def _public(module: str) -> bool:
    return module == "opskit" or any(module == p or module.startswith(p + ".") for p in PUBLIC_FOR_TASKS[1:])


def test_the_weekly_review_imports_only_the_public_surface():
    tree = ast.parse((REPO / "tasks" / "weekly_review.py").read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [a.name for a in node.names if a.name.split(".")[0] == "opskit" and not _public(a.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "opskit":
            if not _public(node.module or ""):
                problems.append(node.module)
            problems += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert problems == []
