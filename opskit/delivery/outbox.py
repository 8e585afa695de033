"""The outbox: every message as an .eml file plus a small SQLite index, written before any send.

Layout of ``outbox_dir``::

    <id>.eml          the message as sent (no Bcc header); opens in any mail client
    index.sqlite3     one row per message: job, run, subject, envelope recipients, status, attempts, times
    .locks/<id>.lock  per-message lock files, held (flock) while a flusher sends that message

When the history is on PostgreSQL (several machines), the index and the locks are in the history instead:
``outbox_messages`` rows with the message itself and a per-message claim (opskit/engine/outbox_table.py); the .eml files
are still written on the machine that composed them.

A message's life: ``pending -> sending -> sent``; ``sending -> pending`` when the server did not take it
(it refused for now, or the connection broke before the whole message was handed over); ``failed``
(permanently) after a permanent refusal or ``max_attempts``; ``uncertain`` when the whole message was handed
over and no answer came (the server went silent or hung up, or the flusher died), so the server may have
it (see ``smtp.py``). ``failed`` and ``uncertain`` messages are kept and never resent by themselves: a
person decides, with ``resend(id)`` (back to pending) or ``dismiss(id)`` (it arrived after all, or is not
wanted any more: ``dismissed``, never sent).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Any

from opskit.delivery.mail import envelope_recipients, message_bytes
from opskit.errors import UsageError
from opskit.files import PRIVATE_FILE, atomic_write, private_database, private_dir

log = logging.getLogger(__name__)

INDEX_NAME = "index.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          TEXT PRIMARY KEY,
    job         TEXT,
    run_id      TEXT,
    subject     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    recipients  TEXT NOT NULL,          -- JSON list of envelope addresses (To + Cc + Bcc)
    message_id  TEXT,
    status      TEXT NOT NULL,
    phase       TEXT,                   -- while sending: 'envelope' or 'data' (crash recovery)
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status);
CREATE INDEX IF NOT EXISTS messages_run ON messages (run_id);
"""


class OutboxStatus(StrEnum):
    """Where a message is in its life."""

    PENDING = "pending"
    """Saved, not yet accepted by a server; the next flush sends it."""
    SENDING = "sending"
    """A flusher holds it right now (or died holding it; the next flush sorts that out)."""
    SENT = "sent"
    """The server answered 250 to the message; never sent again."""
    FAILED = "failed"
    """Refused permanently or out of attempts; kept, resent only by ``resend``."""
    UNCERTAIN = "uncertain"
    """The whole message was handed over and no answer came (the server went silent or hung up, or the
    flusher died): the server may have it. Never resent by itself; a person decides."""
    KEPT = "kept"
    """Saved by the ``outbox`` backend, which sends nothing: the .eml file is the delivery. Never sent
    later by itself (switching to SMTP does not mail old reports); ``resend`` queues one."""
    DISMISSED = "dismissed"
    """A person closed an uncertain or failed message (it arrived after all, or is no longer wanted):
    kept, never sent."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message in the outbox, as the index describes it."""

    id: str
    job: str | None
    run_id: str | None
    subject: str
    sender: str
    recipients: tuple[str, ...]
    message_id: str | None
    status: OutboxStatus
    phase: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    path: Path

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "job": self.job,
            "run_id": self.run_id,
            "subject": self.subject,
            "recipients": list(self.recipients),
            "status": str(self.status),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "path": str(self.path),
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


_shared_index: Callable[[str], Any] | None = None
"""Opens the outbox's index in a shared history (``opskit.engine.outbox_table.HistoryIndex``, registered by
the engine: delivery never imports the engine)."""


def use_shared_index(factory: Callable[[str], Any]) -> None:
    """Register how the outbox of a shared (PostgreSQL) history opens its index."""
    global _shared_index
    _shared_index = factory


