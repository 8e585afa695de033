"""Fill an analyst's own template workbook: named ranges and tables, formatting and formulas kept.

openpyxl loads and saves the cells, styles, defined names, tables, conditional formats and data
validations of a workbook, but it drops (or rebuilds lossily) charts, images, shapes, form controls
and slicers. A template that holds any of those is refused with a ``TemplateError`` naming them,
never delivered silently without its charts.

Example:
    fill_template("templates/weekly.xlsx", out, values={"ReportWeek": "2026-W46"},
                  tables={"QueueTable": [{"Queue": "ID-search", "AHT": 212.0}, ...]})
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from copy import copy
from pathlib import Path
from typing import Any

from opskit.excel.check import inspect_file
from opskit.excel.errors import TemplateError
from opskit.excel.read import normalize
from opskit.excel.safe import put_value
from opskit.files import atomic_path

# Parts openpyxl cannot round-trip faithfully, with the words an analyst would use for them.
_LOST_PARTS = [
    (re.compile(r"xl/charts/chart\d+\.xml$"), "chart"),
    (re.compile(r"xl/chartsheets/"), "chart sheet"),
    (re.compile(r"xl/media/"), "image"),
    (re.compile(r"xl/drawings/drawing\d+\.xml$"), "drawing (shapes, text boxes)"),
    (re.compile(r"xl/ctrlProps/"), "form control"),
    (re.compile(r"xl/slicers?/|xl/slicerCaches/"), "slicer"),
    (re.compile(r"xl/timelines?/|xl/timelineCaches/"), "timeline"),
    (re.compile(r"xl/diagrams/"), "SmartArt diagram"),
    (re.compile(r"xl/embeddings/"), "embedded object"),
]


def lost_on_save(path: str | os.PathLike[str]) -> dict[str, int]:
    """What openpyxl would drop from this workbook on save: {"chart": 2, "image": 1, ...}."""
    found: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            name = name.replace("\\", "/")
            for pattern, label in _LOST_PARTS:
                if pattern.search(name):
                    found[label] = found.get(label, 0) + 1
                    break
    return found


def fill_template(
    template: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    values: Mapping[str, Any] | None = None,
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Path:
    """Write ``values`` into the template's named ranges and ``tables`` into its Excel tables.

    Args:
        template: The analyst's .xlsx/.xlsm workbook (left unchanged).
        out: Where the filled workbook goes (written atomically).
        values: Defined name -> a value (its first cell), a list (down the range) or a list of
            lists (rows of the range).
        tables: Table name -> rows keyed by the table's header texts (matched ignoring case and
            punctuation). The table grows or shrinks to the rows; calculated columns keep their
            formula on every row.

    Raises:
        TemplateError: the template has charts/images openpyxl would drop, or a name or table
            is missing, or a table would overwrite cells below it.
    """
    from openpyxl import load_workbook

    template, out = Path(template), Path(out)
    inspect_file(template)
    lost = lost_on_save(template)
    if lost:
        what = ", ".join(f"{n} {label}{'s' if n > 1 else ''}" for label, n in sorted(lost.items()))
        raise TemplateError(
            f"contains {what}, which would be lost when the template is filled",
            where=template.name,
            kind="template",
            hint="refresh its data sheets with refresh_template, which keeps charts, pivots and images",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's "extension not supported" notes on load
        workbook = load_workbook(template, keep_vba=template.suffix.lower() == ".xlsm")
    for name, value in (values or {}).items():
        _fill_name(workbook, template, name, value)
    for name, rows in (tables or {}).items():
        _fill_table(workbook, template, name, rows)
    with atomic_path(out) as tmp:
        workbook.save(tmp)
    return out


def _fill_name(workbook: Any, template: Path, name: str, value: Any) -> None:
    defined = workbook.defined_names.get(name)
    if defined is None:
        for ws in workbook.worksheets:
            defined = ws.defined_names.get(name)
            if defined is not None:
                break
    if defined is None:
        known = sorted(workbook.defined_names)
        raise TemplateError(
            f"has no named range {name!r} (names: {', '.join(known) or 'none'})",
            where=template.name,
            kind="template",
        )
    destinations = list(defined.destinations)
    if not destinations:
        raise TemplateError(f"named range {name!r} does not point at cells", where=template.name, kind="template")
    sheet, ref = destinations[0]
    cells = workbook[sheet][ref.replace("$", "")]
    if not isinstance(cells, tuple):
        cells = ((cells,),)
    elif cells and not isinstance(cells[0], tuple):
        cells = tuple((c,) for c in cells) if len({c.column for c in cells}) == 1 else (cells,)
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        grid = value
    elif isinstance(value, list | tuple):
        grid = [[v] for v in value] if len(cells) > 1 or len(cells[0]) == 1 else [list(value)]
    else:
        grid = [[value]]
    if len(grid) > len(cells) or any(len(row) > len(cells[0]) for row in grid):
        raise TemplateError(
            f"named range {name!r} ({ref}) is smaller than the {len(grid)} x {max(len(r) for r in grid)} values given",
            where=template.name,
            kind="template",
        )
    for r, row in enumerate(grid):
        for c, item in enumerate(row):
            put_value(cells[r][c], item)


def _fill_table(workbook: Any, template: Path, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    from openpyxl.formula.translate import Translator
    from openpyxl.utils import get_column_letter, range_boundaries

    for ws in workbook.worksheets:
        if name in ws.tables:
            table = ws.tables[name]
            break
    else:
        known = sorted(t for ws in workbook.worksheets for t in ws.tables)
        raise TemplateError(
            f"has no table {name!r} (tables: {', '.join(known) or 'none'})",
            where=template.name,
            kind="template",
        )
    if table.totalsRowCount:
        raise TemplateError(
            f"table {name!r} has a totals row, which filling cannot move yet",
            where=template.name,
            kind="template",
            hint="turn the totals row off and put SUBTOTAL formulas beside it",
        )
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    headers = {normalize(ws.cell(min_row, c).value or ""): c for c in range(min_col, max_col + 1)}
    wanted = {normalize(k) for row in rows for k in row}
    unknown = sorted(wanted - set(headers))
    if unknown:
        raise TemplateError(
            f"table {name!r} has no column(s) {', '.join(unknown)} (columns: "
            f"{', '.join(str(ws.cell(min_row, c).value) for c in range(min_col, max_col + 1))})",
            where=template.name,
            kind="template",
        )
    first = min_row + 1
    formulas = {
        c: ws.cell(first, c).value
        for c in range(min_col, max_col + 1)
        if isinstance(ws.cell(first, c).value, str) and ws.cell(first, c).value.startswith("=")
    }
    new_last = first + max(len(rows), 1) - 1
    for r in range(max_row + 1, new_last + 1):  # never overwrite what sits below the table
        for c in range(min_col, max_col + 1):
            if ws.cell(r, c).value not in (None, ""):
                raise TemplateError(
                    f"table {name!r} would overwrite {get_column_letter(c)}{r} below it on sheet {ws.title!r}",
                    where=template.name,
                    kind="template",
                    hint="leave room below the table",
                )
    for r in range(first, max(max_row, new_last) + 1):
        for c in range(min_col, max_col + 1):
            if r > new_last or c not in formulas:
                ws.cell(r, c).value = None
    for offset, row in enumerate(rows):
        r = first + offset
        by_column = {headers[normalize(k)]: v for k, v in row.items()}
        for c in range(min_col, max_col + 1):
            if r != first:  # the first data row's formatting, before the value's own flags
                ws.cell(r, c)._style = copy(ws.cell(first, c)._style)
            if c in by_column:
                put_value(ws.cell(r, c), by_column[c])
            elif c in formulas:
                origin = f"{get_column_letter(c)}{first}"
                ws.cell(r, c).value = Translator(formulas[c], origin=origin).translate_formula(
                    f"{get_column_letter(c)}{r}"
                )
    table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{new_last}"
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
