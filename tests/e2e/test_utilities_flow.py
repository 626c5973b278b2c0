"""Registry → utilities on the real broker: water relief, heating relief, the +20% winter supplement."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from shared.periods import add_months, city_today, month_of
from tests.support import all_found, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_non_central_household_is_settled_from_enrolment_once_and_paid_the_whole_month_of_its_exit(
    kafka, postgres
):
    async with system("registry", "utilities") as s:
        registry, utilities = s["registry"], s["utilities"]
        # 2 members × 200.00 − 100.00 income = 300.00 a month of dibao
        stove = await enrol(
            registry,
            household_body(
                heating="non_central",
                income="100.00",
                enrolled_on=date(2025, 10, 1),
                members=[member("head"), member("spouse", male=False)],
            ),
        )
        central = await enrol(registry, household_body(heating="central", enrolled_on=date(2025, 10, 1)))
        assert stove["monthly_allowance"] == "300.00"

        await eventually(lambda: all_found(utilities, f"/households/{stove['id']}", f"/households/{central['id']}"))
        view = (await utilities.get(f"/households/{stove['id']}")).json()
        assert view["heating"]["programme"] == "heating_supplement"
        assert view["water"]["monthly_cap_m3"] == "10.00"

        first = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        again = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        # October: 60.00 × 12 season days / 31 = 23.23; November, December, January: 60.00 each
        assert first == {
            "period": "2026-01",
            "households_paid": 1,
            "total_amount": "203.23",
            "withheld_amount": "0.00",
            "recoveries": 0,
            "recovered_amount": "0.00",
            "already_paid": 0,
            "dry_run": False,
            "by_division": [
                {"division_code": "230102", "division_name": "道里区", "households": 1, "amount": "203.23"}
            ],
            "left_out": [],
            "left_out_count": 0,
            "payees": None,
        }
        assert again == {
            "period": "2026-01",
            "households_paid": 0,
            "total_amount": "0.00",
            "withheld_amount": "0.00",
            "recoveries": 0,
            "recovered_amount": "0.00",
            "already_paid": 1,
            "dry_run": False,
            "by_division": [],
            "left_out": [],
            "left_out_count": 0,
            "payees": None,
        }

        assert (
            await registry.post(f"/households/{stove['id']}/exit", json={"on": "2026-02-10", "reason": "收入增加"})
        ).status_code == 200

        async def exited() -> bool:
            return (await utilities.get(f"/households/{stove['id']}")).json()["status"] == "exited"

        await eventually(exited)
        february = (await utilities.post("/heating/supplement-runs", json={"period": "2026-02"})).json()
        # dibao pays the whole month of the exit, so the supplement is 20 % of it: 60.00
        assert february["total_amount"] == "60.00"
        march = (await utilities.post("/heating/supplement-runs", json={"period": "2026-03"})).json()
        assert march["households_paid"] == 0

        report = (await utilities.get("/reports", params={"period": "2026-H1"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (
            row["households_with_water_relief"],
            row["central_households_with_reduction"],
            row["non_central_households"],
            row["supplements_paid"],
            row["supplement_amount"],
        ) == (2, 1, 1, 2, "120.00")

        supplements = (await utilities.get("/heating/supplements", params={"household_id": stove["id"]})).json()
        assert [(x["period"], x["amount"], x["kind"], x["run_period"], x["season_days"]) for x in supplements] == [
            ("2025-10", "23.23", "supplement", "2026-01", 12),
            ("2025-11", "60.00", "supplement", "2026-01", 30),
            ("2025-12", "60.00", "supplement", "2026-01", 31),
            ("2026-01", "60.00", "supplement", "2026-01", 31),
            ("2026-02", "60.00", "supplement", "2026-02", 28),
        ]
        assert all(x["paid_at"] and x["transferred"] == x["amount"] for x in supplements)


async def test_water_bill_discount_is_capped_per_person_and_posted_once(kafka, postgres):
    async with system("registry", "utilities") as s:
        registry, utilities = s["registry"], s["utilities"]
        household = await enrol(
            registry,
            household_body(enrolled_on=date(2026, 1, 1), members=[member("head"), member("spouse", male=False)]),
        )

        async def known() -> bool:
            return (await utilities.get(f"/households/{household['id']}")).status_code == 200

        await eventually(known)
        bill = await utilities.post(
            "/water/bills", json={"household_id": household["id"], "period": "2026-03", "usage_m3": "13.50"}
        )
        assert bill.status_code == 201, bill.text
        # 2 people × 5 m³ at 0.50 off
        assert (bill.json()["discounted_m3"], bill.json()["discount"]) == ("10.00", "5.00")
        twice = await utilities.post(
            "/water/bills", json={"household_id": household["id"], "period": "2026-03", "usage_m3": "13.50"}
        )
        assert twice.status_code == 409 and twice.json()["code"] == "bill_already_posted"
        # posted three times at once: one bill, two conflicts (never a server error)
        racing = await asyncio.gather(
            *(
                utilities.post(
                    "/water/bills", json={"household_id": household["id"], "period": "2026-04", "usage_m3": "2.00"}
                )
                for _ in range(3)
            )
        )
        assert sorted(r.status_code for r in racing) == [201, 409, 409], [r.text for r in racing]
        before = await utilities.post(
            "/water/bills", json={"household_id": household["id"], "period": "2025-12", "usage_m3": "3"}
        )
        assert before.status_code == 422 and before.json()["code"] == "not_in_dibao"


async def test_water_bill_for_a_month_not_begun_or_with_impossible_usage_is_refused_with_its_own_code(kafka, postgres):
    async with system("registry", "utilities") as s:
        registry, utilities = s["registry"], s["utilities"]
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 1)))
        await eventually(lambda: all_found(utilities, f"/households/{household['id']}"))
        next_month = add_months(month_of(city_today()), 1).label
        future = await utilities.post(
            "/water/bills", json={"household_id": household["id"], "period": next_month, "usage_m3": "3.00"}
        )
        assert future.status_code == 422 and future.json()["code"] == "period_in_future"
        for usage in ("-1.00", -1, "10000", "1.234", "NaN", "Infinity", "ten", True, 12.345):
            refused = await utilities.post(
                "/water/bills", json={"household_id": household["id"], "period": "2026-03", "usage_m3": usage}
            )
            assert refused.status_code == 422 and refused.json()["code"] == "invalid_usage", (usage, refused.text)
        this_month = month_of(city_today()).label
        accepted = await utilities.post(
            "/water/bills", json={"household_id": household["id"], "period": this_month, "usage_m3": "0"}
        )
        assert accepted.status_code == 201, accepted.text
