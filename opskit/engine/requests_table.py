"""The history's tables for the web app: run requests, and the reads behind its pages.

``RunStore`` inherits these methods (``WebTables``), so the web app never writes SQL of its own: the day
the history moves to another database, these are what is ported. A run request is what "Run now" and a
backfill started from the web write; the scheduler turns each pending one into a run on its next tick
(``opskit/engine/run_requests.py``), so web runs go through the same queue, concurrency and overlap rules
as scheduled ones. The reads are shaped for pages over a long history (500 jobs, 200,000 runs): one
index probe per job, keyset pages, never a scan of every run.
"""

from __future__ import annotations

import enum
import json
import secrets
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opskit.errors import UsageError

if TYPE_CHECKING:
    from opskit.engine.database import Db
    from opskit.engine.history import RunRecord


class RequestStatus(enum.StrEnum):
    """What became of a run request."""

    PENDING = "pending"
    """Waiting for the scheduler's next tick (or for a scheduler to start)."""
    STARTED = "started"
    """The scheduler planned it and recorded its run (queued, running, done, or skipped with a reason)."""
    REJECTED = "rejected"
    """It could not be planned (the job left the config, a parameter no longer validates): ``error`` says why."""
    CANCELLED = "cancelled"
    """Its requester (or an admin) withdrew it before the scheduler took it."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run asked for from the web app, waiting for the scheduler or turned into a run."""

    id: str
    job: str
    overrides: dict[str, Any]
    trigger: str
    scheduled_for: datetime
    options: dict[str, Any]
    requested_by: str
    requested_at: datetime
    status: str
    run_id: str | None
    error: str | None
    handled_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def _request(row: Any) -> RunRequest:
    return RunRequest(
        id=row["id"],
        job=row["job"],
        overrides=json.loads(row["overrides"]),
        trigger=row["trigger"],
        scheduled_for=_parse(row["scheduled_for"]),  # type: ignore[arg-type]
        options=json.loads(row["options"]),
        requested_by=row["requested_by"],
        requested_at=_parse(row["requested_at"]),  # type: ignore[arg-type]
        status=row["status"],
        run_id=row["run_id"],
        error=row["error"],
        handled_at=_parse(row["handled_at"]),
    )


@dataclass(frozen=True, slots=True)
class RunBrief:
    """What a list of jobs shows of a run."""

    id: str
    job: str
    status: str
    trigger: str
    scheduled_for: datetime
    queued_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    rows: int | None
    blocked: bool


