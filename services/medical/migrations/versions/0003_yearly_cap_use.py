"""The yearly cap per person as a row that claims lock.

A claim read the year's paid total, then wrote: concurrent claims for one person all saw the same
total and together paid past the cap. ``yearly_cap_use`` (resident, year, used) is the row each claim
now locks first and updates in its own transaction; it starts from the sum of the claims already stored.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "yearly_cap_use",
        sa.Column("resident_id", sa.String(18), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("used", Money(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", "year", name="pk_yearly_cap_use"),
    )
    # Money is stored in the same unit in both tables (NUMERIC on PostgreSQL, hundredths on SQLite): SUM keeps it.
    op.execute(
        "INSERT INTO yearly_cap_use (resident_id, year, used) "
        "SELECT resident_id, year, SUM(assistance_amount) FROM claims GROUP BY resident_id, year"
    )


def downgrade() -> None:
    op.drop_table("yearly_cap_use")
