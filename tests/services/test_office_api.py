"""The office's API on PostgreSQL, fed by a real registry through the real broker: the assessment's counts,
dibao as the registry announces it, mutual aid on the households the office knows, its report."""

from __future__ import annotations

from datetime import date

import pytest

from shared.events import GRANTS_TOPIC
from tests.support import enrol, envelopes, eventually, household_body, member, read_topic, system

pytestmark = pytest.mark.integration


@pytest.fixture()
async def both(kafka, postgres):
    async with system("registry", "office") as s:
        yield s["registry"], s["office"]


async def known(office, household_id: str, status: str = "active") -> dict:
    async def check() -> dict:
        response = await office.get(f"/households/{household_id}/assistance")
        return response.json() if response.status_code == 200 and response.json()["status"] == status else {}

    return await eventually(check)


async def test_assessment_counts_a_person_who_moved_household_within_the_period_once(both):
    registry, office = both
    moved = member("head")
    first = await enrol(registry, household_body(members=[moved], enrolled_on=date(2026, 1, 5)))
    exited = await registry.post(f"/households/{first['id']}/exit", json={"on": "2026-03-01", "reason": "并户"})
    assert exited.status_code == 200
    second = await enrol(
        registry,
        household_body(members=[member("head"), {**moved, "relation": "parent"}], enrolled_on=date(2026, 4, 1)),
    )
    await known(office, first["id"], "exited")
    await known(office, second["id"])
    assessment = (await office.get("/reports/assessment", params={"period": "2026"})).json()
    medical = next(b for b in assessment["bureaus"] if b["bureau"] == "medical")
    assert (assessment["households"], assessment["persons"]) == (2, 2)
    assert medical["persons_eligible"] == 2, "two households' memberships, two people"


async def test_the_registry_announces_its_dibao_payments_and_the_office_counts_them(both):
    registry, office = both
    household = await enrol(registry, household_body(income="60.00", enrolled_on=date(2026, 1, 6)))
    run = await registry.post("/payment-runs", json={"period": "2026-02"})
    assert run.status_code == 200, run.text
    ledger = (await registry.get(f"/households/{household['id']}/payments")).json()
    assert [(p["period"], p["amount"]) for p in ledger] == [("2026-01", "140.00"), ("2026-02", "140.00")]

    records = await read_topic(
        f"{registry.app.state.settings.topic_prefix}{GRANTS_TOPIC}", until=lambda records: len(records) >= 2
    )
    paid = [e.payload for e in envelopes(records) if e.type == "AssistancePaid" and e.key == household["id"]]
    assert {(p["bureau"], p["programme"], p["period"], p["amount"]) for p in paid} == {
        ("civil_affairs", "dibao", "2026-01", "140.00"),
        ("civil_affairs", "dibao", "2026-02", "140.00"),
    }

    async def dibao_shown() -> dict:
        view = await known(office, household["id"])
        return view if view["dibao"]["payments"] == 2 else {}

    view = await eventually(dibao_shown)
    assert (view["dibao"]["amount_paid"], view["dibao"]["last_period"], view["dibao"]["monthly_allowance"]) == (
        "280.00",
        "2026-02",
        "140.00",
    )
    assert view["programmes"] == [], "dibao is shown as dibao, not as a bureau's programme"
    assessment = (await office.get("/reports/assessment", params={"period": "2026-H1"})).json()
    assert assessment["dibao_paid"] == "280.00"
    again = await registry.post("/payment-runs", json={"period": "2026-02"})
    assert again.json()["households_paid"] == 0
    assert (await office.get("/reports/assessment", params={"period": "2026-H1"})).json()["dibao_paid"] == "280.00"


async def test_mutual_aid_is_for_households_the_office_knows_and_shows_in_its_report(both):
    registry, office = both
    unknown = await office.post(
        "/mutual-aid/donations",
        json={
            "division_code": "230102",
            "donor_name": "某商会",
            "donor_kind": "unit",
            "amount": "100.00",
            "given_on": "2026-02-01",
            "household_id": "no-such-household",
        },
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "household_not_found")

    household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 6)))
    await known(office, household["id"])
    elsewhere = await office.post(
        "/mutual-aid/donations",
        json={
            "division_code": "230125",
            "donor_name": "某商会",
            "donor_kind": "unit",
            "amount": "100.00",
            "given_on": "2026-02-01",
            "household_id": household["id"],
        },
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "division_mismatch")
    given = await office.post(
        "/mutual-aid/donations",
        json={
            "division_code": "230102",
            "donor_name": "某商会",
            "donor_kind": "unit",
            "amount": "100.00",
            "given_on": "2026-02-01",
            "household_id": household["id"],
        },
    )
    assert given.status_code == 201, given.text

    assert (
        await registry.post(f"/households/{household['id']}/exit", json={"on": "2026-03-01", "reason": "收入超过标准"})
    ).status_code == 200
    await known(office, household["id"], "exited")
    pairing = await office.post(
        "/mutual-aid/pairings",
        json={
            "household_id": household["id"],
            "donor_name": "某机关",
            "donor_kind": "unit",
            "started_on": "2026-03-02",
        },
    )
    assert (pairing.status_code, pairing.json()["code"]) == (422, "household_not_active")

    report = (await office.get("/reports", params={"period": "2026"})).json()
    assert report["donation_amount"] == "100.00"
    assert [(d["division_code"], d["donations"], d["active_pairings"]) for d in report["divisions"]] == [
        ("230102", 1, 0)
    ]
