"""The run history: one SQLite row per run, safe with the scheduler and a manual run writing at once.

The file is opened in WAL mode with a busy timeout, and every state change is one short ``BEGIN IMMEDIATE``
transaction. A run left ``running`` by a process that died is marked ``abandoned`` the next time the
history is opened, with the reason, never left ``running`` forever.

Each run also names its owner (owners.py): the scheduler or the ``runner.py run`` that answers for it. A
run whose owner died is found again (``running_here``, ``undelivered``) and taken over (``take_over``), and
its delivery is claimed by one process only (``claim_delivery``), so its email or alert goes out once.

Secrets never reach the database: a store given a ``Redactor`` (the worker passes the run's, which knows
every ``ctx.secret`` value; the commands and the scheduler pass the config's) scrubs every parameter,
error, result and delivery record it writes, in every encoded form (opskit/redact.py). A SQLite file is
owner-only.

When SQLite cannot do its work (the file is locked by another process for longer than the busy timeout,
the disk is full, the file cannot be opened), every method raises ``HistoryUnavailable``: one line that
names the file and the cause, never a traceback; the scheduler backs off and tries again.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from opskit.engine.accounts import AccountTables
from opskit.engine.database import Db, is_url, redact_url
from opskit.engine.migrate import current_revision, upgrade, upgrade_if_needed
from opskit.engine.owners import owner_alive, process_alive
from opskit.engine.records import RunRecord, RunStatus, Trigger, from_ts, new_run_id, record_from_row, to_ts, utcnow
from opskit.engine.requests_table import WebTables
from opskit.engine.workers_table import WorkerTables
from opskit.errors import OpskitError, UsageError
from opskit.files import private_database
from opskit.redact import Redactor, scrub

__all__ = [
    "DELIVERABLE",
    "HistoryUnavailable",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "Trigger",
    "new_run_id",
    "process_alive",
    "utcnow",
]

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's write to finish before the history is "locked"."""
CONNECT_TIMEOUT_S = 10.0
"""How long opening a connection to a history server (PostgreSQL) may take before it is "unavailable"."""

DELIVERABLE = ("succeeded", "failed", "timed_out", "abandoned")
"""The final states after which delivery has something to say (a skipped run has nothing)."""
_CLAIMED = """delivery LIKE '{"state": "claimed"%'"""
"""A run whose delivery is claimed and not recorded yet (``claim_delivery`` writes this JSON first)."""
SLOT_TRIGGERS = (Trigger.SCHEDULE, Trigger.CATCH_UP)
"""The triggers of runs the unique (job, slot) index covers: each such slot is recorded once."""


class HistoryUnavailable(OpskitError):
    """The run history cannot be read or written now: locked by another process, disk full, unreachable.

    Worth trying again later (``retryable``); the command line exits with 3.
    """

    exit_code = 3
    retryable = True

    @classmethod
    def from_sqlite(cls, exc: BaseException, path: Path | str, busy_timeout_s: float) -> HistoryUnavailable:
        text = " ".join(str(getattr(exc, "orig", None) or exc).split())
        if "locked" in text or "busy" in text:
            return cls(
                f"the run history {path} is locked: another process has held it for more than {busy_timeout_s:g}s",
                hint="Try again in a moment; a long backup or an open sqlite3 shell can hold it",
            )
        if "full" in text:
            return cls(
                f"the run history {path} cannot be written: the disk is full",
                hint="Free some space on its disk, then try again",
            )
        return cls(f"the run history {path} cannot be used: {text}")

    @classmethod
    def from_server(cls, exc: BaseException, where: str) -> HistoryUnavailable:
        """A database server that cannot be reached or answered with an error (the URL shown without password)."""
        text = " ".join(str(getattr(exc, "orig", None) or exc).split())
        text = text.split(" (Background on this error")[0][:300]
        return cls(
            f"the run history {where} cannot be reached: {text}",
            hint="Check that the database server runs and accepts connections; opskit tries again",
        )


