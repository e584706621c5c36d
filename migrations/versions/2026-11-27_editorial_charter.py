"""editorial charter per LiveEvent, and the audit of its overrides

Revision ID: 5e1c7a9d2f40
Revises: c8e2bc2227b1
Create Date: 2026-11-27 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c7a9d2f40"
down_revision: str | None = "c8e2bc2227b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charters",
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_charters_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_event_id", name=op.f("pk_charters")),
    )
    op.create_table(
        "charter_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("violations", sa.JSON(), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_charter_overrides_answer_id_answers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_charter_overrides_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_charter_overrides_question_id_questions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_charter_overrides_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_overrides")),
    )
    with op.batch_alter_table("charter_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charter_overrides_live_event_id"), ["live_event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("charter_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charter_overrides_live_event_id"))
    op.drop_table("charter_overrides")
    op.drop_table("charters")
