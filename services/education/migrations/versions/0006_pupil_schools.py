"""Pupils registered to schools: a school reads and changes only its own pupils (services.education.schools).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0006", "0005", None, None


def upgrade() -> None:
    op.create_table(
        "pupil_schools",
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("school_id", sa.String(12), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name="pk_pupil_schools"),
    )
    op.create_index("ix_pupil_schools_school_id", "pupil_schools", ["school_id"])


def downgrade() -> None:
    op.drop_index("ix_pupil_schools_school_id", table_name="pupil_schools")
    op.drop_table("pupil_schools")
