"""Refreshing an analyst's template and writing an export for people, side by side with openpyxl.

- refresh: ``opskit.excel.refresh_template`` (splices the data sheet, keeps the chart) against the
  openpyxl way (load the workbook, write the rows, save: the chart is lost), same rows, same template;
- export: ``opskit.excel.csv_to_xlsx`` with headers in words and times as date-times in a timezone
  (write-only, constant memory), against openpyxl write-only writing the same CSV as bare text.

Each prints wall time and the output's size.

    .venv/bin/python bench/bench_templates.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def template(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.chart import LineChart, Reference
    from openpyxl.worksheet.table import Table

    wb = Workbook()
    data = wb.active
    data.title = "Data"
    data.append(["Day", "Queue", "Cases", "AHT"])
    for i in range(5):
        data.append([datetime(2026, 11, 1 + i), "q", 10 + i, 100.0 + i])
    data.add_table(Table(displayName="Daily", ref="A1:D6"))
    chart = LineChart()
    chart.add_data(Reference(data, min_col=3, min_row=1, max_row=6), titles_from_data=True)
    wb.create_sheet("Report").add_chart(chart, "A1")
    wb.save(path)
    return path


def rows(n: int) -> list[dict]:
    start = datetime(2026, 1, 1)
    return [
        {"Day": start + timedelta(hours=i), "Queue": f"queue-{i % 30}", "Cases": i % 500, "AHT": 60 + i % 300}
        for i in range(n)
    ]


def bench_refresh(n: int, folder: Path) -> None:
    from openpyxl import load_workbook

    from opskit.excel import refresh_template

    source, data = template(folder / "template.xlsx"), rows(n)
    t = time.perf_counter()
    out = refresh_template(source, folder / "refreshed.xlsx", sheets={"Data": data})
    ours = time.perf_counter() - t
    t = time.perf_counter()
    wb = load_workbook(source)
    ws = wb["Data"]
    for r, row in enumerate(data, start=2):
        for c, key in enumerate(("Day", "Queue", "Cases", "AHT"), start=1):
            ws.cell(r, c, row[key])
    wb.save(folder / "openpyxl.xlsx")
    peer = time.perf_counter() - t
    kb = out.stat().st_size // 1024
    print(f"refresh {n:>9,} rows: refresh_template {ours:6.2f} s ({kb:,} KB, chart kept)")
    print(f"refresh {n:>9,} rows: openpyxl load/write/save {peer:6.2f} s (chart lost)")


def bench_export(n: int, folder: Path) -> None:
    from openpyxl import Workbook

    from opskit.excel import csv_to_xlsx
    from opskit.reports import TIME_FIELDS, human_headers

    path = folder / "cases.csv"
    fields = ["case_id", "queue_id", "created_at", "completed_at", "handle_seconds", "content_text"]
    start = datetime(2026, 11, 1)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for i in range(n):
            made = start + timedelta(seconds=17 * i)
            stamp = made.strftime("%Y-%m-%dT%H:%M:%SZ")
            done = (made + timedelta(minutes=i % 90)).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([i, f"queue-{i % 30}", stamp, done, 30 + i % 500, f"comment {i % 977}"])
    tz = ZoneInfo("Europe/Berlin")
    t = time.perf_counter()
    csv_to_xlsx(
        path,
        folder / "ours.xlsx",
        integers={"case_id", "handle_seconds"},
        datetimes=TIME_FIELDS,
        tz=tz,
        headers=human_headers(fields, tz),
    )
    ours = time.perf_counter() - t
    t = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            ws.append(row)
    wb.save(folder / "bare.xlsx")
    peer = time.perf_counter() - t
    print(f"export  {n:>9,} rows: csv_to_xlsx for people {ours:6.2f} s (styled, date-times in {tz.key})")
    print(f"export  {n:>9,} rows: openpyxl write-only, bare text {peer:6.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_refresh(args.rows, Path(tmp))
        bench_export(args.rows, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
