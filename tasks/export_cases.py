"""Export the cases of a period from the Moderation Console through its web UI, checked against its count."""

from __future__ import annotations

import csv
import itertools
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from opskit import DataError, Period, Result, RunContext, task
from opskit.excel import csv_writer  # csv and re only: openpyxl loads when a workbook is written
from opskit.reports import INTEGER_COLUMNS, TIME_FIELDS, human_headers


@task(schedule_hint="0 6 * * MON")
def export_cases(
    ctx: RunContext,
    *,
    source: str = "console",
    period: Period = "last_week",
    queues: tuple[str, ...] = (),
    markets: tuple[str, ...] = (),
    vendors: tuple[str, ...] = (),
    format: Literal["csv", "xlsx", "both"] = "csv",
    publish: bool = False,
    date_by: Literal["created", "completed", "both"] = "created",
    pad_days: int = 0,
) -> Result:
    """Export a period's cases from the console's case search, checked against the count it shows.

    The console filters by UTC day, on the creation or the completion time. One export per combination
    of queue, market and vendor (the console filters one of each at a time) and date field; the parts
    are merged into one file, each case once. A file whose row count differs from the count the console
    showed is a DataError, and no output is left.

    For a report, export ``date_by: both`` with ``pad_days: 1``: a week's completed cases include cases
    created before it, and the job's timezone cuts days differently from UTC. The report then cuts the
    exact windows itself.

    Args:
        source: The web tool in config.yaml.
        period: Days whose cases to export (UTC days, as the console filters).
        queues: Only these queue ids; every queue when empty.
        markets: Only these markets (e.g. DE, BR); every market when empty.
        vendors: Only these vendors (e.g. "Lumen BPO", in-house); every vendor when empty.
        format: csv, xlsx (written from the CSV for people: headers in words, times as date-times in
            the job's timezone, text never turned into formulas) or both.
        publish: Also write the CSV to data/cases/<period>.csv for later jobs.
        date_by: Which time the period applies to: created, completed, or both (cases of either).
        pad_days: Also export this many days before and after the period.
    """
    if pad_days < 0:
        raise DataError(f"pad_days must be 0 or more, not {pad_days}")
    window = Period(period.start - timedelta(days=pad_days), period.end + timedelta(days=pad_days))
    fields = ("created", "completed") if date_by == "both" else (date_by,)
    parts: list[Path] = []
    rows = 0
    with ctx.browser(source) as session:
        for field_, queue, market, vendor in itertools.product(
            fields, queues or ("",), markets or ("",), vendors or ("",)
        ):
            path, shown = session.run(
                lambda f=field_, q=queue, m=market, v=vendor: _export_one(session, window, f, q, m, v)
            )
            header, count, newest = _scan(path)
            if count != shown:
                for part in [*parts, path]:
                    part.unlink(missing_ok=True)
                raise DataError(
                    f"the export {path.name} has {count:,} rows but the console showed "
                    f"{shown:,} for {_describe(period, queue, market, vendor)}"
                )
            parts.append(path)
            rows += count
    if len(parts) == 1:
        csv_path = parts[0]
    else:
        csv_path = _merge(ctx, parts, f"cases_{period.label}.csv")
        header, rows, newest = _scan(csv_path)
    files = [csv_path]
    if publish:
        with ctx.output(ctx.data_dir / "cases" / f"{period.label}.csv") as tmp:
            shutil.copyfile(csv_path, tmp)
    if format in ("xlsx", "both"):
        from opskit.excel import csv_to_xlsx  # here, not at the top: `runner.py list` imports every task

        xlsx = csv_path.with_suffix(".xlsx")
        with ctx.output(xlsx) as tmp:  # text never becomes a formula; times in the job's timezone
            csv_to_xlsx(
                csv_path,
                tmp,
                integers=INTEGER_COLUMNS,
                datetimes=TIME_FIELDS,
                tz=ctx.tz,
                headers=human_headers(header, ctx.tz),
                title=f"Cases {period.label}",
            )
        files.append(xlsx)
    if format == "xlsx":
        files.remove(csv_path)
        csv_path.unlink()
    ctx.log.info("exported %d cases of %s in %d part(s)", rows, period.label, len(parts))
    return Result(
        files=files,
        rows=rows,
        summary={"period": period.label, "rows": rows, "columns": header, "newest": newest},
    )


def _export_one(session: Any, period: Period, date_by: str, queue: str, market: str, vendor: str) -> tuple[Path, int]:
    session.goto("/cases")
    session.fill("date_from", period.start.isoformat())
    session.fill("date_to", period.end.isoformat())
    if date_by != "created":  # the form's default: a tool without the field still works
        session.select("date_by", date_by)
    session.select("queue", queue)
    session.select("market", market)
    session.select("vendor", vendor)
    session.click("search_button")
    shown = re.sub(r"\D", "", session.text("total_count"))
    if not shown:
        raise DataError(f"the console's total count is not a number at {session.page.url}")
    return session.download("export_csv"), int(shown)


def _scan(path: Path) -> tuple[list[str], int, str | None]:
    """Header, data rows (quoted newlines count once) and the newest created_at of a CSV export."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        col = header.index("created_at") if "created_at" in header else None
        count, newest = 0, None
        for row in reader:
            count += 1
            if col is not None and row[col] and (newest is None or row[col] > newest):
                newest = row[col]
    return header, count, newest


def _merge(ctx: RunContext, parts: list[Path], name: str) -> Path:
    """One CSV of the parts, each case once (a case both created and completed in the window is in
    two parts)."""
    seen: set[str] = set()
    with ctx.output(name) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        # The tool's own export, merged: kept as it sent it (tasks read it back); people get format=xlsx.
        writer = csv_writer(out, formula_guard=False)  # CRLF rows: fields holding a CR or LF are quoted
        for i, part in enumerate(parts):
            with open(part, encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                key = header.index("case_id") if "case_id" in header else None
                if not i:
                    writer.writerow(header)
                for row in reader:
                    if key is not None:
                        if row[key] in seen:
                            continue
                        seen.add(row[key])
                    writer.writerow(row)
    for part in parts:
        part.unlink()
    return ctx.path(name)


def _describe(period: Period, queue: str, market: str, vendor: str) -> str:
    filters = [f"{k} {v}" for k, v in (("queue", queue), ("market", market), ("vendor", vendor)) if v]
    return period.label + (f" ({', '.join(filters)})" if filters else "")
