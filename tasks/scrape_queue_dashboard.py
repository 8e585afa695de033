"""Snapshot the console's live queue dashboard and append it to a history workbook."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from opskit import DataError, DataPath, Result, RunContext, task
from opskit.reports import human_headers

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
FIELDS = ["snapshot_at", *(name for name, _ in _COLUMNS.values())]


@task(schedule_hint="0 * * * *")
def scrape_queue_dashboard(
    ctx: RunContext,
    *,
    source: str = "console",
    history: DataPath = "queue_history.xlsx",
) -> Result:
    """Read the console's queue dashboard and add each queue's row to a history workbook when it changed.

    The snapshot time is the dashboard's own "as of" time when it shows one, else the run's scheduled
    time; it is stored as a date-time in the job's timezone. A queue's row is added only when something
    on the dashboard changed for it since its last row (a run on an unchanged dashboard adds nothing).
    The workbook (in the data folder) is created with a styled header in words the first time and saved
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
    values = [[snapshot_at, *(_value(r[headers.index(h)], num) for h, (_, num) in _COLUMNS.items())] for r in cells]
    rows = [dict(zip(FIELDS, v, strict=True)) for v in values]
    from opskit.excel import append_changes  # here, not at the top: `runner.py list` imports every task

    path = ctx.data_dir / history
    with ctx.output(path) as tmp:  # created with headers in words the first time; text is stored as text
        added = append_changes(
            path,
            tmp,
            rows,
            fields=FIELDS,
            keys=("queue_id",),
            ignore=("snapshot_at",),
            headers=human_headers(FIELDS, ctx.tz),
            datetimes=("snapshot_at",),
            tz=ctx.tz,
            title="Queue history",
        )
    ctx.log.info("%d of %d queues changed as of %s; added to %s", added, len(rows), snapshot_at, path.name)
    return Result(
        files=[path],
        rows=added,
        summary={
            "snapshot_at": snapshot_at,
            "queues": len(rows),
            "added": added,
            "breached": sum(1 for r in rows if r["sla_status"] == "breached"),
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
