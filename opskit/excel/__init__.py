"""The workbook layer: read vendor tables, write formatted reports, fill templates, write plain data.

- ``Report`` and ``Column``: analyst-grade report workbooks (the headline numbers of
  ``Report.summary`` are ``opskit.reports.KPI``s: change and attainment are metric formulas);
- ``read_table``: one table out of a messy vendor workbook or CSV, with the rows it rejected;
- ``refresh_template``: an analyst's own workbook with its data sheets replaced and everything else
  (charts, pivot tables, images, names, other sheets) kept byte for byte;
- ``fill_template``: an analyst's own template, named ranges and tables filled (no drawings);
- ``csv_to_xlsx``, ``append_changes`` and ``append_rows``: data workbooks for people (an export, a
  history that grows by what changed);
- ``put_value``, ``safe_text``, ``Formula``: cell values that never run as formulas;
- ``csv_writer``, ``csv_dict_writer``: CSV files for people, fields that would run as formulas defused.

docs/reports.md is the guide. The names below are imported lazily (PEP 562), so ``import
opskit.excel`` costs nothing until a function is used; openpyxl and calamine load inside the
functions that need them. The excel layer never imports opskit.reports (reports build on it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Column",
    "Formula",
    "Rejection",
    "Report",
    "SummaryItem",
    "Table",
    "TemplateError",
    "WorkbookError",
    "append_changes",
    "append_rows",
    "atomic_path",
    "csv_dict_writer",
    "csv_to_xlsx",
    "csv_writer",
    "fill_template",
    "inspect_file",
    "put_value",
    "read_table",
    "refresh_template",
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
    "put_value": "safe",
    "safe_text": "safe",
    "Column": "columns",
    "Report": "write",
    "SummaryItem": "write",
    "atomic_path": "write",
    "fill_template": "template",
    "refresh_template": "refresh",
    "append_changes": "plain",
    "append_rows": "plain",
    "csv_to_xlsx": "plain",
    "csv_writer": "csv_out",
    "csv_dict_writer": "csv_out",
}

if TYPE_CHECKING:
    from opskit.excel.check import inspect_file
    from opskit.excel.columns import Column
    from opskit.excel.csv_out import csv_dict_writer, csv_writer
    from opskit.excel.errors import TemplateError, WorkbookError
    from opskit.excel.plain import append_changes, append_rows, csv_to_xlsx
    from opskit.excel.read import Rejection, Table, read_table
    from opskit.excel.refresh import refresh_template
    from opskit.excel.safe import Formula, put_value, safe_text
    from opskit.excel.template import fill_template
    from opskit.excel.write import Report, SummaryItem, atomic_path


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'opskit.excel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"opskit.excel.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
