"""signed exchange: the envelope's digest, the signer and the receipt of each submission

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("envelope_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signer_serial", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("receipt_key", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("receipt_key")
        batch.drop_column("signer_serial")
        batch.drop_column("envelope_sha256")
