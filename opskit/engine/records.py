"""The run history's records: a run's states, why it exists, and one row as a ``RunRecord``.

Shared by the history (history.py, which stores them) and everything that reads runs back: the scheduler,
the command line, delivery (which only sees the strings: ``RunStatus`` is a ``StrEnum``).
"""

from __future__ import annotations

import enum
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


class RunStatus(enum.StrEnum):
    """Where a run is in its life: queued → running → one of the final states."""

    QUEUED = "queued"
    """Waiting for a free slot."""
    RUNNING = "running"
    """Its process is executing the task."""
    SUCCEEDED = "succeeded"
    """The task returned a result."""
    FAILED = "failed"
    """The task raised, or was interrupted."""
    TIMED_OUT = "timed_out"
    """It ran past its timeout and its process tree was killed."""
    SKIPPED = "skipped"
    """It was not started (overlap, missed slot, paused job); the error says why."""
    ABANDONED = "abandoned"
    """Its process died without recording an end (crash, kill -9, reboot)."""

    @property
    def final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class Trigger(enum.StrEnum):
    """Why a run exists."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    CATCH_UP = "catch-up"
    RETRY = "retry"
    BACKFILL = "backfill"
    WEB = "web"
    """Started from the web app (or its API) by a signed-in user, through the scheduler's queue."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of the history."""

    id: str
    job: str | None
    task: str
    params: dict[str, Any]
    trigger: str
    attempt: int
    status: str
    scheduled_for: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error: str | None
    result: dict[str, Any] | None
    artifacts: list[str] = field(default_factory=list)
    folder: str = ""
    host: str | None = None
    pid: int | None = None
    delivery: dict[str, Any] | None = None
    pid_started: float | None = None
    """The start time of the run's process (with ``pid``, it tells the process from a later one)."""
    owner: str | None = None
    """Who answers for the run (owners.py): ``scheduler:...``, ``pid:...``, or None."""
    requested_by: str | None = None
    """The web user who asked for the run (trigger ``web``, or a backfill started from the web)."""
    worker: str | None = None
    """The Celery worker that took the run (``opskit-default@host:pid``); None for a local run."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def new_run_id(job_or_task: str, now: datetime) -> str:
    """Sortable and readable: ``20261121T083000Z-weekly-ops-review-3f9a1c``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{job_or_task}-{secrets.token_hex(3)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_ts(value: datetime | None) -> str | None:
    """A time as the history stores it: UTC ISO 8601 to the millisecond, which sorts as text."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def from_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_row(row: Any) -> RunRecord:
    """One ``runs`` row as a ``RunRecord`` (JSON columns decoded, times aware)."""
    return RunRecord(
        id=row["id"],
        job=row["job"],
        task=row["task"],
        params=json.loads(row["params"]),
        trigger=row["trigger"],
        attempt=row["attempt"],
        status=row["status"],
        scheduled_for=from_ts(row["scheduled_for"]),  # type: ignore[arg-type]
        queued_at=from_ts(row["queued_at"]),  # type: ignore[arg-type]
        started_at=from_ts(row["started_at"]),
        finished_at=from_ts(row["finished_at"]),
        duration_s=row["duration_s"],
        error=row["error"],
        result=json.loads(row["result"]) if row["result"] else None,
        artifacts=json.loads(row["artifacts"]),
        folder=row["folder"],
        host=row["host"],
        pid=row["pid"],
        delivery=json.loads(row["delivery"]) if row["delivery"] else None,
        pid_started=row["pid_started"],
        owner=row["owner"],
        requested_by=row["requested_by"],
        worker=row["worker"],
    )
