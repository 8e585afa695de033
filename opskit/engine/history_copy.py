"""Copy one history into another (a SQLite file into PostgreSQL): ``runner.py db copy --to URL``.

Both ends are opened as stores first, so both are at the newest schema. Every table is copied row by row
in insertion order (runs keep their "newest first" order), in batches, inside one transaction on the
target: a copy that fails leaves the target as it was. A row whose key is already there is left alone
(``ON CONFLICT DO NOTHING``), so the copy can be run again (after a failure, or to bring over what the
old history recorded since) and never duplicates a run. On PostgreSQL the audit log's id sequence is moved
past the copied ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from opskit.engine.history import RunStore
from opskit.errors import UsageError

TABLES = (
    "runs",
    "scheduler",
    "job_state",
    "run_requests",
    "web_users",
    "web_tokens",
    "web_sessions",
    "audit_log",
)
"""Every table of the history but Alembic's own (none refers to another by a foreign key)."""
BATCH = 1000


@dataclass(frozen=True)
class CopyReport:
    """Per table: rows in the source, rows the copy added (the rest were in the target already)."""

    tables: dict[str, tuple[int, int]]

    @property
    def added(self) -> int:
        return sum(added for _, added in self.tables.values())


def copy_history(source: Path | str, target: Path | str) -> CopyReport:
    """Copy every row of ``source`` missing from ``target``; returns what was copied, per table.

    Raises:
        UsageError: source and target are the same database.
        HistoryUnavailable: either end cannot be opened or written.
    """
    if str(source) == str(target):
        raise UsageError("db copy: the source and the target are the same history")
    with RunStore(source) as src, RunStore(target) as dst:
        return _copy(src, dst)


def _copy(src: RunStore, dst: RunStore) -> CopyReport:
    report: dict[str, tuple[int, int]] = {}
    with dst.transaction():
        connection = dst._db.connection
        meta = sa.MetaData()
        for name in TABLES:
            table = sa.Table(name, meta, autoload_with=connection)
            columns = [c.name for c in table.columns if c.name != "seq"]  # seq: PostgreSQL numbers it
            before = _count(dst, name)
            total = 0
            for rows in _batches(src, name, columns):
                total += len(rows)
                connection.execute(_insert_ignoring_duplicates(dst, table), rows)
            report[name] = (total, _count(dst, name) - before)
        if dst.postgres:
            dst._db.execute(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                " FROM audit_log"
            )
    return CopyReport(report)


def _batches(src: RunStore, name: str, columns: list[str]) -> Any:
    order = src._db.rowid if name == "runs" else "1"
    quoted = ", ".join(f'"{c}"' for c in columns)
    offset = 0
    while True:
        rows = src._db.execute(f"SELECT {quoted} FROM {name} ORDER BY {order} LIMIT ? OFFSET ?", (BATCH, offset))
        batch = [dict(r) for r in rows]
        if not batch:
            return
        yield batch
        offset += len(batch)


def _insert_ignoring_duplicates(dst: RunStore, table: sa.Table) -> Any:
    dialect = postgresql if dst.postgres else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _count(store: RunStore, name: str) -> int:
    row = store._db.execute(f"SELECT COUNT(*) AS n FROM {name}").fetchone()
    return int(row["n"]) if row else 0
