"""Medical assistance invariants through the API under concurrency and odd input: the yearly cap per person
(PostgreSQL, and SQLite), one invoice whatever its spelling, designation periods, the visit day's bounds."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from shared.migrations import upgrade
from shared.periods import city_today
from tests.support import (
    bearer,
    enrol,
    eventually,
    household_body,
    member,
    new_prefix,
    running,
    service_app,
    system,
)

pytestmark = pytest.mark.integration

CONCURRENT = 20
CAP = Decimal("3000.00")


async def _covered_person(registry: httpx.AsyncClient, medical: httpx.AsyncClient) -> str:
    """A dibao member the medical service has heard of (enrolled 5 January 2026)."""

    head = member("head")
    await enrol(registry, household_body(members=[head], enrolled_on=date(2026, 1, 5)))

    async def eligible() -> bool:
        response = await medical.get(f"/eligibility/{head['resident_id']}", params={"on": "2026-02-01"})
        return response.status_code == 200 and response.json()["eligible"]

    await eventually(eligible)
    return head["resident_id"]


async def _hospital(medical: httpx.AsyncClient, designated_from: str = "2020-01-01") -> tuple[str, dict[str, str]]:
    response = await medical.post(
        "/hospitals", json={"name": "哈尔滨市第一医院", "level": "三级甲等", "designated_from": designated_from}
    )
    assert response.status_code == 201, response.text
    hospital_id = response.json()["id"]
    return hospital_id, bearer("medical:claims", hospital_id=hospital_id, agency=f"hospital_{hospital_id}")


def _claim(
    hospital_id: str,
    resident_id: str,
    invoice_no: str,
    visit_date: str = "2026-03-10",
    total_cost: str = "1600.00",
    insurance_paid: str = "200.00",
) -> dict[str, str]:
    return {
        "hospital_id": hospital_id,
        "resident_id": resident_id,
        "invoice_no": invoice_no,
        "visit_date": visit_date,
        "kind": "outpatient",
        "total_cost": total_cost,
        "insurance_paid": insurance_paid,
    }


async def _claims_at_once_never_pay_past_the_cap(registry: httpx.AsyncClient, medical: httpx.AsyncClient) -> None:
    resident_id = await _covered_person(registry, medical)
    hospital_id, hospital_token = await _hospital(medical)

    # Each claim alone is worth 700.00 (half of 1,400.00 out of pocket): twenty of them ask 14,000.00.
    responses = await asyncio.gather(
        *(
            medical.post(
                "/claims",
                headers=hospital_token,
                json=_claim(hospital_id, resident_id, f"CAP-{n:02d}", visit_date=f"2026-03-{n + 1:02d}"),
            )
            for n in range(CONCURRENT)
        )
    )

    assert [r.status_code for r in responses] == [201] * CONCURRENT, [r.text for r in responses if r.status_code != 201]
    amounts = sorted((Decimal(r.json()["assistance_amount"]) for r in responses), reverse=True)
    assert sum(amounts) == CAP
    # Four whole claims, one cut to what was left, the rest nothing
    assert amounts[:5] == [Decimal("700.00")] * 4 + [Decimal("200.00")]
    assert set(amounts[5:]) == {Decimal("0.00")}
    assert sum(1 for r in responses if r.json()["capped"]) == CONCURRENT - 4

    listed = (await medical.get("/claims", params={"resident_id": resident_id})).json()
    assert listed["total"] == CONCURRENT
    assert sum(Decimal(c["assistance_amount"]) for c in listed["items"]) == CAP
    eligibility = (await medical.get(f"/eligibility/{resident_id}", params={"on": "2026-06-01"})).json()
    assert (eligibility["paid_this_year"], eligibility["remaining_cap"]) == ("3000.00", "0.00")

    # The next year's cap starts afresh.
    next_year = await medical.post(
        "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, "CAP-2027", visit_date="2027-01-02")
    )
    if date(2027, 1, 2) <= city_today():
        assert next_year.status_code == 201 and next_year.json()["assistance_amount"] == "700.00"
    else:
        assert next_year.status_code == 422 and next_year.json()["code"] == "date_in_future"


async def test_concurrent_claims_for_one_person_pay_exactly_the_yearly_cap_on_postgresql(kafka, postgres):
    async with system("registry", "medical") as s:
        await _claims_at_once_never_pay_past_the_cap(s["registry"], s["medical"])


async def test_concurrent_claims_for_one_person_pay_exactly_the_yearly_cap_on_sqlite(kafka, postgres, tmp_path: Path):
    prefix = new_prefix()
    url = f"sqlite+aiosqlite:///{tmp_path / 'medical.db'}"
    await asyncio.to_thread(upgrade, "medical", url)
    async with system("registry", prefix=prefix) as s, running(service_app("medical", url, prefix)) as medical:
        await _claims_at_once_never_pay_past_the_cap(s["registry"], medical)


async def test_one_invoice_is_one_claim_whatever_its_spelling(kafka, postgres):
    async with system("registry", "medical") as s:
        registry, medical = s["registry"], s["medical"]
        resident_id = await _covered_person(registry, medical)
        hospital_id, hospital_token = await _hospital(medical)
        other_id, other_token = await _hospital(medical)

        first = await medical.post(
            "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, " inv-001 ")
        )
        assert first.status_code == 201, first.text
        assert first.json()["invoice_no"] == "INV-001"

        for spelling in ["INV-001", "Inv-001", "INV-001 ", "ＩＮＶ－００１", "\u3000inv-００1", "\u00a0INV-001"]:
            again = await medical.post(
                "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, spelling)
            )
            assert again.status_code == 409, (spelling, again.text)
            assert again.json()["code"] == "duplicate_invoice"

        # Another hospital's invoice of the same number is another invoice.
        elsewhere = await medical.post("/claims", headers=other_token, json=_claim(other_id, resident_id, "inv-001"))
        assert elsewhere.status_code == 201, elsewhere.text

        # Spellings of one new invoice sent at once: one claim, the others 409.
        spellings = ["INV-002", "inv-002", "INV-002 ", " Inv-002", "ＩＮＶ－００２", "inv-００２"] * 2
        at_once = await asyncio.gather(
            *(
                medical.post("/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, spelling))
                for spelling in spellings
            )
        )
        assert sorted(r.status_code for r in at_once) == [201] + [409] * (len(spellings) - 1)
        assert {r.json()["code"] for r in at_once if r.status_code == 409} == {"duplicate_invoice"}

        invoices = sorted(c["invoice_no"] for c in (await medical.get("/claims")).json()["items"])
        assert invoices == ["INV-001", "INV-001", "INV-002"]
        # The cap counted each invoice once: 3 × 700.00
        eligibility = (await medical.get(f"/eligibility/{resident_id}", params={"on": "2026-06-01"})).json()
        assert eligibility["paid_this_year"] == "2100.00"


async def test_invoice_numbers_with_control_or_invisible_characters_are_refused(kafka, postgres):
    async with system("registry", "medical") as s:
        registry, medical = s["registry"], s["medical"]
        resident_id = await _covered_person(registry, medical)
        hospital_id, hospital_token = await _hospital(medical)

        for invoice_no in ["INV\u0000001", "INV-001\n", "INV\t001", "INV\u007f001"]:
            refused = await medical.post(
                "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, invoice_no)
            )
            assert refused.status_code == 422, (invoice_no, refused.text)
        for invoice_no in ["INV\u200b001", "\ufeffINV-001", "   ", ""]:
            refused = await medical.post(
                "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, invoice_no)
            )
            assert refused.status_code == 422, (invoice_no, refused.text)
            assert refused.json()["code"] == "invalid_invoice_no", refused.text

        assert (await medical.get("/claims")).json()["total"] == 0
        accepted = await medical.post(
            "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, "INV-001")
        )
        assert accepted.status_code == 201, accepted.text


async def test_a_designation_cannot_be_changed_to_end_before_it_starts(kafka, postgres):
    async with system("medical") as s:
        medical = s["medical"]
        hospital_id, _ = await _hospital(medical, designated_from="2024-03-01")

        refused = await medical.patch(f"/hospitals/{hospital_id}", json={"designated_until": "2024-02-29"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_period"
        # As registration refuses it
        registered = await medical.post(
            "/hospitals", json={"name": "某医院", "designated_from": "2024-03-01", "designated_until": "2024-02-29"}
        )
        assert (registered.status_code, registered.json()["code"]) == (422, "invalid_period")

        hospital = next(h for h in (await medical.get("/hospitals")).json() if h["id"] == hospital_id)
        assert hospital["designated_until"] is None

        same_day = await medical.patch(f"/hospitals/{hospital_id}", json={"designated_until": "2024-03-01"})
        assert same_day.status_code == 200 and same_day.json()["designated_until"] == "2024-03-01"
        reopened = await medical.patch(f"/hospitals/{hospital_id}", json={"designated_until": None})
        assert reopened.status_code == 200 and reopened.json()["designated_until"] is None


async def test_a_visit_is_dated_neither_after_today_in_harbin_nor_before_the_designation(kafka, postgres):
    async with system("registry", "medical") as s:
        registry, medical = s["registry"], s["medical"]
        resident_id = await _covered_person(registry, medical)
        hospital_id, hospital_token = await _hospital(medical, designated_from="2026-03-01")
        today = city_today()

        tomorrow = await medical.post(
            "/claims",
            headers=hospital_token,
            json=_claim(hospital_id, resident_id, "INV-F", visit_date=(today + timedelta(days=1)).isoformat()),
        )
        assert tomorrow.status_code == 422, tomorrow.text
        assert tomorrow.json()["code"] == "date_in_future"

        before = await medical.post(
            "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, "INV-B", visit_date="2026-02-28")
        )
        assert before.status_code == 422, before.text
        assert before.json()["code"] == "hospital_not_designated"
        assert (await medical.get("/claims")).json()["total"] == 0

        first_day = await medical.post(
            "/claims", headers=hospital_token, json=_claim(hospital_id, resident_id, "INV-D", visit_date="2026-03-01")
        )
        assert first_day.status_code == 201, first_day.text
        # Today in Harbin is a visit day, whatever the date is in UTC.
        on_the_day = await medical.post(
            "/claims",
            headers=hospital_token,
            json=_claim(hospital_id, resident_id, "INV-T", visit_date=today.isoformat()),
        )
        assert on_the_day.status_code == 201, on_the_day.text
