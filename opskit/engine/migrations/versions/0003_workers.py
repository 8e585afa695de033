"""Celery workers: their heartbeat rows, and which worker took each run.

``workers`` holds one row per ``runner.py worker`` (host, pid, queues, concurrency, heartbeat), written by
the worker and read by the scheduler (a worker gone silent has lost its runs) and ``runner.py status``.
``runs.worker`` names the worker that took a run (``RunStore.claim_run``: one worker per run).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "worker" not in {column["name"] for column in inspector.get_columns("runs")}:
        op.add_column("runs", sa.Column("worker", sa.Text))
    if "workers" not in inspector.get_table_names():
        op.create_table(
            "workers",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("host", sa.Text, nullable=False),
            sa.Column("pid", sa.Integer, nullable=False),
            sa.Column("pid_started", sa.Float),
            sa.Column("queues", sa.Text, nullable=False, server_default="[]"),
            sa.Column("concurrency", sa.Integer, nullable=False),
            sa.Column("started_at", sa.Text, nullable=False),
            sa.Column("heartbeat_at", sa.Text, nullable=False),
            sa.Column("stopped_at", sa.Text),
        )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("worker")
