"""The registry's API against PostgreSQL, with its events observed on the real broker."""

from __future__ import annotations

from datetime import date

import pytest

from shared.events import HOUSEHOLDS_TOPIC, NOTICES_TOPIC
from shared.periods import city_today
from shared.resident_id import check_character, mask_resident_id
from tests.support import (
    enrol,
    envelopes,
    eventually,
    household_body,
    member,
    read_topic,
    system,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
async def registry(kafka, postgres):
    async with system("registry") as s:
        yield s["registry"]


async def household_count(registry) -> int:
    return (await registry.get("/households")).json()["total"]


async def test_enrolment_reads_sex_and_birth_date_from_the_id_and_computes_the_top_up(registry):
    body = household_body(
        income="150.00",
        members=[member("head", born=date(1970, 5, 1)), member("child", born=date(2012, 5, 1), male=False)],
    )
    created = await enrol(registry, body)
    assert created["status"] == "active"
    # 2 × 200.00 (道里区) − 150.00
    assert created["monthly_allowance"] == "250.00"
    head, child = created["members"]
    assert (head["sex"], head["birth_date"]) == ("male", "1970-05-01")
    assert (child["sex"], child["birth_date"]) == ("female", "2012-05-01")
    assert (await registry.get(f"/households/{created['id']}")).json() == created


async def test_county_households_use_the_county_standard(registry):
    created = await enrol(registry, household_body(division="230125", income="0.00"))
    assert created["monthly_allowance"] == "150.00"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (
            lambda b: b["members"][0].update(
                resident_id=b["members"][0]["resident_id"][:17]
                + ("0" if b["members"][0]["resident_id"][17] != "0" else "1")
            ),
            422,
            "invalid_resident_id",
        ),
        (lambda b: b["members"][0].update(resident_id="230102199002300013"), 422, "invalid_resident_id"),
        (lambda b: b.update(division_code="110105"), 422, "unknown_division"),
        (lambda b: b["members"].append(member("head")), 422, "invalid_household_head"),
        (
            lambda b: b["members"].__setitem__(0, {**b["members"][0], "relation": "spouse"}),
            422,
            "invalid_household_head",
        ),
        (lambda b: b.update(monthly_income="-1.00"), 422, "negative_amount"),
        (lambda b: b.update(monthly_income="1.005"), 422, "invalid_amount"),
        (lambda b: b.update(favourite_colour="red"), 422, "unknown_field"),
        (lambda b: b["members"][0].update(unemployed_since="2020-01-01"), 422, "inconsistent_member"),
        (lambda b: b.pop("address"), 422, "missing_field"),
    ],
)
async def test_bad_enrolment_is_refused_with_a_clear_code_and_nothing_written(registry, change, status, code):
    body = household_body()
    change(body)
    response = await registry.post("/households", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert await household_count(registry) == 0


async def test_birth_date_that_is_not_a_real_day_is_refused(registry):
    first17 = "23010219900230001"  # 30 February
    body = household_body(members=[{**member("head"), "resident_id": first17 + check_character(first17)}])
    response = await registry.post("/households", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["reason"] == "birth_date"


async def test_legacy_fifteen_digit_id_is_stored_as_eighteen(registry):
    body = household_body(members=[{**member("head"), "resident_id": "230102800101001"}])
    created = await enrol(registry, body)
    assert created["members"][0]["resident_id"] == "230102198001010014"


async def test_person_in_another_active_household_is_a_conflict_until_that_household_exits(registry):
    shared_person = member("head")
    first = await enrol(registry, household_body(members=[shared_person], enrolled_on=date(2026, 1, 1)))
    response = await registry.post(
        "/households", json=household_body(members=[member("head"), {**shared_person, "relation": "parent"}])
    )
    assert response.status_code == 409
    assert response.json()["code"] == "person_in_active_household"
    assert shared_person["resident_id"] not in response.json()["detail"], "resident IDs are masked in errors"
    # Only the person who clashed is named (the index refused the insert; the registry then asked who).
    assert response.json()["detail"].endswith(mask_resident_id(shared_person["resident_id"]))
    assert await household_count(registry) == 1

    exited = await registry.post(f"/households/{first['id']}/exit", json={"on": "2026-03-01", "reason": "户主迁出"})
    assert exited.status_code == 200
    await enrol(registry, household_body(members=[shared_person]))
    person = (await registry.get(f"/persons/{shared_person['resident_id']}")).json()
    assert person["in_dibao"] is True and person["household_id"] != first["id"]


async def test_listing_filters_by_division_and_status_and_pages(registry):
    for _ in range(3):
        await enrol(registry, household_body(division="230103"))
    exited = await enrol(registry, household_body(division="230104"))
    await registry.post(f"/households/{exited['id']}/exit", json={"on": city_today().isoformat(), "reason": "收入超标"})
    page = (await registry.get("/households", params={"division_code": "230103", "size": 2, "page": 2})).json()
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)
    gone = (await registry.get("/households", params={"status": "exited"})).json()
    assert [h["id"] for h in gone["items"]] == [exited["id"]]
    assert (await registry.get("/households", params={"status": "lost"})).status_code == 422


async def test_change_of_income_recomputes_allowance_and_is_announced(registry):
    created = await enrol(registry, household_body(income="50.00", enrolled_on=date(2026, 1, 1)))
    changed = await registry.patch(
        f"/households/{created['id']}", json={"monthly_income": "120.00", "effective_on": "2026-03-01"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["monthly_allowance"] == "80.00"
    assert [(s["effective_from"], s["amount"]) for s in changed.json()["allowance_schedule"]] == [
        ("2026-01-01", "150.00"),
        ("2026-03-01", "80.00"),
    ]

    # The change on the caseload's topic; the written notice of the new amount on the notices' own, which no
    # bureau reads (docs/procedure.md); both keyed by the household.
    records = await read_topic(registry.topic_prefix + HOUSEHOLDS_TOPIC, until=lambda r: len(r) >= 2)
    events = [e for e in envelopes(records) if e.key == created["id"]]
    assert [e.type for e in events] == ["HouseholdEnrolled", "HouseholdChanged"]
    assert events[1].payload["changed"] == ["monthly_income"] and events[1].payload["effective_on"] == "2026-03-01"
    assert all(record.key.decode() == created["id"] for record in records)
    notices = envelopes(await read_topic(registry.topic_prefix + NOTICES_TOPIC, until=lambda r: len(r) >= 1))
    assert [(e.type, e.key, e.payload["kind"]) for e in notices] == [("NoticeIssued", created["id"], "amount_changed")]

    empty = await registry.patch(f"/households/{created['id']}", json={})
    assert empty.status_code == 422 and empty.json()["code"] == "empty_change"


async def test_exit_is_final_and_announced(registry):
    created = await enrol(registry, household_body(enrolled_on=date(2026, 2, 1)))
    too_early = await registry.post(f"/households/{created['id']}/exit", json={"on": "2026-01-01", "reason": "x"})
    assert too_early.status_code == 422 and too_early.json()["code"] == "exit_before_enrolment"
    done = await registry.post(f"/households/{created['id']}/exit", json={"on": "2026-06-01", "reason": "收入超标"})
    assert done.json()["status"] == "exited" and done.json()["exited_on"] == "2026-06-01"
    again = await registry.post(f"/households/{created['id']}/exit", json={"on": "2026-07-01", "reason": "x"})
    assert again.status_code == 409 and again.json()["code"] == "household_not_active"
    records = await read_topic(
        registry.topic_prefix + HOUSEHOLDS_TOPIC, until=lambda r: any(e.type == "HouseholdExited" for e in envelopes(r))
    )
    exited = next(e for e in envelopes(records) if e.type == "HouseholdExited")
    assert exited.payload == {
        "household_id": created["id"],
        "division_code": "230102",
        "exited_on": "2026-06-01",
        "reason": "收入超标",
    }


async def test_bulk_enrolment_lands_good_rows_and_explains_bad_ones(registry):
    twice = member("head")
    rows = [
        household_body(),
        household_body(division="999999"),
        household_body(members=[twice]),
        household_body(members=[{**twice}]),
        {"nonsense": True},
    ]
    response = await registry.post("/households/bulk", json={"households": rows})
    assert response.status_code == 200
    body = response.json()
    assert (body["enrolled"], body["rejected"]) == (2, 3)
    results = {r["index"]: r for r in body["results"]}
    assert results[0]["id"] and results[2]["id"]
    assert results[1]["error"]["code"] == "unknown_division"
    assert results[3]["error"]["code"] == "person_in_active_household"
    assert results[4]["error"]["code"] == "unknown_field"
    assert await household_count(registry) == 2
    too_many = await registry.post("/households/bulk", json={"households": [household_body()] * 1001})
    assert too_many.status_code == 422


async def test_payment_run_settles_every_month_from_enrolment_once(registry):
    a = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 20)))
    late = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 3, 2)))
    first = (await registry.post("/payment-runs", json={"period": "2026-02"})).json()
    second = (await registry.post("/payment-runs", json={"period": "2026-02"})).json()
    assert first == {
        "period": "2026-02",
        "households_paid": 1,
        "total_amount": "400.00",
        "recovered": "0.00",
        "overpaid": "0.00",
        "already_paid": 0,
        "dry_run": False,
        "by_division": [{"division_code": "230102", "division_name": "道里区", "households": 1, "amount": "400.00"}],
        "left_out": [],
        "left_out_count": 0,
        "payees": None,
    }
    assert second == {
        "period": "2026-02",
        "households_paid": 0,
        "total_amount": "0.00",
        "recovered": "0.00",
        "overpaid": "0.00",
        "already_paid": 1,
        "dry_run": False,
        "by_division": [],
        "left_out": [],
        "left_out_count": 0,
        "payees": None,
    }
    assert (await registry.get(f"/households/{late['id']}/payments")).json() == []
    ledger = (await registry.get(f"/households/{a['id']}/payments")).json()
    assert [(p["period"], p["amount"], p["kind"], p["run_period"]) for p in ledger] == [
        ("2026-01", "200.00", "dibao", "2026-02"),
        ("2026-02", "200.00", "dibao", "2026-02"),
    ]


