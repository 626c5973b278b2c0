"""The ledger's indexes for a run that reads 100,000 households a month.

* ``ix_payments_owing``: a partial index of the lines that can make a household owe (recoveries, and
  payments part of which was withheld). A run asks each batch of households what they owe; without it
  that question read the whole ledger once per batch (9 of the 24 s of a 100,000-household month).
* ``ix_payments_household_id_period`` goes: the unique key (household_id, period, kind, settlement) starts
  with the same two columns and answers the same questions, and every line paid for one index less.

Revision ID: 0005
"""

from alembic import op

from services.registry.models import OWING

revision, down_revision, branch_labels, depends_on = "0005", "0004", None, None


def upgrade() -> None:
    op.create_index("ix_payments_owing", "payments", ["household_id"], postgresql_where=OWING, sqlite_where=OWING)
    op.drop_index("ix_payments_household_id_period", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_household_id_period", "payments", ["household_id", "period"])
    op.drop_index("ix_payments_owing", table_name="payments")
