"""The procedure around the register: applications through investigation and public notice to a decision, their
objections, periodic reviews, appeals and written notices; the time limits and cycles as parameters.

Nothing stored before changes: households enrolled directly (a migrated caseload) simply have no application.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Area, Money, UtcDateTime
from shared.parameters import ParameterSpec, default_rows

revision, down_revision, branch_labels, depends_on = "0008", "0007", None, None
big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The defaults as of this revision (services/registry/parameters.py describes them), written out so that a later
# change of a default does not change what this revision seeded.
PROCEDURE_SPECS = [
    ParameterSpec(name=name, kind="integer", label="", defaults=(("*", value),))
    for name, value in (
        ("public_notice_days", "7"),
        ("application_investigation_days", "10"),
        ("application_notice_start_days", "5"),
        ("application_decision_days", "10"),
        ("review_interval_months", "12"),
        ("appeal_filing_days", "60"),
        ("appeal_decision_days", "30"),
    )
]


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("household", sa.JSON(), nullable=False),
        sa.Column("visited_on", sa.Date()),
        sa.Column("verified_income", Money()),
        sa.Column("verified_area_m2", Area()),
        sa.Column("investigation_notes", sa.String(2000)),
        sa.Column("notice_round", sa.Integer(), nullable=False),
        sa.Column("notice_from", sa.Date()),
        sa.Column("notice_until", sa.Date()),
        sa.Column("decided_on", sa.Date()),
        sa.Column("decision_reason", sa.String(500)),
        sa.Column("household_id", sa.String(36)),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_applications_household_id_households"),
        sa.UniqueConstraint("household_id", name="uq_applications_household_id"),
        sa.CheckConstraint(
            "status IN ('submitted', 'investigated', 'noticed', 'approved', 'refused')",
            name="ck_applications_status_known",
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (household_id IS NOT NULL)", name="ck_applications_approved_is_enrolled"
        ),
    )
    op.create_index("ix_applications_status", "applications", ["status"])
    op.create_index("ix_applications_division_code", "applications", ["division_code"])
    op.create_table(
        "application_objections",
        sa.Column("id", big_id, nullable=False, autoincrement=True),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("notice_round", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("objector", sa.String(100)),
        sa.Column("grounds", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_on", sa.Date()),
        sa.Column("decision_reason", sa.String(500)),
        sa.PrimaryKeyConstraint("id", name="pk_application_objections"),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name="fk_application_objections_application_id_applications"
        ),
        sa.UniqueConstraint("application_id", "number", name="uq_application_objections_application_id_number"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", big_id, nullable=False, autoincrement=True),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("findings", sa.String(2000), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("effective_on", sa.Date()),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_reviews_household_id_households"),
    )
    op.create_index("ix_reviews_household_id", "reviews", ["household_id"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(10), nullable=False),
        sa.Column("application_id", sa.String(36)),
        sa.Column("household_id", sa.String(36)),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("lodged_on", sa.Date(), nullable=False),
        sa.Column("grounds", sa.String(2000), nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_on", sa.Date()),
        sa.Column("decision_reason", sa.String(500)),
        sa.Column("remedy", sa.JSON()),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_appeals"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], name="fk_appeals_application_id_applications"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_appeals_household_id_households"),
        sa.CheckConstraint(
            "(subject = 'refusal' AND application_id IS NOT NULL) "
            "OR (subject IN ('amount', 'exit') AND household_id IS NOT NULL)",
            name="ck_appeals_subject_named",
        ),
        sa.CheckConstraint("status IN ('lodged', 'upheld', 'dismissed')", name="ck_appeals_status_known"),
    )
    for column in ("application_id", "household_id", "division_code", "status"):
        op.create_index(f"ix_appeals_{column}", "appeals", [column])
    op.create_table(
        "notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36)),
        sa.Column("appeal_id", sa.String(36)),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("addressee", sa.String(100), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], name="fk_notices_application_id_applications"),
        sa.ForeignKeyConstraint(["appeal_id"], ["appeals.id"], name="fk_notices_appeal_id_appeals"),
    )
    op.create_index("ix_notices_household_id", "notices", ["household_id"])
    parameters = sa.table(
        "policy_parameters",
        sa.column("name"),
        sa.column("scope"),
        sa.column("value"),
        sa.column("effective_from", sa.Date()),
        sa.column("recorded_by"),
        sa.column("note"),
    )
    op.bulk_insert(parameters, default_rows(PROCEDURE_SPECS))


def downgrade() -> None:
    names = ", ".join(f"'{spec.name}'" for spec in PROCEDURE_SPECS)
    op.execute(f"DELETE FROM policy_parameters WHERE name IN ({names})")
    op.drop_table("notices")
    op.drop_table("appeals")
    op.drop_table("reviews")
    op.drop_table("application_objections")
    op.drop_table("applications")