class WebTables:
    """Run requests and the web app's reads; mixed into ``RunStore`` (``_db``, ``_write``, ``_to_record``)."""

    _db: Db

    def _write(self) -> AbstractContextManager[Db]:  # provided by RunStore
        raise NotImplementedError

    @staticmethod
    def _to_record(row: Any) -> RunRecord:  # provided by RunStore
        raise NotImplementedError

    # -- run requests (the web app asks, the scheduler plans and queues: engine/run_requests.py) --

    def add_run_request(
        self,
        job: str,
        *,
        overrides: dict[str, Any],
        trigger: str,
        requested_by: str,
        scheduled_for: datetime | None = None,
        options: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> RunRequest:
        """Ask the scheduler to run ``job`` with ``overrides`` (``--param`` strings); it plans it on its next tick."""
        now = now or _now()
        request_id = secrets.token_hex(6)
        with self._write() as db:
            db.execute(
                "INSERT INTO run_requests (id, job, overrides, trigger, scheduled_for, options, requested_by,"
                " requested_at, status) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    request_id,
                    job,
                    json.dumps(overrides),
                    str(trigger),
                    _ts(scheduled_for or now),
                    json.dumps(options or {}),
                    requested_by,
                    _ts(now),
                    RequestStatus.PENDING,
                ),
            )
        return self.get_run_request(request_id)

    def pending_run_requests(self, *, limit: int = 100) -> list[RunRequest]:
        """The oldest requests nobody handled yet; the scheduler asks every tick, so it is one index probe."""
        rows = self._db.execute(
            "SELECT * FROM run_requests WHERE status=? ORDER BY requested_at, id LIMIT ?",
            (RequestStatus.PENDING, limit),
        )
        return [_request(r) for r in rows]

    def close_run_request(
        self,
        request_id: str,
        status: RequestStatus,
        *,
        run_id: str | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record what became of a pending request (started as ``run_id``, rejected with ``error``, cancelled).

        The run (when there is one) gets the requester's name. Only a pending request changes: a request
        turns into at most one run, whoever else looks at it.
        """
        with self._write() as db:
            cursor = db.execute(
                "UPDATE run_requests SET status=?, run_id=?, error=?, handled_at=? WHERE id=? AND status=?",
                (str(status), run_id, error, _ts(now or _now()), request_id, RequestStatus.PENDING),
            )
            if cursor.rowcount and run_id:
                db.execute(
                    "UPDATE runs SET requested_by=(SELECT requested_by FROM run_requests WHERE id=?) WHERE id=?",
                    (request_id, run_id),
                )
        return cursor.rowcount > 0

    def get_run_request(self, request_id: str) -> RunRequest:
        row = self._db.execute("SELECT * FROM run_requests WHERE id=?", (request_id,)).fetchone()
        if row is None:
            raise UsageError(f"no run request '{request_id}'")
        return _request(row)

    def run_requests(self, *, status: str | None = None, limit: int = 50) -> list[RunRequest]:
        sql, args = "SELECT * FROM run_requests", []
        if status:
            sql += " WHERE status=?"
            args.append(status)
        rows = self._db.execute(sql + " ORDER BY requested_at DESC, id DESC LIMIT ?", (*args, limit))
        return [_request(r) for r in rows]

    # -- what the web app's pages read --

    def last_runs(self, jobs: list[str], *, final: bool = False) -> dict[str, RunRecord]:
        """Each job's newest run (with ``final``, its newest finished one): one index probe per job.

        Cheaper than ``last_by_job`` on a long history (500 jobs, 200,000 runs: milliseconds, not a scan).
        """
        sql = "SELECT * FROM runs WHERE job=?" + (" AND finished_at IS NOT NULL" if final else "")
        sql += f" ORDER BY queued_at DESC, {self._db.rowid} DESC LIMIT 1"
        found = {}
        for job in jobs:
            row = self._db.execute(sql, (job,)).fetchone()
            if row is not None:
                found[job] = self._to_record(row)
        return found

    def last_runs_brief(self, jobs: list[str], *, final: bool = False) -> dict[str, RunBrief]:
        """``last_runs`` with only what a list of jobs shows (no JSON parsed but the row count and the gates'
        block): the jobs page over 500 jobs reads 500 small rows."""
        sql = (
            "SELECT id, job, status, trigger, scheduled_for, queued_at, finished_at, duration_s,"
            f" {self._db.json_field('result', 'rows')} AS rows, {self._db.json_field('delivery', 'blocked')} AS blocked"
            " FROM runs WHERE job=?" + (" AND finished_at IS NOT NULL" if final else "")
        )
        sql += f" ORDER BY queued_at DESC, {self._db.rowid} DESC LIMIT 1"
        found = {}
        for job in jobs:
            r = self._db.execute(sql, (job,)).fetchone()
            if r is not None:
                found[job] = RunBrief(
                    id=r["id"],
                    job=r["job"],
                    status=r["status"],
                    trigger=r["trigger"],
                    scheduled_for=_parse(r["scheduled_for"]),  # type: ignore[arg-type]
                    queued_at=_parse(r["queued_at"]),  # type: ignore[arg-type]
                    finished_at=_parse(r["finished_at"]),
                    duration_s=r["duration_s"],
                    rows=r["rows"] if isinstance(r["rows"], int) else None,
                    blocked=bool(r["blocked"]),
                )
        return found

    def runs_page(
        self,
        *,
        jobs: list[str] | None = None,
        status: str | None = None,
        trigger: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Runs newest first, only of ``jobs`` when given (what a user may see), older than the run ``before``."""
        sql, args = "SELECT * FROM runs WHERE 1=1", []  # type: str, list[Any]
        if jobs is not None:
            if not jobs:
                return []
            sql += f" AND job IN ({','.join('?' * len(jobs))})"
            args.extend(jobs)
        if status:
            sql += " AND status=?"
            args.append(status)
        if trigger:
            sql += " AND trigger=?"
            args.append(trigger)
        if before:
            rowid = self._db.rowid
            row = self._db.execute(f"SELECT queued_at, {rowid} AS n FROM runs WHERE id=?", (before,)).fetchone()
            if row is not None:
                sql += f" AND (queued_at < ? OR (queued_at = ? AND {rowid} < ?))"
                args.extend([row["queued_at"], row["queued_at"], row["n"]])
        sql += f" ORDER BY queued_at DESC, {self._db.rowid} DESC LIMIT ?"
        args.append(limit)
        return [self._to_record(r) for r in self._db.execute(sql, args)]

    def job_trend(self, job: str, *, limit: int = 60) -> list[dict[str, Any]]:
        """The job's last finished runs, oldest first: when, status, duration and rows (the job page's chart)."""
        rows = self._db.execute(
            f"SELECT id, status, scheduled_for, duration_s, {self._db.json_field('result', 'rows')} AS rows FROM runs"
            " WHERE job=? AND finished_at IS NOT NULL AND status != ? ORDER BY queued_at DESC LIMIT ?",
            (job, "skipped", limit),
        ).fetchall()
        return [
            {
                "id": r["id"],
                "status": r["status"],
                "scheduled_for": _parse(r["scheduled_for"]),
                "duration_s": r["duration_s"],
                "rows": r["rows"] if isinstance(r["rows"], int) else None,
            }
            for r in reversed(rows)
        ]

    def start_lags(self, *, limit: int = 50) -> list[float]:
        """Seconds between slot and start of the latest scheduled runs: the scheduler's lateness."""
        rows = self._db.execute(
            "SELECT scheduled_for, started_at FROM runs WHERE trigger=? AND started_at IS NOT NULL"
            " ORDER BY queued_at DESC LIMIT ?",
            ("schedule", limit),
        )
        return [
            (datetime.fromisoformat(r["started_at"]) - datetime.fromisoformat(r["scheduled_for"])).total_seconds()
            for r in rows
        ]

    def paused_jobs(self) -> set[str]:
        return {r["job"] for r in self._db.execute("SELECT job FROM job_state WHERE paused=1")}


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