async def test_standard_raised_from_a_date_changes_allowances_from_that_month_only(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    other_division = await enrol(
        registry, household_body(division="230103", income="0.00", enrolled_on=date(2026, 1, 1))
    )
    await registry.post("/payment-runs", json={"period": "2026-06"})
    raised = await registry.post(
        "/parameters/dibao_standard",
        json={
            "value": "230.00",
            "effective_from": "2026-07-01",
            "scope": "230102",
            "note": "2026年调标",
            "retroactive": True,
            "reason": "补录年中调标",
        },
    )
    assert raised.status_code == 201, raised.text
    again = await registry.post(
        "/parameters/dibao_standard",
        json={"value": "240.00", "effective_from": "2026-07-01", "scope": "230102", "retroactive": True, "reason": "x"},
    )
    assert again.status_code == 409 and again.json()["code"] == "parameter_already_set"
    bad = await registry.post("/parameters/dibao_standard", json={"value": "-5", "effective_from": "2026-07-01"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_parameter_value"

    await registry.post("/payment-runs", json={"period": "2026-07"})
    ledger = (await registry.get(f"/households/{household['id']}/payments")).json()
    assert [(p["period"], p["amount"]) for p in ledger][-2:] == [("2026-06", "200.00"), ("2026-07", "230.00")]
    other = (await registry.get(f"/households/{other_division['id']}/payments")).json()
    assert [(p["period"], p["amount"]) for p in other][-2:] == [("2026-06", "200.00"), ("2026-07", "200.00")]
    history = (await registry.get("/parameters/dibao_standard")).json()["history"]
    assert {"value": "230.00", "effective_from": "2026-07-01", "scope": "230102"}.items() <= next(
        h for h in history if h["effective_from"] == "2026-07-01"
    ).items()

    async def announced() -> bool:
        records = await read_topic(registry.topic_prefix + HOUSEHOLDS_TOPIC, until=lambda r: len(r) >= 3)
        return any(
            e.type == "HouseholdChanged" and e.payload["changed"] == ["dibao_standard"] and e.key == household["id"]
            for e in envelopes(records)
        )

    await eventually(announced)


async def test_unknown_person_is_404_with_problem_json(registry):
    response = await registry.get("/persons/11010519491231002X")
    assert response.status_code == 404 and response.json()["code"] == "person_not_found"
