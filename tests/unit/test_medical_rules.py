"""Medical assistance rules without I/O: invoice numbers in one spelling, designation periods, the visit day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.medical import rules, schemas
from shared.periods import city_today


@pytest.mark.parametrize(
    "spelling",
    [
        "INV-001",
        "inv-001",
        "Inv-001",
        " INV-001",
        "INV-001 ",
        "\u3000INV-001\u3000",
        "ＩＮＶ－００１",
        "ｉｎｖ-001",
        "INV-\uff10\uff10\uff11",
        "\u00a0inv-001",
    ],
)
def test_every_spelling_of_one_invoice_number_folds_to_the_same(spelling):
    assert rules.normalise_invoice_no(spelling) == "INV-001"


def test_folding_an_invoice_number_twice_changes_nothing():
    for text in ["ＩＮＶ－００１", "ǰ-1", "straße 7", "㍿-12", "ﬁ-3"]:
        once = rules.normalise_invoice_no(text)
        assert rules.normalise_invoice_no(once) == once


def test_inner_characters_still_tell_invoices_apart():
    assert rules.normalise_invoice_no("INV-001") != rules.normalise_invoice_no("INV-0001")
    assert rules.normalise_invoice_no("INV 001") != rules.normalise_invoice_no("INV-001")


@pytest.mark.parametrize(
    "text",
    [
        "INV\x00001",
        "INV-001\n",
        "\tINV-001",
        "INV\x7f001",
        "INV\u200b001",
        "\ufeffINV-001",
        "INV\u202e001",
        "INV\ue000001",
    ],
)
def test_control_and_invisible_characters_are_refused_not_dropped(text):
    with pytest.raises(rules.InvalidInvoiceNo):
        rules.normalise_invoice_no(text)


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_a_blank_invoice_number_is_refused(text):
    with pytest.raises(rules.InvalidInvoiceNo, match="blank"):
        rules.normalise_invoice_no(text)


def test_the_length_bound_applies_to_the_folded_number():
    assert rules.normalise_invoice_no("A" * 60 + "   ") == "A" * 60
    with pytest.raises(rules.InvalidInvoiceNo, match="60"):
        rules.normalise_invoice_no("A" * 61)
    # One character that NFKC spells as four
    with pytest.raises(rules.InvalidInvoiceNo, match="60"):
        rules.normalise_invoice_no("A" * 57 + "㍿")


def test_a_designation_ends_no_earlier_than_it_starts():
    start = date(2026, 3, 1)
    assert rules.designation_period_problem(start, None) is None
    assert rules.designation_period_problem(start, start) is None
    assert rules.designation_period_problem(start, date(2026, 2, 28)) is not None


def test_the_cap_never_pays_past_what_is_left():
    assessment = rules.assess_claim(
        Decimal("1600.00"), Decimal("200.00"), Decimal("0.50"), Decimal("3000.00"), Decimal("2800.00")
    )
    assert (assessment.amount, assessment.capped) == (Decimal("200.00"), True)
    spent = rules.assess_claim(
        Decimal("1600.00"), Decimal("200.00"), Decimal("0.50"), Decimal("3000.00"), Decimal("3100.00")
    )
    assert spent.amount == Decimal("0.00")


def _claim(visit_date: str) -> schemas.ClaimIn:
    return schemas.ClaimIn.model_validate(
        {
            "hospital_id": "1",
            "resident_id": "11010519491231002X",
            "invoice_no": "ｉｎｖ-7 ",
            "visit_date": visit_date,
            "kind": "outpatient",
            "total_cost": "10.00",
            "insurance_paid": "0.00",
        }
    )


def test_a_visit_may_be_dated_today_in_harbin_though_utc_is_still_on_yesterday(monkeypatch):
    # 20:00 UTC on 1 December is 04:00 on 2 December in Harbin.
    instant = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    monkeypatch.setattr(schemas, "city_today", lambda: city_today(instant))

    assert _claim("2026-12-02").visit_date == date(2026, 12, 2)
    with pytest.raises(ValidationError) as refused:
        _claim("2026-12-03")
    assert refused.value.errors()[0]["ctx"]["code"] == "date_in_future"


def test_a_claim_carries_its_invoice_number_folded():
    assert _claim("2026-03-01").invoice_no == "INV-7"
