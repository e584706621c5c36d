"""embed origins

Revision ID: fad66e01b12e
Revises: 3dc268123722
Create Date: 2026-11-26 22:31:13.316349
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fad66e01b12e"
down_revision: str | None = "3dc268123722"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("embed_origins", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.drop_column("embed_origins")