def patiently(call: Callable[[], _T], seconds: float | None, logger: logging.Logger) -> _T:
    """``call()``, tried again every second while the history is unavailable: for ``seconds`` (then the last
    HistoryUnavailable is raised), or for ever with None. The first wait is logged once, on ``logger``.

    For processes that must not lose what they record while a database restarts (a run's start and end on a
    worker, a worker taking a run)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    warned = False
    while True:
        try:
            return call()
        except HistoryUnavailable as exc:
            if deadline is not None and time.monotonic() > deadline:
                raise
            if not warned:
                logger.warning("%s; trying again every second", exc)
                warned = True
            time.sleep(PATIENCE_RETRY_S)


PATIENCE_RETRY_S = 1.0


class SlotTaken(OpskitError):
    """Another scheduler already recorded this (job, slot): the unique index refused the second one."""


_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")
Records = list[RunRecord]
"""``list[RunRecord]``, spelt so inside ``RunStore``, whose ``list`` method hides the builtin there."""
RunIds = list[str]
Paths = list[Path]
Args = list[Any]


def _guarded(method: _F) -> _F:
    """Turn the database's operational errors (locked, full, I/O, server gone) into one ``HistoryUnavailable``."""

    @functools.wraps(method)
    def guarded(self: RunStore, *args: Any, **kwargs: Any) -> Any:
        return RunStore.call(self, lambda: method(self, *args, **kwargs))

    return guarded  # type: ignore[return-value]


