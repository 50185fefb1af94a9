"""deliveries: when a package was first downloaded completely (acknowledging needs it)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=True))
    # Packages downloaded or acknowledged before the column existed count as downloaded.
    op.execute(
        "UPDATE deliveries SET downloaded_at = COALESCE(acknowledged_at, ready_at, created_at)"
        " WHERE downloads > 0 OR state = 'acknowledged'"
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("downloaded_at")
