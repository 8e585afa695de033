"""Which scheduler leads: one ``runner.py schedule`` fires slots, the others wait to take over.

On a SQLite history every scheduler is on one machine, and the lock file (lock.py) decides: a second one
exits. On PostgreSQL, schedulers on several machines share the history; the leader holds a session-level
advisory lock on a connection of its own (``LeaderLock``). PostgreSQL releases the lock the moment that
session ends, however the leader died (kill -9, a crash, a machine that lost power: the server notices
the dropped connection), so a standby that asks every ``STANDBY_POLL_S`` leads within seconds. The leader
re-checks it holds the lock at every round before it fires anything; one that lost it (its connection
broke, the database restarted) takes it again if it is free, and otherwise steps down (``LeadershipLost``):
another scheduler leads now. Whatever happens in between, the history's unique (job, slot) index refuses a
slot recorded twice.

The leader is recorded in ``scheduler_leader`` (host, pid, since, last renewal), for ``runner.py status``:
``current_leader(store)``.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from opskit.engine.database import Db
from opskit.engine.history import HistoryUnavailable, RunStore
from opskit.engine.records import from_ts, to_ts, utcnow
from opskit.errors import OpskitError

LEADER_LOCK = 0x6F70736B69740002
"""The advisory lock key of the scheduler leader ("opskit" and 2); advisory locks are per database."""
STANDBY_POLL_S = 2.0
"""How often a standby asks for the lock: it leads within this (plus its start-up) of the leader's death."""
LEADER_STALE = timedelta(seconds=60)
"""A leader record not renewed for this long is shown as not alive (SQLite, where no lock is visible)."""
_NAME = "scheduler"


class LeadershipLost(OpskitError):
    """This scheduler no longer holds the leader lock, and another one does: it must stop firing slots."""

    exit_code = 3


@dataclass(frozen=True)
class Leader:
    """The scheduler that leads, as recorded: where, which process, since when, and whether it still holds."""

    holder: str
    host: str
    pid: int
    since: datetime
    renewed_at: datetime
    alive: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "since": self.since.isoformat(),
            "renewed_at": self.renewed_at.isoformat(),
            "alive": self.alive,
        }


