"""The caseload copy keeps only the fields this service reads (services.employment.models.CASELOAD_FIELDS, as of
this revision); what else the registry's events carried is forgotten (shared.migrations.caseload_keeps_only).

Revision ID: 0004
"""

from shared.migrations import caseload_keeps_only
from shared.migrations import caseload_unchanged as downgrade  # noqa: F401

revision, down_revision, branch_labels, depends_on = "0004", "0003", None, None

HOUSEHOLD = frozenset({"division_code", "enrolled_on", "household_id"})
MEMBER = frozenset(
    {"able_to_work", "birth_date", "employment_status", "name", "resident_id", "sex", "unemployed_since"}
)


def upgrade() -> None:
    caseload_keeps_only(HOUSEHOLD, MEMBER)
