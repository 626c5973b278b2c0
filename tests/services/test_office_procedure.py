"""The assessment counts the dibao procedure per district — applications, periodic reviews, appeals — from what the
registry announces on registry.procedure (the office never asks the registry), on PostgreSQL and the real broker."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from services.registry.rules import add_months_to_day
from shared.periods import city_today
from tests.support import eventually, household_body, member, system

pytestmark = pytest.mark.integration

TODAY = city_today()
PERIOD = f"{TODAY.year}"


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def in_period(*days: str) -> int:
    return sum(date.fromisoformat(day).year == TODAY.year for day in days)


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def application(registry, *, applied: int, division: str = "230102", noticed: bool = True) -> dict:
    body = household_body(income="0.00", division=division, members=[member("head")])
    body["applied_on"] = ago(applied)
    submitted = await ok(await registry.post("/applications", json=body), 201)
    if not noticed:
        return submitted
    path = f"/applications/{submitted['id']}"
    visit = {"visited_on": ago(applied - 1), "verified_income": "0.00", "verified_area_m2": "30.00", "notes": "入户"}
    await ok(await registry.post(f"{path}/investigation", json=visit))
    return await ok(await registry.post(f"{path}/notice", json={"from": ago(applied - 5)}))


async def test_the_assessment_counts_applications_reviews_and_appeals_per_district(kafka, postgres):
    async with system("registry", "office") as s:
        registry, office = s["registry"], s["office"]
        # Reviews every month, from before anyone here applied: the household approved below is overdue for one.
        await ok(
            await registry.post(
                "/parameters/review_interval_months",
                json={"value": "1", "effective_from": ago(200), "retroactive": True, "reason": "每月复核（测试）"},
            ),
            201,
        )
        approved = await application(registry, applied=75)
        await ok(
            await registry.post(
                f"/applications/{approved['id']}/decision", json={"decision": "approve", "reason": "符合条件"}
            )
        )
        refused = await application(registry, applied=40)
        await ok(
            await registry.post(
                f"/applications/{refused['id']}/decision", json={"decision": "refuse", "reason": "收入超过标准"}
            )
        )
        # Submitted 15 days ago and never visited: past the 10 days the investigation has.
        waiting = await application(registry, applied=15, division="230125", noticed=False)
        await ok(
            await registry.post(
                "/appeals",
                json={
                    "subject": "refusal",
                    "application_id": refused["id"],
                    "lodged_on": ago(0),
                    "grounds": "收入有误",
                },
            ),
            201,
        )
        dismissed = await ok(
            await registry.post(
                "/appeals",
                json={"subject": "amount", "household_id": approved["id"], "lodged_on": ago(0), "grounds": "金额有误"},
            ),
            201,
        )
        await ok(
            await registry.patch(f"/appeals/{dismissed['id']}", json={"outcome": "dismissed", "reason": "核定无误"})
        )

        district = {
            "applications_submitted": in_period(ago(75), ago(40)),
            "applications_approved": 1,
            "applications_refused": 1,
            "applications_pending": 0,
            "applications_overdue": 0,
            "reviews_due": 1,
            "reviews_overdue": 1,
            "appeals_lodged": 2,
            "appeals_open": 1,
            "appeals_decided": 1,
            "appeals_upheld": 0,
            "appeals_overdue": 0,
        }
        county = dict.fromkeys(district, 0) | {
            "applications_submitted": in_period(ago(15)),
            "applications_pending": 1,
            "applications_overdue": 1,
        }

        async def counted() -> dict:
            result = (await office.get("/reports/assessment", params={"period": PERIOD})).json()
            found = {d["division_code"]: d["procedure"] for d in result["divisions"]}
            return result if found.get("230102") == district and found.get("230125") == county else {}

        result = await eventually(counted, timeout=60)
        assert result["procedure"] == {key: district[key] + county[key] for key in district}
        assert waiting["status"] == "submitted"

        page = (await office.get("/reports/assessment", params={"period": PERIOD, "format": "html"})).text
        row = re.search(r'<table id="procedure">.*?<tr data-division="230125"><th>宾县</th>(.*?)</tr>', page, re.S)
        assert row and re.findall(r"<td[^>]*>([^<]*)</td>", row[1]) == [
            str(county["applications_submitted"]),
            "0",
            "0",
            "1",
            "1",
            "0",
            "0",
            "0",
            "0",
            "0（0）",
            "0",
        ]
        assert '<td class="overdue">1</td>' in row[1]

        # The review done, the household is no longer overdue for one (the next falls due a month on).
        await ok(
            await registry.post(
                f"/households/{approved['id']}/reviews", json={"reviewed_on": ago(0), "findings": "无变化"}
            ),
            201,
        )
        next_due = add_months_to_day(TODAY, 1)

        async def reviewed() -> dict:
            result = (await office.get("/reports/assessment", params={"period": PERIOD})).json()
            counts = next(d["procedure"] for d in result["divisions"] if d["division_code"] == "230102")
            return counts if counts["reviews_overdue"] == 0 else {}

        counts = await eventually(reviewed, timeout=60)
        # Still counted while it falls due within the period (a year ending in December: not from December on).
        assert counts["reviews_due"] == int(next_due.year == TODAY.year)


async def test_migrated_households_are_counted_for_review_and_follow_a_new_interval(kafka, postgres):
    """Households enrolled straight into the register (a migrated caseload, one by one or in bulk) are counted for
    review from their enrolment; a new interval moves every household's next review, and the counts follow."""

    async with system("registry", "office") as s:
        registry, office = s["registry"], s["office"]
        enrolled_on = TODAY - timedelta(days=400)  # reviewed every 12 months: overdue by about a month
        single = household_body(income="0.00", division="230103", enrolled_on=enrolled_on)
        await ok(await registry.post("/households", json=single), 201)
        bulk = household_body(income="0.00", division="230103", enrolled_on=enrolled_on)
        answer = await ok(await registry.post("/households/bulk", json={"households": [bulk]}))
        assert answer["enrolled"] == 1

        async def overdue(expected: int) -> bool:
            result = (await office.get("/reports/assessment", params={"period": PERIOD})).json()
            found = {d["division_code"]: d["procedure"] for d in result["divisions"]}
            return found.get("230103", {}).get("reviews_overdue") == expected

        await eventually(lambda: overdue(2), timeout=60)
        await ok(
            await registry.post(
                "/parameters/review_interval_months",
                json={
                    "value": "24",
                    "effective_from": (enrolled_on - timedelta(days=1)).isoformat(),
                    "retroactive": True,
                    "reason": "复核间隔调整为两年（测试）",
                },
            ),
            201,
        )
        await eventually(lambda: overdue(0), timeout=60)
