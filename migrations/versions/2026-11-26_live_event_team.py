"""live event team: roles per LiveEvent

Revision ID: 4b51093a9b60
Revises: fad66e01b12e
Create Date: 2026-11-26 23:45:37.967740
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b51093a9b60"
down_revision: str | None = "fad66e01b12e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_event_team",
        sa.Column("live_event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin", "moderator", "spokesperson", name="role", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_event_id"],
            ["live_events.id"],
            name=op.f("fk_live_event_team_live_event_id_live_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_event_team_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("live_event_id", "user_id", name=op.f("pk_live_event_team")),
    )
    with op.batch_alter_table("live_event_team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_event_team_user_id"), ["user_id"], unique=False)
    # Before this revision a moderator or spokesperson worked every LiveEvent: keep it so for
    # the LiveEvents that exist (nobody loses access on upgrade); new ones start with no team.
    op.execute(
        "INSERT INTO live_event_team (live_event_id, user_id, role, added_at) "
        "SELECT live_events.id, users.id, users.role, CURRENT_TIMESTAMP "
        "FROM live_events CROSS JOIN users WHERE users.role <> 'admin'"
    )


def downgrade() -> None:
    with op.batch_alter_table("live_event_team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_event_team_user_id"))
    op.drop_table("live_event_team")
