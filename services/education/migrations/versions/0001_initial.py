"""Pupils, term runs and grants, partner aid; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.education.parameters import SPECS
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
    create_platform_tables(op, SPECS)
    create_bureau_tables(op)
    op.create_table(
        "pupils",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("relation", sa.String(10), nullable=False),
        sa.Column("school_stage", sa.String(12), nullable=False),
        sa.Column("boarding", sa.Boolean(), nullable=False),
        sa.Column("household_has_disabled", sa.Boolean(), nullable=False),
        sa.Column("no_parent_in_household", sa.Boolean(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("exited_on", sa.Date(), nullable=True),
        sa.Column("left_school_on", sa.Date(), nullable=True),
        sa.Column("school_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pupils"),
        sa.UniqueConstraint("household_id", "resident_id", name="uq_pupils_household_id_resident_id"),
    )
    op.create_index("ix_pupils_resident_id", "pupils", ["resident_id"])
    op.create_table(
        "term_runs",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("households_paid", sa.Integer(), nullable=False),
        sa.Column("total_amount", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_term_runs"),
    )
    op.create_table(
        "term_grants",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("programme", sa.String(40), nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("term", sa.String(12), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("run_id", big_id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_term_grants"),
        sa.UniqueConstraint("resident_id", "programme", "period", name="uq_term_grants_resident_id_programme_period"),
    )
    op.create_index("ix_term_grants_household_id", "term_grants", ["household_id"])
    op.create_index("ix_term_grants_term", "term_grants", ["term"])
    op.create_table(
        "partner_aid",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("organisation", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_aid"),
    )
    op.create_index("ix_partner_aid_resident_id", "partner_aid", ["resident_id"])


def downgrade() -> None:
    for table in ("partner_aid", "term_grants", "term_runs", "pupils"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
