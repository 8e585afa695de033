"""The history as opskit wrote it before Alembic managed it; adopts such a file as it is.

Every step is conditional (a table, a column or an index is created only when missing), so a history file
written by any earlier opskit is brought to this revision without losing a row, and a new database is
created from nothing. On PostgreSQL ``runs`` gets ``seq``, standing for SQLite's ``rowid``.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT, INT, REAL = sa.Text, sa.Integer, sa.Float


def _tables() -> dict[str, list[sa.Column]]:
    return {
        "runs": [
            sa.Column("id", TEXT, primary_key=True),
            sa.Column("job", TEXT),
            sa.Column("task", TEXT, nullable=False),
            sa.Column("params", TEXT, nullable=False, server_default="{}"),
            sa.Column("trigger", TEXT, nullable=False),
            sa.Column("attempt", INT, nullable=False, server_default="1"),
            sa.Column("status", TEXT, nullable=False),
            sa.Column("scheduled_for", TEXT, nullable=False),
            sa.Column("queued_at", TEXT, nullable=False),
            sa.Column("started_at", TEXT),
            sa.Column("finished_at", TEXT),
            sa.Column("duration_s", REAL),
            sa.Column("error", TEXT),
            sa.Column("result", TEXT),
            sa.Column("artifacts", TEXT, nullable=False, server_default="[]"),
            sa.Column("folder", TEXT, nullable=False),
            sa.Column("host", TEXT),
            sa.Column("pid", INT),
            sa.Column("pid_started", REAL),
            sa.Column("delivery", TEXT),
            sa.Column("owner", TEXT),
            sa.Column("requested_by", TEXT),
        ],
        "scheduler": [
            sa.Column("id", INT, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
            sa.Column("pid", INT, nullable=False),
            sa.Column("host", TEXT, nullable=False),
            sa.Column("started_at", TEXT, nullable=False),
            sa.Column("heartbeat_at", TEXT, nullable=False),
            sa.Column("config", TEXT, nullable=False),
            sa.Column("stopped_at", TEXT),
        ],
        "job_state": [
            sa.Column("job", TEXT, primary_key=True),
            sa.Column("paused", INT, nullable=False, server_default="0"),
            sa.Column("updated_at", TEXT, nullable=False),
            sa.Column("data", TEXT, nullable=False, server_default="{}"),
        ],
        "run_requests": [
            sa.Column("id", TEXT, primary_key=True),
            sa.Column("job", TEXT, nullable=False),
            sa.Column("overrides", TEXT, nullable=False, server_default="{}"),
            sa.Column("trigger", TEXT, nullable=False),
            sa.Column("scheduled_for", TEXT, nullable=False),
            sa.Column("options", TEXT, nullable=False, server_default="{}"),
            sa.Column("requested_by", TEXT, nullable=False),
            sa.Column("requested_at", TEXT, nullable=False),
            sa.Column("status", TEXT, nullable=False),
            sa.Column("run_id", TEXT),
            sa.Column("error", TEXT),
            sa.Column("handled_at", TEXT),
        ],
        "web_users": [
            sa.Column("name", TEXT, primary_key=True),
            sa.Column("role", TEXT, nullable=False),
            sa.Column("groups", TEXT, nullable=False, server_default="[]"),
            sa.Column("password_hash", TEXT),
            sa.Column("disabled", INT, nullable=False, server_default="0"),
            sa.Column("created_at", TEXT, nullable=False),
            sa.Column("updated_at", TEXT, nullable=False),
        ],
        "web_tokens": [
            sa.Column("id", TEXT, primary_key=True),
            sa.Column("user", TEXT, nullable=False),
            sa.Column("token_hash", TEXT, nullable=False, unique=True),
            sa.Column("label", TEXT, nullable=False, server_default=""),
            sa.Column("created_at", TEXT, nullable=False),
            sa.Column("last_used_at", TEXT),
            sa.Column("revoked_at", TEXT),
        ],
        "web_sessions": [
            sa.Column("id_hash", TEXT, primary_key=True),
            sa.Column("user", TEXT, nullable=False),
            sa.Column("csrf", TEXT, nullable=False),
            sa.Column("created_at", TEXT, nullable=False),
            sa.Column("seen_at", TEXT, nullable=False),
            sa.Column("ip", TEXT),
        ],
        "audit_log": [
            sa.Column("id", INT, primary_key=True, autoincrement=True),
            sa.Column("at", TEXT, nullable=False),
            sa.Column("user", TEXT),
            sa.Column("action", TEXT, nullable=False),
            sa.Column("target", TEXT),
            sa.Column("detail", TEXT, nullable=False, server_default="{}"),
            sa.Column("ip", TEXT),
        ],
    }


INDEXES = [
    ("runs_job", "runs", "job, queued_at", None),
    ("runs_status", "runs", "status", None),
    ("runs_slot", "runs", "job, scheduled_for", None),
    ("runs_queued", "runs", "queued_at", None),
    ("runs_undelivered", "runs", "finished_at", "delivery IS NULL AND job IS NOT NULL AND owner IS NOT NULL"),
    ("runs_claimed", "runs", "finished_at", """delivery LIKE '{"state": "claimed"%'"""),
    ("run_requests_status", "run_requests", "status, requested_at", None),
    ("web_sessions_user", "web_sessions", '"user"', None),
    ("audit_action", "audit_log", "action, at", None),
]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            kwargs = {"sqlite_autoincrement": True} if name == "audit_log" else {}
            op.create_table(name, *columns, **kwargs)
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:  # columns later versions of the file format introduced
            if column.name not in have:
                op.add_column(name, sa.Column(column.name, column.type, nullable=True))
    if bind.dialect.name == "postgresql":
        have = {c["name"] for c in sa.inspect(bind).get_columns("runs")}
        if "seq" not in have:
            op.add_column("runs", sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False))
    for index, table, keys, where in INDEXES:
        sql = f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({keys})"
        op.execute(sql + (f" WHERE {where}" if where else ""))


def downgrade() -> None:
    raise NotImplementedError("the baseline is where the history starts")
