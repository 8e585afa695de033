"""Every shipped workbook prints: LibreOffice (a second, independent reader) converts each to PDF, and the
PDF's own text shows that every page of every sheet is one page wide (it holds the sheet's first header),
the Summary is one page, every chart sits whole on one page with its title and legend, and every page
names the report and its page number. Slow (one LibreOffice start, about 1 s per workbook)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from opskit.period import Period
from tests.libreoffice import convert
from tests.tasks.conftest import BERLIN

pytestmark = pytest.mark.slow

FOOTER = re.compile(r"^(?P<sheet>\S.*?)\s{2,}Page (?P<page>\d+) of (?P<pages>\d+)\s*$")


@pytest.fixture(scope="module")
def workbooks(console, tmp_path_factory, make_ctx, run_task) -> list[Path]:
    """One of each workbook the shipped tasks write, from the console's data."""
    from demo.fixtures import write_staffing_workbook, write_vendor_workbooks
    from opskit.excel import append_changes, csv_to_xlsx
    from opskit.reports import INTEGER_COLUMNS, TIME_FIELDS, human_headers

    root = tmp_path_factory.mktemp("print")
    week = Period.parse("2026-W46", tz=BERLIN, scheduled_for=datetime(2026, 11, 16, 7, tzinfo=UTC))
    data = root / "data"
    shutil.copytree(console.data_dir, data)
    files: list[Path] = []

    def run(name: str, **params):
        files.extend(p for p in run_task(name, ctx=make_ctx(name, data), **params).files if p.suffix == ".xlsx")

    cases = str(console.all_cases)
    run("efficiency_report", period=week, cases=cases, cuts=("queue", "vendor", "channel", "market"))
    run("metric_attribution", current=week, cases=cases)
    write_staffing_workbook(console.db, data / "staffing.xlsx", first_week=date(2026, 11, 16), weeks=8)
    run("capacity_plan", weeks=6, cases=cases)
    inbox = write_vendor_workbooks(console.db, data / "inbox" / "vendors", date_from="2026-11-12", date_to="2026-11-12")
    northwind = root / "northwind.xlsx"
    shutil.copy(next(p for p in inbox if p.name.startswith("northwind")), northwind)
    run("vendor_consolidation")
    run("reconcile", left=cases, right=str(northwind), only=("date=2026-11-12",))
    export = root / "cases_2026-W46.xlsx"
    week_cases = data / "cases" / "2026-W46.csv"
    header = week_cases.read_text(encoding="utf-8").split("\n", 1)[0].strip().split(",")
    csv_to_xlsx(
        week_cases,
        export,
        integers=INTEGER_COLUMNS,
        datetimes=TIME_FIELDS,
        tz=BERLIN,
        headers=human_headers(header, BERLIN),
        title="Cases 2026-W46",
    )
    history = root / "queue_history.xlsx"
    fields = ["snapshot_at", "queue_id", "backlog"]
    rows = [
        {"snapshot_at": f"2026-11-16T0{h}:00:00Z", "queue_id": f"q{q}", "backlog": h * q}
        for h in range(3)
        for q in range(40)
    ]
    append_changes(
        history,
        history.with_suffix(".tmp.xlsx"),
        rows,
        fields=fields,
        keys=("queue_id",),
        ignore=("snapshot_at",),
        headers=human_headers(fields, BERLIN),
        datetimes=("snapshot_at",),
        tz=BERLIN,
    )
    history.with_suffix(".tmp.xlsx").replace(history)
    files += [export, history]
    return files


def pages(pdf: Path) -> list[str]:
    """The text of each page (poppler's pdftotext keeps the layout; pages end with a form feed)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return [p for p in text.split("\f") if p.strip()]


def by_sheet(texts: list[str]) -> dict[str, list[str]]:
    """Pages per sheet, told by the footer every sheet prints: '<sheet>   Page N of M'."""
    found: dict[str, list[str]] = {}
    for text in texts:
        last = [line for line in text.splitlines() if line.strip()][-1]
        match = FOOTER.match(last.strip())
        assert match, f"a page without the footer: {last!r}"
        found.setdefault(match["sheet"].strip(), []).append(text)
    return found


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def printed(workbooks, tmp_path_factory):
    pdfs = convert(workbooks, tmp_path_factory.mktemp("pdf"), "pdf")
    return {book: (load_workbook(book), by_sheet(pages(pdf))) for book, pdf in pdfs.items()}


def test_every_workbook_was_printed(printed, workbooks):
    names = sorted(p.name.split("_20")[0].split("_2026")[0] for p in workbooks)
    assert len(printed) == len(workbooks) >= 8, names


def test_every_page_is_one_page_wide_with_the_report_named(printed):
    for book, (wb, sheets) in printed.items():
        for ws in wb.worksheets:
            first = ws.cell(1, 1).value
            if ws.max_row < 1 or first is None:
                continue
            assert ws.title in sheets, f"{book.name}: sheet {ws.title!r} did not print"
            for n, text in enumerate(sheets[ws.title], start=1):
                # print titles repeat the header row: a page without the first column's header holds
                # only columns further right, i.e. the sheet was cut into more than one page across
                assert words(str(first)) in words(text), f"{book.name}: {ws.title} page {n} is cut off on the left"
                header = [line for line in text.splitlines() if line.strip()][0]
                assert header.strip(), f"{book.name}: {ws.title} page {n} has no header line"
            assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage


def test_the_summary_prints_on_one_page_with_every_column(printed):
    summaries = 0
    for book, (wb, sheets) in printed.items():
        if "Summary" not in wb.sheetnames:
            continue
        summaries += 1
        ws = wb["Summary"]
        (page,) = sheets["Summary"]
        for cell in ws[1]:
            assert words(str(cell.value)) in words(page), f"{book.name}: Summary lacks column {cell.value!r}"
        assert wb.sheetnames[0] == "Summary"
        assert words(wb.properties.title) in words(page.splitlines()[0] + " " + page), book.name
    assert summaries >= 6


def test_every_chart_prints_whole_on_one_page(printed):
    charts = 0
    for book, (wb, sheets) in printed.items():
        for ws in wb.worksheets:
            for chart in ws._charts:
                charts += 1
                (page,) = sheets[ws.title]  # a sheet with a chart fits one page
                title = "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or []))
                legend = [ws.cell(1, c).value for c in range(2, ws.max_column + 1)]
                assert words(title) in words(page), f"{book.name}: {ws.title}: chart title not printed"
                for name in legend:  # the legend sits under the plot: on the same page, so is the plot
                    assert words(name) in words(page), f"{book.name}: {ws.title}: legend {name!r} not printed"
    assert charts >= 2


def test_the_header_font_is_named_so_it_never_falls_back_to_a_serif(printed):
    for book, (wb, _) in printed.items():
        for ws in wb.worksheets:
            cell = ws.cell(1, 1)
            if cell.value is not None:
                assert cell.font.name == "Calibri" and cell.font.family == 2, f"{book.name}: {ws.title}"
