"""notice lifecycle: what a notification is about, withdrawn when it is no longer true, settled
when what it asked for is done; daily digests, one per person and day

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", WHEN, nullable=True))
        batch.add_column(sa.Column("settled_at", WHEN, nullable=True))
        batch.add_column(sa.Column("settled_as", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("settled_by", sa.String(length=10), nullable=True))
    op.create_index("ix_notifications_subject", "notifications", ["subject"], unique=False)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
    op.create_index("ix_outbox_subject", "outbox", ["subject"], unique=False)
    op.create_index(
        "ix_outbox_channel_state_user_id", "outbox", ["channel", "state", "user_id"], unique=False
    )
    op.create_table(
        "notification_digests",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("message_id", BIG_ID, nullable=True),
        sa.Column("made_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_digests_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox.id"], name=op.f("fk_notification_digests_message_id_outbox")
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_notification_digests")),
    )


def downgrade() -> None:
    op.drop_table("notification_digests")
    op.drop_index("ix_outbox_channel_state_user_id", table_name="outbox")
    op.drop_index("ix_outbox_subject", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("subject")
    op.drop_index("ix_notifications_subject", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        for column in ("settled_by", "settled_as", "settled_at", "withdrawn_at", "subject"):
            batch.drop_column(column)
