"""Households, members, revisions, payments, extensions; platform tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.registry.parameters import DIBAO_STANDARD, EXTENSION_MONTHS
from shared.db import Area, Money
from shared.migrations import create_platform_tables, drop_platform_tables
from shared.parameters import ParameterSpec

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The office's parameter, seeded here while the office lived in the registry (revision 0006 removes it).
UNSERVED_AFTER_DAYS = ParameterSpec(name="unserved_after_days", kind="integer", label="", defaults=(("*", "30"),))


def upgrade() -> None:
    create_platform_tables(op, [DIBAO_STANDARD, EXTENSION_MONTHS, UNSERVED_AFTER_DAYS])
    op.create_table(
        "households",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("heating", sa.String(20), nullable=False),
        sa.Column("housing_area_m2", Area(), nullable=False),
        sa.Column("monthly_income", Money(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("exited_on", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.String(300), nullable=True),
        sa.Column("allowance_schedule", sa.JSON(), nullable=False),
        sa.Column("review_from", sa.Date(), nullable=True),
        sa.Column("review_reason", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
    )
    op.create_index("ix_households_division_code", "households", ["division_code"])
    op.create_index("ix_households_status", "households", ["status"])
    op.create_table(
        "members",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("relation", sa.String(10), nullable=False),
        sa.Column("able_to_work", sa.Boolean(), nullable=False),
        sa.Column("employment_status", sa.String(12), nullable=False),
        sa.Column("unemployed_since", sa.Date(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("school_stage", sa.String(12), nullable=False),
        sa.Column("boarding", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_members_household_id_households"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
    )
    op.create_index("ix_members_household_id", "members", ["household_id"])
    op.create_index("ix_members_resident_id", "members", ["resident_id"])
    op.create_index(
        "uq_members_active_resident_id",
        "members",
        ["resident_id"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active = 1"),
    )
    op.create_table(
        "household_revisions",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("monthly_income", Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_household_revisions_household_id_households"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_household_revisions"),
        sa.UniqueConstraint("household_id", "effective_on", name="uq_household_revisions_household_id_effective_on"),
    )
    op.create_index("ix_household_revisions_household_id", "household_revisions", ["household_id"])
    op.create_table(
        "payment_runs",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("households_paid", sa.Integer(), nullable=False),
        sa.Column("total_amount", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_runs"),
    )
    op.create_index("ix_payment_runs_period", "payment_runs", ["period"])
    op.create_table(
        "payments",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("run_id", big_id, nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_payments_household_id_households"),
        sa.ForeignKeyConstraint(["run_id"], ["payment_runs.id"], name="fk_payments_run_id_payment_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("household_id", "period", name="uq_payments_household_id_period"),
    )
    op.create_index("ix_payments_period_division_code", "payments", ["period", "division_code"])
    op.create_table(
        "employment_extensions",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("employed_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("first_period", sa.String(7), nullable=False),
        sa.Column("last_period", sa.String(7), nullable=False),
        sa.Column("monthly_amount", Money(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_employment_extensions_household_id_households"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_employment_extensions"),
    )
    op.create_index("ix_employment_extensions_household_id", "employment_extensions", ["household_id"])


def downgrade() -> None:
    for table in ("employment_extensions", "payments", "payment_runs", "household_revisions", "members", "households"):
        op.drop_table(table)
    drop_platform_tables(op)
