"""The leading group's work cycle in the office (哈政办综〔2004〕25号 三、(二), 四、): joint meetings and their
decisions, inspections and their findings, the scores of the member units and districts, commendations, the
partner organisations' activities — on PostgreSQL and on SQLite (the office's database), fed by a real registry
(and the medical bureau, for a bureau that grants) through the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.migrations import upgrade
from shared.periods import city_today
from tests.support import (
    AppClient,
    bearer,
    drop_database,
    enrol,
    eventually,
    household_body,
    member,
    migrated_database,
    new_prefix,
    running,
    service_app,
)

pytestmark = pytest.mark.integration

DATABASES = ["postgres", "sqlite"]


@contextlib.asynccontextmanager
async def office_on(database: str, tmp_path: Path, *bureaus: str) -> AsyncIterator[dict[str, AppClient]]:
    """The office on ``database`` (``postgres`` or ``sqlite``), with ``bureaus`` (on PostgreSQL), one broker."""

    prefix = new_prefix()
    urls = {bureau: await migrated_database(bureau) for bureau in bureaus}
    if database == "sqlite":
        office_url = f"sqlite+aiosqlite:///{tmp_path / 'office.db'}"
        await asyncio.to_thread(upgrade, "office", office_url)
    else:
        office_url = urls["office"] = await migrated_database("office")
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = {}
            for name in bureaus:
                clients[name] = await stack.enter_async_context(running(service_app(name, urls[name], prefix)))
            clients["office"] = await stack.enter_async_context(running(service_app("office", office_url, prefix)))
            yield clients
    finally:
        for url in urls.values():
            await drop_database(url)


async def known_to_office(office: AppClient, household_id: str, check=lambda view: True) -> dict:
    async def ready() -> dict:
        response = await office.get(f"/households/{household_id}/assistance")
        return response.json() if response.status_code == 200 and check(response.json()) else {}

    return await eventually(ready)


def problem(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()["code"]


async def audited(office: AppClient, resource_type: str) -> list[dict]:
    response = await office.get("/audit", params={"resource_type": resource_type}, headers=bearer("audit:read"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


# ---- joint meetings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", DATABASES)
async def test_a_joint_meeting_records_who_was_present_and_each_decision_becomes_a_task_followed_up(
    kafka, postgres, tmp_path, database
):
    later = city_today() + timedelta(days=60)
    async with office_on(database, tmp_path, "registry") as s:
        registry, office = s["registry"], s["office"]
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 5)))
        await known_to_office(office, household["id"])
        created = await office.post(
            "/meetings",
            json={
                "date": "2026-07-10",
                "kind": "half_year",
                "period": "2026-H1",
                "units": ["civil_affairs", "medical", "housing"],
                "decisions": [
                    {
                        "description": "为未落实住房救助的低保户办理租金补贴 <急>",
                        "unit": "housing",
                        "due_on": "2026-08-31",
                    },
                    {"description": "定点医院目录年内更新", "unit": "medical", "due_on": later.isoformat()},
                ],
                "summary": "上半年联席会议",
            },
        )
        assert created.status_code == 201, created.text
        meeting = created.json()
        assert (meeting["period"], meeting["units"]) == ("2026-H1", ["civil_affairs", "medical", "housing"])
        assert [(d["n"], d["unit"], d["status"], d["overdue"]) for d in meeting["decisions"]] == [
            (1, "housing", "open", True),
            (2, "medical", "open", False),
        ]

        async def listed(**params: str) -> list[str]:
            response = await office.get("/meetings", params=params)
            assert response.status_code == 200, response.text
            return [m["id"] for m in response.json()]

        assert await listed() == [meeting["id"]]
        assert await listed(kind="half_year", unit="housing", period="2026-H2") == [meeting["id"]]
        assert await listed(unit="legal") == [] and await listed(period="2026-H1") == []
        assert await listed(kind="year_end") == []

        detail = (await office.get(f"/meetings/{meeting['id']}")).json()
        figures = detail["figures"]
        assert (figures["period"], figures["as_of"], figures["households"]) == ("2026-H1", "2026-06-30", 1)
        assert [d["n"] for d in detail["decisions"]] == [1, 2]
        civil_affairs = next(u for u in figures["units"] if u["unit"] == "civil_affairs")
        assert {c["criterion"] for c in civil_affairs["criteria"]} == {
            "coverage",
            "timeliness",
            "unserved",
            "findings",
            "payments",
        }
        page = await office.get(f"/meetings/{meeting['id']}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "为未落实住房救助的低保户办理租金补贴 &lt;急&gt;" in page.text and "逾期" in page.text
        assert 'data-unit="medical"' in page.text

        path = f"/meetings/{meeting['id']}/decisions/1"
        done = await office.patch(path, json={"status": "done", "done_on": "2026-08-20", "note": "已办结"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["done_on"], done.json()["overdue"]) == ("done", "2026-08-20", False)
        reopened = (await office.patch(path, json={"status": "open"})).json()
        assert (reopened["status"], reopened["done_on"], reopened["overdue"]) == ("open", None, True)
        assert problem(await office.patch(path, json={}), 422) == "empty_change"
        assert problem(await office.patch(path, json={"done_on": "2026-08-20"}), 422) == "done_on_without_done"
        assert problem(await office.patch(path, json={"status": "done", "done_on": "2026-07-01"}), 422) == (
            "done_before_meeting"
        )
        assert problem(await office.patch(path, json={"due_on": "2026-07-09"}), 422) == "due_before_meeting"
        assert problem(await office.patch(f"/meetings/{meeting['id']}/decisions/3", json={"status": "done"}), 404) == (
            "decision_not_found"
        )
        assert problem(await office.patch("/meetings/999999/decisions/1", json={"status": "done"}), 404) == (
            "meeting_not_found"
        )
        assert problem(await office.get("/meetings/999999"), 404) == "meeting_not_found"

        decisions = await audited(office, "meeting_decisions")
        patched = [e for e in decisions if e["action"].startswith("PATCH")]
        assert [(e["before"]["status"], e["after"]["status"]) for e in patched] == [("open", "done"), ("done", "open")]
        assert all(e["agency"] == "local" for e in decisions)
        assert len(await audited(office, "meetings")) == 1


async def test_meetings_and_inspections_refuse_what_is_not_a_record_of_them(kafka, postgres, tmp_path):
    future = (city_today() + timedelta(days=1)).isoformat()
    good = {"date": "2026-07-10", "kind": "half_year", "units": ["civil_affairs"], "decisions": []}
    decision = {"description": "整改", "unit": "housing", "due_on": "2026-08-31"}
    async with office_on("postgres", tmp_path) as s:
        office = s["office"]
        cases = {
            "unknown_unit": ({**good, "units": ["finance"]}, "validation_error"),
            "no_unit": ({**good, "units": []}, "validation_error"),
            "twice": ({**good, "units": ["medical", "medical"]}, "duplicate_unit"),
            "kind": ({**good, "kind": "monthly"}, "validation_error"),
            "mismatch": ({**good, "period": "2026"}, "period_kind_mismatch"),
            "not_begun": ({**good, "period": "2026-H2", "date": "2026-06-01"}, "period_after_meeting"),
            "future": ({**good, "date": future}, "date_in_future"),
            "number": ({**good, "date": 20260710}, "invalid_date"),
            "early": ({**good, "decisions": [{**decision, "due_on": "2026-07-09"}]}, "due_before_meeting"),
            "control": ({**good, "decisions": [{**decision, "description": "整改\n"}]}, "invalid_text"),
            "extra": ({**good, "chair": "副市长"}, "unknown_field"),
            "period": ({**good, "period": "2003-H1"}, "invalid_period"),
        }
        for name, (body, code) in cases.items():
            assert problem(await office.post("/meetings", json=body), 422) == code, name
        assert (await office.post("/meetings", json=good)).json()["period"] == "2026-H1"

        inspection = {
            "division_code": "230104",
            "date": "2026-09-15",
            "findings": [decision | {"due_on": "2026-10-15"}],
        }
        cases = {
            "division": ({**inspection, "division_code": "110101"}, "unknown_division"),
            "early": ({**inspection, "findings": [{**decision, "due_on": "2026-09-14"}]}, "due_before_inspection"),
            "future": ({**inspection, "date": future}, "date_in_future"),
            "unit": ({**inspection, "findings": [{**decision, "unit": "tax"}]}, "validation_error"),
        }
        for name, (body, code) in cases.items():
            assert problem(await office.post("/inspections", json=body), 422) == code, name
        assert problem(await office.get("/meetings", params={"period": "2026-13"}), 422) == "invalid_period"
        assert problem(await office.get("/reports/scores", params={"period": "2099"}), 422) == "period_in_future"


# ---- inspections ----------------------------------------------------------------------------------------


async def scrape_overdue(office: AppClient) -> dict[str, float]:
    response = await office.get("/metrics", headers=bearer("ops:metrics"))
    assert response.status_code == 200, response.text
    return {
        sample.labels["unit"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "harbin_findings_overdue" and sample.labels["service"] == "office"
    }


@pytest.mark.parametrize("database", DATABASES)
async def test_an_inspections_findings_are_followed_to_resolution_and_the_overdue_ones_flagged(
    kafka, postgres, tmp_path, database
):
    today = city_today()
    async with office_on(database, tmp_path) as s:
        office = s["office"]
        created = await office.post(
            "/inspections",
            json={
                "division_code": "230104",
                "date": (today - timedelta(days=40)).isoformat(),
                "units": ["civil_affairs", "utilities"],
                "findings": [
                    {
                        "description": "3户非集中供暖低保户未发采暖补贴",
                        "unit": "utilities",
                        "due_on": (today - timedelta(days=10)).isoformat(),
                    },
                    {
                        "description": "低保公示不及时",
                        "unit": "civil_affairs",
                        "due_on": (today + timedelta(days=20)).isoformat(),
                    },
                ],
            },
        )
        assert created.status_code == 201, created.text
        inspection = created.json()
        assert (inspection["division_name"], [f["overdue"] for f in inspection["findings"]]) == (
            "道外区",
            [True, False],
        )

        overdue = (await office.get("/inspections", params={"overdue": "true"})).json()
        assert [i["id"] for i in overdue] == [inspection["id"]]
        assert (await office.get("/inspections", params={"division_code": "230102"})).json() == []
        assert [i["id"] for i in (await office.get("/inspections", params={"unit": "civil_affairs"})).json()] == [
            inspection["id"]
        ]
        period = f"{today.year}"
        assessment = (await office.get("/reports/assessment", params={"period": period})).json()["work_cycle"]
        assert (assessment["findings_open"], assessment["findings_overdue"]) == (2, 1)
        assert [(f["inspection_id"], f["n"], f["unit"], f["days_overdue"]) for f in assessment["overdue_findings"]] == [
            (inspection["id"], 1, "utilities", 10)
        ]
        gauge = await scrape_overdue(office)
        assert (gauge["utilities"], gauge["civil_affairs"], gauge["legal"]) == (1, 0, 0)

        path = f"/inspections/{inspection['id']}/findings/1"
        assert problem(await office.patch(path, json={"status": "resolved", "resolved_on": "2004-01-01"}), 422) == (
            "resolved_before_inspection"
        )
        assert problem(await office.patch(path, json={"resolved_on": today.isoformat()}), 422) == (
            "resolved_on_without_resolved"
        )
        resolved = await office.patch(
            path, json={"status": "resolved", "resolved_on": today.isoformat(), "resolution": "已补发"}
        )
        assert resolved.status_code == 200, resolved.text
        assert (resolved.json()["status"], resolved.json()["resolved_on"], resolved.json()["overdue"]) == (
            "resolved",
            today.isoformat(),
            False,
        )
        assert (await scrape_overdue(office))["utilities"] == 0
        assessment = (await office.get("/reports/assessment", params={"period": period})).json()["work_cycle"]
        assert (assessment["findings_overdue"], assessment["overdue_findings"]) == (0, [])
        assert (assessment["findings_due"], assessment["findings_resolved_on_time"]) == (2, 0), "resolved late"
        # The unit that resolved it late scores 0 on findings; the one not yet due is not counted.
        scores = (await office.get("/reports/scores", params={"period": period})).json()
        findings = {u["unit"]: next(c for c in u["criteria"] if c["criterion"] == "findings") for u in scores["units"]}
        assert (findings["utilities"]["ratio"], findings["utilities"]["denominator"]) == (0.0, 1)
        assert (findings["civil_affairs"]["ratio"], findings["civil_affairs"]["denominator"]) == (None, 0)

        assert problem(
            await office.patch(f"/inspections/{inspection['id']}/findings/3", json={"status": "resolved"}), 404
        ) == ("finding_not_found")
        assert problem(await office.get("/inspections/999999"), 404) == "inspection_not_found"
        entries = await audited(office, "inspection_findings")
        assert [(e["before"]["status"], e["after"]["status"]) for e in entries if e["action"].startswith("PATCH")] == [
            ("open", "resolved")
        ]


# ---- scores and commendations ---------------------------------------------------------------------------


def criterion(row: dict, name: str) -> dict:
    return next(c for c in row["criteria"] if c["criterion"] == name)


@pytest.mark.parametrize("database", DATABASES)
async def test_units_and_districts_are_scored_and_only_a_score_at_the_threshold_is_commended_once(
    kafka, postgres, tmp_path, database
):
    async with office_on(database, tmp_path, "registry", "medical") as s:
        registry, office = s["registry"], s["office"]
        household = await enrol(registry, household_body(income="60.00", enrolled_on=date(2026, 1, 5)))
        run = await registry.post("/payment-runs", json={"period": "2026-06"})
        assert run.status_code == 200, run.text
        await known_to_office(
            office,
            household["id"],
            lambda view: view["dibao"]["payments"] == 6 and any(p["bureau"] == "medical" for p in view["programmes"]),
        )

        response = await office.get("/reports/scores", params={"period": "2026-H1"})
        assert response.status_code == 200, response.text
        scores = response.json()
        assert (scores["as_of"], scores["weights"]["coverage"], scores["commendation_min_score"]) == (
            "2026-06-30",
            "0.30",
            "90",
        )
        units = {u["unit"]: u for u in scores["units"]}
        medical, legal, civil_affairs = units["medical"], units["legal"], units["civil_affairs"]
        assert (criterion(medical, "coverage")["numerator"], criterion(medical, "coverage")["denominator"]) == (1, 1)
        assert (medical["score"], medical["commendable"]) == (100.0, True)
        # Dibao for January to June, paid in full by the day it was due (the office heard of the household today).
        payments = criterion(civil_affairs, "payments")
        assert (payments["ratio"], payments["numerator"], payments["denominator"]) == (1.0, 6, 6)
        assert civil_affairs["score"] == 100.0
        # Legal aid granted no one: coverage 0; nobody waited 30 days yet; timeliness does not apply.
        assert (criterion(legal, "coverage")["ratio"], criterion(legal, "timeliness")["ratio"]) == (0.0, None)
        assert legal["score"] == pytest.approx(33.33)
        assert units["youth_league"]["score"] is None
        district = next(d for d in scores["divisions"] if d["division_code"] == "230102")
        # Coverage 1 of 3 bureaus' households (medical yes; legal and utilities no), the rest met: 0.6 / 0.8.
        assert criterion(district, "coverage")["ratio"] == pytest.approx(1 / 3, abs=1e-4)
        assert district["score"] == 75.0
        assert next(d for d in scores["divisions"] if d["division_code"] == "230129")["score"] is None

        body = {"period": "2026-H1", "citation": "医疗救助工作成绩突出"}
        commended = await office.post("/commendations", json={**body, "unit": "medical"})
        assert commended.status_code == 201, commended.text
        assert (commended.json()["score"], commended.json()["threshold"], commended.json()["name"]) == (
            100.0,
            90.0,
            "医疗救助",
        )
        assert (
            problem(await office.post("/commendations", json={**body, "unit": "medical"}), 409) == "already_commended"
        )
        assert (
            problem(await office.post("/commendations", json={**body, "unit": "legal"}), 422) == "score_below_threshold"
        )
        assert problem(await office.post("/commendations", json={**body, "unit": "youth_league"}), 422) == (
            "score_not_computed"
        )
        assert problem(
            await office.post("/commendations", json={**body, "period": "2026-05", "unit": "medical"}), 422
        ) == ("invalid_commendation_period")
        assert (
            problem(
                await office.post("/commendations", json={**body, "unit": "medical", "division_code": "230102"}), 422
            )
            == "unit_or_division_required"
        )
        assert problem(await office.post("/commendations", json={**body, "division_code": "230102"}), 422) == (
            "score_below_threshold"
        )

        # The threshold is a parameter: lowered from the start of the year, the district (75) can be commended —
        # once, even when ten requests ask at the same instant (the database's unique key decides).
        lowered = await office.post(
            "/parameters/commendation_min_score",
            json={"value": "75", "effective_from": "2026-01-01", "retroactive": True, "reason": "联席会议决定"},
        )
        assert lowered.status_code == 201, lowered.text
        answers = await asyncio.gather(
            *(office.post("/commendations", json={**body, "division_code": "230102"}) for _ in range(10))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] + [409] * 9, [a.text for a in answers if a.status_code not in (201, 409)]

        listed = (await office.get("/commendations", params={"period": "2026-H1"})).json()
        assert [(c["unit"], c["division_code"], c["score"]) for c in listed] == [
            ("medical", None, 100.0),
            (None, "230102", 75.0),
        ]
        assert {c["criterion"] for c in listed[1]["criteria"]} == {
            "coverage",
            "timeliness",
            "unserved",
            "findings",
            "payments",
        }
        assert len(await audited(office, "commendations")) == 2


# ---- partner organisations ----------------------------------------------------------------------------


@pytest.mark.parametrize("database", DATABASES)
async def test_partner_organisations_serve_dibao_households_and_disabled_members_and_count_in_the_assessment(
    kafka, postgres, tmp_path, database
):
    async with office_on(database, tmp_path, "registry") as s:
        registry, office = s["registry"], s["office"]
        disabled, spouse = member("head", disabled=True), member("spouse", male=False)
        household = await enrol(registry, household_body(members=[disabled, spouse], enrolled_on=date(2026, 1, 5)))
        other = await enrol(registry, household_body(division="230104", enrolled_on=date(2026, 1, 5)))
        await known_to_office(office, household["id"])
        await known_to_office(office, other["id"])

        def activity(**fields: object) -> dict:
            return {
                "organisation": "trade_union",
                "kind": "visit",
                "date": "2026-03-01",
                "description": "春节走访",
                **fields,
            }

        visit = await office.post("/partner-activities", json=activity(household_id=household["id"]))
        assert visit.status_code == 201, visit.text
        assert (visit.json()["division_code"], visit.json()["organisation_name"]) == ("230102", "市总工会")
        dpf = {"organisation": "disabled_persons_federation", "kind": "consultation"}
        consulted = await office.post(
            "/partner-activities", json=activity(**dpf, resident_id=disabled["resident_id"], description="优惠政策咨询")
        )
        assert consulted.status_code == 201, consulted.text
        assert consulted.json()["household_id"] == household["id"]

        refused = {
            "household_or_person_required": (activity(), 422),
            "person_required": (activity(**dpf, household_id=household["id"]), 422),
            "person_not_disabled": (activity(**dpf, resident_id=spouse["resident_id"]), 422),
            "household_not_found": (activity(household_id="no-such-household"), 404),
            "person_not_found": (activity(resident_id=member()["resident_id"]), 404),
            "person_not_in_household": (activity(resident_id=spouse["resident_id"], household_id=other["id"]), 422),
            "not_in_dibao": (activity(household_id=household["id"], date="2025-12-31"), 422),
        }
        for code, (body, status) in refused.items():
            assert problem(await office.post("/partner-activities", json=body), status) == code, code
        assert problem(await office.post("/partner-activities", json=activity(organisation="red_cross")), 422) == (
            "validation_error"
        )

        listed = (
            await office.get("/partner-activities", params={"organisation": "disabled_persons_federation"})
        ).json()
        assert [(a["kind"], a["resident_id"]) for a in listed] == [("consultation", disabled["resident_id"])]
        assert len((await office.get("/partner-activities", params={"household_id": household["id"]})).json()) == 2
        assert (await office.get("/partner-activities", params={"period": "2026-H2"})).json() == []
        view = (await office.get(f"/households/{household['id']}/assistance")).json()
        assert [(a["organisation"], a["date"]) for a in view["partner_activities"]] == [
            ("trade_union", "2026-03-01"),
            ("disabled_persons_federation", "2026-03-01"),
        ], "the one-stop view shows them"

        work_cycle = (await office.get("/reports/assessment", params={"period": "2026-H1"})).json()["work_cycle"]
        assert (work_cycle["disabled_members"], work_cycle["disabled_members_served"]) == (1, 1)
        counts = {p["organisation"]: (p["activities"], p["households"]) for p in work_cycle["partner_activities"]}
        assert counts == {
            "trade_union": (1, 1),
            "youth_league": (0, 0),
            "womens_federation": (0, 0),
            "disabled_persons_federation": (1, 1),
        }
        scores = (await office.get("/reports/scores", params={"period": "2026-H1"})).json()
        federation = next(u for u in scores["units"] if u["unit"] == "disabled_persons_federation")
        coverage = criterion(federation, "coverage")
        assert (coverage["numerator"], coverage["denominator"], federation["score"]) == (1, 1, 100.0)
        assert len(await audited(office, "partner_activities")) == 2


# ---- scopes -------------------------------------------------------------------------------------------


async def test_the_work_cycle_is_written_with_its_own_scopes(kafka, postgres, tmp_path):
    meeting = {"date": "2026-07-10", "kind": "ad_hoc", "units": ["civil_affairs"]}
    async with office_on("postgres", tmp_path) as s:
        office = s["office"]
        reader, partner, office_staff = bearer("office:read"), bearer("office:partners"), bearer("office:work_cycle")
        assert problem(await office.post("/meetings", json=meeting, headers=reader), 403) == "insufficient_scope"
        assert problem(await office.post("/meetings", json=meeting, headers=partner), 403) == "insufficient_scope"
        assert (await office.post("/meetings", json=meeting, headers=office_staff)).status_code == 201
        assert (await office.get("/meetings", headers=reader)).status_code == 200
        assert problem(await office.post("/commendations", json={}, headers=reader), 403) == "insufficient_scope"
        assert problem(await office.post("/partner-activities", json={}, headers=office_staff), 403) == (
            "insufficient_scope"
        )
        assert problem(await office.post("/partner-activities", json={}, headers=partner), 422) == "missing_field"
        assert (
            await office.get("/reports/scores", params={"period": "2026"}, headers=bearer("audit:read"))
        ).status_code == 200
        assert problem(await office.get("/reports/scores", params={"period": "2026"}, headers=partner), 403) == (
            "insufficient_scope"
        )
