"""The parts keep their seams: reports build on excel (never the reverse), the report tasks use only the
public surface, and the public surfaces of opskit.reports and opskit.excel are complete and documented."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.import_graph import cycles, import_graph

# The report tasks; the other tasks belong to the engine and delivery work and have their own rules.
REPORT_TASKS = (
    "capacity_plan",
    "efficiency_report",
    "export_cases",
    "metric_attribution",
    "reconcile",
    "scrape_queue_dashboard",
    "vendor_consolidation",
)
TASK_MAY_IMPORT = ("opskit", "opskit.excel", "opskit.reports", "opskit.browser")


def test_excel_never_imports_reports():
    graph = import_graph()
    wrong = {(a, b) for a, edges in graph.items() if a.startswith("opskit.excel") for b in edges}
    assert not {(a, b) for a, b in wrong if b.startswith("opskit.reports")}


@pytest.mark.parametrize("part", ["opskit.reports", "opskit.excel", "demo"])
def test_no_import_cycle(part):
    assert not [c for c in cycles(import_graph()) if any(m.startswith(part) for m in c)]


@pytest.mark.parametrize("name", REPORT_TASKS)
def test_report_tasks_import_only_the_public_surface(name):
    tree = ast.parse((REPO / "tasks" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "opskit":
            assert node.module in TASK_MAY_IMPORT, f"{name}: from {node.module} import ..."
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{name}: imports private {private}"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("opskit.") for a in node.names), name


@pytest.mark.parametrize("package", ["opskit.reports", "opskit.excel"])
def test_every_public_name_resolves_and_says_what_it_is_for(package):
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__) and set(module.__all__) == set(module._WHERE)
    undocumented = []
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value) and not (value.__doc__ or "").strip():
            undocumented.append(name)
    assert not undocumented


def test_importing_the_public_surfaces_loads_no_heavy_library():
    code = (
        "import sys, opskit.reports as r, opskit.excel as e\n"
        "for n in r.__all__: getattr(r, n)\n"
        "for n in e.__all__: getattr(e, n)\n"
        "print(sorted(m for m in ('openpyxl', 'jinja2', 'playwright', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
