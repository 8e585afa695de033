"""Plain data workbooks: a CSV as a workbook, and rows appended to a history workbook.

Not every workbook is a report. An export handed on as .xlsx, or a sheet that grows by one snapshot an
hour, needs no Summary, formats or charts: only a header, a frozen first row, numbers stored as numbers
and text that never runs as a formula. Both writers put every cell through ``safe.put_value``.

Example:
    with ctx.output("cases.xlsx") as tmp:
        csv_to_xlsx(csv_path, tmp, integers=INTEGER_COLUMNS)
    with ctx.output(history) as tmp:
        append_rows(history, tmp, rows, header=HEADER)
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from opskit.excel.errors import WorkbookError
from opskit.excel.safe import put_value


def csv_to_xlsx(
    csv_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    sheet: str = "cases",
    integers: Collection[str] = (),
) -> Path:
    """Write a CSV as a one-sheet workbook, streamed in constant memory (openpyxl write-only).

    Args:
        csv_path: A UTF-8 CSV with a header row.
        out: The workbook to write (give ``ctx.output``'s temporary path for an atomic write).
        sheet: The sheet's name.
        integers: Columns whose whole-number values are stored as numbers; everything else is text
            (an empty field is an empty cell), so ids and codes keep their leading zeros.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.freeze_panes = "A2"

    def text(value: str) -> Any:
        cell = WriteOnlyCell(ws)
        put_value(cell, value)
        return cell

    with open(csv_path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        ws.append([text(name) for name in header])
        numeric = [name in integers for name in header]
        for row in reader:
            cells: list[Any] = []
            for value, is_number in zip(row, numeric, strict=False):
                if value == "":
                    cells.append(None)
                elif is_number and value.lstrip("-").isdigit():
                    cells.append(int(value))
                else:
                    cells.append(text(value))
            ws.append(cells)
    wb.save(out)
    return Path(out)


def append_rows(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    rows: Iterable[Sequence[Any]],
    *,
    header: Sequence[str],
    sheet: str = "history",
) -> Path:
    """Append ``rows`` to the workbook at ``path`` (created with ``header`` the first time), saved to ``out``.

    ``out`` is usually ``ctx.output(path)``'s temporary path, so the history is replaced in one rename
    and a crash never leaves half a file. The existing workbook must have exactly ``header`` in row 1
    of ``sheet`` (or of its first sheet): appending under other columns would mix up the history.

    Raises:
        WorkbookError: the existing workbook has another header.
    """
    from openpyxl import Workbook, load_workbook

    path = Path(path)
    if path.exists():
        wb = load_workbook(path)
        ws = wb[sheet] if sheet in wb.sheetnames else wb.active
        found = [c.value for c in ws[1]]
        if found != list(header):
            raise WorkbookError(
                f"{path.name} has the header {found}, not {list(header)}",
                hint="Move the file away to start a new history",
                kind="header",
            )
    else:
        wb = Workbook()
        ws = wb.active
        ws.title = sheet
        ws.append(list(header))
        ws.freeze_panes = "A2"
    for row in rows:
        index = ws.max_row + 1
        for column, value in enumerate(row, 1):
            put_value(ws.cell(row=index, column=column), value)
    wb.save(out)
    return Path(out)