class _FileIndex:
    """The outbox folder's ``index.sqlite3`` and per-message ``flock``s: one machine's outbox (the default)."""

    def __init__(self, folder: Path):
        private_dir(folder / ".locks")
        self.folder = folder
        self.index = private_database(folder / INDEX_NAME)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def insert(self, values: dict[str, Any], body: bytes) -> None:  # the body is the .eml file already
        with closing(self._connect()) as db, db:
            db.execute(
                f"INSERT INTO messages ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )

    def update(self, msg_id: str, sql: str, args: tuple[Any, ...]) -> None:
        with closing(self._connect()) as db, db:
            db.execute(f"UPDATE messages SET {sql} WHERE id = ?", (*args, msg_id))

    def rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[Any]:
        with closing(self._connect()) as db:
            sql = "SELECT * FROM messages" + (f" WHERE {where}" if where else "") + " ORDER BY created_at, id"
            return db.execute(sql, args).fetchall()

    def body(self, msg_id: str) -> bytes | None:
        return None  # the .eml file is the only copy

    @contextmanager
    def lock(self, msg_id: str) -> Iterator[bool]:
        path = self.folder / ".locks" / f"{msg_id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            acquired = _try_lock(fd)
            try:
                yield acquired
            finally:
                if acquired:
                    _unlock(fd)
        finally:
            os.close(fd)


class Outbox:
    """An outbox folder. Cheap to create; every call opens its own short connection.

    Args:
        directory: The folder of the .eml files (and of ``index.sqlite3``, on one machine).
        history: The history's PostgreSQL URL when several machines share it: the index is then the
            history's ``outbox_messages`` table, with each message in it, and sending is claimed per
            message by one node at a time (opskit/engine/outbox_table.py). None: the folder's own index and file locks.
    """

    def __init__(self, directory: Path | str, *, history: str | None = None):
        self.dir = private_dir(directory)
        if history is None:
            self._index: Any = _FileIndex(self.dir)
        elif _shared_index is None:
            raise UsageError("the outbox of a shared history needs opskit.engine.outbox_table imported first")
        else:
            self._index = _shared_index(history)

    # writing
    def add(
        self,
        message: EmailMessage,
        *,
        bcc: Sequence[str] = (),
        job: str | None = None,
        run_id: str | None = None,
        now: datetime | None = None,
    ) -> OutboxEntry:
        """Save a message: the .eml file atomically (temp, fsync, rename), then its index row as pending.

        A crash between the two leaves an .eml with no row: never sent, and the run that made it did not
        finish, so it is retried and builds a new message.
        """
        if "Bcc" in message:
            raise UsageError("pass Bcc recipients as bcc=..., never as a header")
        now = now or _utcnow()
        msg_id = f"{now.astimezone(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        path = self.dir / f"{msg_id}.eml"
        body = message_bytes(message)
        atomic_write(path, body)
        recipients = envelope_recipients(message, bcc)
        self._index.insert(
            {
                "id": msg_id,
                "job": job,
                "run_id": run_id,
                "subject": str(message["Subject"] or ""),
                "sender": _bare(str(message["From"])),
                "recipients": json.dumps(recipients),
                "message_id": str(message["Message-ID"] or ""),
                "status": str(OutboxStatus.PENDING),
                "attempts": 0,
                "created_at": now.astimezone(UTC).isoformat(),
            },
            body,
        )
        log.info("outbox: saved %s for job %s (%d recipients)", msg_id, job, len(recipients))
        return self.get(msg_id)

    def set_state(
        self,
        msg_id: str,
        status: OutboxStatus,
        *,
        phase: str | None = None,
        error: str | None = None,
        count_attempt: bool = False,
        sent_at: datetime | None = None,
    ) -> None:
        """Record a transition (committed before returning, so it survives a crash right after)."""
        self._index.update(
            msg_id,
            "status = ?, phase = ?, last_error = COALESCE(?, last_error), attempts = attempts + ?,"
            " sent_at = COALESCE(?, sent_at)",
            (
                str(status),
                phase,
                error,
                1 if count_attempt else 0,
                sent_at.astimezone(UTC).isoformat() if sent_at else None,
            ),
        )

    def resend(self, msg_id: str) -> OutboxEntry:
        """Put a failed, uncertain or kept message back to pending: a human's decision, never automatic."""
        entry = self.get(msg_id)
        if entry.status not in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN, OutboxStatus.KEPT):
            raise UsageError(f"message {msg_id} is {entry.status}; only failed, uncertain or kept ones can be resent")
        self._index.update(msg_id, "status = ?, phase = NULL, attempts = 0", (str(OutboxStatus.PENDING),))
        return self.get(msg_id)

    def dismiss(self, msg_id: str) -> OutboxEntry:
        """Close an uncertain or failed message for good: a person checked that it arrived, or let it go."""
        entry = self.get(msg_id)
        if entry.status not in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN):
            raise UsageError(f"message {msg_id} is {entry.status}; only failed or uncertain ones can be dismissed")
        self.set_state(msg_id, OutboxStatus.DISMISSED)
        return self.get(msg_id)

    # reading
    def for_run(self, run_id: str) -> list[OutboxEntry]:
        """The messages saved for one run, oldest first."""
        return [self._entry(r) for r in self._index.rows("run_id = ?", (run_id,))]

    def get(self, msg_id: str) -> OutboxEntry:
        rows = self._index.rows("id = ?", (msg_id,))
        if not rows:
            raise UsageError(f"no message {msg_id!r} in the outbox {self.dir}")
        return self._entry(rows[0])

    def entries(self, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """Messages oldest first, optionally only those with ``status``."""
        if status is None:
            return [self._entry(r) for r in self._index.rows()]
        return [self._entry(r) for r in self._index.rows("status = ?", (str(status),))]

    def read_bytes(self, msg_id: str) -> bytes:
        """The message as saved: its .eml file, or (composed on another machine) its copy in the history."""
        path = self.dir / f"{msg_id}.eml"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            body = self._index.body(msg_id)
            if body is None:
                raise
            return body

    def _entry(self, row: Any) -> OutboxEntry:
        return OutboxEntry(
            id=row["id"],
            job=row["job"],
            run_id=row["run_id"],
            subject=row["subject"],
            sender=row["sender"],
            recipients=tuple(json.loads(row["recipients"])),
            message_id=row["message_id"],
            status=OutboxStatus(row["status"]),
            phase=row["phase"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            created_at=datetime.fromisoformat(row["created_at"]),
            sent_at=datetime.fromisoformat(row["sent_at"]) if row["sent_at"] else None,
            path=self.dir / f"{row['id']}.eml",
        )

    # locking
    @contextmanager
    def lock(self, msg_id: str) -> Iterator[bool]:
        """Hold the right to send the message if nobody else does; yields False (holding nothing) when busy.

        On one machine an OS file lock, released when its holder dies; with a shared history, a claim in
        the history that another node takes over when its holder died (opskit/engine/outbox_table.py). A crashed sender
        never blocks the next.
        """
        with self._index.lock(msg_id) as acquired:
            yield acquired


def outbox_of(settings: Any) -> Outbox:
    """The outbox ``email:`` settings name (``config.email_settings()``): the folder, and the shared history."""
    return Outbox(settings.outbox_dir, history=getattr(settings, "shared_history", None))


def outbox_exists(settings: Any) -> bool:
    """Whether there can be messages to read (without creating an empty outbox to find out)."""
    return getattr(settings, "shared_history", None) is not None or (Path(settings.outbox_dir) / INDEX_NAME).exists()


def list_outbox(
    directory: Path | str, status: OutboxStatus | str | None = None, *, history: str | None = None
) -> list[OutboxEntry]:
    """Every message in an outbox, oldest first (for ``runner.py outbox``)."""
    return Outbox(directory, history=history).entries(OutboxStatus(status) if status else None)


def _bare(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(address)[1]


def _try_lock(fd: int) -> bool:
    import fcntl  # POSIX only, like the scheduler's lock (opskit runs on Linux and macOS)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)
