"""Rent subsidy over time (docs/policy.md, "Rules over time"): each month is paid with its own members, area
and parameters; late facts are settled by the next run — arrears paid, overpayments owed and withheld
from later payments, never a negative transfer; runs never pay ahead and never pay twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shared.periods import add_months, city_today, month_of
from tests.support import enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration

ENROLLED = date(2026, 1, 10)


def couple() -> list[dict]:
    return [member("head"), member("spouse", male=False)]


async def settled(housing: httpx.AsyncClient, household_id: str) -> dict[str, str]:
    """What the household's ledger comes to, month by month."""

    months: dict[str, Decimal] = defaultdict(Decimal)
    for line in await payments(housing, household_id):
        months[line["period"]] += Decimal(line["amount"])
    return {month: f"{amount:.2f}" for month, amount in months.items()}


async def payments(housing: httpx.AsyncClient, household_id: str) -> list[dict[str, Any]]:
    response = await housing.get(f"/households/{household_id}/payments")
    assert response.status_code == 200, response.text
    return response.json()


async def known(housing: httpx.AsyncClient, household_id: str, **expected: Any) -> dict:
    """The household's view once the housing bureau has heard what the registry changed."""

    async def check() -> dict:
        response = await housing.get(f"/households/{household_id}")
        if response.status_code != 200:
            return {}
        body = response.json()
        return body if all(body[name] == value for name, value in expected.items()) else {}

    return await eventually(check)


async def run(housing: httpx.AsyncClient, period: str) -> dict:
    response = await housing.post("/subsidy-runs", json={"period": period})
    assert response.status_code == 200, response.text
    return response.json()


async def change(registry: httpx.AsyncClient, household_id: str, **body: Any) -> None:
    response = await registry.patch(f"/households/{household_id}", json=body)
    assert response.status_code == 200, response.text


async def test_each_month_is_paid_with_its_own_members_and_area_and_a_late_change_is_settled(kafka, postgres):
    async with system("registry", "housing") as s:
        registry, housing = s["registry"], s["housing"]
        members = couple()
        household = (await enrol(registry, household_body(area="14.00", enrolled_on=ENROLLED, members=members)))["id"]
        await known(housing, household, members=2)

        # A child joins from April: January to March keep two members, (30 − 14) × 10 = 160.00 a month;
        # April has three, (45 − 14) × 10 = 310.00 (the old run paid every month with today's members).
        await change(
            registry, household, members=[*members, member("child", born=date(2015, 5, 5))], effective_on="2026-04-01"
        )
        await known(housing, household, members=3)
        first = await run(housing, "2026-04")
        assert (first["households_paid"], first["total_amount"], first["lines"]) == (1, "790.00", 4)
        assert await settled(housing, household) == {
            "2026-01": "160.00",
            "2026-02": "160.00",
            "2026-03": "160.00",
            "2026-04": "310.00",
        }

        # Learnt late: the flat was 10 m² from February (the old run used today's area for every month).
        await change(registry, household, housing_area_m2="10.00", effective_on="2026-02-01")
        await known(housing, household, area_m2="10.00")
        again = await run(housing, "2026-04")
        assert (again["total_amount"], again["lines"], again["already_paid"]) == ("120.00", 3, 1)
        assert await settled(housing, household) == {
            "2026-01": "160.00",
            "2026-02": "200.00",
            "2026-03": "200.00",
            "2026-04": "350.00",
        }
        arrears = [line for line in await payments(housing, household) if line["amount"] == "40.00"]
        assert [(line["period"], line["kind"], line["run_period"]) for line in arrears] == [
            ("2026-02", "rent_subsidy", "2026-04"),
            ("2026-03", "rent_subsidy", "2026-04"),
            ("2026-04", "rent_subsidy", "2026-04"),
        ]
        assert (await run(housing, "2026-04"))["lines"] == 0


async def test_a_rate_changed_back_dated_pays_each_month_at_the_rate_in_force_then(kafka, postgres):
    async with system("registry", "housing") as s:
        registry, housing = s["registry"], s["housing"]
        household = (await enrol(registry, household_body(area="14.00", enrolled_on=ENROLLED, members=couple())))["id"]
        await known(housing, household, members=2)
        assert (await run(housing, "2026-04"))["total_amount"] == "640.00"

        raised = await housing.post(
            "/parameters/rent_subsidy_per_m2",
            json={
                "value": "12.00",
                "effective_from": "2026-03-01",
                "note": "补发",
                "retroactive": True,
                "reason": "3月起调高补贴标准, 补录",
            },
        )
        assert raised.status_code == 201, raised.text
        # March and April at 16 m² × 12.00 = 192.00: 32.00 more each; January and February stay at 10.00.
        assert (await run(housing, "2026-04"))["total_amount"] == "64.00"
        assert await settled(housing, household) == {
            "2026-01": "160.00",
            "2026-02": "160.00",
            "2026-03": "192.00",
            "2026-04": "192.00",
        }


