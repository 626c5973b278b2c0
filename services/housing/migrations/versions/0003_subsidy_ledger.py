"""The rent subsidy becomes a ledger: a run settles every month again, so a household and month may have
several lines — a payment or a recovery (``kind``), each from one run (``run_id``, ``run_period``), with
what was withheld from it to recover an overpayment (``withheld``). One line per household, month, kind
and run replaces one line per household and month.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money

revision, down_revision, branch_labels, depends_on = "0003", "0002", None, None


def upgrade() -> None:
    with op.batch_alter_table("rent_subsidies") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="rent_subsidy"))
        batch.add_column(sa.Column("withheld", Money(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("run_period", sa.String(7), nullable=True))
    # Every line so far was paid by a run for its own month.
    op.execute(
        "UPDATE rent_subsidies SET run_period = COALESCE("
        "(SELECT r.period FROM subsidy_runs r WHERE r.id = rent_subsidies.run_id), period)"
    )
    with op.batch_alter_table("rent_subsidies") as batch:
        batch.alter_column("kind", existing_type=sa.String(20), server_default=None)
        batch.alter_column("withheld", existing_type=Money(), server_default=None)
        batch.alter_column("run_period", existing_type=sa.String(7), nullable=False)
        batch.alter_column("run_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)
        batch.drop_constraint("uq_rent_subsidies_household_id_period", type_="unique")
        batch.create_unique_constraint(
            "uq_rent_subsidies_household_id_period_kind_run_id", ["household_id", "period", "kind", "run_id"]
        )


def downgrade() -> None:
    # Back to one line per household and month: a month's lines fold into its first one, which keeps
    # what the month came to (what was withheld from it is lost with the column).
    first = "SELECT MIN(id) FROM rent_subsidies GROUP BY household_id, period"
    op.execute(
        "UPDATE rent_subsidies SET amount = (SELECT SUM(s.amount) FROM rent_subsidies s "
        "WHERE s.household_id = rent_subsidies.household_id AND s.period = rent_subsidies.period) "
        f"WHERE id IN ({first})"
    )
    op.execute(f"DELETE FROM rent_subsidies WHERE id NOT IN ({first})")
    with op.batch_alter_table("rent_subsidies") as batch:
        batch.drop_constraint("uq_rent_subsidies_household_id_period_kind_run_id", type_="unique")
        batch.create_unique_constraint("uq_rent_subsidies_household_id_period", ["household_id", "period"])
        batch.alter_column("run_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        batch.drop_column("run_period")
        batch.drop_column("withheld")
        batch.drop_column("kind")
