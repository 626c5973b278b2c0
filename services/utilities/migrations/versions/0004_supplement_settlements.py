"""The supplement ledger is keyed by settlement, not by run period.

* ``supplement_accounts`` gain ``settlement``: how many settlements of the household wrote lines.
* ``heating_supplements`` gain ``settlement`` (the account's counter when the line was written), and the
  unique key becomes one line per household, month, kind and settlement. Keyed by run period, a run of a
  period after a fact changed could not write a month's difference that an earlier run of the same period
  had already written a line of that kind for; keyed by settlement, every settlement may. ``run_period``
  stays: it says which run wrote the line.

Lines written before are the households' first settlement; accounts with lines have had one.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0004", "0003", None, None


def upgrade() -> None:
    with op.batch_alter_table("supplement_accounts") as table:
        table.add_column(sa.Column("settlement", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE supplement_accounts SET settlement = 1 WHERE EXISTS (SELECT 1 FROM heating_supplements "
        "WHERE heating_supplements.household_id = supplement_accounts.household_id)"
    )
    with op.batch_alter_table("heating_supplements") as table:
        table.add_column(sa.Column("settlement", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("heating_supplements") as table:
        # Every line written from now on says which settlement it belongs to.
        table.alter_column("settlement", existing_type=sa.Integer(), existing_nullable=False, server_default=None)
        table.drop_constraint("uq_heating_supplements_household_id_period_kind_run_period", type_="unique")
        table.create_unique_constraint(
            "uq_heating_supplements_household_id_period_kind_settlement",
            ["household_id", "period", "kind", "settlement"],
        )


def downgrade() -> None:
    # Back to one line per household, month, kind and run period: where a run period settled a month more
    # than once, its lines of a kind are summed into the first (what was paid and withheld is kept).
    op.execute(
        "UPDATE heating_supplements SET "
        "amount = (SELECT SUM(o.amount) FROM heating_supplements o WHERE o.household_id = heating_supplements.household_id "
        "AND o.period = heating_supplements.period AND o.kind = heating_supplements.kind "
        "AND o.run_period = heating_supplements.run_period), "
        "withheld = (SELECT SUM(o.withheld) FROM heating_supplements o WHERE o.household_id = heating_supplements.household_id "
        "AND o.period = heating_supplements.period AND o.kind = heating_supplements.kind "
        "AND o.run_period = heating_supplements.run_period) "
        "WHERE id IN (SELECT MIN(id) FROM heating_supplements GROUP BY household_id, period, kind, run_period "
        "HAVING COUNT(*) > 1)"
    )
    op.execute(
        "DELETE FROM heating_supplements WHERE id NOT IN "
        "(SELECT MIN(id) FROM heating_supplements GROUP BY household_id, period, kind, run_period)"
    )
    with op.batch_alter_table("heating_supplements") as table:
        table.drop_constraint("uq_heating_supplements_household_id_period_kind_settlement", type_="unique")
        table.create_unique_constraint(
            "uq_heating_supplements_household_id_period_kind_run_period",
            ["household_id", "period", "kind", "run_period"],
        )
        table.drop_column("settlement")
    with op.batch_alter_table("supplement_accounts") as table:
        table.drop_column("settlement")
