"""Fixture files without the web app: the cases CSV, the report tasks' side inputs, the vendors' messy
workbooks."""

from __future__ import annotations

import csv
import zipfile
from datetime import date

import openpyxl
import pytest

from demo.fixtures import (
    BROKEN_WORKBOOK,
    write_cases_csv,
    write_queues_csv,
    write_shifts_csv,
    write_staffing_workbook,
    write_targets_csv,
    write_vendor_workbooks,
)
from opskit.reports import read_queues, read_shifts, read_staffing, read_targets


def test_cases_csv_equals_the_console_export_rows(console_db, sql, tmp_path):
    out = tmp_path / "cases.csv"
    n = write_cases_csv(console_db, out, start="2026-11-09", end=date(2026, 11, 15), vendor="Lumen BPO")
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    expected = sql.execute("""
        SELECT c.*, q.name, q.channel, q.market, m.vendor, m.site FROM cases c
        JOIN queues q ON q.queue_id = c.queue_id
        JOIN moderators m ON m.moderator_id = c.moderator_id
        WHERE c.created_at >= '2026-11-09' AND c.created_at < '2026-11-16'
          AND m.vendor = 'Lumen BPO'
        ORDER BY c.case_id""").fetchall()
    assert n == len(expected) == len(rows) - 1 > 0
    assert rows[1:] == [["" if v is None else str(v) for v in r] for r in expected]


@pytest.fixture(scope="module")
def workbooks(console_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vendors")
    return write_vendor_workbooks(console_db, folder, date_from="2026-11-09", date_to="2026-11-15")


def test_one_messy_workbook_per_vendor_and_one_broken_file(workbooks):
    names = sorted(p.name for p in workbooks)
    assert len(names) == 5 and BROKEN_WORKBOOK in names
    with pytest.raises(zipfile.BadZipFile):
        openpyxl.load_workbook([p for p in workbooks if p.name == BROKEN_WORKBOOK][0])
    books = {p.name.split("_")[0].lower(): openpyxl.load_workbook(p) for p in workbooks if p.name != BROKEN_WORKBOOK}
    lumen = books["lumen"].active
    assert lumen["A5"].value == "Date" and lumen["B5"].value == "Agent ID"
    assert "E4:G4" in {str(r) for r in lumen.merged_cells.ranges}
    assert lumen["A6"].value.count("/") == 2  # dd/mm/yyyy text
    assert isinstance(books["atlascx"].active["A5"].value, int)  # an Excel serial date
    hidden = [ws.title for wb in books.values() for ws in wb.worksheets if ws.sheet_state == "hidden"]
    assert hidden == ["lookup", "lookup"]


def test_northwind_totals_reconcile_with_the_platform(workbooks, sql):
    path = next(p for p in workbooks if p.name.startswith("northwind"))
    rows = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    handled = sum(r[4] for r in rows)
    expected = sql.execute("""
        SELECT count(*) FROM cases c JOIN moderators m ON m.moderator_id = c.moderator_id
        WHERE m.vendor = 'Northwind Services' AND c.completed_at >= '2026-11-09'
          AND c.completed_at < '2026-11-16'""").fetchone()[0]
    assert handled == expected > 0


def test_lumen_totals_row_matches_its_rows(workbooks):
    ws = openpyxl.load_workbook(next(p for p in workbooks if p.name.startswith("lumen"))).active
    values = list(ws.iter_rows(min_row=6, values_only=True))
    total = next(r for r in values if r[0] == "TOTAL")
    data = [r for r in values if r[0] and r[0] != "TOTAL"]
    assert int(total[4].replace(",", "")) == sum(int(r[4].replace(",", "")) for r in data)


def test_side_inputs_read_back_with_the_report_readers(console_db, sql, tmp_path):
    """What the demo writes is what the report tasks read: queues, targets, shifts, a staffing plan."""
    assert write_queues_csv(console_db, tmp_path / "queues.csv") == len(read_queues(tmp_path / "queues.csv")) > 0
    assert write_targets_csv(console_db, tmp_path / "targets.csv") == len(read_targets(tmp_path / "targets.csv"))
    week = (date(2026, 11, 9), date(2026, 11, 15))
    assert write_shifts_csv(console_db, tmp_path / "shifts.csv", start=week[0], end=week[1]) > 0
    productive = sum(read_shifts(tmp_path / "shifts.csv", *week).values())
    expected = sql.execute(
        "SELECT sum(productive_seconds) FROM shifts WHERE date BETWEEN '2026-11-09' AND '2026-11-15'"
    ).fetchone()[0]
    assert productive == expected > 0
    rows = write_staffing_workbook(console_db, tmp_path / "staffing.xlsx", first_week=date(2026, 11, 16), weeks=2)
    plan = read_staffing(tmp_path / "staffing.xlsx")
    assert rows > 0 and {week for week, _ in plan} == {"2026-W47", "2026-W48"}
