"""The outbox's index in the history database, for installations where several machines send mail.

It lives in the engine (delivery never imports the engine): ``opskit.delivery.outbox`` is handed it
through ``use_shared_index`` when this module is imported, which every module that delivers or lists mail
with a config in hand does (the courier, recovery, ``runner.py outbox`` and ``status``, the web app).

The folder's ``index.sqlite3`` and its ``flock``s work on one machine. When the history is on PostgreSQL
(``history:`` is a URL), several machines compose and send, so the index is the ``outbox_messages`` table
(migrations/versions/0004) and each row carries the message itself: any node can send what another
composed, after that node died.

Sending is claimed per message, by one node at a time: ``claim`` sets ``claimed_by`` (host, pid, process
start) and ``lease_until`` in one conditional statement, which succeeds only when nobody holds the message
or its holder is gone: on PostgreSQL the row is picked with ``FOR UPDATE SKIP LOCKED`` (a node never waits
for another's claim), on SQLite with a conditional ``UPDATE`` under its write lock. A holder is gone when
its lease ran out (``LEASE``: far longer than any send, whose every step has a timeout) or, on this machine,
when its process no longer exists: a crashed sender's messages are picked up at once, as with the file
locks. What happens to a message whose sender died is the outbox's usual rule (smtp.py): retried when it
died before the message data, ``uncertain`` after; never lost, never sent twice.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from opskit.delivery.outbox import use_shared_index
from opskit.engine.database import Db
from opskit.engine.history import RunStore
from opskit.engine.owners import process_alive

LEASE = timedelta(minutes=10)
"""How long a claim holds without its holder being checked: a holder on another machine that died is
replaced after this long. Every SMTP step has a timeout far below it."""

_stores: dict[tuple[int, str], RunStore] = {}
_stores_lock = threading.Lock()


def _store(target: str) -> RunStore:
    """One store per process and history URL (a forked child opens its own: connections are not shared)."""
    key = (os.getpid(), target)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = RunStore(target)
        return store


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def claimant() -> str:
    """This thread as a claim names it: ``host:pid:start:thread`` (the start time tells a reused pid apart).

    The thread counts: two web requests sending the outbox in one process must not both hold one message's
    claim (the second would read the first's "sending" as a sender that died, and send it again).
    """
    import psutil  # on use: only senders claim

    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.3f}:{threading.get_ident()}"


def _holder_gone(holder: str) -> bool:
    """Whether a claim's holder on this machine has died (one elsewhere is judged by its lease)."""
    parts = holder.split(":")
    try:  # host:pid:start:thread (host:pid:start from before threads counted)
        host, pid, started = parts[0], int(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        return True
    return host == socket.gethostname() and not process_alive(pid, started)


class HistoryIndex:
    """The outbox's rows in the history database (same columns as ``index.sqlite3``'s, plus the message)."""

    def __init__(self, target: str):
        self.store = _store(target)

    @property
    def _db(self) -> Db:
        return self.store._db

    def insert(self, values: dict[str, Any], body: bytes) -> None:
        columns = [*values, "body"]
        sql = f"INSERT INTO outbox_messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.store.call(lambda: self._write(sql, (*values.values(), body)))

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self.store.transaction() as db:
            return db.execute(sql, args).rowcount

    def update(self, msg_id: str, sql: str, args: tuple[Any, ...]) -> None:
        self.store.call(lambda: self._write(f"UPDATE outbox_messages SET {sql} WHERE id = ?", (*args, msg_id)))

    def rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        sql = "SELECT id, job, run_id, subject, sender, recipients, message_id, status, phase, attempts,"
        sql += " last_error, created_at, sent_at FROM outbox_messages"
        sql += (f" WHERE {where}" if where else "") + " ORDER BY created_at, id"
        return self.store.call(lambda: [dict(r) for r in self._db.execute(sql, args)])

    def body(self, msg_id: str) -> bytes | None:
        row = self.store.call(
            lambda: self._db.execute("SELECT body FROM outbox_messages WHERE id = ?", (msg_id,)).fetchone()
        )
        return bytes(row["body"]) if row else None

    def claim(self, msg_id: str, holder: str, *, now: datetime | None = None) -> bool:
        """Take the right to send ``msg_id``; False when a live holder has it (or the row is locked now)."""
        return self.store.call(lambda: self._claim(msg_id, holder, now or _now()))

    def _claim(self, msg_id: str, holder: str, now: datetime) -> bool:
        with self.store.transaction() as db:
            if db.postgres:
                row = db.execute(
                    "SELECT claimed_by, lease_until FROM outbox_messages WHERE id = ? FOR UPDATE SKIP LOCKED",
                    (msg_id,),
                ).fetchone()
            else:
                row = db.execute(
                    "SELECT claimed_by, lease_until FROM outbox_messages WHERE id = ?", (msg_id,)
                ).fetchone()
            if row is None:
                return False  # no such message, or another node is claiming it this instant
            current = row["claimed_by"]
            free = current is None or current == holder or row["lease_until"] < _ts(now) or _holder_gone(current)
            if not free:
                return False
            changed = db.execute(
                "UPDATE outbox_messages SET claimed_by = ?, lease_until = ? WHERE id = ?"
                " AND (claimed_by IS NULL OR claimed_by = ?)",
                (holder, _ts(now + LEASE), msg_id, current),
            )
            # SQLite's write lock makes the read and the update one step; the condition is the guard on both.
            return changed.rowcount == 1

    def release(self, msg_id: str, holder: str) -> None:
        sql = "UPDATE outbox_messages SET claimed_by = NULL, lease_until = NULL WHERE id = ? AND claimed_by = ?"
        self.store.call(lambda: self._write(sql, (msg_id, holder)))

    @contextmanager
    def lock(self, msg_id: str) -> Iterator[bool]:
        holder = claimant()
        acquired = self.claim(msg_id, holder)
        try:
            yield acquired
        finally:
            if acquired:
                self.release(msg_id, holder)


use_shared_index(HistoryIndex)
