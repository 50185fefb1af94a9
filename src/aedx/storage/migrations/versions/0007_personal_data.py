"""personal data at rest: the case index's sealed obligor ID and name, and the key that sealed them

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("obligor_sealed", sa.Text(), nullable=True))
        batch.add_column(sa.Column("data_key_version", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("data_key_version")
        batch.drop_column("obligor_sealed")