class LeaderLock:
    """The PostgreSQL advisory lock that makes one scheduler the leader, on a connection of its own.

    The connection is separate from the store's so that the store can reconnect (after a failed
    statement) without dropping the lock, and so that the lock lives exactly as long as this process's
    session with the server.
    """

    def __init__(self, store: RunStore, *, owner: str):
        if not store.postgres or store.url is None:
            raise ValueError("the leader lock is for a PostgreSQL history")
        self.store = store
        self.owner = owner
        self._db = Db(store.url, busy_timeout_s=store.busy_timeout_s, connect_timeout_s=5.0)
        self.held = False
        self.since: datetime | None = None

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take the lock if it is free; record this scheduler as the leader when it is taken.

        Raises:
            HistoryUnavailable: the database cannot be reached (try again later).
        """
        try:
            row = self._db.execute("SELECT pg_try_advisory_lock(?) AS got", (LEADER_LOCK,)).fetchone()
        except sa.exc.DBAPIError as exc:
            self._db.lost()
            self.held = False
            raise HistoryUnavailable.from_server(exc, self._db.where) from exc
        self.held = bool(row and row["got"])
        if self.held:
            self.since = now or utcnow()
            record_leader(self.store, self.owner, since=self.since, now=now)
        return self.held

    def check(self, now: datetime | None = None) -> None:
        """Make sure this scheduler still leads, before it fires anything.

        A lost session (server restarted, connection cut) took the lock with it: take it again when it is
        free, else raise ``LeadershipLost``.

        Raises:
            HistoryUnavailable: the database cannot be reached now (the caller backs off and asks again).
            LeadershipLost: another scheduler holds the lock now.
        """
        try:
            row = self._db.execute(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype='advisory' AND pid=pg_backend_pid()"
                " AND granted AND classid::bigint=? AND objid::bigint=? AND objsubid=1",
                (LEADER_LOCK >> 32, LEADER_LOCK & 0xFFFFFFFF),
            ).fetchone()
            if row and row["n"]:
                return
        except sa.exc.DBAPIError as exc:
            self._db.lost()
            self.held = False
            raise HistoryUnavailable.from_server(exc, self._db.where) from exc
        self.held = False
        if not self.try_acquire(now):
            raise LeadershipLost(
                "this scheduler lost the leader lock (its database session ended) and another scheduler leads now",
                hint="It stops; start it again to wait as a standby",
            )

    def renew(self, now: datetime | None = None) -> None:
        """Note in the leader record that this leader is alive (``runner.py status`` shows when)."""
        if self.held:
            renew_leader(self.store, self.owner, now=now)

    def release(self) -> None:
        """Let a standby lead (closing the session releases the lock, whatever state the connection is in)."""
        self.held = False
        self._db.close()


def record_leader(store: RunStore, holder: str, *, since: datetime, now: datetime | None = None) -> None:
    """Write this process as the leader (replacing whoever was recorded)."""
    now = now or utcnow()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO scheduler_leader (name, holder, host, pid, since, renewed_at, expires_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET holder=excluded.holder,"
            " host=excluded.host, pid=excluded.pid, since=excluded.since, renewed_at=excluded.renewed_at,"
            " expires_at=excluded.expires_at",
            (_NAME, holder, socket.gethostname(), os.getpid(), to_ts(since), to_ts(now), to_ts(now + LEADER_STALE)),
        )


def renew_leader(store: RunStore, holder: str, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    with store.transaction() as db:
        db.execute(
            "UPDATE scheduler_leader SET renewed_at=?, expires_at=? WHERE name=? AND holder=?",
            (to_ts(now), to_ts(now + LEADER_STALE), _NAME, holder),
        )


def current_leader(store: RunStore, *, now: datetime | None = None) -> Leader | None:
    """The scheduler recorded as leader, or None when none ever led this history.

    ``alive``: on PostgreSQL, whether a session holds the leader lock now (a leader killed a moment ago
    is not alive even though its record is fresh); on SQLite, whether its record was renewed within
    ``LEADER_STALE``.

    Raises:
        HistoryUnavailable: the history cannot be read.
    """
    try:
        row = store._db.execute(
            "SELECT holder, host, pid, since, renewed_at, expires_at FROM scheduler_leader WHERE name=?", (_NAME,)
        ).fetchone()
        if row is None:
            return None
        if store.postgres:
            held = store._db.execute(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype='advisory' AND granted"
                " AND classid::bigint=? AND objid::bigint=? AND objsubid=1",
                (LEADER_LOCK >> 32, LEADER_LOCK & 0xFFFFFFFF),
            ).fetchone()
            alive = bool(held and held["n"])
        else:
            alive = (now or utcnow()) < from_ts(row["expires_at"])  # type: ignore[operator]
    except sa.exc.DBAPIError as exc:
        raise store._unavailable(exc) from exc
    return Leader(
        holder=row["holder"],
        host=row["host"],
        pid=int(row["pid"]),
        since=from_ts(row["since"]),  # type: ignore[arg-type]
        renewed_at=from_ts(row["renewed_at"]),  # type: ignore[arg-type]
        alive=alive,
    )


def leader_lock_held(store: RunStore) -> bool:
    """Whether any session holds the leader lock of this PostgreSQL history now (a scheduler runs)."""
    leader = current_leader(store)
    return bool(leader and leader.alive)


def wait_for_leadership(lock: LeaderLock, stopping: threading.Event, log: Any) -> bool:
    """Wait as a standby until this scheduler leads (True) or is asked to stop (False)."""
    said = None
    while not stopping.is_set():
        try:
            if lock.try_acquire():
                return True
            leader = current_leader(lock.store)
            text = f"{leader.host} pid {leader.pid}" if leader else "another scheduler"
            if text != said:
                log.info("standby: %s leads this history; waiting to take over", text)
                said = text
        except HistoryUnavailable as exc:
            log.error("standby: %s", exc)
        stopping.wait(STANDBY_POLL_S)
    return False
