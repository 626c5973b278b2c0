"""Heating history, water bills, supplement runs and payments; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.utilities.parameters import SPECS
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
        "heating_history",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("heating", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_heating_history"),
        sa.UniqueConstraint("household_id", "effective_from", name="uq_heating_history_household_id_effective_from"),
    )
    op.create_index("ix_heating_history_household_id", "heating_history", ["household_id"])
    op.create_table(
        "water_bills",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("usage_m3", Area(), nullable=False),
        sa.Column("discounted_m3", Area(), nullable=False),
        sa.Column("discount", Money(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_water_bills"),
        sa.UniqueConstraint("household_id", "period", name="uq_water_bills_household_id_period"),
    )
    op.create_index("ix_water_bills_period", "water_bills", ["period"])
    op.create_table(
        "supplement_runs",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("households_paid", sa.Integer(), nullable=False),
        sa.Column("total_amount", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supplement_runs"),
    )
    op.create_table(
        "heating_supplements",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("allowance", Money(), nullable=False),
        sa.Column("rate", sa.String(10), nullable=False),
        sa.Column("season_days", sa.Integer(), nullable=False),
        sa.Column("days_in_month", sa.Integer(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("run_id", big_id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["supplement_runs.id"], name="fk_heating_supplements_run_id_supplement_runs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_heating_supplements"),
        sa.UniqueConstraint("household_id", "period", name="uq_heating_supplements_household_id_period"),
    )
    op.create_index("ix_heating_supplements_period", "heating_supplements", ["period"])


def downgrade() -> None:
    for table in ("heating_supplements", "supplement_runs", "water_bills", "heating_history"):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
