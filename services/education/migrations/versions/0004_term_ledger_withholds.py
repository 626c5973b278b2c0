"""The term ledger withholds what a household owes: ``term_grants.withheld``.

A recovery line records what a household was paid over; later payment lines to the household keep part of
their amount back (``withheld``) until what it owes is recovered, so the transfer of a line is
``amount - withheld`` and never negative. Lines written before are transfers in full (``withheld`` 0).
A downgrade forgets what was withheld: the lines keep their amounts, and the recoveries are owed again.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

from shared.db import Money

revision, down_revision, branch_labels, depends_on = "0004", "0003", None, None


def upgrade() -> None:
    with op.batch_alter_table("term_grants") as batch:
        batch.add_column(sa.Column("withheld", Money(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("term_grants") as batch:
        batch.drop_column("withheld")
