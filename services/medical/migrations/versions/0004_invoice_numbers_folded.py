"""Invoice numbers stored in the one spelling they are compared in.

``rules.normalise_invoice_no`` spells them NFKC, trimmed, upper-case. Stored ones are rewritten to that
spelling, except where two claims of one hospital fold into the same number: the lowest id takes the
folded spelling (so a new claim for it is a duplicate), the others keep theirs, as the auditors' evidence
of an invoice paid twice. A stored number the rule would refuse (a control character) is left as it is.

Revision ID: 0004
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from services.medical.rules import InvalidInvoiceNo, normalise_invoice_no

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _folded(value: str) -> str | None:
    try:
        return normalise_invoice_no(value)
    except InvalidInvoiceNo:
        return None


def upgrade() -> None:
    connection = op.get_bind()
    claims = sa.table(
        "claims",
        sa.column("id", sa.BigInteger()),
        sa.column("hospital_id", sa.BigInteger()),
        sa.column("invoice_no", sa.String()),
    )
    rows = connection.execute(
        sa.select(claims.c.id, claims.c.hospital_id, claims.c.invoice_no).order_by(claims.c.id)
    ).all()
    taken = {(hospital_id, invoice_no) for _, hospital_id, invoice_no in rows}
    to_fold: dict[tuple[int, str], list[int]] = defaultdict(list)
    for claim_id, hospital_id, invoice_no in rows:
        folded = _folded(invoice_no)
        if folded is not None and folded != invoice_no:
            to_fold[(hospital_id, folded)].append(claim_id)
    for (hospital_id, folded), claim_ids in to_fold.items():
        if (hospital_id, folded) in taken:
            continue  # a claim already has the folded spelling: the others stay as they are
        connection.execute(claims.update().where(claims.c.id == claim_ids[0]).values(invoice_no=folded))

    refused = sa.table("refused_claims", sa.column("id", sa.BigInteger()), sa.column("invoice_no", sa.String()))
    for refusal_id, invoice_no in connection.execute(sa.select(refused.c.id, refused.c.invoice_no)).all():
        folded = _folded(invoice_no)
        if folded is not None and folded != invoice_no:
            connection.execute(refused.update().where(refused.c.id == refusal_id).values(invoice_no=folded))


def downgrade() -> None:
    # The original spellings are not kept; the folded ones are as valid under the old code.
    pass
