"""The console's SQLite schema and the one case query that the pages, the API, the exports and the
fixture writers share, so that "the filtered cases" means the same rows everywhere.

Times are stored in UTC as ISO 8601 text, ``YYYY-MM-DDTHH:MM:SSZ``: they sort and compare as
strings,
so date filters are plain index range scans.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE labels (
    policy_label TEXT PRIMARY KEY, policy_area TEXT NOT NULL,
    severity INTEGER NOT NULL
);
CREATE TABLE queues (
    queue_id TEXT PRIMARY KEY, name TEXT NOT NULL, channel TEXT NOT NULL, market TEXT NOT NULL,
    policy_area TEXT NOT NULL, sla_hours REAL NOT NULL, priority INTEGER NOT NULL
);
CREATE TABLE moderators (
    moderator_id TEXT PRIMARY KEY, vendor TEXT NOT NULL, site TEXT NOT NULL,
    tenure_days INTEGER NOT NULL
);
CREATE TABLE cases (
    case_id INTEGER PRIMARY KEY, queue_id TEXT NOT NULL, created_at TEXT NOT NULL, assigned_at TEXT,
    completed_at TEXT, moderator_id TEXT, decision TEXT, policy_label TEXT, handle_seconds INTEGER,
    qa_sampled INTEGER NOT NULL, qa_correct INTEGER, escalated INTEGER NOT NULL,
    appealed INTEGER NOT NULL, overturned INTEGER NOT NULL, content_text TEXT NOT NULL,
    username TEXT NOT NULL
);
CREATE TABLE shifts (
    moderator_id TEXT NOT NULL, date TEXT NOT NULL, scheduled_seconds INTEGER NOT NULL,
    productive_seconds INTEGER NOT NULL, training_seconds INTEGER NOT NULL,
    meeting_seconds INTEGER NOT NULL, wellness_seconds INTEGER NOT NULL,
    absence_seconds INTEGER NOT NULL, PRIMARY KEY (moderator_id, date)
);
CREATE TABLE targets (
    period TEXT NOT NULL, level TEXT NOT NULL, key TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL, direction TEXT NOT NULL, PRIMARY KEY (period, level, key, metric)
);
"""

# Created after the bulk insert: building an index once is much faster than maintaining it.
INDEXES = """
CREATE INDEX cases_created ON cases (created_at);
CREATE INDEX cases_completed ON cases (completed_at);
CREATE INDEX cases_queue_created ON cases (queue_id, created_at);
CREATE INDEX cases_moderator ON cases (moderator_id, completed_at);
CREATE INDEX shifts_date ON shifts (date);
"""

CASE_COLUMNS: tuple[str, ...] = (
    "case_id",
    "queue_id",
    "created_at",
    "assigned_at",
    "completed_at",
    "moderator_id",
    "decision",
    "policy_label",
    "handle_seconds",
    "qa_sampled",
    "qa_correct",
    "escalated",
    "appealed",
    "overturned",
    "content_text",
    "username",
)
# The export header: the case fields, then queue and moderator fields denormalised onto each row.
EXPORT_COLUMNS: tuple[str, ...] = CASE_COLUMNS + (
    "queue_name",
    "channel",
    "market",
    "vendor",
    "site",
)

_SELECT = (
    "SELECT " + ", ".join(f"c.{c}" for c in CASE_COLUMNS) + ", q.name, q.channel, q.market, m.vendor, m.site"
    " FROM cases c JOIN queues q ON q.queue_id = c.queue_id"
    " LEFT JOIN moderators m ON m.moderator_id = c.moderator_id"
)
DECISIONS = ("approve", "remove", "restrict", "escalate")


def iso(ts: datetime) -> str:
    """A UTC datetime as the stored text form."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """The stored text form back to an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A connection usable from any thread (the console opens one per request or job)."""
    conn = sqlite3.connect(str(db_path), check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def _as_date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """The case search filters. Dates are UTC calendar days, both ends inclusive.

    ``date_by`` picks the timestamp the dates apply to: ``created`` (entered the queue, the default)
    or ``completed``.
    """

    date_from: date | None = None
    date_to: date | None = None
    queue_id: str | None = None
    market: str | None = None
    vendor: str | None = None
    decision: str | None = None
    date_by: str = "created"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CaseFilter:
        """Build from request arguments; empty values mean "any". Raises ValueError on bad input."""
        date_by = args.get("date_by") or "created"
        if date_by not in ("created", "completed"):
            raise ValueError(f"date_by must be created or completed, not {date_by!r}")
        decision = args.get("decision") or None
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        return cls(
            date_from=_as_date(args.get("date_from")),
            date_to=_as_date(args.get("date_to")),
            queue_id=args.get("queue") or args.get("queue_id") or None,
            market=args.get("market") or None,
            vendor=args.get("vendor") or None,
            decision=decision,
            date_by=date_by,
        )

    def as_args(self) -> dict[str, str]:
        """The filters as request arguments (the inverse of ``from_args``), empty ones left out."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not (f.name == "date_by" and value == "created"):
                out["queue" if f.name == "queue_id" else f.name] = str(value)
        return out

    def where(self) -> tuple[str, list[object]]:
        column = "c.created_at" if self.date_by == "created" else "c.completed_at"
        clauses: list[str] = []
        params: list[object] = []
        if self.date_from:
            clauses.append(f"{column} >= ?")
            params.append(f"{self.date_from.isoformat()}T00:00:00Z")
        if self.date_to:
            clauses.append(f"{column} < ?")
            params.append(f"{(self.date_to + timedelta(days=1)).isoformat()}T00:00:00Z")
        for clause, value in (
            ("c.queue_id = ?", self.queue_id),
            ("q.market = ?", self.market),
            ("m.vendor = ?", self.vendor),
            ("c.decision = ?", self.decision),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def count_cases(conn: sqlite3.Connection, flt: CaseFilter) -> int:
    where, params = flt.where()
    sql = (
        "SELECT count(*) FROM cases c JOIN queues q ON q.queue_id = c.queue_id"
        " LEFT JOIN moderators m ON m.moderator_id = c.moderator_id" + where
    )
    return int(conn.execute(sql, params).fetchone()[0])


def select_cases(
    conn: sqlite3.Connection,
    flt: CaseFilter,
    *,
    after_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[tuple]:
    """Rows in ``EXPORT_COLUMNS`` order, by ``case_id``; a lazy cursor, so exports stream."""
    where, params = flt.where()
    if after_id is not None:
        where += (" AND " if where else " WHERE ") + "c.case_id > ?"
        params.append(after_id)
    sql = _SELECT + where + " ORDER BY c.case_id"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return iter(conn.execute(sql, params))


TARGET_COLUMNS = ("period", "level", "key", "metric", "value", "direction")


def select_targets(conn: sqlite3.Connection, args: Mapping[str, str]) -> list[tuple]:
    """Targets filtered by any of period, level, key and metric (the web page and the API share it)."""
    where, params = [], []
    for col in ("period", "level", "key", "metric"):
        if args.get(col):
            where.append(f"{col} = ?")
            params.append(args[col])
    sql = f"SELECT {', '.join(TARGET_COLUMNS)} FROM targets"
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY period, level, key, metric"
    return conn.execute(sql, params).fetchall()
