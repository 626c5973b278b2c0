"""The office on its own: the caseload copy, what every bureau granted and paid, mutual aid, enrolment times;
platform tables with the office's parameters (the assessment's criteria).

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.office.parameters import SPECS
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
        "enrolments",
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_enrolments"),
    )
    op.create_table(
        "assistance_records",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("bureau", sa.String(20), nullable=False),
        sa.Column("programme", sa.String(60), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.String(300), nullable=True),
        sa.Column("monthly_amount", Money(), nullable=True),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.Column("first_granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assistance_records"),
        sa.UniqueConstraint(
            "household_id", "bureau", "programme", "resident_id", "granted_on", name="uq_assistance_records_grant"
        ),
    )
    op.create_index("ix_assistance_records_household_id", "assistance_records", ["household_id"])
    op.create_table(
        "assistance_payments",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("bureau", sa.String(20), nullable=False),
        sa.Column("programme", sa.String(60), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assistance_payments"),
        sa.UniqueConstraint("bureau", "reference", name="uq_assistance_payments_bureau_reference"),
    )
    op.create_index("ix_assistance_payments_household_id", "assistance_payments", ["household_id"])
    op.create_index("ix_assistance_payments_paid_on", "assistance_payments", ["paid_on"])
    op.create_index("ix_assistance_payments_bureau_period", "assistance_payments", ["bureau", "period"])
    op.create_table(
        "donations",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("donor_name", sa.String(200), nullable=False),
        sa.Column("donor_kind", sa.String(10), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("in_kind", sa.String(300), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=True),
        sa.Column("purpose", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_donations"),
    )
    op.create_index("ix_donations_division_code", "donations", ["division_code"])
    op.create_index("ix_donations_household_id", "donations", ["household_id"])
    op.create_table(
        "pairings",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("donor_name", sa.String(200), nullable=False),
        sa.Column("donor_kind", sa.String(10), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pairings"),
    )
    op.create_index("ix_pairings_household_id", "pairings", ["household_id"])


def downgrade() -> None:
    for table in ("pairings", "donations", "assistance_payments", "assistance_records", "enrolments"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
