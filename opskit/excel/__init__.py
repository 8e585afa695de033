"""The workbook layer: read vendor tables, write formatted reports, fill templates.

The names below are imported lazily (PEP 562), so ``import opskit.excel`` costs nothing until a
function is used; openpyxl and calamine load inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Column",
    "Formula",
    "KPI",
    "Rejection",
    "Report",
    "Table",
    "TemplateError",
    "WorkbookError",
    "atomic_path",
    "fill_template",
    "inspect_file",
    "read_table",
    "safe_text",
]

_WHERE = {
    "Rejection": "read",
    "Table": "read",
    "read_table": "read",
    "WorkbookError": "errors",
    "TemplateError": "errors",
    "inspect_file": "check",
    "Formula": "safe",
    "safe_text": "safe",
    "Column": "write",
    "KPI": "write",
    "Report": "write",
    "atomic_path": "write",
    "fill_template": "template",
}

if TYPE_CHECKING:
    from opskit.excel.check import inspect_file
    from opskit.excel.errors import TemplateError, WorkbookError
    from opskit.excel.read import Rejection, Table, read_table
    from opskit.excel.safe import Formula, safe_text
    from opskit.excel.template import fill_template
    from opskit.excel.write import KPI, Column, Report, atomic_path


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit.excel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"opskit.excel.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
