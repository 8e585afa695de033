"""Fixture files straight from a generated database, without the web app: the console's case export
as CSV, the side inputs the report tasks read (queues, targets, shifts, a vendor staffing plan), and
the messy daily-report workbooks that vendors send.

Each vendor has its own layout (DOMAIN.md "vendor daily report": one row per moderator, queue and
day), the kind of mess the workbook readers must survive: title rows and a logo note above the
header, merged header cells, its own header names and column order, dates as ``dd/mm/yyyy`` text,
Excel serial numbers, real dates or ISO text, numbers stored as text with thousands separators, a
blank row, a totals row, a hidden sheet. One more file in the folder is not a workbook at all (a
truncated zip).
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from demo.db import CaseFilter, connect, select_cases
from demo.export import write_csv

BROKEN_WORKBOOK = "kestrel_moderation_daily_BROKEN.xlsx"


def write_cases_csv(
    db_path: str | Path,
    out_path: str | Path,
    *,
    start: date | str,
    end: date | str,
    queue: str | None = None,
    market: str | None = None,
    vendor: str | None = None,
    decision: str | None = None,
    date_by: str = "created",
) -> int:
    """Write the cases the console would export for these filters; returns the number of rows.

    Args:
        start: First UTC day, inclusive.
        end: Last UTC day, inclusive.
        date_by: ``created`` or ``completed``: which timestamp the days apply to.
    """
    flt = CaseFilter.from_args(
        {
            "date_from": str(start),
            "date_to": str(end),
            "queue": queue or "",
            "market": market or "",
            "vendor": vendor or "",
            "decision": decision or "",
            "date_by": date_by,
        }
    )
    conn = connect(db_path)
    try:
        return write_csv(select_cases(conn, flt), Path(out_path))
    finally:
        conn.close()


# --------------------------------------------------------------------------- side inputs


def _export(db_path: Path | str, out: Path | str, sql: str, params: Sequence[Any] = ()) -> int:
    """Write a query's result as CSV with its column names as the header; returns the rows written."""
    conn = sqlite3.connect(str(db_path))
    try:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            n = 0
            for row in cursor:
                writer.writerow(row)
                n += 1
        return n
    finally:
        conn.close()


def write_queues_csv(db_path: Path | str, out: Path | str) -> int:
    """The console's queues (queue_id, name, channel, market, sla_hours, priority) as CSV."""
    return _export(
        db_path,
        out,
        "SELECT queue_id, name, channel, market, policy_area, sla_hours, priority FROM queues ORDER BY queue_id",
    )


def write_targets_csv(db_path: Path | str, out: Path | str) -> int:
    """The console's targets table as CSV (global key is 'all')."""
    return _export(
        db_path,
        out,
        "SELECT period, level, key, metric, value, direction FROM targets ORDER BY period, level, key, metric",
    )


def write_shifts_csv(db_path: Path | str, out: Path | str, *, start: date, end: date) -> int:
    """Shift rows with the moderator's vendor and site, for UTC days start..end inclusive."""
    return _export(
        db_path,
        out,
        "SELECT s.*, m.vendor, m.site FROM shifts s JOIN moderators m "
        "USING (moderator_id) WHERE s.date BETWEEN ? AND ? ORDER BY s.date, moderator_id",
        (start.isoformat(), end.isoformat()),
    )


def write_staffing_workbook(
    db_path: Path | str, out: Path | str, *, first_week: date, weeks: int = 4, factor: float = 1.0
) -> int:
    """A vendor staffing plan (week, vendor, queue_id, fte) for ``weeks`` weeks from ``first_week``.

    Supply per vendor and queue is the vendor's moderators split over queues by last week's handle
    time in the data, times ``factor``: enough to make some queues short and others over.
    """
    from openpyxl import Workbook

    conn = sqlite3.connect(str(db_path))
    try:
        last = conn.execute("SELECT max(completed_at) FROM cases").fetchone()[0]
        since = (datetime.fromisoformat(last[:10]) - timedelta(days=7)).strftime("%Y-%m-%d")
        shares = conn.execute(
            "SELECT m.vendor, c.queue_id, sum(c.handle_seconds) * 1.0 / sum(sum(c.handle_seconds)) "
            "OVER (PARTITION BY m.vendor), count(DISTINCT m.moderator_id) FROM cases c "
            "JOIN moderators m USING (moderator_id) WHERE c.completed_at >= ? GROUP BY 1, 2",
            (since,),
        ).fetchall()
        heads = dict(conn.execute("SELECT vendor, count(*) FROM moderators GROUP BY vendor"))
    finally:
        conn.close()
    wb = Workbook()
    ws = wb.active
    ws.title = "Staffing"
    ws.append(["week", "vendor", "queue_id", "fte"])
    n = 0
    for w in range(weeks):
        iso = (first_week + timedelta(weeks=w)).isocalendar()
        for vendor, queue_id, share, _ in sorted(shares):
            ws.append([f"{iso.year}-W{iso.week:02d}", vendor, queue_id, round(heads[vendor] * share * factor, 2)])
            n += 1
    wb.save(out)
    return n


