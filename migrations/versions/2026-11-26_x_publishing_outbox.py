"""x publishing outbox

Existing rows get server defaults for the new NOT NULL columns.

Revision ID: 3dc268123722
Revises: ce4c412f4818
Create Date: 2026-11-26 21:54:20.143291
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3dc268123722"
down_revision: str | None = "ce4c412f4818"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_delivery_id"), ["delivery_id"], unique=False
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("parts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("reply_to", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "due_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
            )
        )
        batch_op.drop_constraint(batch_op.f("uq_deliveries_answer_id_target"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_answer_id_target_part"), ["answer_id", "target", "part"]
        )

    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "x_fallback", sa.String(length=20), nullable=False, server_default="standalone"
            )
        )

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("x_reply_allowed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("x_post_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("x_conversation_id", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("x_conversation_id")
        batch_op.drop_column("x_post_id")
        batch_op.drop_column("x_reply_allowed")

    with op.batch_alter_table("live_events", schema=None) as batch_op:
        batch_op.drop_column("x_fallback")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_deliveries_answer_id_target_part"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_answer_id_target"), ["answer_id", "target"]
        )
        batch_op.drop_column("due_at")
        batch_op.drop_column("reply_to")
        batch_op.drop_column("text")
        batch_op.drop_column("parts")
        batch_op.drop_column("part")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_delivery_id"))

    op.drop_table("delivery_attempts")
