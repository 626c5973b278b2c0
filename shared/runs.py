"""Periodic runs (monthly dibao, heating supplements, rent subsidies, school terms): the run's own record.

Every run settles each period up to its own against the service's ledger (shared.ledger): households are read
in batches ordered by key, each batch's rows locked, settled and **committed** on its own, so a run interrupted
half-way keeps what it paid and the next run settles only the rest; a second run adds nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Money, UtcDateTime
from shared.platform_models import BigId


class RunRecord:
    """Columns of a run's own record (mixed into each service's runs table)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    households_paid: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