class RunStore(AccountTables, WebTables, WorkerTables):
    """The history database of one opskit installation: a SQLite file, or a PostgreSQL database.

    Besides the runs it keeps what the web app writes: run requests, users, sessions, tokens and the
    audit log (``AccountTables`` in accounts.py), and answers the web app's pages (``WebTables`` in
    requests_table.py). Every reader and writer goes through these methods, on SQLAlchemy Core
    (database.py); the schema is Alembic's (migrate.py), brought up to date when the store opens.

    Args:
        path: The SQLite file (created with its folder when missing), or a ``postgresql://`` URL.
        owner: Who answers for the runs this store creates (owners.py); None leaves them unowned.
        busy_timeout_s: How long a write waits for another process's; default ``BUSY_TIMEOUT_S``.
        redactor: Scrubs secrets from every parameter, error, result and delivery record written.

    Raises:
        HistoryUnavailable: from any method, when the database cannot do its work (locked, disk full, down).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        owner: str | None = None,
        busy_timeout_s: float | None = None,
        redactor: Redactor | None = None,
        upgrade: bool = True,
    ):
        # ``upgrade=False``: leave the schema as it is (``runner.py db upgrade`` reports what it does itself).
        self.url = path if is_url(path) else None
        self.path = Path(path) if self.url is None else Path(redact_url(path))
        self.where = redact_url(path)
        """The history as messages name it: the file, or the URL without its password."""
        self.owner = owner
        self.redactor = redactor
        self._local = threading.local()  # .guards: public methods under way in this thread (see ``call``)
        self.busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        if self.url is None:
            private_database(self.path)  # owner-only from its first byte, -wal and -shm too
        try:
            self._db = Db(path, busy_timeout_s=self.busy_timeout_s, connect_timeout_s=CONNECT_TIMEOUT_S)
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number, say
            raise UsageError(f"history: cannot use {self.where}: {exc}") from None
        except ImportError as exc:
            raise UsageError(f"history: the database driver for {self.where} is not installed: {exc}") from None
        if not upgrade:
            return
        try:
            upgrade_if_needed(self._db)
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            unavailable = self._unavailable(exc)
            self._db.close()
            raise unavailable from exc

    def call(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` (one or more statements on this store) speaking ``HistoryUnavailable`` for the
        database's operational errors. Every public method goes through it.

        A server restarted since our last statement leaves a dead connection: the call is tried once more
        on a new one when the failure came before anything was written (a failure then is a real outage).
        """
        outermost = not self._db.in_transaction
        self._local.guards = getattr(self._local, "guards", 0) + 1
        try:
            return work()
        except sa.exc.DBAPIError as exc:
            if not (outermost and self._db.postgres and exc.connection_invalidated):
                raise self._unavailable(exc) from exc
            self._db.lost()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        finally:
            self._local.guards -= 1
        try:
            return work()
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            raise self._unavailable(exc) from exc

    def upgrade_schema(self) -> tuple[str | None, str | None]:
        """Run the migrations this history lacks; returns its revision before and after."""
        before = current_revision(self._db)
        upgrade(self._db)
        return before, current_revision(self._db)

    @property
    def connected_at(self) -> float:
        """When (``time.monotonic``) the connection in use was opened: later than before after an outage,
        even one this store never saw fail (a call finding its connection dead is tried again)."""
        return self._db.connected_at

    @property
    def postgres(self) -> bool:
        """Whether the history is on PostgreSQL (several machines may share it)."""
        return self._db.postgres

    def _unavailable(self, exc: BaseException) -> BaseException:
        if self._db.postgres:
            if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError | sa.exc.DataError):
                return exc  # a bug, not an unreachable server: keep its traceback
            self._db.lost()  # whatever happened to it, the next statement starts on a fresh connection
            return HistoryUnavailable.from_server(exc, self.where)
        if isinstance(
            exc,
            sqlite3.IntegrityError
            | sqlite3.ProgrammingError
            | sqlite3.InterfaceError
            | sa.exc.IntegrityError
            | sa.exc.ProgrammingError
            | sa.exc.InterfaceError,
        ):
            return exc  # a bug, not an unavailable file: keep its traceback
        return HistoryUnavailable.from_sqlite(exc, self.path, self.busy_timeout_s)

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _to_record(row: Any) -> RunRecord:
        """A history row as a RunRecord, for the tables mixed in."""
        return record_from_row(row)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Db]:
        """One write transaction; inside ``transaction()`` it joins the outer one."""
        if self._db.in_transaction:
            yield self._db
            return
        try:
            self._db.begin()
        except sa.exc.DBAPIError as exc:
            guarded = int(getattr(self._local, "guards", 0)) > 0
            if self._db.postgres and exc.connection_invalidated and guarded:
                raise  # nothing was written: the public method tries once more on a new connection
            raise self._unavailable(exc) from exc
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        try:
            yield self._db
            self._db.commit()
        except BaseException as exc:
            self._db.rollback()
            if isinstance(exc, sa.exc.DBAPIError | sqlite3.Error):
                unavailable = self._unavailable(exc)
                if unavailable is exc:
                    raise
                raise unavailable from exc
            raise

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
        """Record a new run (queued, or already final for a skipped slot), owned by this store's owner."""
        now = now or utcnow()
        params, error = scrub(params, self.redactor), scrub(error, self.redactor)
        for _ in range(5):  # ids are random within a second; a collision just draws again
            run_id = new_run_id(job or task, now)
            folder = folder_root / run_id
            try:
                with self._write() as db:
                    db.execute("SAVEPOINT create_run")
                    try:
                        db.execute(
                            "INSERT INTO runs (id, job, task, params, trigger, attempt, status, scheduled_for,"
                            " queued_at, error, folder, host, finished_at, owner)"
                            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (
                                run_id,
                                job,
                                task,
                                json.dumps(params, default=str),
                                str(trigger),
                                attempt,
                                str(status),
                                to_ts(scheduled_for),
                                to_ts(now),
                                error,
                                str(folder),
                                _HOST,
                                to_ts(now) if status.final else None,
                                self.owner,
                            ),
                        )
                    except sa.exc.IntegrityError:
                        db.execute("ROLLBACK TO create_run")
                        db.execute("RELEASE create_run")
                        if job is not None and trigger in SLOT_TRIGGERS and self._slot_taken(job, scheduled_for):
                            raise SlotTaken(f"{job}: slot {to_ts(scheduled_for)} is already in the history") from None
                        raise
                    db.execute("RELEASE create_run")
            except sa.exc.IntegrityError:
                continue
            return RunRecord(
                id=run_id,
                job=job,
                task=task,
                params=json.loads(json.dumps(params, default=str)),
                trigger=str(trigger),
                attempt=attempt,
                status=str(status),
                scheduled_for=from_ts(to_ts(scheduled_for)),  # type: ignore[arg-type]
                queued_at=from_ts(to_ts(now)),  # type: ignore[arg-type]
                started_at=None,
                finished_at=from_ts(to_ts(now)) if status.final else None,
                duration_s=None,
                error=error,
                result=None,
                artifacts=[],
                folder=str(folder),
                host=_HOST,
                owner=self.owner,
            )
        raise RuntimeError("could not draw a unique run id")

    def _slot_taken(self, job: str, scheduled_for: datetime) -> bool:
        sql = "SELECT 1 FROM runs WHERE job=? AND scheduled_for=? AND trigger IN (?,?) LIMIT 1"
        return self._db.execute(sql, (job, to_ts(scheduled_for), *SLOT_TRIGGERS)).fetchone() is not None

    def mark_running(
        self, run_id: str, *, pid: int, pid_started: float | None = None, now: datetime | None = None
    ) -> bool:
        """Record that the run's process started; False when the run had already ended (a parent that gave up
        waiting recorded ``timed_out`` before a slow worker got here): that end stands and the task must not run.
        """
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET status=?, started_at=?, pid=?, pid_started=? WHERE id=? AND status IN (?, ?)",
                (
                    RunStatus.RUNNING,
                    to_ts(now or utcnow()),
                    pid,
                    pid_started,
                    run_id,
                    RunStatus.QUEUED,
                    RunStatus.RUNNING,
                ),
            )
        return bool(cursor.rowcount)

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
        error, result = scrub(error, self.redactor), scrub(result, self.redactor)
        artifacts = scrub(artifacts, self.redactor)  # a file name can carry a secret (a download's, a page's)
        with self._write() as db:
            row = db.execute("SELECT status, started_at FROM runs WHERE id=?" + db.for_update, (run_id,)).fetchone()
            if row is None or (only_if_unfinished and RunStatus(row["status"]).final):
                return False
            started = from_ts(row["started_at"])
            duration = (now - started).total_seconds() if started else None
            db.execute(
                "UPDATE runs SET status=?, finished_at=?, duration_s=?, error=?, result=?,"
                " artifacts=COALESCE(?, artifacts) WHERE id=?",
                (
                    str(status),
                    to_ts(now),
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
        delivery = scrub(delivery, self.redactor)
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
        return record_from_row(row)

    def list(self, *, job: str | None = None, status: str | None = None, limit: int = 20) -> Records:
        sql, args = "SELECT * FROM runs WHERE 1=1", Args()
        if job:
            sql += " AND job=?"
            args.append(job)
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += f" ORDER BY queued_at DESC, {self._db.rowid} DESC LIMIT ?"
        args.append(limit)
        return [record_from_row(r) for r in self._db.execute(sql, args)]

    def last_by_job(self) -> dict[str, RunRecord]:
        rows = self._db.execute(
            "SELECT * FROM runs r WHERE job IS NOT NULL AND queued_at = "
            "(SELECT MAX(queued_at) FROM runs WHERE job = r.job)"
        )
        return {r["job"]: record_from_row(r) for r in rows}

    def mark_dead_runs_abandoned(
        self, *, now: datetime | None = None, me: str | None = None, scheduler_alive: bool = False
    ) -> RunIds:
        """Runs ``running`` on this host whose process is gone, and whose owner is too, become ``abandoned``.

        A run whose owner still lives is its owner's to record (it reads the exit code, and may retry).

        Args:
            me: The caller's owner string (its own runs are its own to record).
            scheduler_alive: Whether a scheduler holds the lock (it answers for the runs schedulers own).
        """
        dead = [
            r
            for r in self.running_here()
            if not process_alive(r.pid, r.pid_started)
            and not owner_alive(r.owner, me=me, scheduler_alive=scheduler_alive)
        ]
        for r in dead:
            self.finish(
                r.id,
                RunStatus.ABANDONED,
                now=now,
                only_if_unfinished=True,
                error=f"its process (pid {r.pid}) ended without recording a result (crash, kill or reboot)",
            )
        return [r.id for r in dead]

    def running_here(self) -> Records:
        """Runs ``running`` on this host (the only ones whose process can be checked)."""
        return [r for r in self.by_status(RunStatus.RUNNING) if r.host == socket.gethostname()]

    def undelivered(self) -> Records:
        """Owned job runs that ended and were not delivered (yet), or whose delivery is claimed and not done.

        Whether their owner (or claimant) is gone is the caller's question (recovery.py).
        """
        statuses = ",".join("?" * len(DELIVERABLE))
        rows = self._db.execute(
            "SELECT * FROM runs WHERE delivery IS NULL AND job IS NOT NULL AND owner IS NOT NULL"
            f" AND status IN ({statuses}) UNION ALL SELECT * FROM runs WHERE {_CLAIMED}"
            " ORDER BY finished_at, id",
            DELIVERABLE,
        )
        return [record_from_row(r) for r in rows]

    def take_over(self, run_ids: RunIds) -> None:
        """Make this store's owner answer for these runs (a scheduler adopting or restarting them)."""
        with self._write() as db:
            db.executemany("UPDATE runs SET owner=? WHERE id=?", [(self.owner, run_id) for run_id in run_ids])

    def claim_delivery(self, run_id: str, *, claimer: str, scheduler_alive: bool = False) -> bool:
        """Take the right to deliver a run that ended; False when delivered, or being delivered, by another.

        The claim is stored in the run's ``delivery`` (replaced by the delivery record when done). A claim
        whose claimer died is taken over, so a crash mid-delivery never loses the email or the alert;
        delivery itself reuses a message already in the outbox, so it is never sent twice either.
        """
        with self._write() as db:
            row = db.execute("SELECT delivery FROM runs WHERE id=?" + db.for_update, (run_id,)).fetchone()
            if row is None:
                return False
            current = json.loads(row["delivery"]) if row["delivery"] else None
            if current is not None:
                holder = current.get("claimed_by") if current.get("state") == "claimed" else None
                if holder == claimer:
                    return True  # ours already: a delivery tried again after a failure
                if holder is None or owner_alive(holder, scheduler_alive=scheduler_alive):
                    return False
            claim = {"state": "claimed", "claimed_by": claimer, "at": to_ts(utcnow())}  # _CLAIMED matches it
            db.execute("UPDATE runs SET delivery=? WHERE id=?", (json.dumps(claim), run_id))
        return True

    def prune_run_folders(self, keep: timedelta, *, now: datetime | None = None) -> Paths:
        """Delete run folders of finished runs older than ``keep``; the history rows stay."""
        cutoff = to_ts((now or utcnow()) - keep)
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
        now = to_ts(utcnow())
        with self._write() as db:
            known = (
                {
                    row["job"]: row["data"]
                    for row in db.execute(
                        f"SELECT job, data FROM job_state WHERE job IN ({','.join('?' * len(slots))}){db.for_update}",
                        list(slots),
                    )
                }
                if slots
                else {}
            )
            db.executemany(
                "INSERT INTO job_state (job, updated_at, data) VALUES (?, ?, ?) "
                "ON CONFLICT(job) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
                [
                    (job, now, json.dumps({**json.loads(known.get(job) or "{}"), "last_slot": slot.isoformat()}))
                    for job, slot in slots.items()
                ],
            )

    def set_job_data(self, job: str, **values: Any) -> None:
        """Merge ``values`` into the job's persisted state (e.g. the last slot the scheduler handled)."""
        with self._write() as db:
            row = db.execute("SELECT data FROM job_state WHERE job=?" + db.for_update, (job,)).fetchone()
            data = {**(json.loads(row["data"]) if row else {}), **values}
            db.execute(
                "INSERT INTO job_state (job, updated_at, data) VALUES (?,?,?) ON CONFLICT(job) "
                "DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
                (job, to_ts(utcnow()), json.dumps(data, default=str)),
            )

    def has_slot(self, job: str, scheduled_for: datetime, *, count_skipped: bool = True) -> bool:
        """Whether the scheduler already handled this slot (ran, queued or skipped it): never twice.

        ``count_skipped=False`` asks whether it ran (or runs): what backfill wants to know.
        """
        sql = "SELECT 1 FROM runs WHERE job=? AND scheduled_for=? AND trigger IN (?,?,?)"
        args: Args = [job, to_ts(scheduled_for), Trigger.SCHEDULE, Trigger.CATCH_UP, Trigger.BACKFILL]
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
        return from_ts(row["at"]) if row else None

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
        return {r["job"]: record_from_row(r) for r in rows}

    def discard_unstarted(self, run_ids: RunIds) -> None:
        """Delete runs the scheduler created ahead of their slot and never started (a reload or a stop)."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM runs WHERE id=? AND status=? AND started_at IS NULL",
                [(run_id, RunStatus.QUEUED) for run_id in run_ids],
            )

    def by_status(self, status: RunStatus) -> Records:
        return [
            record_from_row(r)
            for r in self._db.execute("SELECT * FROM runs WHERE status=? ORDER BY queued_at, id", (status,))
        ]

    # -- the scheduler's heartbeat --

    def heartbeat(self, *, pid: int, config: str, started_at: datetime, now: datetime | None = None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO scheduler (id, pid, host, started_at, heartbeat_at, config) VALUES "
                "(1,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, host=excluded.host, "
                "started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, "
                "config=excluded.config, stopped_at=NULL",
                (pid, socket.gethostname(), to_ts(started_at), to_ts(now or utcnow()), config),
            )

    def scheduler_stopped(self, *, now: datetime | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE scheduler SET stopped_at=? WHERE id=1", (to_ts(now or utcnow()),))

    def scheduler_info(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM scheduler WHERE id=1").fetchone()
        if row is None:
            return None
        info = dict(row)
        for key in ("started_at", "heartbeat_at", "stopped_at"):
            info[key] = from_ts(info[key])
        return info

    def set_paused(self, job: str, paused: bool) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO job_state (job, paused, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(job) DO UPDATE SET paused=excluded.paused, updated_at=excluded.updated_at",
                (job, int(paused), to_ts(utcnow())),
            )


# Every public method speaks HistoryUnavailable instead of the database's errors: the store's own, those of the
# tables mixed in (the web app's), and methods added later.
for _klass in reversed(RunStore.__mro__[:-1]):
    for _name, _method in list(vars(_klass).items()):
        if inspect.isfunction(_method) and not _name.startswith("_") and _name != "call":
            setattr(RunStore, _name, _guarded(_method))

_HOST = socket.gethostname()
