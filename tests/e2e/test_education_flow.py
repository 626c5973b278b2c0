"""Registry → education on the real broker: pupils registered, term runs idempotent, exit before a term."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import all_found, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_term_run_waives_fees_pays_boarding_and_disability_grant_once(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupil = member("child", born=date(2014, 9, 1), school_stage="primary", boarding=True)
        student = member("child", born=date(2008, 5, 5), school_stage="senior", male=False)
        household = await enrol(
            registry,
            household_body(enrolled_on=date(2026, 1, 10), members=[member("head", disabled=True), pupil, student]),
        )

        await eventually(
            lambda: all_found(education, f"/pupils/{pupil['resident_id']}", f"/pupils/{student['resident_id']}")
        )
        view = (await education.get(f"/pupils/{pupil['resident_id']}")).json()
        assert view["programmes"] == ["boarding_subsidy", "fee_waiver"]
        assert (await education.get(f"/pupils/{student['resident_id']}")).json()["programmes"] == ["disability_grant"]

        first = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        again = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        # 120 + 80 waived, 60 × 5 months boarding, 1000 for the school year
        assert first == {
            "term": "2026-spring",
            "grants_made": 3,
            "total_amount": "1500.00",
            "already_made": 0,
            "recoveries": 0,
            "recovered_amount": "0.00",
            "withheld_amount": "0.00",
            "transferred_amount": "1500.00",
            "dry_run": False,
            "by_division": [
                {"division_code": "230102", "division_name": "道里区", "households": 1, "amount": "1500.00"}
            ],
            "left_out": [],
            "left_out_count": 0,
            "payees": None,
        }
        assert again == {
            "term": "2026-spring",
            "grants_made": 0,
            "total_amount": "0.00",
            "already_made": 3,
            "recoveries": 0,
            "recovered_amount": "0.00",
            "withheld_amount": "0.00",
            "transferred_amount": "0.00",
            "dry_run": False,
            "by_division": [],
            "left_out": [],
            "left_out_count": 0,
            "payees": None,
        }

        grants = (await education.get("/grants", params={"household_id": household["id"]})).json()["grants"]
        assert sorted((g["programme"], g["amount"]) for g in grants) == [
            ("boarding_subsidy", "300.00"),
            ("disability_grant", "1000.00"),
            ("fee_waiver", "200.00"),
        ]

        # A school reports the pupil stopped boarding: the next term pays no boarding subsidy.
        changed = await education.patch(f"/pupils/{pupil['resident_id']}", json={"boarding": False})
        assert changed.status_code == 200 and changed.json()["programmes"] == ["fee_waiver"]
        # It holds from the day of the report: the spring term, begun before, keeps its subsidy.
        settled = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert (settled["grants_made"], settled["recoveries"]) == (0, 0)

        assert (
            await registry.post(f"/households/{household['id']}/exit", json={"on": "2026-08-01", "reason": "收入增加"})
        ).status_code == 200

        async def left() -> bool:
            return not (await education.get(f"/pupils/{pupil['resident_id']}")).json()["in_dibao"]

        await eventually(left)
        autumn = (await education.post("/term-runs", json={"term": "2026-autumn"})).json()
        assert autumn["grants_made"] == 0


async def test_partner_organisation_aid_is_recorded_for_a_pupil(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupil = member("other", born=date(2013, 3, 3), school_stage="junior")
        await enrol(registry, household_body(enrolled_on=date(2026, 2, 1), members=[member("head"), pupil]))

        async def registered() -> bool:
            return (await education.get(f"/pupils/{pupil['resident_id']}")).status_code == 200

        await eventually(registered)
        view = (await education.get(f"/pupils/{pupil['resident_id']}")).json()
        assert view["no_parent_in_household"] is True
        assert "orphan_and_hardship_aid" in view["programmes"]
        aid = await education.post(
            "/activities",
            json={
                "resident_id": pupil["resident_id"],
                "organisation": "youth_league_hope_project",
                "kind": "希望工程助学金",
                "amount": "500.00",
                "given_on": "2026-03-01",
            },
        )
        assert aid.status_code == 201, aid.text
        report = (await education.get("/reports", params={"period": "2026-spring"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["partner_aid"], row["partner_aid_amount"]) == (1, "500.00")