async def test_an_overpayment_is_owed_and_withheld_from_later_payments_never_sent_back_as_a_negative_transfer(
    kafka, postgres
):
    async with system("registry", "housing") as s:
        registry, housing = s["registry"], s["housing"]
        members = couple()
        household = (await enrol(registry, household_body(area="14.00", enrolled_on=ENROLLED, members=members)))["id"]
        await known(housing, household, members=2)
        assert (await run(housing, "2026-03"))["total_amount"] == "480.00"

        # Learnt late: from February the flat was 20 m², above 8 m² a person — no subsidy was due.
        await change(registry, household, housing_area_m2="20.00", effective_on="2026-02-01")
        await known(housing, household, area_m2="20.00", eligible=False)
        recovery = await run(housing, "2026-03")
        assert (recovery["households_paid"], recovery["total_amount"], recovery["overpaid"]) == (0, "0.00", "320.00")
        assert (await known(housing, household))["balance_owed"] == "320.00"
        owed = [line for line in await payments(housing, household) if line["kind"] == "recovery"]
        assert [(line["period"], line["amount"], line["run_period"]) for line in owed] == [
            ("2026-02", "-160.00", "2026-03"),
            ("2026-03", "-160.00", "2026-03"),
        ]

        # A child joins in April: 20 m² for three qualifies again, (45 − 20) × 10 = 250.00 a month,
        # first withheld until what is owed is recovered.
        await change(
            registry, household, members=[*members, member("child", born=date(2016, 6, 6))], effective_on="2026-04-01"
        )
        await known(housing, household, members=3)
        april = await run(housing, "2026-04")
        assert (april["households_paid"], april["total_amount"], april["withheld"]) == (0, "0.00", "250.00")
        assert (await known(housing, household))["balance_owed"] == "70.00"
        may = await run(housing, "2026-05")
        assert (may["households_paid"], may["total_amount"], may["withheld"]) == (1, "180.00", "70.00")
        assert (await known(housing, household))["balance_owed"] == "0.00"

        lines = await payments(housing, household)
        assert all(
            Decimal(line["amount"]) >= Decimal(line["withheld"]) >= 0
            for line in lines
            if line["kind"] == "rent_subsidy"
        )
        assert await settled(housing, household) == {
            "2026-01": "160.00",
            "2026-02": "0.00",
            "2026-03": "0.00",
            "2026-04": "250.00",
            "2026-05": "250.00",
        }


async def test_a_flat_allocated_back_dated_ends_the_subsidy_from_the_allocation_on(kafka, postgres):
    async with system("registry", "housing") as s:
        registry, housing = s["registry"], s["housing"]
        household = (await enrol(registry, household_body(area="14.00", enrolled_on=ENROLLED, members=couple())))["id"]
        await known(housing, household, members=2)
        assert (await run(housing, "2026-04"))["total_amount"] == "640.00"

        unit = (
            await housing.post(
                "/units",
                json={"address": "道里区廉租房2单元202", "division_code": "230102", "area_m2": "40.00", "rooms": 2},
            )
        ).json()
        allocation = await housing.post(
            "/allocations", json={"household_id": household, "unit_id": unit["id"], "on": "2026-03-01"}
        )
        assert allocation.status_code == 201, allocation.text
        assert allocation.json()["rent_subsidy_ends_after"] == "2026-02"

        settlement = await run(housing, "2026-05")
        assert (settlement["total_amount"], settlement["overpaid"]) == ("0.00", "320.00")
        assert await settled(housing, household) == {
            "2026-01": "160.00",
            "2026-02": "160.00",
            "2026-03": "0.00",
            "2026-04": "0.00",
        }
        view = await known(housing, household)
        assert (view["monthly_rent_subsidy"], view["balance_owed"]) == ("0.00", "320.00")


async def test_a_run_for_a_month_not_begun_in_harbin_is_refused(kafka, postgres):
    async with system("housing") as s:
        housing = s["housing"]
        this_month = month_of(city_today())
        refused = await housing.post("/subsidy-runs", json={"period": add_months(this_month, 1).label})
        assert refused.status_code == 422 and refused.json()["code"] == "period_in_future", refused.text
        assert (await housing.post("/subsidy-runs", json={"period": this_month.label})).status_code == 200


async def test_concurrent_runs_pay_each_household_once(kafka, postgres):
    async with system("registry", "housing", housing={"run_batch_size": 2}) as s:
        registry, housing = s["registry"], s["housing"]
        households = [
            (await enrol(registry, household_body(area="14.00", enrolled_on=ENROLLED, members=couple())))["id"]
            for _ in range(5)
        ]
        for household in households:
            await known(housing, household, members=2)

        results = await asyncio.gather(
            *(
                housing.post("/subsidy-runs", json={"period": period})
                for period in ("2026-03", "2026-03", "2026-03", "2026-02")
            )
        )
        assert all(response.status_code == 200 for response in results), [r.text for r in results]
        # Three months of 160.00 for each of five households, whichever run paid which month.
        assert sum(Decimal(response.json()["total_amount"]) for response in results) == Decimal("2400.00")
        for household in households:
            lines = await payments(housing, household)
            assert sorted(line["period"] for line in lines) == ["2026-01", "2026-02", "2026-03"]
            assert {line["kind"] for line in lines} == {"rent_subsidy"}
            assert await settled(housing, household) == {"2026-01": "160.00", "2026-02": "160.00", "2026-03": "160.00"}
