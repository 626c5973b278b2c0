"""Term runs settle against a ledger; a pupil's school facts are kept by date.

``term_grants`` becomes a ledger: a line per pupil, programme, period, kind (``payment`` or ``recovery``)
and run, so a later run can add arrears or record an overpayment for a period already paid. ``pupils``
keeps the history of stage, boarding and a disabled member in the household (``facts``), so a term is
paid with the facts in force in it.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0003", "0002", None, None


def upgrade() -> None:
    with op.batch_alter_table("pupils") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    with op.batch_alter_table("term_grants") as batch:
        batch.add_column(sa.Column("kind", sa.String(10), nullable=False, server_default="payment"))
        batch.drop_constraint("uq_term_grants_resident_id_programme_period", type_="unique")
        batch.create_unique_constraint(
            "uq_term_grants_resident_id_programme_period_kind_run_id",
            ["resident_id", "programme", "period", "kind", "run_id"],
        )
    with op.batch_alter_table("term_grants") as batch:
        batch.alter_column("kind", server_default=None)


def downgrade() -> None:
    # Back to one line per pupil, programme and period: keep each period's net amount on its first line.
    op.execute("""
        UPDATE term_grants SET amount = (SELECT SUM(t.amount) FROM term_grants t
                                         WHERE t.resident_id = term_grants.resident_id
                                           AND t.programme = term_grants.programme AND t.period = term_grants.period)
        WHERE id IN (SELECT MIN(id) FROM term_grants GROUP BY resident_id, programme, period)
    """)
    op.execute(
        "DELETE FROM term_grants WHERE id NOT IN (SELECT MIN(id) FROM term_grants GROUP BY resident_id, programme, period)"
    )
    with op.batch_alter_table("term_grants") as batch:
        batch.drop_constraint("uq_term_grants_resident_id_programme_period_kind_run_id", type_="unique")
        batch.create_unique_constraint(
            "uq_term_grants_resident_id_programme_period", ["resident_id", "programme", "period"]
        )
        batch.drop_column("kind")
    with op.batch_alter_table("pupils") as batch:
        batch.drop_column("facts")
