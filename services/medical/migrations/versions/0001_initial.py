"""Hospitals, claims, refused claims; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.medical.parameters import SPECS
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
        "hospitals",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=True),
        sa.Column("designated_from", sa.Date(), nullable=False),
        sa.Column("designated_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hospitals"),
    )
    op.create_table(
        "claims",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("hospital_id", big_id, nullable=False),
        sa.Column("invoice_no", sa.String(60), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("total_cost", Money(), nullable=False),
        sa.Column("insurance_paid", Money(), nullable=False),
        sa.Column("out_of_pocket", Money(), nullable=False),
        sa.Column("assistance_amount", Money(), nullable=False),
        sa.Column("capped", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name="fk_claims_hospital_id_hospitals"),
        sa.PrimaryKeyConstraint("id", name="pk_claims"),
        sa.UniqueConstraint("hospital_id", "invoice_no", name="uq_claims_hospital_id_invoice_no"),
    )
    op.create_index("ix_claims_resident_id", "claims", ["resident_id"])
    op.create_index("ix_claims_resident_id_year", "claims", ["resident_id", "year"])
    op.create_table(
        "refused_claims",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("hospital_id", big_id, nullable=False),
        sa.Column("invoice_no", sa.String(60), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("total_cost", Money(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name="fk_refused_claims_hospital_id_hospitals"),
        sa.PrimaryKeyConstraint("id", name="pk_refused_claims"),
    )


def downgrade() -> None:
    for table in ("refused_claims", "claims", "hospitals"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
