"""A school reaches only the pupils the Education Bureau registered to it: another school's token cannot read a
pupil or set boarding (which would grant a boarding subsidy), by path or by body."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import all_found, bearer, enrol, eventually, household_body, member, person_id, system

pytestmark = pytest.mark.integration


def school(number: str) -> dict[str, str]:
    return bearer("education:schools", agency=f"school_{number}", school_id=number)


BUREAU = bearer("education:read", "education:write", agency="education_bureau")


async def test_a_school_reads_and_changes_only_its_own_pupils(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        pupil = member("child", born=date(2014, 9, 1), school_stage="primary", boarding=False)
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[member("head"), pupil]))
        rid = pupil["resident_id"]
        await eventually(lambda: all_found(education, f"/pupils/{rid}"))

        # Before the bureau registers the pupil, no school reaches it.
        unregistered = await education.get(f"/pupils/{rid}", headers=school("7"))
        assert (unregistered.status_code, unregistered.json()["code"]) == (403, "not_your_pupil")

        by_school = await education.post(
            "/pupils/school", json={"resident_id": rid, "school_id": "7"}, headers=school("7")
        )
        assert (by_school.status_code, by_school.json()["code"]) == (403, "insufficient_scope")
        registered = await education.post("/pupils/school", json={"resident_id": rid, "school_id": "7"}, headers=BUREAU)
        assert registered.status_code == 200 and registered.json()["school_id"] == "7"

        other = school("8")
        refused = {
            "read by path": await education.get(f"/pupils/{rid}", headers=other),
            "read by body": await education.post("/pupils/search", json={"resident_id": rid}, headers=other),
            "boarding by path": await education.patch(f"/pupils/{rid}", json={"boarding": True}, headers=other),
            "boarding by body": await education.post(
                "/pupils/changes", json={"resident_id": rid, "boarding": True}, headers=other
            ),
            # Not a pupil at all: the same answer, so a school cannot probe who is in dibao.
            "someone else": await education.post("/pupils/search", json={"resident_id": person_id()}, headers=other),
        }
        for why, response in refused.items():
            assert (response.status_code, response.json()["code"]) == (403, "not_your_pupil"), why
        view = (await education.get(f"/pupils/{rid}", headers=BUREAU)).json()
        assert (view["boarding"], view["programmes"]) == (False, ["fee_waiver"]), "no boarding subsidy was granted"

        # Its own school reads it and reports boarding: the subsidy follows.
        own = school("7")
        assert (await education.post("/pupils/search", json={"resident_id": rid}, headers=own)).status_code == 200
        changed = await education.patch(f"/pupils/{rid}", json={"boarding": True}, headers=own)
        assert changed.status_code == 200 and changed.json()["programmes"] == ["boarding_subsidy", "fee_waiver"]

        # Moved to school 8 by the bureau: school 7 no longer reaches the pupil.
        await education.post("/pupils/school", json={"resident_id": rid, "school_id": "8"}, headers=BUREAU)
        assert (await education.get(f"/pupils/{rid}", headers=own)).status_code == 403
        assert (await education.get(f"/pupils/{rid}", headers=other)).status_code == 200

        trail = (
            await education.get(
                "/audit", params={"resource_type": "pupil_schools", "resource_id": rid}, headers=bearer("audit:read")
            )
        ).json()["items"]
        assert [(e["before"]["school_id"], e["after"]["school_id"], e["agency"]) for e in trail] == [
            (None, "7", "education_bureau"),
            ("7", "8", "education_bureau"),
        ]


async def test_registering_someone_who_is_no_pupil_is_a_404(kafka, postgres):
    async with system("education") as s:
        response = await s["education"].post(
            "/pupils/school", json={"resident_id": person_id(), "school_id": "7"}, headers=BUREAU
        )
        bad = await s["education"].post(
            "/pupils/school", json={"resident_id": person_id(), "school_id": "seven"}, headers=BUREAU
        )
    assert (response.status_code, response.json()["code"]) == (404, "pupil_not_found")
    assert bad.status_code == 422
