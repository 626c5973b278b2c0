"""The caseload copy keeps only the fields this service reads (services.office.models.CASELOAD_FIELDS, as of
this revision); what else the registry's events carried is forgotten (shared.migrations.caseload_keeps_only).

Revision ID: 0005
"""

from shared.migrations import caseload_keeps_only
from shared.migrations import caseload_unchanged as downgrade  # noqa: F401

revision, down_revision, branch_labels, depends_on = "0005", "0004", None, None

HOUSEHOLD = frozenset(
    {
        "address",
        "allowance_schedule",
        "division_code",
        "enrolled_on",
        "extensions",
        "heating",
        "household_id",
        "housing_area_m2",
    }
)
MEMBER = frozenset(
    {
        "able_to_work",
        "birth_date",
        "boarding",
        "disabled",
        "employment_status",
        "name",
        "relation",
        "resident_id",
        "school_stage",
        "sex",
        "unemployed_since",
    }
)


def upgrade() -> None:
    caseload_keeps_only(HOUSEHOLD, MEMBER)
