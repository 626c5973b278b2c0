"""Registry → housing on the real broker: rent subsidy first, a flat second, tenancy review on exit."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import all_found, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_rent_subsidy_paid_once_per_month_from_enrolment_until_a_flat_is_allocated(kafka, postgres):
    async with system("registry", "housing") as s:
        registry, housing = s["registry"], s["housing"]
        cramped = await enrol(
            registry,
            household_body(
                area="20.00",
                enrolled_on=date(2026, 1, 10),
                members=[member("head"), member("spouse", male=False), member("child", born=date(2014, 2, 2))],
            ),
        )
        roomy = await enrol(registry, household_body(area="60.00", enrolled_on=date(2026, 1, 10)))

        await eventually(lambda: all_found(housing, f"/households/{cramped['id']}", f"/households/{roomy['id']}"))
        view = (await housing.get(f"/households/{cramped['id']}")).json()
        assert view["eligible"] is True and view["area_per_person"] == "6.67"
        # (15 m² × 3 − 20 m²) × 10.00
        assert view["monthly_rent_subsidy"] == "250.00"
        assert (await housing.get(f"/households/{roomy['id']}")).json()["eligible"] is False

        # The February run settles January (the month of enrolment) too.
        first = (await housing.post("/subsidy-runs", json={"period": "2026-02"})).json()
        second = (await housing.post("/subsidy-runs", json={"period": "2026-02"})).json()
        assert (first["households_paid"], first["total_amount"], first["lines"]) == (1, "500.00", 2)
        assert (second["households_paid"], second["already_paid"], second["lines"]) == (0, 1, 0)

        refused = await housing.post("/allocation-requests", json={"household_id": roomy["id"]})
        assert refused.status_code == 422 and refused.json()["code"] == "not_eligible"
        waiting = await housing.post("/allocation-requests", json={"household_id": cramped["id"]})
        assert waiting.status_code == 201 and waiting.json()["position"] == 1
        unit = (
            await housing.post(
                "/units",
                json={"address": "道里区廉租房1单元101", "division_code": "230102", "area_m2": "45.00", "rooms": 2},
            )
        ).json()
        allocation = await housing.post(
            "/allocations", json={"household_id": cramped["id"], "unit_id": unit["id"], "on": "2026-03-15"}
        )
        assert allocation.status_code == 201, allocation.text
        assert allocation.json()["rent_subsidy_ends_after"] == "2026-03"
        assert (await housing.get("/waitlist")).json() == []

        assert (await housing.post("/subsidy-runs", json={"period": "2026-03"})).json()["households_paid"] == 1
        assert (await housing.post("/subsidy-runs", json={"period": "2026-04"})).json()["households_paid"] == 0

        assert (
            await registry.post(f"/households/{cramped['id']}/exit", json={"on": "2026-06-01", "reason": "迁出本市"})
        ).status_code == 200

        async def flagged() -> dict:
            body = (await housing.get(f"/households/{cramped['id']}")).json()
            return body if body["tenancy_review"] else {}

        after_exit = await eventually(flagged)
        assert after_exit["in_dibao"] is False and after_exit["tenancy"]["unit_id"] == unit["id"]

        report = (await housing.get("/reports", params={"period": "2026-H1"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["eligible_households"], row["subsidies_paid"], row["subsidy_amount"], row["flats_allocated"]) == (
            1,
            3,
            "750.00",
            1,
        )
        payments = (await housing.get(f"/households/{cramped['id']}/payments")).json()
        assert [(p["period"], p["amount"], p["kind"], p["run_period"]) for p in payments] == [
            ("2026-01", "250.00", "rent_subsidy", "2026-02"),
            ("2026-02", "250.00", "rent_subsidy", "2026-02"),
            ("2026-03", "250.00", "rent_subsidy", "2026-03"),
        ]
