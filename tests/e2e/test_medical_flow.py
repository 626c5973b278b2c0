"""Registry → medical on the real broker: enrolment makes members eligible, claims are paid, exit ends it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import bearer, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_enrolled_members_get_medical_assistance_until_the_household_exits(kafka, postgres):
    async with system("registry", "medical") as s:
        registry, medical = s["registry"], s["medical"]
        head, child = member("head"), member("child", born=date(2015, 6, 1), school_stage="primary")
        household = await enrol(registry, household_body(members=[head, child], enrolled_on=date(2026, 1, 5)))

        async def eligible() -> bool:
            response = await medical.get(f"/eligibility/{child['resident_id']}", params={"on": "2026-02-01"})
            return response.status_code == 200 and response.json()["eligible"]

        await eventually(eligible)
        hospital = (
            await medical.post(
                "/hospitals",
                json={"name": "哈尔滨医科大学附属第一医院", "level": "三级甲等", "designated_from": "2020-01-01"},
            )
        ).json()

        hospital_token = bearer("medical:claims", hospital_id=hospital["id"], agency=f"hospital_{hospital['id']}")
        claim = await medical.post(
            "/claims",
            headers=hospital_token,
            json={
                "hospital_id": hospital["id"],
                "resident_id": child["resident_id"],
                "invoice_no": "INV-001",
                "visit_date": "2026-03-10",
                "kind": "inpatient",
                "total_cost": "2000.00",
                "insurance_paid": "1200.00",
            },
        )
        assert claim.status_code == 201, claim.text
        # 50% of the 800.00 out of pocket
        assert claim.json()["assistance_amount"] == "400.00"

        again = await medical.post(
            "/claims",
            headers=hospital_token,
            json={
                "hospital_id": hospital["id"],
                "resident_id": child["resident_id"],
                "invoice_no": "INV-001",
                "visit_date": "2026-03-10",
                "kind": "inpatient",
                "total_cost": "2000.00",
                "insurance_paid": "1200.00",
            },
        )
        assert again.status_code == 409
        assert again.json()["code"] == "duplicate_invoice"

        exit_on = date(2026, 4, 1)
        assert (
            await registry.post(
                f"/households/{household['id']}/exit",
                json={"on": exit_on.isoformat(), "reason": "家庭收入超过低保标准"},
            )
        ).status_code == 200

        async def not_eligible_after_exit() -> bool:
            response = await medical.get(f"/eligibility/{child['resident_id']}", params={"on": exit_on.isoformat()})
            return response.status_code == 200 and not response.json()["eligible"]

        await eventually(not_eligible_after_exit)
        later = await medical.post(
            "/claims",
            headers=hospital_token,
            json={
                "hospital_id": hospital["id"],
                "resident_id": child["resident_id"],
                "invoice_no": "INV-002",
                "visit_date": (exit_on + timedelta(days=3)).isoformat(),
                "kind": "outpatient",
                "total_cost": "300.00",
                "insurance_paid": "100.00",
            },
        )
        assert later.status_code == 422
        assert later.json()["code"] == "not_eligible"
        assert "left dibao on 2026-04-01" in later.json()["detail"]

        exported = await medical.get("/claims", headers={"Accept": "text/csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.strip().splitlines()
        assert lines[0].startswith("id,hospital_id,invoice_no") and len(lines) == 2 and "INV-001" in lines[1]

        flags = (await medical.get("/audit/flags", params={"year": 2026})).json()
        assert [f["kind"] for f in flags if f["kind"] == "refused_outside_dibao"] == ["refused_outside_dibao"]

        report = (await medical.get("/reports", params={"period": "2026-H1"})).json()
        division = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert division == {
            "division_code": "230102",
            "division_name": "道里区",
            "eligible_persons": 2,
            "claims_paid": 1,
            "claims_refused": 1,
            "amount_paid": "400.00",
        }
