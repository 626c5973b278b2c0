"""Medical assistance rules (医疗救助), pure functions.

Assistance for a visit = the share of the out-of-pocket cost (total − what basic medical insurance
paid), but never more than what is left of the person's yearly cap; the cap starts afresh each
calendar year.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.money import ZERO, to_fen


def out_of_pocket(total_cost: Decimal, insurance_paid: Decimal) -> Decimal:
    return to_fen(max(ZERO, total_cost - insurance_paid))


def remaining_cap(yearly_cap: Decimal, paid_this_year: Decimal) -> Decimal:
    return to_fen(max(ZERO, yearly_cap - paid_this_year))


@dataclass(frozen=True, slots=True)
class Assessment:
    out_of_pocket: Decimal
    uncapped: Decimal
    amount: Decimal

    @property
    def capped(self) -> bool:
        return self.amount < self.uncapped


def assess_claim(
    total_cost: Decimal, insurance_paid: Decimal, share: Decimal, yearly_cap: Decimal, paid_this_year: Decimal
) -> Assessment:
    oop = out_of_pocket(total_cost, insurance_paid)
    uncapped = to_fen(oop * share)
    return Assessment(oop, uncapped, min(uncapped, remaining_cap(yearly_cap, paid_this_year)))


def designated_on(designated_from: date, designated_until: date | None, day: date) -> bool:
    """A hospital is designated (定点) from ``designated_from`` through ``designated_until`` inclusive."""

    return designated_from <= day and (designated_until is None or day <= designated_until)


def near_cap(paid_this_year: Decimal, yearly_cap: Decimal, near_share: Decimal) -> bool:
    return yearly_cap > ZERO and paid_this_year >= to_fen(yearly_cap * near_share)


INVOICE_NO_MAX = 60


class InvalidInvoiceNo(ValueError):
    pass


def normalise_invoice_no(text: str) -> str:
    """The one spelling an invoice number (发票号) is compared and stored in.

    NFKC first (a full-width ``ＩＮＶ－００１`` or an ideographic space is the ASCII one), then trimmed and
    upper-cased, so ``"inv-001 "`` and ``"INV-001"`` are the same invoice. A control, format (zero-width),
    surrogate, private-use or unassigned character is refused rather than dropped: a number that differs
    from another only by an invisible character would otherwise pass as a new invoice.
    """

    folded = unicodedata.normalize("NFKC", text)
    for character in folded:
        if unicodedata.category(character).startswith("C"):
            raise InvalidInvoiceNo(
                f"an invoice number cannot hold the control or invisible character U+{ord(character):04X}"
            )
    normal = unicodedata.normalize("NFKC", folded.strip().upper())
    if not normal:
        raise InvalidInvoiceNo("an invoice number cannot be blank")
    if len(normal) > INVOICE_NO_MAX:
        raise InvalidInvoiceNo(f"an invoice number has at most {INVOICE_NO_MAX} characters")
    return normal


def designation_period_problem(designated_from: date, designated_until: date | None) -> str | None:
    """Why a designation period is impossible (its end before its start), or None."""

    if designated_until is not None and designated_until < designated_from:
        return f"designated_until ({designated_until}) is before designated_from ({designated_from})"
    return None
