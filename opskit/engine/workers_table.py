"""The history's tables for Celery workers: who is up (a heartbeat row each), and who took which run.

``RunStore`` inherits these methods (``WorkerTables``); the table and the runs' ``worker`` column come
with migration 0003. A worker (``runner.py worker``) writes its row every
``executor.heartbeat``; the scheduler reads it to tell a worker that died (killed, its machine down) from a
run that merely takes long, and ``runner.py status`` lists the workers. A run is taken by one worker only:
``claim_run`` moves it from queued-and-untaken to taken in one statement, so a message Celery delivers twice
(a worker lost, Redis restarted, the scheduler re-sending) never runs twice.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opskit.engine.records import from_ts, to_ts

if TYPE_CHECKING:
    from opskit.engine.database import Db


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """One worker as its last heartbeat left it."""

    name: str
    host: str
    pid: int
    pid_started: float | None
    queues: list[str]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


class WorkerTables:
    """Mixed into ``RunStore``: worker heartbeats and run claims."""

    _db: Db

    def _write(self) -> AbstractContextManager[Db]:  # provided by RunStore
        raise NotImplementedError

    def claim_run(self, run_id: str, *, worker: str, host: str) -> bool:
        """Take a queued run for ``worker``; False when it is not queued, or another worker took it."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE runs SET worker=?, host=? WHERE id=? AND status='queued' AND worker IS NULL",
                (worker, host, run_id),
            )
            return cur.rowcount == 1

    def worker_heartbeat(
        self,
        *,
        name: str,
        host: str,
        pid: int,
        pid_started: float | None,
        queues: list[str],
        concurrency: int,
        started_at: datetime,
        now: datetime,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO workers (name, host, pid, pid_started, queues, concurrency, started_at, heartbeat_at)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET host=excluded.host, pid=excluded.pid,"
                " pid_started=excluded.pid_started, queues=excluded.queues, concurrency=excluded.concurrency,"
                " started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, stopped_at=NULL",
                (name, host, pid, pid_started, json.dumps(queues), concurrency, to_ts(started_at), to_ts(now)),
            )

    def worker_stopped(self, name: str, *, now: datetime) -> None:
        with self._write() as db:
            db.execute("UPDATE workers SET stopped_at=? WHERE name=?", (to_ts(now), name))

    def workers(self, *, include_stopped: bool = False) -> list[WorkerRow]:
        """The workers that ever wrote a heartbeat here (those that stopped cleanly only when asked)."""
        sql = "SELECT * FROM workers" + ("" if include_stopped else " WHERE stopped_at IS NULL")
        return [_worker(row) for row in self._db.execute(sql + " ORDER BY name")]

    def worker(self, name: str) -> WorkerRow | None:
        row = self._db.execute("SELECT * FROM workers WHERE name=?", (name,)).fetchone()
        return _worker(row) if row is not None else None

    def runs_on_workers(self) -> dict[str, list[str]]:
        """The ids of the runs each worker has taken and not finished."""
        taken: dict[str, list[str]] = {}
        for row in self._db.execute(
            "SELECT id, worker FROM runs WHERE worker IS NOT NULL AND status IN ('queued', 'running') ORDER BY id"
        ):
            taken.setdefault(row["worker"], []).append(row["id"])
        return taken

    def run_state(self, run_id: str) -> tuple[str, str | None] | None:
        """A run's status and the worker that took it (None: nobody yet), read in one cheap probe."""
        row = self._db.execute("SELECT status, worker FROM runs WHERE id=?", (run_id,)).fetchone()
        return (row["status"], row["worker"]) if row is not None else None


def _worker(row: Any) -> WorkerRow:
    return WorkerRow(
        name=row["name"],
        host=row["host"],
        pid=row["pid"],
        pid_started=row["pid_started"],
        queues=json.loads(row["queues"]),
        concurrency=row["concurrency"],
        started_at=from_ts(row["started_at"]),  # type: ignore[arg-type]
        heartbeat_at=from_ts(row["heartbeat_at"]),  # type: ignore[arg-type]
        stopped_at=from_ts(row["stopped_at"]),
    )
