"""Bring a history database to the newest schema with Alembic, programmatically (no alembic.ini).

A store checks the revision with one query when it opens and calls Alembic only when it is behind, so
the worker processes that open the history for every run do not pay for importing Alembic. The upgrade
runs in one write transaction on the store's own connection: on SQLite ``BEGIN IMMEDIATE`` makes two
processes opening an old file at once take turns; on PostgreSQL a transaction-level advisory lock does.
The second one finds the schema at its newest and does nothing.

A history file written before Alembic managed it has no ``alembic_version`` table: revision 0001 adopts it
as it is (it only adds what is missing), so an upgrade never needs a separate "stamp".
"""

from __future__ import annotations

import logging
from pathlib import Path

from opskit.engine.database import Db
from opskit.engine.migrations import HEAD
from opskit.errors import UsageError

log = logging.getLogger("opskit.history")

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x6F70736B69740001
"""The advisory lock key that serialises migrations of one PostgreSQL database ("opskit" and 1)."""


def current_revision(db: Db) -> str | None:
    """The schema's revision, or None for a new database or a file older than the migrations."""
    # Asked of the catalogue, not by failing: a failed statement would abort a PostgreSQL transaction.
    if db.postgres:
        exists = db.execute("SELECT to_regclass('alembic_version') IS NOT NULL AS found").fetchone()
    else:
        exists = db.execute(
            "SELECT 1 AS found FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
    if not exists or not exists["found"]:
        return None
    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return row["version_num"] if row else None


def upgrade_if_needed(db: Db) -> bool:
    """Upgrade to ``HEAD`` when behind; returns whether anything ran.

    Raises:
        UsageError: the history was written by a newer opskit (a revision this one does not ship): one line,
            never Alembic's traceback, and nothing changed.
    """
    revision = current_revision(db)
    if revision == HEAD:
        return False
    if revision is not None and revision not in shipped_revisions():
        raise UsageError(
            f"the run history {db.where} is at schema {revision}, newer than this opskit knows (up to {HEAD})",
            hint="Run the opskit version that wrote it (or a newer one)",
        )
    return upgrade(db)


def shipped_revisions() -> set[str]:
    """The revisions of the migrations shipped with this opskit (their file names start with them)."""
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


def upgrade(db: Db, revision: str = "head") -> bool:
    """Run the migrations up to ``revision`` in one write transaction; returns whether anything ran."""
    from alembic import command
    from alembic.config import Config

    db.begin()
    try:
        if db.postgres:
            db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        before = current_revision(db)
        if before == HEAD and revision == "head":
            db.commit()
            return False
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = db.connection
        command.upgrade(config, revision)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    log.debug("history %s: schema upgraded from %s to %s", db.where, before or "(none)", revision)
    return True


def heads() -> list[str]:
    """The newest revisions of the shipped migrations (one: they form a single line)."""
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory(str(MIGRATIONS)).get_heads())
