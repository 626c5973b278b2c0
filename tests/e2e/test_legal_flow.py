"""Registry → legal aid on the real broker: intake while in dibao, refused after exit, open cases go on."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_open_case_goes_on_after_exit_but_new_intake_is_refused(kafka, postgres):
    async with system("registry", "legal") as s:
        registry, legal = s["registry"], s["legal"]
        head = member("head")
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 5), members=[head]))

        async def eligible() -> bool:
            return (await legal.get(f"/eligibility/{head['resident_id']}")).json()["eligible"]

        await eventually(eligible)
        case = await legal.post(
            "/cases",
            json={"resident_id": head["resident_id"], "kind": "civil_representation", "summary": "劳动报酬纠纷"},
        )
        assert case.status_code == 201, case.text
        assert (case.json()["status"], case.json()["fee"]) == ("received", "0.00")
        lawyer = (
            await legal.post(
                "/lawyers",
                json={
                    "name": "李律师",
                    "firm": "哈尔滨法律援助中心",
                    "division_code": "230102",
                    "kind": "legal_aid_office",
                },
            )
        ).json()
        case_id = case.json()["id"]
        assigned = await legal.patch(f"/cases/{case_id}", json={"status": "assigned", "lawyer_id": lawyer["id"]})
        assert assigned.status_code == 200 and assigned.json()["lawyer_id"] == lawyer["id"]

        assert (
            await registry.post(
                f"/households/{household['id']}/exit", json={"on": date.today().isoformat(), "reason": "收入增加"}
            )
        ).status_code == 200

        async def not_eligible() -> bool:
            return not (await legal.get(f"/eligibility/{head['resident_id']}")).json()["eligible"]

        await eventually(not_eligible)
        refused = await legal.post(
            "/cases", json={"resident_id": head["resident_id"], "kind": "consultation", "summary": "咨询"}
        )
        assert refused.status_code == 422 and refused.json()["code"] == "not_eligible"

        started = await legal.patch(f"/cases/{case_id}", json={"status": "in_progress"})
        closed = await legal.patch(f"/cases/{case_id}", json={"status": "closed", "outcome": "调解结案, 追回工资"})
        assert started.status_code == 200 and closed.status_code == 200
        assert [h["to_status"] for h in closed.json()["history"]] == ["received", "assigned", "in_progress", "closed"]
        reopened = await legal.patch(f"/cases/{case_id}", json={"status": "in_progress"})
        assert reopened.status_code == 409 and reopened.json()["code"] == "invalid_transition"

        report = (await legal.get("/reports", params={"period": str(date.today().year)})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["cases"], row["by_kind"], row["by_status"]) == (1, {"civil_representation": 1}, {"closed": 1})
        assert row["average_days_to_assignment"] is not None and row["average_days_to_assignment"] < 1
