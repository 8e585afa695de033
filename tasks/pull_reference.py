"""Fetch the reference data reports need (queues with their SLA, weekly targets) from the tool's API."""

from __future__ import annotations

from typing import Any

from opskit import DataError, Result, RunContext, task
from opskit.excel import csv_dict_writer  # csv and re only: opskit.excel loads openpyxl when a workbook is written

QUEUE_COLUMNS = ("queue_id", "name", "channel", "market", "policy_area", "sla_hours", "priority")
TARGET_COLUMNS = ("period", "level", "key", "metric", "value", "direction")


@task(schedule_hint="0 6 * * *")
def pull_reference(ctx: RunContext, *, source: str = "console") -> Result:
    """Refresh data/queues.csv and data/targets.csv from the source's JSON API.

    Reports read these two files: queues for each queue's SLA hours, targets for what "on target"
    means. Both are written atomically, so a report never reads half a file.

    Args:
        source: The tool in config.yaml whose API serves /api/v1/queues and /api/v1/targets (bearer
            token from its token_env).
    """
    with ctx.api(source) as api:
        queues = _data(api.get("/api/v1/queues"), "/api/v1/queues")
        targets = _data(api.get("/api/v1/targets"), "/api/v1/targets")
    files = [_write(ctx, "queues.csv", QUEUE_COLUMNS, queues), _write(ctx, "targets.csv", TARGET_COLUMNS, targets)]
    ctx.log.info("%d queues and %d targets from %s", len(queues), len(targets), source)
    return Result(
        files=files, rows=len(queues) + len(targets), summary={"queues": len(queues), "targets": len(targets)}
    )


def _data(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise DataError(f"{path} answered without a 'data' list")
    return list(body["data"])


def _write(ctx: RunContext, name: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Any:
    target = ctx.data_dir / name
    with ctx.output(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        # Data for the reports to read back, not for people: an apostrophe before '-' would change it.
        writer = csv_dict_writer(f, columns, extrasaction="ignore", formula_guard=False)
        writer.writeheader()
        writer.writerows(rows)
    return target
