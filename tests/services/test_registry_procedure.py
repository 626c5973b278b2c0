"""The procedure around the register, through the API on PostgreSQL: an application through investigation and
public notice to its decision, periodic reviews, appeals, and the written notices (PDF, in Chinese) each decision
gives the household."""

from __future__ import annotations

import asyncio
import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from shared.events import HOUSEHOLDS_TOPIC, NOTICES_TOPIC
from shared.periods import Period, city_today, month_of
from tests.support import enrol, envelopes, household_body, member, read_topic, system

pytestmark = pytest.mark.integration

TODAY = city_today()


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@pytest.fixture()
async def registry(kafka, postgres):
    async with system("registry") as s:
        yield s["registry"]


def application_body(*, applied: int, income: str = "0.00", **fields) -> dict:
    body = household_body(income=income, **fields)
    body["applied_on"] = ago(applied)
    return body


async def submit(registry, body: dict) -> dict:
    response = await registry.post("/applications", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def step(registry, path: str, body: dict, status: int = 200) -> dict:
    response = await registry.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def noticed(registry, *, applied: int, notice_from: int, income: str = "0.00", **fields) -> dict:
    """An application investigated and posted: ``notice_from`` days ago."""

    application = await submit(registry, application_body(applied=applied, income=income, **fields))
    path = f"/applications/{application['id']}"
    await step(
        registry,
        f"{path}/investigation",
        {"visited_on": ago(applied - 1), "verified_income": income, "verified_area_m2": "38.50", "notes": "入户核实"},
    )
    return await step(registry, f"{path}/notice", {"from": ago(notice_from)})


async def pdf_text(registry, notice_id: str) -> str:
    response = await registry.get(f"/notices/{notice_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    return "".join(text.split())  # the lines as set, joined again


async def notices_of(registry, household_id: str) -> list[dict]:
    response = await registry.get(f"/households/{household_id}/notices")
    assert response.status_code == 200, response.text
    return response.json()


async def ledger_sums(registry, household_id: str) -> dict[str, str]:
    sums: dict[str, float] = {}
    for line in (await registry.get(f"/households/{household_id}/payments")).json():
        sums[line["period"]] = sums.get(line["period"], 0) + float(line["amount"])
    return {period: f"{amount:.2f}" for period, amount in sums.items()}


# ---- applications -------------------------------------------------------------------------------------------


async def test_approval_after_the_notice_enrols_from_the_day_of_application_and_the_next_run_pays_arrears(registry):
    head = member("head", name="王秀兰")
    application = await submit(registry, application_body(applied=75, members=[head]))
    assert (application["status"], application["awaiting"], application["household_id"]) == (
        "submitted",
        "investigation",
        None,
    )
    path = f"/applications/{application['id']}"
    too_soon = await registry.post(f"{path}/decision", json={"decision": "approve", "reason": "符合条件"})
    assert (too_soon.status_code, too_soon.json()["code"]) == (409, "notice_not_held")

    await step(
        registry,
        f"{path}/investigation",
        {"visited_on": ago(70), "verified_income": "0.00", "verified_area_m2": "38.50", "notes": "无收入"},
    )
    posted = await step(registry, f"{path}/notice", {"from": ago(60)})
    assert posted["notice"] == {"from": ago(60), "last_day": ago(54), "round": 1}
    objection = await step(
        registry, f"{path}/objections", {"received_on": ago(58), "grounds": "该户有车辆", "objector": "邻居"}, 201
    )
    assert objection["objections"][0]["status"] == "pending"
    pending = await registry.post(f"{path}/decision", json={"decision": "approve", "reason": "符合条件"})
    assert (pending.status_code, pending.json()["code"]) == (409, "objection_pending")
    dismissed = await registry.patch(
        f"{path}/objections/1", json={"outcome": "dismissed", "reason": "车辆已于申请前出售", "decided_on": ago(55)}
    )
    assert dismissed.status_code == 200, dismissed.text

    approved = await step(registry, f"{path}/decision", {"decision": "approve", "reason": "经调查公示，符合低保条件"})
    assert (approved["status"], approved["household_id"], approved["decided_on"]) == (
        "approved",
        application["id"],
        TODAY.isoformat(),
    )
    household = (await registry.get(f"/households/{application['id']}")).json()
    assert (household["enrolled_on"], household["monthly_allowance"], household["housing_area_m2"]) == (
        ago(75),
        "200.00",
        "38.50",
    )
    run = (await registry.post("/payment-runs", json={"period": month_of(TODAY).label})).json()
    applied_month = month_of(TODAY - timedelta(days=75))
    expected = [m.label for m in Period(applied_month.start, TODAY, "").months()]
    assert len(expected) >= 3
    assert await ledger_sums(registry, application["id"]) == dict.fromkeys(expected, "200.00")
    assert run["households_paid"] == 1

    [notice] = await notices_of(registry, application["id"])
    assert (notice["kind"], notice["addressee"], notice["application_id"]) == ("approval", "王秀兰", application["id"])
    text = await pdf_text(registry, notice["id"])
    for words in ("准予享受城市居民最低生活保障决定通知书", "王秀兰", "200.00元", "公示期间收到的异议经核查不成立"):
        assert words in text
    assert "经调查公示，符合低保条件" in text and "日内" in text and "申诉" in text and "行政复议" in text

    # Announced: the enrolment through the register's own path to every bureau, the notice on its own topic (for a
    # postal or SMS service; no bureau receives the addressee's details), both keyed by the household.
    caseload = await read_topic(registry.topic_prefix + HOUSEHOLDS_TOPIC, until=lambda rs: len(rs) >= 1)
    assert [(e.type, e.key) for e in envelopes(caseload)] == [("HouseholdEnrolled", application["id"])]
    notices = await read_topic(registry.topic_prefix + NOTICES_TOPIC, until=lambda rs: len(rs) >= 1)
    assert [(e.type, e.key) for e in envelopes(notices)] == [("NoticeIssued", application["id"])]

    trail = await registry.get("/audit", params={"resource_type": "applications", "resource_id": application["id"]})
    actions = [entry["action"] for entry in trail.json()["items"]]
    for action in ("investigation", "notice", "decision"):
        assert any(a.endswith(action) for a in actions), actions


async def test_approval_before_the_public_notice_has_ended_is_refused_and_nothing_is_enrolled(registry):
    application = await noticed(registry, applied=10, notice_from=0)
    path = f"/applications/{application['id']}"
    early = await registry.post(f"{path}/decision", json={"decision": "approve", "reason": "符合条件"})
    assert (early.status_code, early.json()["code"]) == (409, "notice_not_ended")
    assert (await registry.get(f"/households/{application['id']}")).status_code == 404
    assert (await registry.get(path)).json()["status"] == "noticed"


async def test_upheld_objection_leads_to_a_written_refusal_and_an_upheld_appeal_enrols_after_all(registry):
    application = await noticed(registry, applied=40, notice_from=30, income="50.00")
    path = f"/applications/{application['id']}"
    await step(registry, f"{path}/objections", {"received_on": ago(29), "grounds": "有未申报的工资收入"}, 201)
    await registry.patch(
        f"{path}/objections/1", json={"outcome": "upheld", "reason": "核实有收入", "decided_on": ago(28)}
    )
    upheld = await registry.post(f"{path}/decision", json={"decision": "approve", "reason": "x"})
    assert (upheld.status_code, upheld.json()["code"]) == (409, "objection_upheld")

    refused = await step(registry, f"{path}/decision", {"decision": "refuse", "reason": "家庭人均收入高于低保标准"})
    assert (refused["status"], refused["household_id"]) == ("refused", None)
    [notice] = await notices_of(registry, application["id"])
    text = await pdf_text(registry, notice["id"])
    assert "不予批准城市居民最低生活保障决定通知书" in text and "家庭人均收入高于低保标准" in text and "申诉" in text
    again = await registry.post(f"{path}/decision", json={"decision": "approve", "reason": "x"})
    assert (again.status_code, again.json()["code"]) == (409, "application_decided")

    appeal = await registry.post(
        "/appeals",
        json={"subject": "refusal", "application_id": application["id"], "lodged_on": ago(0), "grounds": "工资已停发"},
    )
    assert appeal.status_code == 201, appeal.text
    assert appeal.json()["decide_by"] == (TODAY + timedelta(days=30)).isoformat()
    decided = await registry.patch(
        f"/appeals/{appeal.json()['id']}",
        json={"outcome": "upheld", "reason": "工资已于申请前停发", "monthly_income": "0.00"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["remedy"] == {"household_id": application["id"], "enrolled_on": ago(40)}
    household = (await registry.get(f"/households/{application['id']}")).json()
    assert (household["enrolled_on"], household["monthly_allowance"]) == (ago(40), "200.00")
    kinds = [n["kind"] for n in await notices_of(registry, application["id"])]
    assert kinds == ["refusal", "approval", "appeal_outcome"]


async def test_overdue_applications_are_listed_and_counted(registry):
    late = await submit(registry, application_body(applied=30))
    fresh = await submit(registry, application_body(applied=2))
    listed = (await registry.get("/applications", params={"overdue": "true"})).json()
    assert [item["id"] for item in listed["items"]] == [late["id"]]
    assert (listed["overdue"], listed["items"][0]["due_on"], listed["items"][0]["awaiting"]) == (
        1,
        ago(20),
        "investigation",
    )
    everything = (await registry.get("/applications")).json()
    assert {item["id"] for item in everything["items"]} == {late["id"], fresh["id"]}
    assert everything["overdue"] == 1
    # A longer time limit, in force from before the application, and it is no longer overdue.
    longer = await registry.post(
        "/parameters/application_investigation_days",
        json={"value": 45, "effective_from": "2026-01-01", "retroactive": True, "reason": "2026年起调查时限延长"},
    )
    assert longer.status_code == 201, longer.text
    assert (await registry.get("/applications", params={"overdue": "true"})).json()["total"] == 0
    out_of_range = await registry.post(
        "/parameters/public_notice_days", json={"value": 1, "effective_from": (TODAY + timedelta(days=1)).isoformat()}
    )
    assert (out_of_range.status_code, out_of_range.json()["code"]) == (422, "value_out_of_range")


async def test_two_approvals_at_once_enrol_the_household_once(registry):
    application = await noticed(registry, applied=30, notice_from=20)
    path = f"/applications/{application['id']}/decision"
    answers = await asyncio.gather(
        *(registry.post(path, json={"decision": "approve", "reason": "符合条件"}) for _ in range(2))
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["application_decided"]
    assert [n["kind"] for n in await notices_of(registry, application["id"])] == ["approval"]


async def test_application_input_is_strict(registry):
    body = application_body(applied=1)
    body["enrolled_on"] = ago(1)
    assert (await registry.post("/applications", json=body)).json()["code"] == "unknown_field"
    application = await submit(registry, application_body(applied=5))
    path = f"/applications/{application['id']}"
    bad_text = await registry.post(
        f"{path}/investigation",
        json={"visited_on": ago(4), "verified_income": "0.00", "verified_area_m2": "1.00", "notes": "a\x00b"},
    )
    assert (bad_text.status_code, bad_text.json()["code"]) == (422, "invalid_text")
    before = await registry.post(
        f"{path}/investigation", json={"visited_on": ago(6), "verified_income": "0.00", "verified_area_m2": "1.00"}
    )
    assert (before.status_code, before.json()["code"]) == (422, "date_before_previous_step")
    not_yet = await registry.post(f"{path}/notice", json={"from": ago(0)})
    assert (not_yet.status_code, not_yet.json()["code"]) == (409, "not_investigated")
    wrong_key = await registry.post(f"{path}/notice", json={"start": ago(0)})
    assert wrong_key.status_code == 422
    missing = await registry.post(
        "/applications/nope/investigation",
        json={"visited_on": ago(1), "verified_income": "0.00", "verified_area_m2": "1.00"},
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "application_not_found")
    assert (await registry.get("/notices/nope")).json()["code"] == "notice_not_found"


# ---- periodic reviews ---------------------------------------------------------------------------------------


async def test_household_due_for_review_is_listed_and_a_review_applies_its_facts_through_the_ledger(registry):
    due = await enrol(registry, household_body(income="0.00", enrolled_on=date(2025, 10, 15)))
    recent = await enrol(registry, household_body(income="0.00", enrolled_on=TODAY - timedelta(days=30)))
    listed = (await registry.get("/reviews/due")).json()
    assert [item["household_id"] for item in listed["items"]] == [due["id"]]
    assert (listed["items"][0]["due_on"], listed["overdue"]) == ("2026-10-15", 1)
    ahead = (await registry.get("/reviews/due", params={"before": (TODAY + timedelta(days=400)).isoformat()})).json()
    assert {item["household_id"] for item in ahead["items"]} == {due["id"], recent["id"]}

    await registry.post("/payment-runs", json={"period": "2026-11"})
    review = await registry.post(
        f"/households/{due['id']}/reviews",
        json={
            "reviewed_on": ago(1),
            "findings": "户主自2026年10月起有零工收入",
            "monthly_income": "80.00",
            "effective_on": "2026-10-01",
        },
    )
    assert review.status_code == 201, review.text
    assert (review.json()["outcome"], review.json()["facts"]) == ("changed", {"monthly_income": "80.00"})
    assert (await registry.get("/reviews/due")).json()["items"] == []
    run = (await registry.post("/payment-runs", json={"period": "2026-12"})).json()
    assert (run["overpaid"], run["recovered"]) == ("160.00", "120.00")
    [notice] = [n for n in await notices_of(registry, due["id"]) if n["kind"] == "amount_changed"]
    assert notice["id"] in review.json()["notices"]
    text = await pdf_text(registry, notice["id"])
    assert "经定期复核" in text and "2026年10月1日" in text and "200.00元调整为120.00元" in text
    assert len((await registry.get(f"/households/{due['id']}/reviews")).json()) == 1


async def test_review_that_ends_dibao_exits_the_household_in_writing(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2025, 6, 1)))
    review = await registry.post(
        f"/households/{household['id']}/reviews",
        json={"reviewed_on": ago(0), "findings": "全家迁出本市", "exit": {"on": ago(0), "reason": "迁出本市"}},
    )
    assert review.status_code == 201, review.text
    assert review.json()["outcome"] == "exited"
    assert (await registry.get(f"/households/{household['id']}")).json()["status"] == "exited"
    [notice] = await notices_of(registry, household["id"])
    assert notice["kind"] == "exit" and "迁出本市" in await pdf_text(registry, notice["id"])
    both = await registry.post(
        f"/households/{household['id']}/reviews",
        json={"reviewed_on": ago(0), "findings": "x", "monthly_income": "1.00", "exit": {"on": ago(0), "reason": "x"}},
    )
    assert (both.status_code, both.json()["code"]) == (422, "review_change_and_exit")


# ---- appeals and the register's own changes in writing ------------------------------------------------------


async def test_appeal_that_changes_an_amount_is_settled_by_the_next_run(registry):
    household = await enrol(registry, household_body(income="150.00", enrolled_on=date(2026, 9, 1)))
    await registry.post("/payment-runs", json={"period": "2026-11"})
    assert await ledger_sums(registry, household["id"]) == {"2026-09": "50.00", "2026-10": "50.00", "2026-11": "50.00"}
    appeal = (
        await registry.post(
            "/appeals",
            json={"subject": "amount", "household_id": household["id"], "lodged_on": ago(3), "grounds": "收入核定有误"},
        )
    ).json()
    no_facts = await registry.patch(f"/appeals/{appeal['id']}", json={"outcome": "upheld", "reason": "x"})
    assert (no_facts.status_code, no_facts.json()["code"]) == (422, "appeal_remedy")
    decided = await registry.patch(
        f"/appeals/{appeal['id']}",
        json={
            "outcome": "upheld",
            "reason": "申请时已失业，收入应为零",
            "monthly_income": "0.00",
            "effective_on": "2026-09-01",
        },
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["remedy"]["new_amount"] == "200.00"
    run = (await registry.post("/payment-runs", json={"period": "2026-11"})).json()
    assert run["total_amount"] == "450.00"
    assert await ledger_sums(registry, household["id"]) == {
        "2026-09": "200.00",
        "2026-10": "200.00",
        "2026-11": "200.00",
    }
    [notice] = await notices_of(registry, household["id"])
    text = await pdf_text(registry, notice["id"])
    assert "申诉复核决定通知书" in text and "申诉理由成立" in text and "50.00元调整为200.00元" in text
    twice = await registry.patch(f"/appeals/{appeal['id']}", json={"outcome": "dismissed", "reason": "x"})
    assert (twice.status_code, twice.json()["code"]) == (409, "appeal_decided")


async def test_appeal_against_an_exit_enrols_the_household_again_from_the_day_it_left(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 6, 1)))
    exited = await registry.post(
        f"/households/{household['id']}/exit", json={"on": "2026-09-01", "reason": "未按时复核"}
    )
    assert exited.status_code == 200, exited.text
    [exit_notice] = await notices_of(registry, household["id"])
    assert "未按时复核" in await pdf_text(registry, exit_notice["id"])
    appeal = (
        await registry.post(
            "/appeals",
            json={"subject": "exit", "household_id": household["id"], "lodged_on": ago(0), "grounds": "已按时复核"},
        )
    ).json()
    assert appeal["status"] == "lodged"
    decided = (
        await registry.patch(f"/appeals/{appeal['id']}", json={"outcome": "upheld", "reason": "复核记录遗漏"})
    ).json()
    again = decided["remedy"]["household_id"]
    assert (await registry.get(f"/households/{again}")).json()["enrolled_on"] == "2026-09-01"
    await registry.post("/payment-runs", json={"period": "2026-11"})
    assert await ledger_sums(registry, again) == {"2026-09": "200.00", "2026-10": "200.00", "2026-11": "200.00"}


async def test_appeal_lodged_after_the_filing_days_is_refused_and_overdue_appeals_are_listed(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    await registry.post(f"/households/{household['id']}/exit", json={"on": "2026-03-01", "reason": "收入超标"})
    # The exit was notified long ago (the notice's date moved back, as if issued then): 60 days to contest it.
    async with registry.app.state.platform.units.begin() as uow:
        await uow.session.execute(
            text("UPDATE notices SET issued_on = :day WHERE household_id = :id"),
            {"day": date(2026, 3, 1), "id": household["id"]},
        )
        await uow.commit()
    late = await registry.post(
        "/appeals", json={"subject": "exit", "household_id": household["id"], "lodged_on": "2026-05-01", "grounds": "x"}
    )
    assert (late.status_code, late.json()["code"]) == (422, "appeal_too_late")
    in_time = await registry.post(
        "/appeals", json={"subject": "exit", "household_id": household["id"], "lodged_on": "2026-04-30", "grounds": "x"}
    )
    assert in_time.status_code == 201, in_time.text
    assert in_time.json()["overdue"] is True  # lodged 2026-04-30, to be decided within 30 days
    amount = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    recent = await registry.post(
        "/appeals", json={"subject": "amount", "household_id": amount["id"], "lodged_on": ago(0), "grounds": "x"}
    )
    assert recent.status_code == 201, recent.text
    overdue = (await registry.get("/appeals", params={"overdue": "true"})).json()
    assert [item["id"] for item in overdue["items"]] == [in_time.json()["id"]]
    wrong = await registry.post(
        "/appeals", json={"subject": "refusal", "household_id": household["id"], "lodged_on": ago(0), "grounds": "x"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "appeal_subject")
    none_to_contest = await registry.post(
        "/appeals", json={"subject": "exit", "household_id": amount["id"], "lodged_on": ago(0), "grounds": "x"}
    )
    assert (none_to_contest.status_code, none_to_contest.json()["code"]) == (409, "no_exit")
