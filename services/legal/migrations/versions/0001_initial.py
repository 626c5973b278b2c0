"""Lawyers, cases, case transitions; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money
from shared.migrations import (
    create_bureau_tables,
    create_platform_tables,
    drop_bureau_tables,
    drop_platform_tables,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    create_platform_tables(op, [])
    create_bureau_tables(op)
    op.create_table(
        "lawyers",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("firm", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lawyers"),
    )
    op.create_table(
        "cases",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("lawyer_id", big_id, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("intake_on", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"], name="fk_cases_lawyer_id_lawyers"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_resident_id", "cases", ["resident_id"])
    op.create_index("ix_cases_intake_on", "cases", ["intake_on"])
    op.create_table(
        "case_transitions",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("case_id", big_id, nullable=False),
        sa.Column("from_status", sa.String(12), nullable=True),
        sa.Column("to_status", sa.String(12), nullable=False),
        sa.Column("lawyer_id", big_id, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_transitions_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_case_transitions"),
    )
    op.create_index("ix_case_transitions_case_id", "case_transitions", ["case_id"])


def downgrade() -> None:
    for table in ("case_transitions", "cases", "lawyers"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
