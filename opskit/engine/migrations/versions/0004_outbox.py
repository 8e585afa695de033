"""The outbox's state in the history, for installations where several machines send mail.

One row per message, as the outbox folder's index has it, plus the message itself (``body``: any node can
send what another composed) and the claim of the node sending it now (``claimed_by``, ``lease_until``):
a node claims a message before it talks to the server, so it is sent by one node at a time, and a claim
whose holder died (its process gone, or its lease run out) is taken over under the outbox's rules
(delivery/outbox.py): retried when the holder died before the message data, ``uncertain`` after.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "outbox_messages" in sa.inspect(op.get_bind()).get_table_names():
        return  # created by a development build that numbered this revision 0003
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("job", sa.Text),
        sa.Column("run_id", sa.Text),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("phase", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("lease_until", sa.Text),
    )
    op.create_index("outbox_messages_status", "outbox_messages", ["status"])
    op.create_index("outbox_messages_run", "outbox_messages", ["run_id"])


def downgrade() -> None:
    op.drop_table("outbox_messages")