# --------------------------------------------------------------------------- vendor daily reports


def vendor_report_rows(conn: sqlite3.Connection, date_from: date, date_to: date) -> list[dict]:
    """The reference rows of every vendor report: per vendor, moderator, queue and completion day.

    ``productive_seconds`` is the moderator's shift for the day, split over queues by handle time.
    """
    sql = """
        WITH per AS (
            SELECT substr(c.completed_at, 1, 10) AS date, m.vendor, m.site, c.moderator_id,
            c.queue_id,
                   count(*) AS handled, sum(c.handle_seconds) AS handle_seconds,
                   sum(c.qa_sampled) AS qa_sampled, sum(coalesce(c.qa_correct, 0)) AS qa_correct
            FROM cases c JOIN moderators m ON m.moderator_id = c.moderator_id
            WHERE c.completed_at >= ? AND c.completed_at < ? AND m.vendor != 'in-house'
            GROUP BY 1, 2, 3, 4, 5
        )
        SELECT per.*, coalesce(s.productive_seconds, 0) * per.handle_seconds
               / sum(per.handle_seconds) OVER (PARTITION BY per.moderator_id, per.date)
        FROM per LEFT JOIN shifts s ON s.moderator_id = per.moderator_id AND s.date = per.date
        ORDER BY per.vendor, per.date, per.moderator_id, per.queue_id
    """
    keys = (
        "date",
        "vendor",
        "site",
        "moderator_id",
        "queue_id",
        "handled",
        "handle_seconds",
        "qa_sampled",
        "qa_correct",
        "productive_seconds",
    )
    end = date.fromordinal(date_to.toordinal() + 1)
    rows = conn.execute(sql, (f"{date_from}T00:00:00Z", f"{end}T00:00:00Z")).fetchall()
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _serial(day: date) -> int:
    return (day - date(1899, 12, 30)).days


def _d(text: str) -> date:
    return date.fromisoformat(text)


# vendor: (file stem, columns as (header, value function)); the sheet furniture is in the writer
_LAYOUTS: dict[str, tuple[str, list[tuple[str, Callable[[dict], object]]]]] = {
    "Lumen BPO": (
        "lumen_bpo_daily",
        [
            ("Date", lambda r: _d(r["date"]).strftime("%d/%m/%Y")),
            ("Agent ID", lambda r: r["moderator_id"]),
            ("Site", lambda r: r["site"]),
            ("Queue", lambda r: r["queue_id"]),
            ("Ticket Count", lambda r: f"{r['handled']:,}"),
            ("Total Handle Time (h:mm:ss)", lambda r: _hms(r["handle_seconds"])),
            ("Logged-in Productive (sec)", lambda r: f"{round(r['productive_seconds']):,}"),
            ("QA Audited", lambda r: r["qa_sampled"]),
            ("QA Passed", lambda r: r["qa_correct"]),
        ],
    ),
    "Northwind Services": (
        "northwind_services_report",
        [
            ("moderator", lambda r: r["moderator_id"]),
            ("report_date", lambda r: _d(r["date"])),
            ("queue_id", lambda r: r["queue_id"]),
            ("location", lambda r: r["site"]),
            ("cases_handled", lambda r: r["handled"]),
            ("handle_time_sec", lambda r: r["handle_seconds"]),
            ("prod_time_sec", lambda r: round(r["productive_seconds"])),
            ("qa_checked", lambda r: r["qa_sampled"]),
            ("qa_passed", lambda r: r["qa_correct"]),
        ],
    ),
    "Atlas CX": (
        "AtlasCX_Daily_Volume",
        [
            ("Work Date", lambda r: _serial(_d(r["date"]))),
            ("Queue Name", lambda r: r["queue_id"]),
            ("Employee #", lambda r: r["moderator_id"]),
            ("Centre", lambda r: r["site"]),
            ("Volume", lambda r: f"{r['handled']:,}"),
            ("Handle Secs", lambda r: f"{r['handle_seconds']:,}"),
            ("Productive Secs", lambda r: f"{round(r['productive_seconds']):,}"),
            ("Audits", lambda r: r["qa_sampled"]),
            ("Audits OK", lambda r: r["qa_correct"]),
        ],
    ),
    "Kestrel Moderation": (
        "kestrel_moderation_daily",
        [
            ("Day", lambda r: r["date"]),
            ("Site", lambda r: r["site"]),
            ("Agent", lambda r: r["moderator_id"]),
            ("Queue ID", lambda r: r["queue_id"]),
            ("Handled", lambda r: r["handled"]),
            ("AHT (h:mm:ss)", lambda r: _hms(r["handle_seconds"] / r["handled"])),
            ("Productive Hours", lambda r: round(r["productive_seconds"] / 3600, 2)),
            ("QA Sampled", lambda r: r["qa_sampled"]),
            ("QA Correct", lambda r: r["qa_correct"]),
        ],
    ),
}


