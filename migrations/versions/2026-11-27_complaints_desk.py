"""complaints desk: a case per complaint, its trail, the desk's settings; private answers

Revision ID: 1a3b741d2376
Revises: 7a41d0c3e9b5
Create Date: 2026-11-27 06:02:37.060820
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1a3b741d2376"
down_revision: str | None = "7a41d0c3e9b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_desk_settings",
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("followup_template", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_complaint_desk_settings_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_event_id", name=op.f("pk_complaint_desk_settings")),
    )
    op.create_table(
        "complaint_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "waiting_customer",
                "resolved",
                name="casestatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moved_to_stage_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_complaint_cases_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_complaint_cases_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_complaint_cases_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_cases")),
        sa.UniqueConstraint("question_id", name=op.f("uq_complaint_cases_question_id")),
    )
    with op.batch_alter_table("complaint_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complaint_cases_live_event_id"), ["live_event_id"], unique=False
        )

    op.create_table(
        "complaint_case_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_complaint_case_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_complaint_case_changes_answer_id_answers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["complaint_cases.id"],
            name=op.f("fk_complaint_case_changes_case_id_complaint_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_case_changes")),
    )
    with op.batch_alter_table("complaint_case_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complaint_case_changes_case_id"), ["case_id"], unique=False
        )

    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("private")

    with op.batch_alter_table("complaint_case_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_case_changes_case_id"))

    op.drop_table("complaint_case_changes")
    with op.batch_alter_table("complaint_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_cases_live_event_id"))

    op.drop_table("complaint_cases")
    op.drop_table("complaint_desk_settings")
