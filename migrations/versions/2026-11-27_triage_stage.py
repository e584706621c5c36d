"""triage stage: questions triaged after they are stored, rules, corrections

Revision ID: bc8fcc51a395
Revises: 1a3b741d2376
Create Date: 2026-11-27 06:05:04.048765
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bc8fcc51a395"
down_revision: str | None = "1a3b741d2376"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_rules",
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("blocked_words", sa.JSON(), nullable=False),
        sa.Column("blocked_accounts", sa.JSON(), nullable=False),
        sa.Column("auto_approve_accounts", sa.JSON(), nullable=False),
        sa.Column("profanity", sa.Boolean(), nullable=False),
        sa.Column("reject_spam", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_triage_rules_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_event_id", name=op.f("pk_triage_rules")),
    )
    op.create_table(
        "triage_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=12), nullable=False),
        sa.Column("predicted", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("corrected", sa.String(length=20), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_triage_corrections_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_triage_corrections_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_triage_corrections_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_corrections")),
    )
    with op.batch_alter_table("triage_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_corrections_live_event_id"), ["live_event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_triage_corrections_question_id"), ["question_id"], unique=False
        )

    with op.batch_alter_table("question_transitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("by", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reason", sa.String(length=200), server_default="", nullable=False)
        )

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("triage_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "category_source",
                sa.Enum("triage", "moderator", name="categorysource", native_enum=False, length=20),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("triage_group_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("triage_reason", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_questions_triage_group_id"), ["triage_group_id"], unique=False
        )
        batch_op.create_index(
            "ix_questions_untriaged",
            ["id"],
            unique=False,
            sqlite_where=sa.text("triaged_at IS NULL"),
            postgresql_where=sa.text("triaged_at IS NULL"),
        )
    # Questions of ended LiveEvents are not worth triaging now: marked done (with no category),
    # so that the stage starts with the shows still to come or on air.
    op.execute(
        "UPDATE questions SET triaged_at = CURRENT_TIMESTAMP WHERE live_event_id IN "
        "(SELECT id FROM live_events WHERE state = 'ended')"
    )


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_questions_untriaged",
            sqlite_where=sa.text("triaged_at IS NULL"),
            postgresql_where=sa.text("triaged_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_questions_triage_group_id"))
        batch_op.drop_column("triage_reason")
        batch_op.drop_column("triage_group_id")
        batch_op.drop_column("category_source")
        batch_op.drop_column("triaged_at")
        batch_op.drop_column("triage_confidence")

    with op.batch_alter_table("question_transitions", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("by")

    with op.batch_alter_table("triage_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_corrections_question_id"))
        batch_op.drop_index(batch_op.f("ix_triage_corrections_live_event_id"))

    op.drop_table("triage_corrections")
    op.drop_table("triage_rules")
