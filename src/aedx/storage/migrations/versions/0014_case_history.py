"""case history: every reported event of a case (the timeline the portals show), and a blind index
of the obligor's name with birth date for people's searches

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("close_reason", sa.String(length=12), nullable=True),
        sa.Column("branch_case_no", sa.String(length=60), nullable=True),
        sa.Column("officer", sa.String(length=20), nullable=True),
        sa.Column("submission_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("obligor_person_key", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_cases_obligor_person_key"), "cases", ["obligor_person_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_obligor_person_key"), table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("obligor_person_key")
    op.drop_index(op.f("ix_case_events_case_id"), table_name="case_events")
    op.drop_table("case_events")
