"""Registry → employment → registry on the real broker: certificate, verification, the 3-month extension."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.employment import service as employment_service
from shared.periods import PeriodInFuture, city_today
from tests.support import enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def test_certificate_is_verifiable_and_employment_buys_three_extension_months(kafka, postgres):
    async with system("registry", "employment") as s:
        registry, employment = s["registry"], s["employment"]
        worker = member(
            "head",
            born=date(1980, 4, 4),
            able_to_work=True,
            employment_status="unemployed",
            unemployed_since="2024-01-01",
        )
        household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 5), members=[worker]))

        async def certified() -> dict:
            response = await employment.get(f"/persons/{worker['resident_id']}")
            return response.json()["certificate"] if response.status_code == 200 else {}

        certificate = await eventually(certified)
        assert certificate["issued_on"] == "2026-01-05" and certificate["valid_until"] == "2029-01-04"
        person = (await employment.get(f"/persons/{worker['resident_id']}")).json()
        assert person["waivers"] == ["job_agency_fee_waiver", "training_fee_waiver"]

        verified = (await employment.get(f"/certificates/{certificate['number']}")).json()
        assert verified["valid"] is True and verified["benefits_active"] is True
        assert verified["holder_resident_id"] == worker["resident_id"][:6] + "********" + worker["resident_id"][-4:]
        assert (await employment.get("/certificates/ZY0000000000000000")).status_code == 404

        job = await employment.post(
            f"/persons/{worker['resident_id']}/employment",
            json={"on": "2026-02-10", "kind": "job", "employer": "哈尔滨某物业公司"},
        )
        assert job.status_code == 201, job.text

        async def extended() -> bool:
            return (await registry.get(f"/households/{household['id']}")).json()["review_reason"] is not None

        await eventually(extended)
        for month in ("2026-02", "2026-03", "2026-04", "2026-05", "2026-06"):
            assert (await registry.post("/payment-runs", json={"period": month})).status_code == 200
        payments = (await registry.get(f"/households/{household['id']}/payments")).json()
        # The extension runs from the month the member starts work (February) for three months.
        assert [(p["period"], p["kind"], p["amount"]) for p in payments] == [
            ("2026-01", "dibao", "200.00"),
            ("2026-02", "extension", "200.00"),
            ("2026-03", "extension", "200.00"),
            ("2026-04", "extension", "200.00"),
            ("2026-05", "dibao", "200.00"),
            ("2026-06", "dibao", "200.00"),
        ]
        head = (await registry.get(f"/households/{household['id']}")).json()["members"][0]
        assert head["employment_status"] == "employed", "the registry records the job it heard of"
        assert (await registry.get(f"/households/{household['id']}")).json()["review_due"] is True


async def test_certificate_is_issued_on_the_day_the_year_of_unemployment_is_up(kafka, postgres):
    async with system("registry", "employment") as s:
        registry, employment = s["registry"], s["employment"]
        worker = member(
            "head",
            born=date(1990, 6, 6),
            male=False,
            able_to_work=True,
            employment_status="unemployed",
            unemployed_since="2026-01-15",
        )
        await enrol(registry, household_body(enrolled_on=date(2026, 2, 1), members=[worker]))

        async def due() -> dict:
            response = await employment.get(f"/persons/{worker['resident_id']}")
            return response.json() if response.status_code == 200 else {}

        person = await eventually(due)
        assert person["certificate"] is None and person["certificate_due_on"] == "2027-01-15"

        units = employment.app.state.platform.units
        assert await employment_service.issue_due_certificates(units, today=date(2027, 1, 14)) == 0
        assert await employment_service.issue_due_certificates(units, today=date(2027, 1, 15)) == 1
        person = (await employment.get(f"/persons/{worker['resident_id']}")).json()
        assert person["certificate"]["issued_on"] == "2027-01-15"


async def test_referrals_put_certificate_holders_first_and_posts_fill_to_capacity(kafka, postgres):
    async with system("registry", "employment") as s:
        registry, employment = s["registry"], s["employment"]
        holder = member(
            "head",
            born=date(1982, 2, 2),
            able_to_work=True,
            employment_status="unemployed",
            unemployed_since="2023-05-01",
        )
        recent = member(
            "head",
            born=date(1985, 3, 3),
            able_to_work=True,
            employment_status="unemployed",
            unemployed_since="2026-06-01",
        )
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 5), members=[holder]))
        await enrol(registry, household_body(enrolled_on=date(2026, 1, 5), members=[recent]))

        async def both_known() -> bool:
            for person in (holder, recent):
                if (await employment.get(f"/persons/{person['resident_id']}")).status_code != 200:
                    return False
            return True

        await eventually(both_known)
        vacancy = (
            await employment.post(
                "/vacancies",
                json={"employer": "哈尔滨某超市", "title": "理货员", "division_code": "230102", "positions": 2},
            )
        ).json()
        candidates = (await employment.get(f"/vacancies/{vacancy['id']}/candidates")).json()
        assert [c["resident_id"] for c in candidates] == [holder["resident_id"], recent["resident_id"]]
        assert candidates[0]["certificate_number"] and candidates[1]["certificate_number"] is None

        referred = await employment.post(
            "/referrals", json={"vacancy_id": vacancy["id"], "resident_id": holder["resident_id"]}
        )
        assert referred.status_code == 201 and referred.json()["fee_waived"] is True
        twice = await employment.post(
            "/referrals", json={"vacancy_id": vacancy["id"], "resident_id": holder["resident_id"]}
        )
        assert twice.status_code == 409 and twice.json()["code"] == "already_referred"
        other = await employment.post(
            "/referrals", json={"vacancy_id": vacancy["id"], "resident_id": recent["resident_id"]}
        )
        assert other.json()["fee_waived"] is False

        post = (
            await employment.post(
                "/posts",
                json={
                    "name": "社区保洁",
                    "employer": "道里区某街道办",
                    "division_code": "230102",
                    "capacity": 1,
                    "monthly_wage": "600.00",
                },
            )
        ).json()
        placed = await employment.post(
            f"/posts/{post['id']}/assignments", json={"resident_id": holder["resident_id"], "on": "2026-03-01"}
        )
        assert placed.status_code == 201
        full = await employment.post(f"/posts/{post['id']}/assignments", json={"resident_id": recent["resident_id"]})
        assert full.status_code == 409 and full.json()["code"] == "post_full"
        person = (await employment.get(f"/persons/{holder['resident_id']}")).json()
        assert person["employment_status"] == "employed"
        assert [(e["kind"], e["employed_on"]) for e in person["employment"]] == [("public_welfare_post", "2026-03-01")]
        report = (await employment.get("/reports", params={"period": "2026"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["certificates_issued"], row["referrals"], row["posts_filled"], row["members_found_work"]) == (
            1,
            2,
            1,
            1,
        )


async def test_a_certificate_run_for_a_day_not_begun_in_harbin_is_refused(kafka, postgres):
    async with system("employment") as s:
        employment = s["employment"]
        tomorrow = city_today() + timedelta(days=1)
        refused = await employment.post("/certificate-runs", json={"on": tomorrow.isoformat()})
        assert refused.status_code == 422 and refused.json()["code"] == "period_in_future", refused.text
        today = await employment.post("/certificate-runs", json={"on": city_today().isoformat()})
        assert today.status_code == 200 and today.json()["issued"] == 0, today.text
        with pytest.raises(PeriodInFuture):
            await employment_service.issue_due_certificates(employment.app.state.platform.units, on=tomorrow)
