"""Bad input and overload through the real apps on PostgreSQL: each answers a 4xx or 503 with a stable
code, never a 500, and nothing is stored that should not be."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest

from tests.support import household_body, member, system, token

pytestmark = pytest.mark.integration

FULL_WIDTH = {ord(c): ord(c) - ord("0") + 0xFF10 for c in "0123456789"}
ONE_MB = 1024 * 1024  # docs/api.md: a body over 1 MB is refused
ARABIC_INDIC = {ord(c): ord(c) - ord("0") + 0x0660 for c in "0123456789"}


@pytest.fixture()
async def registry(kafka, postgres):
    # Nothing here needs events in: no consumer, which keeps each test's start and stop short.
    async with system("registry", registry={"consumer_enabled": False}) as s:
        yield s["registry"]


def problem(response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.status_code, response.json()["code"]


async def test_a_full_width_resident_id_is_the_same_person_as_the_ascii_one(registry):
    head = member("head")
    ascii_id = head["resident_id"]
    first = await registry.post(
        "/households", json=household_body(members=[{**head, "resident_id": ascii_id.translate(FULL_WIDTH)}])
    )
    assert first.status_code == 201, first.text
    assert first.json()["members"][0]["resident_id"] == ascii_id
    again = await registry.post("/households", json=household_body(members=[head]))
    assert problem(again) == (409, "person_in_active_household")
    other_digits = await registry.post(
        "/households",
        json=household_body(
            members=[{**member("head"), "resident_id": member("head")["resident_id"].translate(ARABIC_INDIC)}]
        ),
    )
    assert problem(other_digits) == (422, "invalid_resident_id")
    assert (await registry.get("/households")).json()["total"] == 1


async def test_dates_and_periods_before_the_2004_plan_are_refused_not_a_500(registry):
    before = await registry.post("/households", json=household_body(enrolled_on=date(2003, 12, 31)))
    assert problem(before) == (422, "date_before_plan")
    assert problem(await registry.get("/reports?period=1900-01")) == (422, "invalid_period")
    assert problem(await registry.post("/payment-runs", json={"period": "1900-01"})) == (422, "invalid_period")
    created = await registry.post("/households", json=household_body(enrolled_on=date(2004, 1, 1)))
    assert created.status_code == 201, created.text
    patched = await registry.patch(
        f"/households/{created.json()['id']}", json={"monthly_income": "50.00", "effective_on": "2003-06-01"}
    )
    assert problem(patched) == (422, "date_before_plan")
    schema = (await registry.get("/openapi.json")).json()["components"]["schemas"]["HouseholdIn"]["properties"]
    assert "2004-01-01" in str(schema["enrolled_on"])


COERCIONS = [
    (lambda b: b["members"][0].update(able_to_work="yes"), "invalid_boolean"),
    (lambda b: b["members"][0].update(disabled=1), "invalid_boolean"),
    (lambda b: b["members"][0].update(boarding="off"), "invalid_boolean"),
    (lambda b: b.update(enrolled_on=0), "invalid_date"),
    (lambda b: b.update(enrolled_on="2026-05-01T00:00:00"), "invalid_date"),
    (lambda b: b["members"][0].update(name="张\x00三"), "invalid_text"),
    (lambda b: b["members"][0].update(name="张三\n"), "invalid_text"),
    (lambda b: b.update(address="道里区\x1b[2J测试街"), "invalid_text"),
    (lambda b: b.update(address="道里区\x85测试街"), "invalid_text"),
]


async def test_nothing_is_coerced_and_control_characters_are_not_text(registry):
    for index, (change, code) in enumerate(COERCIONS):
        body = household_body()
        change(body)
        assert problem(await registry.post("/households", json=body)) == (422, code), index
    assert (await registry.get("/households")).json()["total"] == 0


async def test_a_date_written_as_text_is_still_a_date_through_the_api(registry):
    created = await registry.post("/households", json=household_body(enrolled_on=date(2026, 5, 1)))
    assert created.status_code == 201, created.text
    assert created.json()["enrolled_on"] == "2026-05-01"


async def test_an_invoice_number_with_a_nul_is_refused(kafka, postgres):
    async with system("medical") as s:
        body = {
            "hospital_id": "7",
            "resident_id": member()["resident_id"],
            "invoice_no": "I-\x00-1",
            "visit_date": "2026-01-10",
            "kind": "outpatient",
            "total_cost": "10.00",
            "insurance_paid": "0.00",
        }
        assert problem(await s["medical"].post("/claims", json=body)) == (422, "invalid_text")


async def test_a_school_term_before_the_plan_is_refused_not_a_500(kafka, postgres):
    async with system("education", education={"consumer_enabled": False}) as s:
        for term in ("2003-autumn", "1900-spring"):
            assert problem(await s["education"].post("/term-runs", json={"term": term})) == (422, "invalid_period"), (
                term
            )


async def test_bodies_over_1_mb_are_refused_before_they_are_read(registry):
    big = household_body()
    big["address"] = "x" * (ONE_MB + 1)
    assert problem(await registry.post("/households", json=big)) == (413, "body_too_large")

    async def chunked() -> AsyncIterator[bytes]:
        # No Content-Length: counted as it arrives, refused at the first chunk over the limit.
        yield b'{"address": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    streamed = await registry.post("/households", content=chunked(), headers={"Content-Type": "application/json"})
    assert problem(streamed) == (413, "body_too_large")
    assert (await registry.get("/households")).json()["total"] == 0


async def test_a_body_that_is_not_json_is_415(registry):
    text = await registry.post("/households", content=b"division_code=230102", headers={"Content-Type": "text/plain"})
    assert problem(text) == (415, "unsupported_media_type")
    untyped = await registry.post("/households", content=b'{"division_code": "230102"}', headers={"Content-Type": ""})
    assert problem(untyped) == (415, "unsupported_media_type")
    broken = await registry.post(
        "/households", content=b'{"division_code": ', headers={"Content-Type": "application/json"}
    )
    assert problem(broken) == (415, "unsupported_media_type")


async def test_an_oversized_bearer_token_is_refused_before_it_is_decoded(registry):
    # Validly signed, but no real token is over 8 KB: refused without being looked at.
    padded = token(agency="a" * 9000)
    assert len(padded) > 8 * 1024
    assert problem(await registry.get("/households", headers={"Authorization": f"Bearer {padded}"})) == (
        401,
        "invalid_token",
    )
    assert (await registry.get("/households", headers={"Authorization": f"Bearer {token()}"})).status_code == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    huge = await registry.get("/households", headers={"Authorization": "Bearer " + "a" * (40 * 1024 * 1024)})
    assert problem(huge) == (401, "invalid_token")
    assert loop.time() - started < 1.0


async def test_an_exhausted_pool_answers_503_service_busy_with_retry_after(kafka, postgres):
    async with system(
        "registry",
        registry={
            "database_pool_size": 1,
            "database_pool_timeout_seconds": 0.5,
            "outbox_relay_enabled": False,
            "consumer_enabled": False,
        },
    ) as s:
        registry = s["registry"]
        engine = registry.app.state.platform.engine
        # pool_size 1 + overflow 1: both taken (a slow report, a stuck run).
        async with engine.connect(), engine.connect():
            busy = await registry.post("/households", json=household_body())
        assert problem(busy) == (503, "service_busy")
        assert int(busy.headers["Retry-After"]) >= 1
        assert (await registry.get("/households")).json()["total"] == 0
        assert (await registry.post("/households", json=household_body())).status_code == 201


async def test_the_office_refuses_periods_before_the_2004_plan_not_a_500(kafka, postgres):
    async with system("office", office={"consumer_enabled": False}) as s:
        for path in (
            "/reports/assessment?period=1900",
            "/reports/assessment?period=2003-H2",
            "/reports?period=1900-01",
        ):
            assert problem(await s["office"].get(path)) == (422, "invalid_period"), path
