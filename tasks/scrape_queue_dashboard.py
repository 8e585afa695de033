"""Snapshot the console's live queue dashboard and append it to a history workbook."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from opskit import DataError, Result, RunContext, task

# dashboard header text -> history column (and whether the value is a number)
_COLUMNS = {
    "Queue ID": ("queue_id", False),
    "Name": ("name", False),
    "Channel": ("channel", False),
    "Market": ("market", False),
    "SLA (h)": ("sla_hours", True),
    "Priority": ("priority", True),
    "Backlog": ("backlog", True),
    "Oldest age (h)": ("oldest_age_hours", True),
    "Incoming (24h)": ("incoming_24h", True),
    "Completed (24h)": ("completed_24h", True),
    "SLA status": ("sla_status", False),
}
HEADER = ["snapshot_at", *(name for name, _ in _COLUMNS.values())]


@task(schedule_hint="0 * * * *")
def scrape_queue_dashboard(
    ctx: RunContext,
    *,
    source: str = "console",
    history: str = "queue_history.xlsx",
) -> Result:
    """Read the console's queue dashboard and append one row per queue to a history workbook.

    The snapshot time is the dashboard's own "as of" time when it shows one, else the run's scheduled
    time. The workbook (in the data folder) is created with a header the first time and saved
    atomically; text from the page is always stored as text, never as a formula.

    Args:
        source: The web tool in config.yaml.
        history: The workbook's file name inside the data folder.
    """
    with ctx.browser(source) as session:
        session.goto("/queues")
        headers, cells = session.table("queue_table")
        as_of = session.attribute("as_of", "datetime") if session.exists("as_of") else None
    missing = [h for h in _COLUMNS if h not in headers]
    if missing:
        raise DataError(
            f"the queue table has no column(s) {', '.join(missing)}",
            hint=f"Columns seen: {', '.join(headers)}",
        )
    snapshot_at = as_of or ctx.scheduled_for.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [[snapshot_at, *(_value(r[headers.index(h)], num) for h, (_, num) in _COLUMNS.items())] for r in cells]
    path = _append(ctx, ctx.data_dir / history, rows)
    ctx.log.info("appended %d queues as of %s to %s", len(rows), snapshot_at, path.name)
    return Result(
        files=[path],
        rows=len(rows),
        summary={
            "snapshot_at": snapshot_at,
            "queues": len(rows),
            "breached": sum(1 for r in rows if r[-1] == "breached"),
        },
    )


def _value(text: str, number: bool) -> Any:
    text = text.strip()
    if not number or not text:
        return text or None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def _append(ctx: RunContext, path: Any, rows: list[list[Any]]) -> Any:
    from openpyxl import Workbook, load_workbook

    from opskit.excel.safe import safe_text

    if path.exists():
        wb = load_workbook(path)
        ws = wb["history"] if "history" in wb.sheetnames else wb.active
        found = [c.value for c in ws[1]]
        if found != HEADER:
            raise DataError(
                f"{path.name} has the header {found}, not {HEADER}",
                hint="Move the file away to start a new history",
            )
    else:
        wb = Workbook()
        ws = wb.active
        ws.title = "history"
        ws.append(HEADER)
        ws.freeze_panes = "A2"
    for row in rows:
        index = ws.max_row + 1
        for column, value in enumerate(row, 1):
            cell = ws.cell(row=index, column=column)
            if isinstance(value, str):
                text, quoted = safe_text(value)
                cell.value = text
                cell.data_type = "s"  # text stays text even when it starts with = + - @
                cell.quotePrefix = quoted
            else:
                cell.value = value
    with ctx.output(path) as tmp:
        wb.save(tmp)
    return path
