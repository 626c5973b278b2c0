"""Housing cases, flats, waitlist, subsidy runs and payments; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.housing.parameters import SPECS
from shared.db import Area, Money
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
        "units",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("area_m2", Area(), nullable=False),
        sa.Column("rooms", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
    )
    op.create_table(
        "housing_cases",
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("area_m2", Area(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("in_dibao", sa.Boolean(), nullable=False),
        sa.Column("exited_on", sa.Date(), nullable=True),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("eligible_since", sa.Date(), nullable=True),
        sa.Column("eligible_until", sa.Date(), nullable=True),
        sa.Column("unit_id", big_id, nullable=True),
        sa.Column("allocated_on", sa.Date(), nullable=True),
        sa.Column("tenancy_review", sa.Boolean(), nullable=False),
        sa.Column("review_reason", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_housing_cases_unit_id_units"),
        sa.PrimaryKeyConstraint("household_id", name="pk_housing_cases"),
    )
    op.create_index("ix_housing_cases_division_code", "housing_cases", ["division_code"])
    op.create_table(
        "waitlist",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_waitlist"),
    )
    op.create_index(
        "uq_waitlist_waiting_household",
        "waitlist",
        ["household_id"],
        unique=True,
        postgresql_where=sa.text("status = 'waiting'"),
        sqlite_where=sa.text("status = 'waiting'"),
    )
    op.create_table(
        "subsidy_runs",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("households_paid", sa.Integer(), nullable=False),
        sa.Column("total_amount", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subsidy_runs"),
    )
    op.create_table(
        "rent_subsidies",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("area_m2", Area(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("run_id", big_id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["subsidy_runs.id"], name="fk_rent_subsidies_run_id_subsidy_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_rent_subsidies"),
        sa.UniqueConstraint("household_id", "period", name="uq_rent_subsidies_household_id_period"),
    )
    op.create_index("ix_rent_subsidies_period", "rent_subsidies", ["period"])


def downgrade() -> None:
    for table in ("rent_subsidies", "subsidy_runs", "waitlist", "housing_cases", "units"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
