"""The leading group's work cycle: joint meetings and their decisions, inspections and their findings,
commendations, partner organisations' activities; the scoring parameters (services.office.work_cycle).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from services.office.work_cycle.parameters import WORK_CYCLE_SPECS
from shared.parameters import default_rows

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meetings"),
    )
    op.create_index("ix_meetings_held_on", "meetings", ["held_on"])
    op.create_table(
        "meeting_decisions",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("meeting_id", big_id, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_decisions"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name="fk_meeting_decisions_meeting_id_meetings"),
        sa.UniqueConstraint("meeting_id", "n", name="uq_meeting_decisions_meeting_id_n"),
    )
    op.create_index("ix_meeting_decisions_meeting_id", "meeting_decisions", ["meeting_id"])
    op.create_table(
        "inspections",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
    )
    op.create_index("ix_inspections_division_code", "inspections", ["division_code"])
    op.create_table(
        "inspection_findings",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("inspection_id", big_id, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolution", sa.String(500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_findings"),
        sa.ForeignKeyConstraint(
            ["inspection_id"], ["inspections.id"], name="fk_inspection_findings_inspection_id_inspections"
        ),
        sa.UniqueConstraint("inspection_id", "n", name="uq_inspection_findings_inspection_id_n"),
    )
    op.create_index("ix_inspection_findings_inspection_id", "inspection_findings", ["inspection_id"])
    op.create_index("ix_inspection_findings_status_due", "inspection_findings", ["status", "due_on"])
    op.create_table(
        "commendations",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("score", sa.Numeric(5, 2), nullable=False),
        sa.Column("threshold", sa.Numeric(5, 2), nullable=False),
        sa.Column("citation", sa.String(500), nullable=False),
        sa.Column("commended_on", sa.Date(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_commendations"),
        sa.UniqueConstraint("period", "subject_kind", "subject", name="uq_commendations_subject"),
    )
    op.create_table(
        "partner_activities",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("organisation", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(18), nullable=True),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_activities"),
    )
    op.create_index("ix_partner_activities_held_on", "partner_activities", ["held_on"])
    op.create_index("ix_partner_activities_household_id", "partner_activities", ["household_id"])

    # The scoring parameters' defaults, unless a value is already on record under one of their names.
    bind = op.get_bind()
    known = set(bind.execute(sa.text("SELECT DISTINCT name FROM policy_parameters")).scalars())
    parameters = sa.table(
        "policy_parameters",
        sa.column("name"),
        sa.column("scope"),
        sa.column("value"),
        sa.column("effective_from", sa.Date()),
        sa.column("recorded_by"),
        sa.column("note"),
    )
    rows = [row for row in default_rows(WORK_CYCLE_SPECS) if row["name"] not in known]
    if rows:
        op.bulk_insert(parameters, rows)


def downgrade() -> None:
    for spec in WORK_CYCLE_SPECS:
        op.execute(sa.text("DELETE FROM policy_parameters WHERE name = :name").bindparams(name=spec.name))
    op.drop_table("partner_activities")
    op.drop_table("commendations")
    op.drop_index("ix_inspection_findings_status_due", table_name="inspection_findings")
    op.drop_table("inspection_findings")
    op.drop_table("inspections")
    op.drop_table("meeting_decisions")
    op.drop_table("meetings")
