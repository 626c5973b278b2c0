"""The leading-group office: one-stop records and payments from assistance.grants, social mutual aid.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money
from shared.parameters import ParameterSpec, default_rows

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The assessment's criteria as the office had them in the registry (the office has its own since; 0006).
ASSESSMENT_SPECS = [
    ParameterSpec(name="assessment_housing_area_per_person", kind="decimal", label="", defaults=(("*", "8"),)),
    ParameterSpec(name="assessment_working_age_min", kind="integer", label="", defaults=(("*", "16"),)),
    ParameterSpec(name="assessment_working_age_end_male", kind="integer", label="", defaults=(("*", "60"),)),
    ParameterSpec(name="assessment_working_age_end_female", kind="integer", label="", defaults=(("*", "55"),)),
    ParameterSpec(name="assessment_unemployed_years", kind="integer", label="", defaults=(("*", "1"),)),
]


def upgrade() -> None:
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
        sa.Column("reference", sa.String(60), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assistance_payments"),
        sa.UniqueConstraint("bureau", "reference", name="uq_assistance_payments_bureau_reference"),
    )
    op.create_index("ix_assistance_payments_household_id", "assistance_payments", ["household_id"])
    op.create_index("ix_assistance_payments_paid_on", "assistance_payments", ["paid_on"])
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
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_donations_household_id_households"),
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
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_pairings_household_id_households"),
        sa.PrimaryKeyConstraint("id", name="pk_pairings"),
    )
    op.create_index("ix_pairings_household_id", "pairings", ["household_id"])
    parameters = sa.table(
        "policy_parameters",
        sa.column("name"),
        sa.column("scope"),
        sa.column("value"),
        sa.column("effective_from", sa.Date()),
        sa.column("recorded_by"),
        sa.column("note"),
    )
    op.bulk_insert(parameters, default_rows(ASSESSMENT_SPECS))


def downgrade() -> None:
    names = ", ".join(f"'{spec.name}'" for spec in ASSESSMENT_SPECS)
    op.execute(f"DELETE FROM policy_parameters WHERE name IN ({names})")
    for table in ("pairings", "donations", "assistance_payments", "assistance_records"):
        op.drop_table(table)
