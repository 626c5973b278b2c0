"""Education money over time, through the API on PostgreSQL: terms not begun, months in dibao, the ledger."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import httpx
import pytest

from tests.support import all_found, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def _lines(education: httpx.AsyncClient, household_id: str) -> list[tuple[str, str, str, str]]:
    grants = (await education.get("/grants", params={"household_id": household_id})).json()["grants"]
    return sorted((g["programme"], g["period"], g["kind"], g["amount"]) for g in grants)


async def _left_dibao(education: httpx.AsyncClient, resident_id: str) -> None:
    async def left() -> bool:
        return not (await education.get(f"/pupils/{resident_id}")).json()["in_dibao"]

    await eventually(left)


async def test_a_term_that_has_not_begun_is_refused_and_pays_nothing(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupil = member("child", born=date(2014, 9, 1), school_stage="primary", boarding=True)
        household = await enrol(
            registry, household_body(enrolled_on=date(2026, 1, 10), members=[member("head"), pupil])
        )
        await eventually(lambda: all_found(education, f"/pupils/{pupil['resident_id']}"))

        for term in ("2030-autumn", "2027-spring"):  # 2027-spring begins on 1 March 2027
            refused = await education.post("/term-runs", json={"term": term})
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "period_in_future"
        assert await _lines(education, household["id"]) == []
        report = (await education.get("/reports", params={"period": "2030"})).json()
        assert all(d["fee_waiver_amount"] == "0.00" and d["boarding_amount"] == "0.00" for d in report["divisions"])

        begun = await education.post("/term-runs", json={"term": "2026-autumn"})
        assert begun.status_code == 200 and begun.json()["total_amount"] == "500.00"


async def test_boarding_is_paid_for_the_months_in_dibao_and_the_waiver_by_the_first_day(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        leaver = member("child", born=date(2014, 9, 1), school_stage="junior", boarding=True)
        left = await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[member("head"), leaver]))
        joiner = member("child", born=date(2015, 2, 1), school_stage="primary", boarding=True)
        joined = await enrol(registry, household_body(enrolled_on=date(2026, 4, 20), members=[member("head"), joiner]))
        await eventually(
            lambda: all_found(education, f"/pupils/{leaver['resident_id']}", f"/pupils/{joiner['resident_id']}")
        )
        exited = await registry.post(f"/households/{left['id']}/exit", json={"on": "2026-03-15", "reason": "收入增加"})
        assert exited.status_code == 200, exited.text
        await _left_dibao(education, leaver["resident_id"])

        run = (await education.post("/term-runs", json={"term": "2026-spring"})).json()

        # In dibao on 1 March: the waiver; left in March: one month of boarding (March), not five.
        assert await _lines(education, left["id"]) == [
            ("boarding_subsidy", "2026-spring", "payment", "60.00"),
            ("fee_waiver", "2026-spring", "payment", "200.00"),
        ]
        # Joined on 20 April: no waiver (not in dibao on 1 March); boarding April–July.
        assert await _lines(education, joined["id"]) == [("boarding_subsidy", "2026-spring", "payment", "240.00")]
        assert (run["grants_made"], run["total_amount"]) == (3, "500.00")


async def test_a_retroactive_exit_is_recovered_on_the_ledger_and_a_second_run_adds_nothing(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupil = member("child", born=date(2013, 5, 5), school_stage="junior", boarding=True)
        household = await enrol(
            registry, household_body(enrolled_on=date(2026, 1, 10), members=[member("head"), pupil])
        )
        await eventually(lambda: all_found(education, f"/pupils/{pupil['resident_id']}"))
        first = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert first["total_amount"] == "500.00"  # 200 waived + 60 × 5 months

        # Learnt late: the household left dibao on 20 April. March and April stay due; May–July go back.
        assert (
            await registry.post(f"/households/{household['id']}/exit", json={"on": "2026-04-20", "reason": "收入增加"})
        ).status_code == 200
        await _left_dibao(education, pupil["resident_id"])
        settled = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert settled == {
            "term": "2026-spring",
            "grants_made": 0,
            "total_amount": "0.00",
            "already_made": 2,
            "recoveries": 1,
            "recovered_amount": "-180.00",
            "withheld_amount": "0.00",
            "transferred_amount": "0.00",
            "dry_run": False,
            "by_division": [],  # a recovery transfers nothing
            "left_out": [],
            "left_out_count": 0,
            "payees": None,
        }
        lines = await _lines(education, household["id"])
        assert lines == [
            ("boarding_subsidy", "2026-spring", "payment", "300.00"),
            ("boarding_subsidy", "2026-spring", "recovery", "-180.00"),
            ("fee_waiver", "2026-spring", "payment", "200.00"),
        ]
        assert sum(Decimal(line[3]) for line in lines if line[0] == "boarding_subsidy") == Decimal("120.00")

        again = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert (again["grants_made"], again["recoveries"]) == (0, 0)
        assert await _lines(education, household["id"]) == lines
        report = (await education.get("/reports", params={"period": "2026-spring"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["boarding_subsidies"], row["boarding_amount"]) == (1, "120.00")


async def test_runs_at_the_same_time_pay_once(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupils, households = [], []
        for _ in range(3):
            pupil = member("child", born=date(2014, 1, 1), school_stage="primary", boarding=True)
            student = member("child", born=date(2008, 1, 1), school_stage="vocational")
            households.append(
                await enrol(
                    registry,
                    household_body(
                        enrolled_on=date(2026, 1, 5), members=[member("head", disabled=True), pupil, student]
                    ),
                )
            )
            pupils += [pupil, student]
        await eventually(lambda: all_found(education, *(f"/pupils/{p['resident_id']}" for p in pupils)))

        runs = await asyncio.gather(*(education.post("/term-runs", json={"term": "2026-autumn"}) for _ in range(4)))

        assert all(run.status_code == 200 for run in runs), [run.text for run in runs]
        bodies = [run.json() for run in runs]
        # Each household: 200 waived, 60 × 5 boarding, 1000 to the vocational student — paid by one run only.
        assert sum(b["grants_made"] for b in bodies) == 9
        assert sum(Decimal(b["total_amount"]) for b in bodies) == 3 * Decimal("1500.00")
        for household in households:
            assert await _lines(education, household["id"]) == [
                ("boarding_subsidy", "2026-autumn", "payment", "300.00"),
                ("disability_grant", "2026-2027", "payment", "1000.00"),
                ("fee_waiver", "2026-autumn", "payment", "200.00"),
            ]


async def test_a_back_dated_change_is_paid_as_arrears_for_a_term_already_run(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        head = member("head")
        pupil = member("child", born=date(2015, 4, 4), school_stage="primary", boarding=False)
        student = member("child", born=date(2008, 6, 6), school_stage="vocational")
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[head, pupil, student]))
        await eventually(lambda: all_found(education, f"/pupils/{pupil['resident_id']}"))
        assert (await education.post("/term-runs", json={"term": "2026-spring"})).json()["total_amount"] == "200.00"

        # Learnt late: from 1 February the pupil boarded and the head was disabled.
        changed = await registry.patch(
            f"/households/{household['id']}",
            json={
                "effective_on": "2026-02-01",
                "members": [{**head, "disabled": True}, {**pupil, "boarding": True}, student],
            },
        )
        assert changed.status_code == 200, changed.text

        async def boarding() -> bool:
            view = (await education.get(f"/pupils/{pupil['resident_id']}")).json()
            return "boarding_subsidy" in view["programmes"]

        await eventually(boarding)
        await eventually(lambda: all_found(education, f"/pupils/{student['resident_id']}"))
        arrears = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert (arrears["grants_made"], arrears["total_amount"], arrears["recoveries"]) == (2, "1300.00", 0)
        assert await _lines(education, household["id"]) == [
            ("boarding_subsidy", "2026-spring", "payment", "300.00"),
            ("disability_grant", "2025-2026", "payment", "1000.00"),
            ("fee_waiver", "2026-spring", "payment", "200.00"),
        ]


async def test_a_child_who_starts_school_in_autumn_is_not_paid_for_the_spring_before(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        head, child = member("head"), member("child", born=date(2020, 5, 5), school_stage="preschool")
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[head, child]))
        changed = await registry.patch(
            f"/households/{household['id']}",
            json={
                "effective_on": "2026-09-01",
                "members": [head, {**child, "school_stage": "primary", "boarding": True}],
            },
        )
        assert changed.status_code == 200, changed.text
        await eventually(lambda: all_found(education, f"/pupils/{child['resident_id']}"))

        spring = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        autumn = (await education.post("/term-runs", json={"term": "2026-autumn"})).json()

        assert (spring["grants_made"], spring["total_amount"]) == (0, "0.00")
        assert autumn["total_amount"] == "500.00"
        assert await _lines(education, household["id"]) == [
            ("boarding_subsidy", "2026-autumn", "payment", "300.00"),
            ("fee_waiver", "2026-autumn", "payment", "200.00"),
        ]


async def test_a_report_for_a_term_before_the_plan_is_refused_not_a_server_error(kafka, postgres):
    async with system("education") as s:
        education = s["education"]
        for period in ("2003-autumn", "1900-spring", "2003", "２０２６-spring"):
            response = await education.get("/reports", params={"period": period})
            assert (response.status_code, response.json()["code"]) == (422, "invalid_period"), period
        assert (await education.get("/reports", params={"period": "2004-spring"})).status_code == 200
