"""The supplement ledger (kind, withheld, run period; one line per household, month, kind and run
period), the accounts a run locks (and how far each is settled), and the heating companies' bills for
the central-heating reduction. Accounts start empty: the first run settles every household in full.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money

revision, down_revision, branch_labels, depends_on = "0003", "0002", None, None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("heating_supplements") as table:
        table.add_column(sa.Column("kind", sa.String(10), nullable=False, server_default="supplement"))
        table.add_column(sa.Column("withheld", Money(), nullable=False, server_default="0"))
        table.add_column(sa.Column("run_period", sa.String(7), nullable=True))
    # Lines written before the ledger were each paid by the run of their own month.
    op.execute("UPDATE heating_supplements SET run_period = period")
    with op.batch_alter_table("heating_supplements") as table:
        table.alter_column("run_period", existing_type=sa.String(7), nullable=False)
        table.drop_constraint("uq_heating_supplements_household_id_period", type_="unique")
        table.create_unique_constraint(
            "uq_heating_supplements_household_id_period_kind_run_period",
            ["household_id", "period", "kind", "run_period"],
        )
    op.create_index("ix_heating_supplements_household_id", "heating_supplements", ["household_id"])
    op.create_table(
        "supplement_accounts",
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("owed", Money(), nullable=False),
        sa.Column("settled_through", sa.String(7), nullable=True),
        sa.Column("stamp", sa.String(80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_supplement_accounts"),
    )
    op.create_table(
        "heating_bills",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("season", sa.String(9), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("rate", sa.String(10), nullable=False),
        sa.Column("reduction", Money(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_heating_bills"),
        sa.UniqueConstraint("household_id", "season", name="uq_heating_bills_household_id_season"),
    )
    op.create_index("ix_heating_bills_period", "heating_bills", ["period"])


def downgrade() -> None:
    op.drop_table("heating_bills")
    op.drop_table("supplement_accounts")
    op.drop_index("ix_heating_supplements_household_id", "heating_supplements")
    # Only the lines the old shape can hold survive: one paid line per household and month.
    op.execute("DELETE FROM heating_supplements WHERE kind <> 'supplement' OR run_period <> period")
    with op.batch_alter_table("heating_supplements") as table:
        table.drop_constraint("uq_heating_supplements_household_id_period_kind_run_period", type_="unique")
        table.create_unique_constraint("uq_heating_supplements_household_id_period", ["household_id", "period"])
        table.drop_column("run_period")
        table.drop_column("withheld")
        table.drop_column("kind")
