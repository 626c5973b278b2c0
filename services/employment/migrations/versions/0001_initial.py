"""Workers, certificates, vacancies, referrals, posts, employment records; platform and bureau tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.employment.parameters import SPECS
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
        "workers",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("able_to_work", sa.Boolean(), nullable=False),
        sa.Column("employment_status", sa.String(12), nullable=False),
        sa.Column("unemployed_since", sa.Date(), nullable=True),
        sa.Column("in_dibao_from", sa.Date(), nullable=False),
        sa.Column("in_dibao_until", sa.Date(), nullable=True),
        sa.Column("certificate_due_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
        sa.UniqueConstraint("household_id", "resident_id", name="uq_workers_household_id_resident_id"),
    )
    op.create_index("ix_workers_resident_id", "workers", ["resident_id"])
    op.create_index("ix_workers_certificate_due_on", "workers", ["certificate_due_on"])
    op.create_table(
        "certificates",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(30), nullable=True),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("holder_name", sa.String(100), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("benefits_end_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.UniqueConstraint("number", name="uq_certificates_number"),
    )
    op.create_index("ix_certificates_resident_id", "certificates", ["resident_id"])
    op.create_table(
        "vacancies",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("employer", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vacancies"),
    )
    op.create_table(
        "referrals",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("vacancy_id", big_id, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("certificate_number", sa.String(30), nullable=True),
        sa.Column("fee_waived", sa.Boolean(), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["vacancy_id"], ["vacancies.id"], name="fk_referrals_vacancy_id_vacancies"),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
        sa.UniqueConstraint("vacancy_id", "resident_id", name="uq_referrals_vacancy_id_resident_id"),
    )
    op.create_index("ix_referrals_resident_id", "referrals", ["resident_id"])
    op.create_table(
        "posts",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("employer", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("monthly_wage", Money(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
    )
    op.create_table(
        "post_assignments",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("post_id", big_id, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name="fk_post_assignments_post_id_posts"),
        sa.PrimaryKeyConstraint("id", name="pk_post_assignments"),
        sa.UniqueConstraint("post_id", "resident_id", name="uq_post_assignments_post_id_resident_id"),
    )
    op.create_index("ix_post_assignments_post_id", "post_assignments", ["post_id"])
    op.create_index("ix_post_assignments_resident_id", "post_assignments", ["resident_id"])
    op.create_table(
        "employment_records",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("employed_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("employer", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_employment_records"),
    )
    op.create_index("ix_employment_records_resident_id", "employment_records", ["resident_id"])


def downgrade() -> None:
    for table in (
        "employment_records",
        "post_assignments",
        "posts",
        "referrals",
        "vacancies",
        "certificates",
        "workers",
    ):
        op.drop_table(table)
    drop_bureau_tables(op)
    drop_platform_tables(op)
