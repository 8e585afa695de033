"""Export the cases of a period from the Moderation Console through its web UI, checked against its count."""

from __future__ import annotations

import csv
import itertools
import re
import shutil
from pathlib import Path
from typing import Any, Literal

from opskit import DataError, Period, Result, RunContext, task

_NUMERIC = {
    "case_id",
    "handle_seconds",
    "qa_sampled",
    "qa_correct",
    "escalated",
    "appealed",
    "overturned",
}


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
) -> Result:
    """Export a period's cases from the console's case search, checked against the count it shows.

    The console filters by creation day in UTC. One export per combination of queue, market and vendor
    (the console filters one of each at a time); the parts are merged into one file. A file whose row
    count differs from the count the console showed is a DataError, and no output is left.

    Args:
        source: The web tool in config.yaml.
        period: Days whose created cases to export (UTC days, as the console filters).
        queues: Only these queue ids; every queue when empty.
        markets: Only these markets (e.g. DE, BR); every market when empty.
        vendors: Only these vendors (e.g. "Lumen BPO", in-house); every vendor when empty.
        format: csv, xlsx (written from the CSV, text never turned into formulas) or both.
        publish: Also write the CSV to data/cases/<period>.csv for later jobs.
    """
    parts: list[Path] = []
    rows = 0
    with ctx.browser(source) as session:
        for queue, market, vendor in itertools.product(
            queues or ("",), markets or ("",), vendors or ("",)
        ):
            path, shown = session.run(
                lambda q=queue, m=market, v=vendor: _export_one(session, period, q, m, v)
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
        header, count, newest = _scan(csv_path)
    files = [csv_path]
    if publish:
        with ctx.output(ctx.data_dir / "cases" / f"{period.label}.csv") as tmp:
            shutil.copyfile(csv_path, tmp)
    if format in ("xlsx", "both"):
        files.append(_write_xlsx(ctx, csv_path, header))
    if format == "xlsx":
        files.remove(csv_path)
        csv_path.unlink()
    ctx.log.info("exported %d cases of %s in %d part(s)", rows, period.label, len(parts))
    return Result(
        files=files,
        rows=rows,
        summary={"period": period.label, "rows": rows, "columns": header, "newest": newest},
    )


def _export_one(
    session: Any, period: Period, queue: str, market: str, vendor: str
) -> tuple[Path, int]:
    session.goto("/cases")
    session.fill("date_from", period.start.isoformat())
    session.fill("date_to", period.end.isoformat())
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
    with ctx.output(name) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        for i, part in enumerate(parts):
            with open(part, encoding="utf-8", newline="") as fh:
                if i:
                    fh.readline()  # the header (never holds a newline) only once
                shutil.copyfileobj(fh, out)
    for part in parts:
        part.unlink()
    return ctx.path(name)


def _write_xlsx(ctx: RunContext, csv_path: Path, header: list[str]) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from opskit.excel.safe import safe_text

    target = csv_path.with_suffix(".xlsx")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.freeze_panes = "A2"
    numeric = [name in _NUMERIC for name in header]
    with open(csv_path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        ws.append(next(reader))
        for row in reader:
            cells: list[Any] = []
            for value, is_number in zip(row, numeric, strict=False):
                if value == "":
                    cells.append(None)
                elif is_number and value.lstrip("-").isdigit():
                    cells.append(int(value))
                else:
                    text, quoted = safe_text(value)
                    cell = WriteOnlyCell(ws, value=text)
                    cell.data_type = "s"  # never a formula, whatever the text starts with
                    cell.quotePrefix = quoted
                    cells.append(cell)
            ws.append(cells)
    with ctx.output(target) as tmp:
        wb.save(tmp)
    return target


def _describe(period: Period, queue: str, market: str, vendor: str) -> str:
    filters = [
        f"{k} {v}" for k, v in (("queue", queue), ("market", market), ("vendor", vendor)) if v
    ]
    return period.label + (f" ({', '.join(filters)})" if filters else "")
