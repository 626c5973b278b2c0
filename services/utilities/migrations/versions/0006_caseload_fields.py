"""The caseload copy keeps only the fields this service reads (services.utilities.models.CASELOAD_FIELDS, as of
this revision); what else the registry's events carried is forgotten (shared.migrations.caseload_keeps_only).

Revision ID: 0006
"""

from shared.migrations import caseload_keeps_only
from shared.migrations import caseload_unchanged as downgrade  # noqa: F401

revision, down_revision, branch_labels, depends_on = "0006", "0005", None, None

HOUSEHOLD = frozenset(
    {"allowance_schedule", "division_code", "enrolled_on", "exit_on", "extensions", "heating", "household_id"}
)
MEMBER = frozenset({"resident_id"})


def upgrade() -> None:
    caseload_keeps_only(HOUSEHOLD, MEMBER)
