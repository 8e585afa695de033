"""The history's connection: SQLAlchemy Core over SQLite (the default file) or PostgreSQL (a URL).

The store's SQL is written once, in the subset both databases share, with ``?`` placeholders; ``Db`` turns
each statement into a SQLAlchemy ``text()`` with named binds (cached), so the same query runs on both
dialects, and gives rows back as plain dicts (``row["name"]`` and ``row[0]`` both work). Where the
dialects differ (JSON fields, the insertion order column, row locks), ``Db`` names the fragment to use.

Transactions are explicit: the connection runs in autocommit, and ``begin()`` opens one write transaction
(``BEGIN IMMEDIATE`` on SQLite, which takes the file's write lock up front and so never deadlocks two
writers; ``BEGIN`` on PostgreSQL, where writers lock rows). A URL's password never appears in a message:
``redact_url`` is what every error and log line shows.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opskit.config.urls import safe_url, shown_url

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_url(target: str | Path) -> bool:
    """Whether the history target is a database URL (else it is a SQLite file path)."""
    return isinstance(target, str) and re.match(r"^[a-z][a-z0-9+]*://", target) is not None


def redact_url(target: str | Path) -> str:
    """The target as messages show it: a URL without its password (``postgresql://ops:***@db/opskit``)."""
    if not is_url(target):
        return str(target)
    return shown_url(str(target))  # credentials by the last '@': a password with '@' in it leaks no part


def sqlalchemy_url(target: str | Path) -> sa.URL:
    """The SQLAlchemy URL for a history target: a file path, or ``postgresql://USER[:PASS]@HOST[:PORT]/DB``.

    PostgreSQL URLs are given the psycopg (3) driver whatever their scheme says.
    """
    if not is_url(target):
        return sa.URL.create("sqlite", database=str(Path(target)))
    url = sa.make_url(safe_url(str(target)))  # a password from the environment may hold '@', ':' or '/'
    if url.get_backend_name() in POSTGRES_SCHEMES:
        return url.set(drivername="postgresql+psycopg")
    return url


class Row(dict[str, Any]):
    """A result row: by column name, as the store's code reads it, or by position (``COUNT(*)``).

    Iterating it yields its values, as ``sqlite3.Row`` does, so ``for (id_hash,) in rows`` unpacks values;
    ``dict(row)``, ``keys()`` and ``items()`` still see the column names.
    """

    def __getitem__(self, key: str | int) -> Any:  # type: ignore[override]
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        return iter(list(self.values()))


class Rows:
    """A statement's result: iterate it, ``fetchone``/``fetchall`` it, or ask ``rowcount``."""

    def __init__(self, rows: list[Row], rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return list(self._rows)


@functools.lru_cache(maxsize=512)
def _statement(sql: str) -> tuple[sa.TextClause, int]:
    """``?`` placeholders as named binds ``:p0, :p1 ...`` (the store's SQL has no ``?`` in its literals)."""
    parts = sql.split("?")
    named = parts[0] + "".join(f":p{i}{part}" for i, part in enumerate(parts[1:]))
    return sa.text(named), len(parts) - 1


def _binds(count: int, args: Sequence[Any]) -> dict[str, Any]:
    if len(args) != count:
        raise sa.exc.ArgumentError(f"{count} placeholders, {len(args)} values")
    return {f"p{i}": value for i, value in enumerate(args)}


class Db:
    """One connection to the history, shared by a store's methods (guarded by a lock for its threads)."""

    def __init__(self, target: str | Path, *, busy_timeout_s: float, connect_timeout_s: float = 10.0):
        self.target = target
        self.where = redact_url(target)
        self.url = sqlalchemy_url(target)
        self.postgres = self.url.get_backend_name() == "postgresql"
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.busy_timeout_s = busy_timeout_s
        if self.sqlite:
            self.engine: Engine = sa.create_engine(
                self.url,
                connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
                isolation_level="AUTOCOMMIT",
                poolclass=sa.pool.StaticPool,
            )
        else:
            self.engine = sa.create_engine(
                self.url,
                connect_args={"connect_timeout": max(1, int(connect_timeout_s))},
                isolation_level="AUTOCOMMIT",
                poolclass=sa.pool.NullPool,
            )
        self._conn: Connection | None = None
        self.connected_at = 0.0
        """When (monotonic) the current connection was opened: a new one after an outage restarts it."""
        self._lock = threading.RLock()
        self.in_transaction = False
        # The column that orders rows by insertion: SQLite's rowid, a sequence column on PostgreSQL.
        self.rowid = "rowid" if self.sqlite else "seq"
        # Row locks for read-modify-write (SQLite's BEGIN IMMEDIATE already serialises every writer).
        self.for_update = " FOR UPDATE" if self.postgres else ""

    @property
    def connection(self) -> Connection:
        """The open connection, opened again after a lost one (PostgreSQL restarted, network cut)."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sa.exc.SQLAlchemyError:
                    pass
            self._conn = self.engine.connect()
            self.connected_at = time.monotonic()
            self.in_transaction = False
            if self.sqlite:
                driver = self._conn.connection.dbapi_connection
                cursor = driver.cursor()  # type: ignore[union-attr]
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()
        return self._conn

    def json_field(self, column: str, key: str) -> str:
        """SQL for one top-level field of a JSON text column, as a number/boolean/string (None when absent)."""
        if self.postgres:
            return f"(CAST({column} AS jsonb) -> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        clause, count = _statement(sql)
        with self._lock:
            result = self.connection.execute(clause, _binds(count, args))
            if result.returns_rows:
                keys = list(result.keys())
                rows = [Row(zip(keys, values, strict=True)) for values in result.fetchall()]
            else:
                rows = []
            return Rows(rows, result.rowcount if not result.returns_rows else len(rows))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Rows:
        clause, count = _statement(sql)
        params = [_binds(count, args) for args in seq]
        if not params:
            return Rows([], 0)
        with self._lock:
            result = self.connection.execute(clause, params)
            return Rows([], result.rowcount)

    def begin(self) -> None:
        """Open a write transaction (the caller commits or rolls back)."""
        self._lock.acquire()
        try:
            self.connection.exec_driver_sql("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
        except BaseException:
            self._lock.release()
            raise
        self.in_transaction = True

    def commit(self) -> None:
        try:
            self.connection.exec_driver_sql("COMMIT")
            self.in_transaction = False
        finally:
            if not self.in_transaction:
                self._lock.release()

    def rollback(self) -> None:
        """Leave no transaction open after a failure (a failed COMMIT, on a full disk, leaves one)."""
        if not self.in_transaction:
            return
        self.in_transaction = False
        try:
            if self._conn is not None and not self._conn.invalidated:
                self._conn.exec_driver_sql("ROLLBACK")
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            self._lock.release()

    def lost(self) -> None:
        """Forget a connection that failed (the next statement opens a new one); ends its transaction."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.invalidate()
                    self._conn.close()
                except sa.exc.SQLAlchemyError:
                    pass
            self._conn = None
            if self.in_transaction:
                self.in_transaction = False
                self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sa.exc.SQLAlchemyError:
                    pass
                self._conn = None
            self.engine.dispose()
