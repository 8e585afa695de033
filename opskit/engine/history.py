"""The run history: one SQLite row per run, safe with the scheduler and a manual run writing at once.

The file is opened in WAL mode with a busy timeout, and every state change is one short ``BEGIN IMMEDIATE``
transaction. A run left ``running`` by a process that died is marked ``abandoned`` the next time the
history is opened, with the reason, never left ``running`` forever.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opskit.engine.accounts import ACCOUNTS_SCHEMA, AccountTables
from opskit.engine.requests_table import REQUESTS_SCHEMA, WebTables
from opskit.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    job TEXT,
    task TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    trigger TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_s REAL,
    error TEXT,
    result TEXT,
    artifacts TEXT NOT NULL DEFAULT '[]',
    folder TEXT NOT NULL,
    host TEXT,
    pid INTEGER,
    pid_started REAL,
    delivery TEXT
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, queued_at);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS scheduler (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    config TEXT NOT NULL,
    stopped_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_slot ON runs (job, scheduled_for);
CREATE TABLE IF NOT EXISTS job_state (
    job TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
"""


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
    requested_by: str | None = None
    """The web user who asked for the run (trigger ``web``, or a backfill started from the web)."""

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


class RunStore(AccountTables, WebTables):
    """The history database of one opskit installation.

    Besides the runs it keeps what the web app writes: run requests, users, sessions, tokens and the
    audit log (``AccountTables`` in accounts.py), and answers the web app's pages (``WebTables`` in
    requests_table.py). Every reader and writer goes through these methods.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add columns that later versions introduced to a history file written by an earlier one."""
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(runs)")}
        for name, kind in (("pid_started", "REAL"), ("delivery", "TEXT"), ("requested_by", "TEXT")):
            if name not in columns:
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        self._db.executescript(REQUESTS_SCHEMA + ACCOUNTS_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _to_record(row: sqlite3.Row) -> RunRecord:
        return _record(row)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; inside ``transaction()`` it joins the outer one."""
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def transaction(self) -> Any:
        """Group many writes into one transaction (the scheduler firing a thousand slots at once)."""
        return self._write()

    def create(
        self,
        *,
        job: str | None,
        task: str,
        params: dict[str, Any],
        trigger: str,
        scheduled_for: datetime,
        folder_root: Path,
        attempt: int = 1,
        status: RunStatus = RunStatus.QUEUED,
        error: str | None = None,
        now: datetime | None = None,
    ) -> RunRecord:
        now = now or utcnow()
        for _ in range(5):  # ids are random within a second; a collision just draws again
            run_id = new_run_id(job or task, now)
            folder = folder_root / run_id
            try:
                with self._write() as db:
                    db.execute("SAVEPOINT create_run")
                    try:
                        db.execute(
                            "INSERT INTO runs (id, job, task, params, trigger, attempt, status, scheduled_for,"
                            " queued_at, error, folder, host, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (
                                run_id,
                                job,
                                task,
                                json.dumps(params, default=str),
                                str(trigger),
                                attempt,
                                str(status),
                                _ts(scheduled_for),
                                _ts(now),
                                error,
                                str(folder),
                                _HOST,
                                _ts(now) if status.final else None,
                            ),
                        )
                    except sqlite3.IntegrityError:
                        db.execute("ROLLBACK TO create_run")
                        db.execute("RELEASE create_run")
                        raise
                    db.execute("RELEASE create_run")
            except sqlite3.IntegrityError:
                continue
            return RunRecord(
                id=run_id,
                job=job,
                task=task,
                params=json.loads(json.dumps(params, default=str)),
                trigger=str(trigger),
                attempt=attempt,
                status=str(status),
                scheduled_for=_parse(_ts(scheduled_for)),  # type: ignore[arg-type]
                queued_at=_parse(_ts(now)),  # type: ignore[arg-type]
                started_at=None,
                finished_at=_parse(_ts(now)) if status.final else None,
                duration_s=None,
                error=error,
                result=None,
                artifacts=[],
                folder=str(folder),
                host=_HOST,
            )
        raise RuntimeError("could not draw a unique run id")

    def mark_running(
        self, run_id: str, *, pid: int, pid_started: float | None = None, now: datetime | None = None
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET status=?, started_at=?, pid=?, pid_started=? WHERE id=?",
                (RunStatus.RUNNING, _ts(now or utcnow()), pid, pid_started, run_id),
            )

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        artifacts: list[str] | None = None,
        now: datetime | None = None,
        only_if_unfinished: bool = False,
    ) -> bool:
        """Record the end of a run. With ``only_if_unfinished``, a run already final is left alone."""
        now = now or utcnow()
        with self._write() as db:
            row = db.execute("SELECT status, started_at FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None or (only_if_unfinished and RunStatus(row["status"]).final):
                return False
            started = _parse(row["started_at"])
            duration = (now - started).total_seconds() if started else None
            db.execute(
                "UPDATE runs SET status=?, finished_at=?, duration_s=?, error=?, result=?,"
                " artifacts=COALESCE(?, artifacts) WHERE id=?",
                (
                    str(status),
                    _ts(now),
                    duration,
                    error,
                    json.dumps(result, default=str) if result is not None else None,
                    json.dumps(artifacts) if artifacts is not None else None,
                    run_id,
                ),
            )
        return True

    def record_delivery(self, run_id: str, delivery: dict[str, Any]) -> None:
        """Store what delivery did after the run: gate verdict, emails queued or sent, alerts posted."""
        with self._write() as db:
            db.execute("UPDATE runs SET delivery=? WHERE id=?", (json.dumps(delivery, default=str), run_id))

    def get(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            matches = self._db.execute(
                "SELECT * FROM runs WHERE id LIKE ? ORDER BY id DESC LIMIT 2", (f"%{run_id}%",)
            ).fetchall()
            if len(matches) != 1:
                raise UsageError(
                    f"no run '{run_id}' in the history",
                    hint="List runs with `runner.py history`"
                    if not matches
                    else "It matches several runs; give more of the id",
                )
            row = matches[0]
        return _record(row)

    def list(self, *, job: str | None = None, status: str | None = None, limit: int = 20) -> list[RunRecord]:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if job:
            sql += " AND job=?"
            args.append(job)
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += " ORDER BY queued_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [_record(r) for r in self._db.execute(sql, args)]

    def last_by_job(self) -> dict[str, RunRecord]:
        rows = self._db.execute(
            "SELECT * FROM runs r WHERE job IS NOT NULL AND queued_at = "
            "(SELECT MAX(queued_at) FROM runs WHERE job = r.job)"
        )
        return {r["job"]: _record(r) for r in rows}

    def mark_dead_runs_abandoned(self, *, now: datetime | None = None) -> list[str]:
        """Runs ``running`` on this host whose process is gone become ``abandoned``."""
        host = socket.gethostname()
        rows = self._db.execute(
            "SELECT id, pid, pid_started, host FROM runs WHERE status=?", (RunStatus.RUNNING,)
        ).fetchall()
        dead = [r for r in rows if r["host"] == host and not process_alive(r["pid"], r["pid_started"])]
        for r in dead:
            self.finish(
                r["id"],
                RunStatus.ABANDONED,
                now=now,
                only_if_unfinished=True,
                error=f"its process (pid {r['pid']}) ended without recording a result (crash, kill or reboot)",
            )
        return [r["id"] for r in dead]

    def prune_run_folders(self, keep: timedelta, *, now: datetime | None = None) -> list[Path]:
        """Delete run folders of finished runs older than ``keep``; the history rows stay."""
        cutoff = _ts((now or utcnow()) - keep)
        removed = []
        for row in self._db.execute(
            "SELECT folder FROM runs WHERE finished_at < ? AND status NOT IN (?, ?)",
            (cutoff, RunStatus.QUEUED, RunStatus.RUNNING),
        ):
            folder = Path(row["folder"])
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

    # -- per-job state (pause/resume, task memory such as sla_watch's last states) --

    def job_state(self, job: str) -> dict[str, Any]:
        row = self._db.execute("SELECT paused, data FROM job_state WHERE job=?", (job,)).fetchone()
        if row is None:
            return {"paused": False}
        return {"paused": bool(row["paused"]), **json.loads(row["data"])}

    def set_last_slots(self, slots: dict[str, datetime]) -> None:
        """Remember the last slot the scheduler handled, for many jobs in one statement."""
        now = _ts(utcnow())
        with self._write() as db:
            db.executemany(
                "INSERT INTO job_state (job, updated_at, data) VALUES (?, ?, json_object('last_slot', ?)) "
                "ON CONFLICT(job) DO UPDATE SET data=json_set(data, '$.last_slot', excluded.data ->> '$.last_slot'),"
                " updated_at=excluded.updated_at",
                [(job, now, slot.isoformat()) for job, slot in slots.items()],
            )

    def set_job_data(self, job: str, **values: Any) -> None:
        """Merge ``values`` into the job's persisted state (e.g. the last slot the scheduler handled)."""
        with self._write() as db:
            row = db.execute("SELECT data FROM job_state WHERE job=?", (job,)).fetchone()
            data = {**(json.loads(row["data"]) if row else {}), **values}
            db.execute(
                "INSERT INTO job_state (job, updated_at, data) VALUES (?,?,?) ON CONFLICT(job) "
                "DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
                (job, _ts(utcnow()), json.dumps(data, default=str)),
            )

    def has_slot(self, job: str, scheduled_for: datetime, *, count_skipped: bool = True) -> bool:
        """Whether the scheduler already handled this slot (ran, queued or skipped it): never twice.

        ``count_skipped=False`` asks whether it ran (or runs): what backfill wants to know.
        """
        sql = "SELECT 1 FROM runs WHERE job=? AND scheduled_for=? AND trigger IN (?,?,?)"
        args: list[Any] = [job, _ts(scheduled_for), Trigger.SCHEDULE, Trigger.CATCH_UP, Trigger.BACKFILL]
        if not count_skipped:
            sql += " AND status != ?"
            args.append(RunStatus.SKIPPED)
        return self._db.execute(sql + " LIMIT 1", args).fetchone() is not None

    def last_slot(self, job: str) -> datetime | None:
        """The latest slot the scheduler handled for ``job``, from the history itself."""
        row = self._db.execute(
            "SELECT MAX(scheduled_for) AS at FROM runs WHERE job=? AND trigger IN (?,?)",
            (job, Trigger.SCHEDULE, Trigger.CATCH_UP),
        ).fetchone()
        return _parse(row["at"]) if row else None

    def usual_duration(self, job: str, *, last: int = 10) -> float | None:
        """The median duration of the job's last successful runs, in seconds (None before any)."""
        rows = [
            r["duration_s"]
            for r in self._db.execute(
                "SELECT duration_s FROM runs WHERE job=? AND status=? AND duration_s IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT ?",
                (job, RunStatus.SUCCEEDED, last),
            )
        ]
        if not rows:
            return None
        rows.sort()
        mid = len(rows) // 2
        return rows[mid] if len(rows) % 2 else (rows[mid - 1] + rows[mid]) / 2

    def last_success_by_job(self) -> dict[str, RunRecord]:
        rows = self._db.execute(
            "SELECT * FROM runs r WHERE job IS NOT NULL AND status=? AND finished_at = "
            "(SELECT MAX(finished_at) FROM runs WHERE job = r.job AND status=?)",
            (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED),
        )
        return {r["job"]: _record(r) for r in rows}

    def discard_unstarted(self, run_ids: list[str]) -> None:
        """Delete runs the scheduler created ahead of their slot and never started (a reload or a stop)."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM runs WHERE id=? AND status=? AND started_at IS NULL",
                [(run_id, RunStatus.QUEUED) for run_id in run_ids],
            )

    def by_status(self, status: RunStatus) -> list[RunRecord]:
        return [
            _record(r) for r in self._db.execute("SELECT * FROM runs WHERE status=? ORDER BY queued_at, id", (status,))
        ]

    # -- the scheduler's heartbeat --

    def heartbeat(self, *, pid: int, config: str, started_at: datetime, now: datetime | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO scheduler (id, pid, host, started_at, heartbeat_at, config) VALUES "
                "(1,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, host=excluded.host, "
                "started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, "
                "config=excluded.config, stopped_at=NULL",
                (pid, socket.gethostname(), _ts(started_at), _ts(now or utcnow()), config),
            )

    def scheduler_stopped(self, *, now: datetime | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE scheduler SET stopped_at=? WHERE id=1", (_ts(now or utcnow()),))

    def scheduler_info(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM scheduler WHERE id=1").fetchone()
        if row is None:
            return None
        info = dict(row)
        for key in ("started_at", "heartbeat_at", "stopped_at"):
            info[key] = _parse(info[key])
        return info

    def set_paused(self, job: str, paused: bool) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO job_state (job, paused, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(job) DO UPDATE SET paused=excluded.paused, updated_at=excluded.updated_at",
                (job, int(paused), _ts(utcnow())),
            )


_HOST = socket.gethostname()


def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether ``pid`` is the same process that started the run (guards against pid reuse)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is None:
        return True
    import psutil

    try:
        process = psutil.Process(pid)
        # A zombie has ended; it only waits for its parent to read its exit status.
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _record(row: sqlite3.Row) -> RunRecord:
    """A history row as a RunRecord (also ``RunStore._to_record``, for the tables mixed in)."""
    return RunRecord(
        id=row["id"],
        job=row["job"],
        task=row["task"],
        params=json.loads(row["params"]),
        trigger=row["trigger"],
        attempt=row["attempt"],
        status=row["status"],
        scheduled_for=_parse(row["scheduled_for"]),  # type: ignore[arg-type]
        queued_at=_parse(row["queued_at"]),  # type: ignore[arg-type]
        started_at=_parse(row["started_at"]),
        finished_at=_parse(row["finished_at"]),
        duration_s=row["duration_s"],
        error=row["error"],
        result=json.loads(row["result"]) if row["result"] else None,
        artifacts=json.loads(row["artifacts"]),
        folder=row["folder"],
        host=row["host"],
        pid=row["pid"],
        delivery=json.loads(row["delivery"]) if row["delivery"] else None,
        requested_by=row["requested_by"],
    )
