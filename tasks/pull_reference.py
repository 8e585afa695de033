"""Fetch the reference data reports need (queues with their SLA, weekly targets) from the tool's API."""

from __future__ import annotations

import csv
from typing import Any

from opskit import Result, RunContext, SourceUnavailable, task

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
    config = ctx.source(source)
    token = ctx.secret(config.token_env) if config.token_env else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queues = _get(ctx, f"{config.url.rstrip('/')}/api/v1/queues", headers)
    targets = _get(ctx, f"{config.url.rstrip('/')}/api/v1/targets", headers)
    files = [_write(ctx, "queues.csv", QUEUE_COLUMNS, queues), _write(ctx, "targets.csv", TARGET_COLUMNS, targets)]
    ctx.log.info("%d queues and %d targets from %s", len(queues), len(targets), source)
    return Result(
        files=files, rows=len(queues) + len(targets), summary={"queues": len(queues), "targets": len(targets)}
    )


def _get(ctx: RunContext, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    import requests

    try:
        response = ctx.http.get(url, headers=headers)
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach {url} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise SourceUnavailable(f"{url} answered HTTP {response.status_code}")
    return list(response.json()["data"])


def _write(ctx: RunContext, name: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Any:
    target = ctx.data_dir / name
    with ctx.output(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return target
