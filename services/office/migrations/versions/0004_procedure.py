"""The dibao procedure as the registry announces it on registry.procedure (applications, appeals, the next periodic
review of each household), for the assessment's counts per district.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedure_applications",
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("awaiting", sa.String(14), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_procedure_applications"),
    )
    op.create_index("ix_procedure_applications_division_code", "procedure_applications", ["division_code"])
    op.create_table(
        "procedure_appeals",
        sa.Column("appeal_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lodged_on", sa.Date(), nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_procedure_appeals"),
    )
    op.create_index("ix_procedure_appeals_division_code", "procedure_appeals", ["division_code"])
    op.create_table(
        "procedure_reviews",
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("last_reviewed_on", sa.Date(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_procedure_reviews"),
    )
    op.create_index("ix_procedure_reviews_division_code", "procedure_reviews", ["division_code"])
    op.create_index("ix_procedure_reviews_due_on", "procedure_reviews", ["due_on"])


def downgrade() -> None:
    op.drop_table("procedure_reviews")
    op.drop_table("procedure_appeals")
    op.drop_table("procedure_applications")
