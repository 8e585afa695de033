"""How a report workbook looks on paper and in its charts: page setup, fonts, chart placement and axes.

Every sheet ``Report`` writes prints as a reader expects: A4, landscape when the sheet is wide,
fitted to one page wide (never a last column alone on page 2), the header row repeated on every
page, even margins, and a header and footer that name the report, its period, the sheet and the
page ("Page 2 of 5"). Charts are placed at the top of their sheet, beside the data, and a sheet with
a chart is fitted to one page when its rows allow it, so a chart never breaks across pages.

Fonts: every cell style opskit writes names its font (``FONT``, Calibri) with the Swiss (sans-serif)
family as the fallback, so a reader without Calibri gets a sans-serif (LibreOffice's metric-compatible
Carlito when installed), never the serif a nameless font falls back to.

Charts: the date axis ticks by the span (``opskit.period.date_ticks``: days for a week, weeks
for a quarter), the legend sits below the plot area and never over it, and a ``y_range`` fixes the
value axis to the one the email's chart uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from opskit.period import date_ticks

FONT = "Calibri"
FONT_FAMILY = 2  # Swiss: the sans-serif fallback when the named font is missing
WIDE_COLUMNS = 7  # more columns than this print in landscape
ONE_PAGE_ROWS = 60  # a chart sheet with up to this many rows is fitted to one page
CHART_WIDTH_CM, CHART_HEIGHT_CM = 24, 12


def font(**kwargs: Any) -> Any:
    """An openpyxl Font with opskit's named family (``FONT``) and its sans-serif fallback."""
    from openpyxl.styles import Font

    return Font(name=FONT, family=FONT_FAMILY, **kwargs)


def _header_text(text: str) -> str:
    """Text for a print header/footer: ``&`` starts a code there, so a literal one is doubled."""
    return text.replace("&", "&&")


def page_setup(
    ws: Any, *, title: str, subject: str | None, n_columns: int, n_rows: int, has_chart: bool = False
) -> None:
    """Print settings for one sheet (module docstring)."""
    from openpyxl.worksheet.page import PageMargins

    wide = n_columns > WIDE_COLUMNS or has_chart
    ws.page_setup.orientation = "landscape" if wide else "portrait"
    ws.page_setup.paperSize = 9  # A4 (Worksheet.PAPERSIZE_A4; write-only sheets lack the name)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    # 0 = as many pages tall as the rows need; a chart sheet short enough prints on one page
    ws.page_setup.fitToHeight = 1 if has_chart and n_rows <= ONE_PAGE_ROWS else 0
    ws.print_options.horizontalCentered = False
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.8, bottom=0.8, header=0.3, footer=0.3)
    if n_rows > 0:
        ws.print_title_rows = "1:1"
    name = _header_text(title)
    period = _header_text(subject or "")
    ws.oddHeader.left.text = f"&B{name}"
    ws.oddHeader.left.font = f"{FONT},Bold"
    ws.oddHeader.right.text = period
    ws.oddHeader.right.font = FONT
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.left.font = FONT
    ws.oddFooter.right.text = "Page &P of &N"
    ws.oddFooter.right.font = FONT


def add_chart(
    ws: Any,
    *,
    kind: str,
    title: str,
    y_title: str | None,
    x_values: Sequence[Any],
    n_columns: int,
    n_rows: int,
    y_range: tuple[float, float] | None = None,
) -> None:
    """A line or bar chart of columns 2..n of a sheet against column 1, placed beside the data at its top.

    Dates on the x axis get a date axis that ticks by the span; the legend goes below the plot.
    """
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.chart.axis import DateAxis
    from openpyxl.utils import get_column_letter

    chart = LineChart() if kind == "line" else BarChart()
    chart.title = title
    chart.y_axis.title = y_title
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    days = [v.date() if isinstance(v, datetime) else v for v in x_values if isinstance(v, date)]
    if days and len(days) == len([v for v in x_values if v is not None]):
        unit, step = date_ticks(min(days), max(days))
        axis = DateAxis(crossAx=100)
        axis.number_format = "ddd d" if unit == "day" else ("d mmm" if unit == "week" else "mmm yyyy")
        axis.majorTimeUnit = "months" if unit == "month" else "days"
        axis.majorUnit = step * 7 if unit == "week" else step
        axis.baseTimeUnit = "days"
        axis.title = None
        chart.y_axis.crossAx = 500  # the date axis's id
        chart.x_axis = axis
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides axes by default
    if y_range is not None:
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = y_range
    chart.legend.position = "b"  # below the plot area: never over a line or bar
    chart.legend.overlay = False
    if n_rows > 0 and n_columns > 1:
        data = Reference(ws, min_col=2, min_row=1, max_col=n_columns, max_row=n_rows + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n_rows + 1))
    ws.add_chart(chart, f"{get_column_letter(n_columns + 2)}2")
