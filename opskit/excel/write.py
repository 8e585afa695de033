"""Build report workbooks that look made by a careful analyst, and save them atomically.

Example:
    report = Report("Efficiency", subject="2026-W46", keywords=("weekly_emea",), created=now)
    report.summary([KPI("AHT", 212.0, previous=198.0, target=220, direction="lower_is_better",
                        type="seconds")])   # KPI from opskit.reports
    report.sheet("By queue", rows, [Column("queue", "Queue"), Column("aht", "AHT (s)", "float",
                 target=220, direction="lower_is_better"), Column("sla", "SLA", "percent",
                 target=0.95)], totals=True)
    report.trend("Trend", weeks, x=Column("week", "Week"), series=[Column("aht", "AHT", "float")])
    report.save(ctx.out / "efficiency.xlsx")

Sheets with more than ``STREAM_ABOVE`` rows (or rows given as an iterator) are streamed in constant
memory through ``stream.py``; smaller ones go through openpyxl cell by cell.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from opskit.excel import stream
from opskit.excel.columns import FORMATS, SCALES, SUBTOTAL, Column, fit_width
from opskit.excel.layout import add_chart, font, page_setup
from opskit.excel.safe import Formula, clean_text, escape_ooxml, needs_quote
from opskit.excel.summary_sheet import SummaryItem, change_format, summary_columns, summary_rows
from opskit.files import atomic_path

__all__ = ["STREAM_ABOVE", "Report", "SummaryItem", "atomic_path"]

STREAM_ABOVE = 20_000
RED, GREEN = ("FFC7CE", "9C0006"), ("C6EFCE", "006100")
HEADER_FILL = "1F4E78"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


@dataclass(slots=True)
class _SheetSpec:
    name: str
    rows: Any
    columns: list[Column]
    table: bool
    autofilter: bool
    freeze: str | None
    totals: bool
    stream: bool
    chart: dict[str, Any] | None = None
    kpis: list[SummaryItem] = field(default_factory=list)


def _sheet_title(name: str, taken: set[str]) -> str:
    title = _BAD_SHEET_CHARS.sub("_", clean_text(name)).strip("'").strip() or "Sheet"
    title = title[:31]
    base, n = title, 2
    while title.casefold() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.casefold())
    return title


class Report:
    """A report workbook: a Summary sheet first, then one sheet per cut, trends with charts."""

    def __init__(
        self,
        title: str,
        *,
        subject: str | None = None,
        creator: str = "opskit",
        keywords: Sequence[str] = (),
        description: str | None = None,
        created: datetime | None = None,
    ):
        self.title, self.subject, self.creator = title, subject, creator
        self.keywords, self.description, self.created = tuple(keywords), description, created
        self._sheets: list[_SheetSpec] = []
        self._names: set[str] = set()

    def summary(
        self,
        kpis: Sequence[SummaryItem],
        *,
        name: str = "Summary",
        value_header: str = "This period",
        previous_header: str = "Previous",
    ) -> Report:
        """The first sheet: each KPI with its previous value, change, target and attainment.

        Only the columns the KPIs can fill appear: Previous and Change when some KPI has a previous
        value, Target, Attainment and Status when some KPI has a target. ``value_header`` and
        ``previous_header`` name the columns in the report's own terms ("Left", "Right"; "Now").
        """
        columns = summary_columns(kpis, value_header, previous_header)
        spec = _SheetSpec(
            _sheet_title(name, self._names),
            None,
            columns,
            False,
            False,
            "A2",
            False,
            False,
            kpis=list(kpis),
        )
        self._sheets.insert(0, spec)
        return self

    def sheet(
        self,
        name: str,
        rows: Iterable[Any],
        columns: Sequence[Column],
        *,
        table: bool = True,
        autofilter: bool = True,
        freeze: str | None = "A2",
        totals: bool = False,
        stream: bool | None = None,
    ) -> Report:
        """Add a sheet of rows (dicts keyed by ``Column.key``, or sequences in column order).

        Args:
            table: Format as an Excel table (banded, filterable); else a plain autofilter.
            freeze: The cell below and right of the frozen panes; None for none.
            totals: Add a totals row of SUBTOTAL formulas under the data.
            stream: Stream the rows in constant memory; by default when there are more than
                STREAM_ABOVE rows or ``rows`` is not a list.
        """
        if not columns:
            raise ValueError(f"sheet {name!r} needs at least one column")
        if stream is None:
            stream = not isinstance(rows, Sequence) or len(rows) > STREAM_ABOVE
        self._sheets.append(
            _SheetSpec(
                _sheet_title(name, self._names),
                rows,
                list(columns),
                table,
                autofilter,
                freeze,
                totals,
                stream,
            )
        )
        return self

    def trend(
        self,
        name: str,
        rows: Sequence[Any],
        *,
        x: Column,
        series: Sequence[Column],
        kind: str = "line",
        title: str | None = None,
        y_title: str | None = None,
        y_range: tuple[float, float] | None = None,
    ) -> Report:
        """A sheet with the trend data and a native Excel line or bar chart beside it.

        A date ``x`` gets a date axis that ticks by the span (days for weeks, weeks for quarters);
        ``y_range`` fixes the value axis (give the email's chart the same, ``opskit.reports.trend_scale``).
        """
        if kind not in {"line", "bar"}:
            raise ValueError(f"chart kind must be line or bar, not {kind!r}")
        spec = _SheetSpec(
            _sheet_title(name, self._names),
            list(rows),
            [x, *series],
            False,
            False,
            "A2",
            False,
            False,
            chart={"kind": kind, "title": title or name, "y_title": y_title, "y_range": y_range},
        )
        self._sheets.append(spec)
        return self

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the workbook to ``path`` atomically and return the path."""
        from openpyxl import Workbook

        if not self._sheets:
            raise ValueError("a report needs at least one sheet")
        path = Path(path)
        workbook = Workbook()
        workbook.remove(workbook.active)
        self._properties(workbook)
        streamed: dict[str, tuple[Path, int, str]] = {}
        with tempfile.TemporaryDirectory(prefix=".opskit-", dir=path.parent) as scratch:
            for index, spec in enumerate(self._sheets):
                ws = workbook.create_sheet(spec.name)
                if spec.kpis:
                    n = self._write_summary(ws, spec)
                elif spec.stream:
                    rows_file = Path(scratch) / f"rows{index}.xml"
                    streamed[f"xl/worksheets/sheet{index + 1}.xml"] = self._write_streamed(
                        workbook, ws, spec, rows_file
                    )
                    n = streamed[f"xl/worksheets/sheet{index + 1}.xml"][1] - 1
                else:
                    n = self._write_plain(ws, spec)
                page_setup(
                    ws,
                    title=clean_text(self.title),
                    subject=self.subject,
                    n_columns=len(spec.columns),
                    n_rows=n,
                    has_chart=spec.chart is not None,
                )
            with atomic_path(path) as tmp:
                if streamed:
                    package = Path(scratch) / "package.xlsx"
                    workbook.save(package)
                    stream.splice(package, tmp, streamed)
                else:
                    workbook.save(tmp)
        return path

    def _properties(self, workbook: Any) -> None:
        props = workbook.properties
        props.title = clean_text(self.title)
        props.subject = self.subject
        props.creator = props.lastModifiedBy = self.creator
        props.keywords = ", ".join(self.keywords) or None
        props.description = self.description
        if self.created is not None:
            created = self.created
            if created.tzinfo is not None:
                created = created.astimezone(UTC).replace(tzinfo=None)
            props.created = props.modified = created

    # ------------------------------------------------------------------ cells

    @staticmethod
    def _set(cell: Any, value: Any, column: Column) -> None:
        """Write one value safely: data text is never a formula; formulas only from Formula()."""
        if isinstance(value, Formula):
            cell.value = value.formula
            cell.number_format = column.fmt
            return
        if value is None or (isinstance(value, float) and value != value):
            text = column.empty_text
            if text:
                cell.value = text
                cell.data_type = "s"
                _right(cell)
            return
        if isinstance(value, str):
            text = clean_text(value)
            cell.value = escape_ooxml(text)
            cell.data_type = "s"  # never "f", whatever the text starts with
            if needs_quote(text):
                cell.quotePrefix = True
            return
        if isinstance(value, bool):
            cell.value = value
            return
        scale = SCALES.get(column.type)
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)  # Excel has no zones: the wall-clock time is kept
        if isinstance(value, int | float) and scale:
            value = value / scale
        elif not isinstance(value, int | float | date | time):
            text = clean_text(str(value))
            cell.value, cell.data_type = escape_ooxml(text), "s"
            cell.quotePrefix = needs_quote(text)
            return
        cell.value = value
        cell.number_format = column.fmt

    def _header(self, ws: Any, columns: Sequence[Column]) -> None:
        from openpyxl.styles import Alignment, PatternFill

        fill, bold = PatternFill("solid", fgColor=HEADER_FILL), font(bold=True, color="FFFFFF")
        for index, column in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=index)
            self._set(cell, column.title, Column(column.key, type="str"))
            cell.fill, cell.font = fill, bold
            cell.alignment = Alignment(vertical="center", wrap_text=True)

    def _write_plain(self, ws: Any, spec: _SheetSpec) -> int:
        rows = list(spec.rows)
        self._header(ws, spec.columns)
        keyed = [c.key for c in spec.columns]
        for r, row in enumerate(rows, start=2):
            values = [row.get(k) for k in keyed] if isinstance(row, dict) else list(row)
            for c, column in enumerate(spec.columns, start=1):
                self._set(ws.cell(row=r, column=c), values[c - 1] if c - 1 < len(values) else None, column)
        self._finish(ws, spec, len(rows), rows[:500])
        if spec.chart:
            x_key = spec.columns[0].key
            add_chart(
                ws,
                kind=spec.chart["kind"],
                title=clean_text(spec.chart["title"]),
                y_title=spec.chart["y_title"],
                x_values=[r.get(x_key) if isinstance(r, dict) else r[0] for r in rows],
                n_columns=len(spec.columns),
                n_rows=len(rows),
                y_range=spec.chart["y_range"],
            )
        return len(rows)

    def _write_streamed(self, workbook: Any, ws: Any, spec: _SheetSpec, rows_file: Path) -> tuple[Path, int, str]:
        """Placeholder sheet for openpyxl, data rows rendered to ``rows_file`` in one pass.

        Rows 2-4 of the placeholder are style samples (value, text, quoted text) that make openpyxl
        register the styles; their ``style_id`` is the xf index it writes to styles.xml, and
        ``stream.splice`` drops the samples when it puts the rendered rows in their place.
        """
        from openpyxl.utils import get_column_letter

        self._header(ws, spec.columns)
        writers = []
        for c, column in enumerate(spec.columns, start=1):
            value, text, quoted = (ws.cell(row=r, column=c) for r in (2, 3, 4))
            value.value, value.number_format = 0, column.fmt
            text.value = "text"
            self._set(quoted, "=quoted", column)
            writers.append(
                stream.cell_writer(
                    get_column_letter(c),
                    SCALES.get(column.type),
                    value.style_id,
                    text.style_id,
                    quoted.style_id,
                    column.empty_text,
                )
            )
        iterator = iter(spec.rows)
        head = list(itertools.islice(iterator, 500))  # a sample for the column widths
        keys: list[Any] = [c.key for c in spec.columns] if _keyed(head) else list(range(len(spec.columns)))
        with open(rows_file, "w", encoding="utf-8", newline="") as out:
            n = stream.write_rows(out, itertools.chain(head, iterator), keys, writers, 2)
        for r in (2, 3, 4):  # the styles stay registered in the workbook; the cells go
            for c in range(1, len(spec.columns) + 1):
                del ws._cells[(r, c)]
        self._finish(ws, spec, n, head)
        last = get_column_letter(len(spec.columns))
        return rows_file, n + 1, f"A1:{last}{n + 1 + (1 if spec.totals else 0)}"

    def _finish(self, ws: Any, spec: _SheetSpec, n: int, sample: Sequence[Any]) -> None:
        """Widths, frozen header, totals row, table or filter, and conditional formats."""
        from openpyxl.formatting.rule import DataBarRule, FormulaRule
        from openpyxl.styles import Border, Font, PatternFill, Side
        from openpyxl.utils import get_column_letter

        columns = spec.columns
        letters = {c.key: get_column_letter(i) for i, c in enumerate(columns, start=1)}
        last = get_column_letter(len(columns))
        for i, column in enumerate(columns):
            values = [(r.get(column.key) if isinstance(r, dict) else (r[i] if i < len(r) else None)) for r in sample]
            ws.column_dimensions[get_column_letter(i + 1)].width = column.width or fit_width(column, values)
        if spec.freeze:
            ws.freeze_panes = spec.freeze
        if spec.totals and n > 0:
            row = n + 2
            bold, line = (
                font(bold=True),
                Border(top=Side(style="thin"), bottom=Side(style="double")),
            )
            for c, column in enumerate(columns, start=1):
                cell = ws.cell(row=row, column=c)
                function = column.total_function
                if function:
                    letter = letters[column.key]
                    self._set(
                        cell,
                        Formula(f"SUBTOTAL({SUBTOTAL[function]},{letter}2:{letter}{n + 1})"),
                        column,
                    )
                elif c == 1:
                    cell.value = "Total"
                cell.font, cell.border = bold, line
        if n > 0 and spec.table:
            from openpyxl.worksheet.table import Table, TableStyleInfo

            name = self._table_name(spec.name)
            table = Table(displayName=name, ref=f"A1:{last}{n + 1}")
            table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
            ws.add_table(table)
        elif spec.autofilter or spec.table:
            ws.auto_filter.ref = f"A1:{last}{max(n, 1) + 1}"
        if n == 0:
            return
        for column in columns:
            letter = letters[column.key]
            cells = f"{letter}2:{letter}{n + 1}"
            if column.target is not None and column.direction != "neutral":
                if isinstance(column.target, str):
                    if column.target not in letters:
                        raise ValueError(
                            f"column {column.key!r}: target column {column.target!r} is not on sheet {spec.name!r}"
                        )
                    goal = f"{letters[column.target]}2"
                    guard = f"ISNUMBER({letter}2),ISNUMBER({goal})"
                else:
                    goal, guard = repr(float(column.target)), f"ISNUMBER({letter}2)"
                # ISNUMBER guards matter: Excel ranks any text (such as "n/a") above every number.
                miss, meet = ("<", ">=") if column.direction == "higher_is_better" else (">", "<=")
                for op, (fill, ink) in ((miss, RED), (meet, GREEN)):
                    ws.conditional_formatting.add(
                        cells,
                        FormulaRule(
                            formula=[f"AND({guard},{letter}2{op}{goal})"],
                            fill=PatternFill("solid", fgColor=fill, bgColor=fill),
                            font=Font(color=ink),
                        ),
                    )
            if column.data_bar:
                ws.conditional_formatting.add(cells, DataBarRule(start_type="min", end_type="max", color="5B9BD5"))

    def _table_name(self, sheet: str) -> str:
        taken = self.__dict__.setdefault("_tables", set())
        base = re.sub(r"\W", "_", sheet, flags=re.ASCII).strip("_") or "Table"
        if not base[0].isalpha():
            base = f"T_{base}"
        name, n = base[:200], 2
        while name.casefold() in taken or re.fullmatch(r"[A-Za-z]{1,3}\d+|[RrCc]", name):
            name, n = f"{base[:200]}_{n}", n + 1
        taken.add(name.casefold())
        return name

    def _write_summary(self, ws: Any, spec: _SheetSpec) -> int:
        """Headline KPIs: value, previous, change, target, attainment, met/missed (the columns chosen)."""
        rows = summary_rows(spec.kpis)
        self._header(ws, spec.columns)
        keys = [c.key for c in spec.columns]
        for r, row in enumerate(rows, start=2):
            kind = row["_type"] if row["_type"] in FORMATS else "float"
            for c, column in enumerate(spec.columns, start=1):
                col = column
                if column.key in {"value", "previous", "target"}:
                    col = Column(column.key, column.header, kind)
                self._set(ws.cell(row=r, column=c), row[column.key], col)
            if "change" in keys:
                ws.cell(row=r, column=keys.index("change") + 1).number_format = change_format(kind)
        self._finish(ws, spec, len(rows), rows)
        return len(rows)


def _keyed(sample: Sequence[Any]) -> bool:
    return not sample or isinstance(sample[0], dict)


def _right(cell: Any) -> None:
    from openpyxl.styles import Alignment

    cell.alignment = Alignment(horizontal="right")
