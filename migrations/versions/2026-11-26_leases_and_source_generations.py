"""leases and source generations: one worker per ingest source

Revision ID: c8e2bc2227b1
Revises: 4b51093a9b60
Create Date: 2026-11-27 00:03:41.031508
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c8e2bc2227b1"
down_revision: str | None = "4b51093a9b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    with op.batch_alter_table("ingest_sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("worker", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_sources", schema=None) as batch_op:
        batch_op.drop_column("worker")
        batch_op.drop_column("generation")
    op.drop_table("leases")
