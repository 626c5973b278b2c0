"""Money over time: membership spans, an exit that may lie ahead, a ledger that settles the past.

* ``households.status`` goes: a household is in dibao until ``exited_on``, which may lie ahead, so its
  status is a function of the day (``Household.status_on``), not a stored word that would go stale.
* ``households`` gains the ledger's bookkeeping (``revision``, ``settled_revision``, ``settled_through``,
  ``settlement``).
* ``members`` gain ``joined_on`` / ``left_on``: each person's time in each household.
* ``payments`` become a ledger: several lines per month (a payment, arrears, a recovery), ``withheld``,
  ``run_period`` and ``settlement``; one line per household, month and kind in each settlement.
* an employment extension is recorded once per member and job start.

Rows written before keep their meaning: members joined with their household; removed members are given a
zero-length span (when they left was not recorded); existing payments are the households' first settlement.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money

revision, down_revision, branch_labels, depends_on = "0004", "0003", None, None


def upgrade() -> None:
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("settled_revision", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("settled_through", sa.String(7), nullable=True))
        batch.add_column(sa.Column("settlement", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_index("ix_households_status")
        batch.drop_column("status")
    op.execute(
        "UPDATE households SET settlement = 1 WHERE EXISTS "
        "(SELECT 1 FROM payments WHERE payments.household_id = households.id)"
    )

    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("joined_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("left_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE members SET joined_on = (SELECT enrolled_on FROM households WHERE households.id = members.household_id)"
    )
    op.execute("UPDATE members SET left_on = joined_on WHERE removed")
    op.execute(
        "UPDATE members SET left_on = (SELECT exited_on FROM households WHERE households.id = members.household_id) "
        "WHERE NOT removed"
    )
    with op.batch_alter_table("members") as batch:
        batch.alter_column("joined_on", existing_type=sa.Date(), nullable=False)

    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("withheld", Money(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("run_period", sa.String(7), nullable=True))
        batch.add_column(sa.Column("settlement", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint("uq_payments_household_id_period", type_="unique")
        batch.create_unique_constraint(
            "uq_payments_household_id_period_kind_settlement", ["household_id", "period", "kind", "settlement"]
        )
        batch.create_index("ix_payments_household_id_period", ["household_id", "period"])
    op.execute("UPDATE payments SET run_period = period")
    with op.batch_alter_table("payments") as batch:
        batch.alter_column("run_period", existing_type=sa.String(7), nullable=False)

    with op.batch_alter_table("employment_extensions") as batch:
        batch.create_unique_constraint(
            "uq_employment_extensions_household_id_resident_id_employed_on",
            ["household_id", "resident_id", "employed_on"],
        )


def downgrade() -> None:
    with op.batch_alter_table("employment_extensions") as batch:
        batch.drop_constraint("uq_employment_extensions_household_id_resident_id_employed_on", type_="unique")
    # Back to one line per household and month: the lines of each month are summed into one.
    op.execute("DELETE FROM payments WHERE id NOT IN (SELECT MIN(id) FROM payments GROUP BY household_id, period)")
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_household_id_period")
        batch.drop_constraint("uq_payments_household_id_period_kind_settlement", type_="unique")
        batch.create_unique_constraint("uq_payments_household_id_period", ["household_id", "period"])
        batch.drop_column("settlement")
        batch.drop_column("run_period")
        batch.drop_column("withheld")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("left_on")
        batch.drop_column("joined_on")
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("status", sa.String(10), nullable=False, server_default="active"))
        batch.create_index("ix_households_status", ["status"])
        batch.drop_column("settlement")
        batch.drop_column("settled_through")
        batch.drop_column("settled_revision")
        batch.drop_column("revision")
    op.execute("UPDATE households SET status = 'exited' WHERE exited_on IS NOT NULL")
