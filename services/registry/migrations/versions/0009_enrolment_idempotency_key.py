"""A bulk enrolment's idempotency key per household, unique: a file sent again finds what it enrolled before.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0009", "0008", None, None


def upgrade() -> None:
    op.add_column("households", sa.Column("idempotency_key", sa.String(64), nullable=True))
    op.add_column("households", sa.Column("request_digest", sa.String(64), nullable=True))
    op.create_index("uq_households_idempotency_key", "households", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_households_idempotency_key", table_name="households")
    with op.batch_alter_table("households") as batch:
        batch.drop_column("request_digest")
        batch.drop_column("idempotency_key")