def vendor_reports_config() -> str:
    """config.yaml's ``vendor_reports:`` section for the demo vendors (who sends which files), as YAML."""
    lines = ["vendor_reports:", "  vendors:"]
    for vendor, (stem, _) in _LAYOUTS.items():
        lines.append(f'    {vendor}: {{files: ["{stem.split("_")[0].lower()}*"]}}')
    return "\n".join(lines) + "\n"


def write_vendor_workbooks(
    db_path: str | Path, folder: str | Path, *, date_from: date | str, date_to: date | str
) -> list[Path]:
    """Write one messy daily-report workbook per vendor, plus one unreadable file; return the paths.

    Layouts: Lumen BPO (header on row 5 under merged group cells, dd/mm/yyyy text dates, numbers as
    text, h:mm:ss totals, a totals row); Northwind Services (header on row 1, real dates, a hidden
    sheet); Atlas CX (header on row 4, Excel serial dates as plain numbers, numbers as text with
    thousands separators, a blank row in the middle, a totals row); Kestrel Moderation (header on
    row 3 under a merged title, ISO text dates, AHT as h:mm:ss, productive hours, a hidden sheet).
    The in-house team sends no report.
    """
    from openpyxl import Workbook

    date_from = date.fromisoformat(str(date_from))
    date_to = date.fromisoformat(str(date_to))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    conn = connect(db_path)
    try:
        rows = vendor_report_rows(conn, date_from, date_to)
    finally:
        conn.close()
    paths = []
    for vendor, (stem, columns) in _LAYOUTS.items():
        mine = [r for r in rows if r["vendor"] == vendor]
        wb = Workbook()
        ws = wb.active
        ws.title = "Daily Report" if vendor != "Atlas CX" else "Sheet1"
        header_row = {
            "Lumen BPO": 5,
            "Northwind Services": 1,
            "Atlas CX": 4,
            "Kestrel Moderation": 3,
        }[vendor]
        if vendor == "Lumen BPO":
            ws["A1"] = "Lumen BPO — Daily Productivity Report"
            ws["A2"] = f"Period: {date_from:%d/%m/%Y} to {date_to:%d/%m/%Y}"
            ws["F1"] = "[Lumen logo]"
            ws["E4"] = "Volume & Time"
            ws.merge_cells("E4:G4")
            ws["H4"] = "Quality"
            ws.merge_cells("H4:I4")
        elif vendor == "Atlas CX":
            ws["A1"] = "ATLAS CX | Trust & Safety | Daily volume"
            ws["A2"] = f"Generated {date_to:%d %b %Y} — confidential"
        elif vendor == "Kestrel Moderation":
            ws["A1"] = "Kestrel Moderation - daily report"
            ws.merge_cells("A1:I2")
        for col, (header, _) in enumerate(columns, 1):
            ws.cell(header_row, col, header)
        r_idx = header_row + 1
        for i, row in enumerate(mine):
            if vendor == "Atlas CX" and i == len(mine) // 2:
                r_idx += 1  # a blank row in the middle of the data
            for col, (_, value) in enumerate(columns, 1):
                ws.cell(r_idx, col, value(row))
            r_idx += 1
        if vendor in ("Lumen BPO", "Atlas CX"):
            ws.cell(r_idx + 1, 1, "TOTAL" if vendor == "Lumen BPO" else "Grand Total")
            handled_col = 5
            ws.cell(r_idx + 1, handled_col, f"{sum(r['handled'] for r in mine):,}")
        if vendor in ("Northwind Services", "Kestrel Moderation"):
            hidden = wb.create_sheet("lookup")
            hidden.append(["queue_id", "owner"])
            for q in sorted({r["queue_id"] for r in mine}):
                hidden.append([q, vendor])
            hidden.sheet_state = "hidden"
        path = folder / f"{stem}_{date_from}_{date_to}.xlsx"
        wb.save(path)
        paths.append(path)
    broken = folder / BROKEN_WORKBOOK
    broken.write_bytes(paths[-1].read_bytes()[:300])  # a download cut short: not a valid zip
    paths.append(broken)
    return paths
