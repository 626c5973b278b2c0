"""Legal aid's "today" is the day in Harbin, not the server's date (between midnight and 08:00 in Harbin,
UTC is still on yesterday)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import city_today
from tests.support import enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_eligibility_and_intake_default_to_today_in_harbin(kafka, postgres):
    async with system("registry", "legal") as s:
        registry, legal = s["registry"], s["legal"]
        head = member("head")
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 5), members=[head]))

        async def eligible() -> dict:
            body = (await legal.get(f"/eligibility/{head['resident_id']}")).json()
            return body if body["eligible"] else {}

        asked = await eventually(eligible)
        searched = (await legal.post("/eligibility/search", json={"resident_id": head["resident_id"]})).json()
        case = await legal.post(
            "/cases", json={"resident_id": head["resident_id"], "kind": "consultation", "summary": "赡养纠纷咨询"}
        )
        assert case.status_code == 201, case.text
        today = city_today().isoformat()
        assert (asked["on"], searched["on"], case.json()["intake_on"]) == (today, today, today)
