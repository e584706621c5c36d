"""question indexes: (LiveEvent, status, id), with the category; merged askers; groups

The pending list (rumours first), the askers merged into a question and the console's counts
each read every question of a LiveEvent through the old single-column indexes: tens of
milliseconds a request once a flood has stored a hundred thousand.

Revision ID: 3f6d2a9c8e71
Revises: bc8fcc51a395
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6d2a9c8e71"
down_revision: str | None = "bc8fcc51a395"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index("ix_questions_queue", ["live_event_id", "status", "id"])
        batch_op.create_index(
            "ix_questions_queue_category", ["live_event_id", "status", "category", "id"]
        )
        batch_op.create_index(
            "ix_questions_merged",
            ["merged_into_id"],
            sqlite_where=sa.text("merged_into_id IS NOT NULL"),
            postgresql_where=sa.text("merged_into_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_questions_live_event_id"))
        batch_op.drop_index(batch_op.f("ix_questions_status"))
        batch_op.create_index(
            "ix_questions_groups",
            ["live_event_id", "triage_group_id"],
            sqlite_where=sa.text("triage_group_id IS NOT NULL"),
            postgresql_where=sa.text("triage_group_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_questions_triage_group_id"))


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questions_triage_group_id"), ["triage_group_id"])
        batch_op.drop_index("ix_questions_groups")
        batch_op.create_index(batch_op.f("ix_questions_status"), ["status"])
        batch_op.create_index(batch_op.f("ix_questions_live_event_id"), ["live_event_id"])
        batch_op.drop_index("ix_questions_merged")
        batch_op.drop_index("ix_questions_queue_category")
        batch_op.drop_index("ix_questions_queue")
