"""Each scheduled slot at most once (a unique index), and the scheduler leader's record.

The unique index on (job, scheduled_for) for scheduled and caught-up runs is the last line of defence when
two schedulers share a history (a leader that lost its lease, a standby taking over): the second insert of
a slot fails instead of firing it twice. A history that already holds duplicate slots (written before the
index existed) is left without it, and says so in the log: it cannot be made unique without deleting runs.

``scheduler_leader`` names the scheduler that leads (host, pid, since) for ``runner.py status``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("opskit.history")

SLOT_TRIGGERS = "('schedule', 'catch-up')"


def upgrade() -> None:
    bind = op.get_bind()
    duplicates = bind.execute(
        sa.text(
            f"SELECT job, scheduled_for FROM runs WHERE trigger IN {SLOT_TRIGGERS}"
            " GROUP BY job, scheduled_for HAVING COUNT(*) > 1 LIMIT 1"
        )
    ).first()
    if duplicates is None:
        op.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS runs_slot_once ON runs (job, scheduled_for)"
            f" WHERE trigger IN {SLOT_TRIGGERS}"
        )
    else:
        log.warning(
            "the history already holds slot %s of job %s twice: no unique (job, slot) index",
            duplicates[1],
            duplicates[0],
        )
    op.create_table(
        "scheduler_leader",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("since", sa.Text, nullable=False),
        sa.Column("renewed_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leader")
    op.execute("DROP INDEX IF EXISTS runs_slot_once")
