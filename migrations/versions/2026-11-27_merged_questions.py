"""merged questions: one answer's deliveries per asker, and merges in the audit trail

Each delivery says whose question its thread answers (deliveries.question_id), so an answer to a
merged group can reply to every asker; existing deliveries belong to their answer's question.
A transition of a merge or an unmerge names the question that absorbed the moved one.

Revision ID: 7a41d0c3e9b5
Revises: 5e1c7a9d2f40
Create Date: 2026-11-27 06:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a41d0c3e9b5"
down_revision: str | None = "5e1c7a9d2f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question_id", sa.Integer(), nullable=True))
    # Every delivery so far answers its own answer's question.
    op.execute(
        "UPDATE deliveries SET question_id = "
        "(SELECT answers.question_id FROM answers WHERE answers.id = deliveries.answer_id)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("question_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_deliveries_answer_id_target_part"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_answer_id_target_question_id_part"),
            ["answer_id", "target", "question_id", "part"],
        )
        batch_op.create_index(batch_op.f("ix_deliveries_question_id"), ["question_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_question_id_questions"),
            "questions",
            ["question_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("question_transitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_question_transitions_merged_into_id"), ["merged_into_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_question_transitions_merged_into_id_questions"),
            "questions",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("question_transitions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_question_transitions_merged_into_id_questions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_question_transitions_merged_into_id"))
        batch_op.drop_column("merged_into_id")

    # Merged questions cannot be told apart without the column: the old schema allows one
    # thread per answer, so the extra askers' threads go, and their questions come back pending.
    op.execute(
        "DELETE FROM deliveries WHERE question_id <> "
        "(SELECT answers.question_id FROM answers WHERE answers.id = deliveries.answer_id)"
    )
    op.execute(
        "UPDATE questions SET status = 'pending', merged_into_id = NULL WHERE status = 'merged'"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_question_id_questions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_deliveries_question_id"))
        batch_op.drop_constraint(
            batch_op.f("uq_deliveries_answer_id_target_question_id_part"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_answer_id_target_part"), ["answer_id", "target", "part"]
        )
        batch_op.drop_column("question_id")
