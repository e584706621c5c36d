"""desk follow-ups from the editorial charter: the desk's own template and signature go

The charter already held complaint follow-up templates and the signature every answer must
end with; the desk kept a second template and a second signature beside them. What an operator
wrote in the desk's template is not carried over: the charter's templates stand.

Revision ID: 8d2e5b7c4a19
Revises: 3f6d2a9c8e71
Create Date: 2026-11-27 10:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2e5b7c4a19"
down_revision: str | None = "3f6d2a9c8e71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEFAULT_TEMPLATE = (
    "Sorry about this, {asker}. Please send us your reference by DM so we can look into it. "
    "{signature}"
)


def upgrade() -> None:
    with op.batch_alter_table("complaint_desk_settings", schema=None) as batch_op:
        batch_op.drop_column("signature")
        batch_op.drop_column("followup_template")


def downgrade() -> None:
    with op.batch_alter_table("complaint_desk_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "followup_template", sa.Text(), nullable=False, server_default=_DEFAULT_TEMPLATE
            )
        )
        batch_op.add_column(
            sa.Column("signature", sa.String(length=120), nullable=False, server_default="")
        )
