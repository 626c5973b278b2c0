"""A bureau's copy of the caseload keeps learning after an exit is announced: a household whose exit is set
ahead is still in dibao, so a change before the exit, and an exit brought forward, change its money."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from shared.periods import city_today
from tests.support import enrol, eventually, household_body, system

pytestmark = pytest.mark.integration


async def supplement_by_month(utilities, household_id: str) -> dict[str, str]:
    sums: dict[str, float] = defaultdict(float)
    for line in (await utilities.get("/heating/supplements", params={"household_id": household_id})).json():
        sums[line["period"]] += float(line["amount"])
    return {period: f"{amount:.2f}" for period, amount in sums.items() if amount}


async def test_change_before_an_exit_set_ahead_and_an_exit_brought_forward_reach_the_bureau(kafka, postgres):
    async with system("registry", "utilities") as s:
        registry, utilities = s["registry"], s["utilities"]
        household = await enrol(
            registry, household_body(heating="non_central", income="0.00", enrolled_on=date(2025, 11, 1))
        )
        ahead = city_today() + timedelta(days=40)
        assert (
            await registry.post(f"/households/{household['id']}/exit", json={"on": ahead.isoformat(), "reason": "迁出"})
        ).status_code == 200
        changed = await registry.patch(
            f"/households/{household['id']}", json={"monthly_income": "100.00", "effective_on": "2025-12-01"}
        )
        assert changed.status_code == 200, changed.text
        forward = await registry.post(
            f"/households/{household['id']}/exit", json={"on": "2026-02-01", "reason": "迁出"}
        )
        assert forward.status_code == 200, forward.text

        async def settled() -> dict[str, str]:
            run = await utilities.post("/heating/supplement-runs", json={"period": "2026-03"})
            assert run.status_code == 200, run.text
            months = await supplement_by_month(utilities, household["id"])
            # November: 20 % of 200 (all in the heating season); December and January: 20 % of 100 (the change);
            # nothing from February (the exit brought forward).
            return months if months.get("2025-12") == "20.00" and "2026-02" not in months else {}

        months = await eventually(settled)
        assert months == {"2025-11": "40.00", "2025-12": "20.00", "2026-01": "20.00"}
