"""Data workbooks for people: a CSV export as a workbook, and a history that grows by what changed.

Not every workbook is a report, but every workbook has a reader. An export handed on as .xlsx, or a
sheet that grows by one snapshot an hour, needs no Summary or charts; it does need what makes data
readable: a styled, frozen, filterable header in words (``headers``: field -> header text, e.g.
``opskit.reports.human_headers``), numbers stored as numbers, times as real date-times in the job's
timezone (``datetimes`` + ``tz``), widths that fit, a page setup that prints, and text that never runs
as a formula. Every cell goes through ``safe.put_value`` (or its write-only twin).

Example:
    with ctx.output("cases.xlsx") as tmp:
        csv_to_xlsx(csv_path, tmp, integers=INTEGER_COLUMNS, datetimes=TIME_FIELDS, tz=ctx.tz,
                    headers=human_headers(fields, ctx.tz))
    with ctx.output(history) as tmp:
        added = append_changes(history, tmp, rows, fields=FIELDS, keys=("queue_id",), ignore=("snapshot_at",))
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from opskit.excel.columns import Column
from opskit.excel.errors import WorkbookError
from opskit.excel.layout import font, page_setup
from opskit.excel.safe import put_value
from opskit.excel.write import Report

HEADER_FILL = "1F4E78"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
SAMPLE_ROWS = 200  # rows read to fit the column widths


def _header_style(cell: Any) -> None:
    from openpyxl.styles import Alignment, PatternFill

    cell.font = font(bold=True, color="FFFFFF")
    cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    cell.alignment = Alignment(vertical="center", wrap_text=True)


def local_time(value: Any, tz: tzinfo | None) -> Any:
    """A moment (an aware datetime, or ISO text such as ``2026-11-16T07:02:00Z``) as the wall-clock time
    in ``tz`` that Excel can hold (it has no zones); other values unchanged. Text that is no time stays text."""
    if isinstance(value, str) and value[:4].isdigit() and "T" in value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(tz or UTC).replace(tzinfo=None)
    return value


def _width(header: str, values: Iterable[Any]) -> float:
    longest = min(len(header), 40) + 2
    for value in values:
        size = 16 if isinstance(value, datetime) else len(str(value)) if value is not None else 0
        longest = max(longest, size + 1)
    return float(min(max(longest, 8), 60))


def csv_to_xlsx(
    csv_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    sheet: str = "cases",
    integers: Collection[str] = (),
    datetimes: Collection[str] = (),
    tz: tzinfo | None = None,
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Path:
    """Write a CSV as a one-sheet workbook for people, streamed in constant memory.

    The rows go through the report writer's streaming path (``write.Report`` with ``stream=True``):
    a styled header, widths fitted to the first rows, a frozen header and a filter, the print setup,
    and text that never runs as a formula.

    Args:
        csv_path: A UTF-8 CSV with a header row.
        out: The workbook to write (give ``ctx.output``'s temporary path for an atomic write).
        sheet: The sheet's name.
        integers: Columns whose whole-number values are stored as numbers; everything else is text
            (an empty field is an empty cell), so ids and codes keep their leading zeros.
        datetimes: Columns of ISO moments (``2026-11-16T07:02:00Z``), stored as date-times in ``tz``.
        tz: The timezone times are shown in (the job's); UTC when None.
        headers: Field -> the header a reader sees; the field name itself where missing.
        title: The print header's title; the file's name when None.
    """

    with open(csv_path, encoding="utf-8", newline="") as fh:
        fields = next(csv.reader(fh), [])
    kinds = ["int" if f in integers else "datetime" if f in datetimes else "str" for f in fields]
    columns = [
        Column(str(i), (headers or {}).get(f, f), "datetime" if k == "datetime" else "auto", na="")
        for i, (f, k) in enumerate(zip(fields, kinds, strict=True))
    ]

    def rows() -> Iterator[list[Any]]:
        with open(csv_path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for raw in reader:
                row: list[Any] = []
                for value, kind in zip(raw, kinds, strict=False):
                    if value == "":
                        row.append(None)
                    elif kind == "int" and value.lstrip("-").isdigit():
                        row.append(int(value))
                    elif kind == "datetime":
                        row.append(local_time(value, tz))
                    else:
                        row.append(value)
                yield row

    report = Report(title or Path(csv_path).stem)
    report.sheet(sheet, rows(), columns, table=False, stream=True)
    report.save(out)
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
    Every row is appended; ``append_changes`` adds only what changed.

    Raises:
        WorkbookError: the existing workbook has another header.
    """
    wb, ws = _open_history(Path(path), list(header), [list(header)], sheet)
    for row in rows:
        index = ws.max_row + 1
        for column, value in enumerate(row, 1):
            put_value(ws.cell(row=index, column=column), value)
    wb.save(out)
    return Path(out)


def append_changes(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    fields: Sequence[str],
    keys: Sequence[str],
    ignore: Collection[str] = (),
    headers: Mapping[str, str] | None = None,
    datetimes: Collection[str] = (),
    tz: tzinfo | None = None,
    sheet: str = "history",
    title: str | None = None,
) -> int:
    """Add to a history workbook only the rows whose source changed; returns how many were added.

    A row (a dict by field) is added when the history has no row yet for its ``keys`` (a queue seen
    for the first time), or when the latest row for them differs in any field outside ``ignore``
    (the snapshot's own time, say). A dashboard that did not change between two runs adds nothing,
    so the history holds one row per change, never duplicates.

    The workbook is created the first time with ``headers`` (field -> header in words) styled, frozen
    and filterable; one written before with the bare field names as its header is still appended to.
    Times in ``datetimes`` are stored as date-times in ``tz``. The workbook is saved to ``out`` either way.

    Raises:
        WorkbookError: the existing workbook has another header.
    """
    shown = [(headers or {}).get(f, f) for f in fields]
    wb, ws = _open_history(Path(path), shown, [shown, list(fields)], sheet)
    position = {f: i for i, f in enumerate(fields)}
    compared = [f for f in fields if f not in ignore]
    latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for values in ws.iter_rows(min_row=2, values_only=True):
        latest[tuple(values[position[k]] for k in keys)] = tuple(values[position[f]] for f in compared)
    added = 0
    for row in rows:
        values = {f: local_time(row.get(f), tz) if f in datetimes else row.get(f) for f in fields}
        key = tuple(values[k] for k in keys)
        state = tuple(values[f] for f in compared)
        if latest.get(key) == state:
            continue
        latest[key] = state
        index = ws.max_row + 1
        for column, field_name in enumerate(fields, 1):
            target = ws.cell(row=index, column=column)
            put_value(target, values[field_name])
            if field_name in datetimes and isinstance(values[field_name], datetime):
                target.number_format = DATETIME_FORMAT
        added += 1
    from openpyxl.utils import get_column_letter

    last = get_column_letter(len(fields))
    ws.auto_filter.ref = f"A1:{last}{max(ws.max_row, 2)}"
    page_setup(ws, title=title or Path(path).stem, subject=None, n_columns=len(fields), n_rows=ws.max_row - 1)
    wb.save(out)
    return added


def _open_history(path: Path, header: list[str], accepted: list[list[str]], sheet: str) -> tuple[Any, Any]:
    """The history workbook and its sheet, checked against the accepted headers, or a new styled one."""
    from openpyxl import Workbook, load_workbook
    from openpyxl.utils import get_column_letter

    if path.exists():
        wb = load_workbook(path)
        ws = wb[sheet] if sheet in wb.sheetnames else wb.active
        found = [c.value for c in ws[1]]
        if found not in accepted:
            raise WorkbookError(
                f"{path.name} has the header {found}, not {header}",
                hint="Move the file away to start a new history",
                kind="header",
            )
        return wb, ws
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for column, text in enumerate(header, 1):
        head = ws.cell(row=1, column=column)
        put_value(head, text)
        _header_style(head)
        ws.column_dimensions[get_column_letter(column)].width = _width(text, [])
    ws.freeze_panes = "A2"
    return wb, ws
