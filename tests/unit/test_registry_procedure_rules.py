"""The application procedure as a pure state machine, over any sequence of steps; the review cycle; the words of
the written notices and their PDF."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pypdf import PdfReader

from services.registry import notices, rules
from services.registry.rules import (
    ApplicationState,
    ApproveOnAppeal,
    Decide,
    DecideObjection,
    Investigate,
    Object,
    PostNotice,
    StepRefused,
)
from shared.events import AllowanceStep

APPLIED = date(2026, 3, 2)
D = Decimal


def days(n: int) -> date:
    return APPLIED + timedelta(days=n)


def run(*steps: rules.Step) -> ApplicationState:
    state = ApplicationState(applied_on=APPLIED)
    for step in steps:
        state = rules.advance(state, step)
    return state


def refused(state: ApplicationState, step: rules.Step) -> str:
    with pytest.raises(StepRefused) as caught:
        rules.advance(state, step)
    return caught.value.code


def test_the_usual_procedure_ends_in_approval_after_the_notice():
    noticed = run(Investigate(days(3)), PostNotice(days(5), 7))
    assert (noticed.status, noticed.notice_until) == ("noticed", days(12))
    assert refused(noticed, Decide(True, days(11))) == "notice_not_ended"
    approved = rules.advance(noticed, Decide(True, days(12)))
    assert (approved.status, approved.decided_on) == ("approved", days(12))
    assert refused(approved, Decide(False, days(13))) == "application_decided"
    assert refused(approved, ApproveOnAppeal(days(13))) == "not_refused"


def test_approval_needs_a_notice_and_every_objection_decided_and_none_upheld():
    assert refused(run(), Decide(True, days(1))) == "notice_not_held"
    assert refused(run(Investigate(days(1))), Decide(True, days(20))) == "notice_not_held"
    objected = run(Investigate(days(1)), PostNotice(days(2), 7), Object(days(3)))
    assert refused(objected, Decide(True, days(20))) == "objection_pending"
    upheld = rules.advance(objected, DecideObjection(1, True, days(4)))
    assert refused(upheld, Decide(True, days(20))) == "objection_upheld"
    # Investigated again and posted again: the new notice's objections are what count.
    again = run(
        Investigate(days(1)), PostNotice(days(2), 7), Object(days(3)), DecideObjection(1, True, days(4)),
        Investigate(days(5)), PostNotice(days(6), 7),
    )  # fmt: skip
    assert (again.notice_round, rules.advance(again, Decide(True, days(13))).status) == (2, "approved")
    assert rules.advance(upheld, Decide(False, days(5))).status == "refused"


def test_steps_out_of_turn_or_out_of_time_are_refused_with_their_codes():
    assert refused(run(), PostNotice(days(1), 7)) == "not_investigated"
    assert refused(run(), Object(days(1))) == "notice_not_running"
    noticed = run(Investigate(days(1)), PostNotice(days(2), 7))
    assert refused(noticed, Investigate(days(3))) == "notice_running"
    assert refused(noticed, PostNotice(days(3), 7)) == "notice_running"
    assert refused(noticed, Object(days(9))) == "objection_outside_notice"
    assert refused(noticed, DecideObjection(1, False, days(3))) == "objection_not_found"
    assert refused(run(Investigate(days(5))), PostNotice(days(4), 7)) == "date_before_previous_step"
    assert refused(run(), Investigate(days(-1))) == "date_before_previous_step"
    decided_once = run(
        Investigate(days(1)), PostNotice(days(2), 7), Object(days(3)), DecideObjection(1, False, days(3))
    )
    assert refused(decided_once, DecideObjection(1, True, days(4))) == "objection_decided"


def test_a_refusal_overturned_on_appeal_is_approved():
    refusal = run(Investigate(days(1)), Decide(False, days(2)))
    assert rules.advance(refusal, ApproveOnAppeal(days(30))).status == "approved"


def test_the_awaited_step_and_its_time_limit_run_from_the_day_the_wait_began():
    limits = {"investigation": 10, "public_notice": 5, "decision": 10}

    def limit(step: rules.ApplicationStep, since: date) -> int:
        return limits[step] * (2 if since >= days(30) else 1)  # a longer limit in force from day 30

    assert rules.due_on(run(), limit) == days(10)
    assert rules.due_on(run(Investigate(days(3))), limit) == days(8)
    assert rules.due_on(run(Investigate(days(30))), limit) == days(40)
    assert rules.due_on(run(Investigate(days(3)), PostNotice(days(4), 7)), limit) == days(21)
    assert rules.due_on(run(Decide(False, days(1))), limit) is None


# ---- any sequence of steps -----------------------------------------------------------------------------------

# Each step is drawn relative to the application as it stands (a few days after its last step, or around its
# notice), so that sequences reach every state — approvals, objections, new investigations — and also stray out
# of turn and out of time. The properties are checked on every step the machine accepts.
deltas = st.integers(min_value=-2, max_value=9)


class Procedure(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = ApplicationState(applied_on=APPLIED)

    def after(self, delta: int, day: date | None = None) -> date:
        return (day or self.state.last_step_on) + timedelta(days=delta)

    def attempt(self, step: rules.Step) -> None:
        before = self.state
        try:
            after = rules.advance(before, step)
        except StepRefused as exc:
            assert exc.status in (404, 409, 422)
            return
        # A decision is final, but for an appeal against a refusal.
        assert before.status != "approved", step
        assert before.status != "refused" or isinstance(step, ApproveOnAppeal), step
        if isinstance(step, Decide) and step.approve:
            # Approved only after the notice ended, every objection to it decided and none upheld.
            assert before.status == "noticed" and before.notice_until is not None
            assert step.on >= before.notice_until
            assert all(o.status == "dismissed" for o in before.current_objections)
        if isinstance(step, Object):
            assert before.notice_from is not None and before.notice_until is not None
            assert before.notice_from <= step.on < before.notice_until
        if isinstance(step, Investigate) and before.status == "noticed":
            assert any(o.status == "upheld" for o in before.current_objections)
        assert after.last_step_on >= before.last_step_on
        self.state = after

    @rule(delta=deltas)
    def investigate(self, delta: int) -> None:
        self.attempt(Investigate(self.after(delta)))

    @rule(delta=deltas, length=st.integers(min_value=3, max_value=10))
    def post_notice(self, delta: int, length: int) -> None:
        self.attempt(PostNotice(self.after(delta), length))

    @rule(delta=deltas)
    def object(self, delta: int) -> None:
        self.attempt(Object(self.after(delta, self.state.notice_from)))

    @rule(pick=st.integers(min_value=0, max_value=3), upheld=st.booleans(), delta=deltas)
    def decide_objection(self, pick: int, upheld: bool, delta: int) -> None:
        # Mostly one of the objections there are (one past them, to be refused, when pick is 3).
        number = len(self.state.objections) + 1 if pick == 3 else 1 + pick % max(len(self.state.objections), 1)
        self.attempt(DecideObjection(number, upheld, self.after(delta)))

    # Approval ends the walk: tried one time in three, so objections get raised and decided first.
    @rule(delta=deltas, now=st.integers(min_value=0, max_value=2))
    def approve(self, delta: int, now: int) -> None:
        if now == 0:
            self.attempt(Decide(True, self.after(delta, self.state.notice_until)))

    # A refusal ends the walk (but for an appeal): tried one time in five, so walks also get past the notice.
    @rule(delta=deltas, now=st.integers(min_value=0, max_value=4))
    def refuse(self, delta: int, now: int) -> None:
        if now == 0:
            self.attempt(Decide(False, self.after(delta)))

    @rule(delta=deltas)
    def approve_on_appeal(self, delta: int) -> None:
        self.attempt(ApproveOnAppeal(self.after(delta)))

    @invariant()
    def each_state_holds_what_it_needs(self) -> None:
        state = self.state
        if state.status == "noticed":
            assert state.notice_from is not None and state.notice_until is not None
            assert state.notice_until > state.notice_from >= (state.investigated_on or date.max)
        if state.status in rules.DECIDED_STATUSES:
            assert state.decided_on is not None
        else:
            assert state.decided_on is None
        assert all(1 <= o.notice_round <= state.notice_round for o in state.objections)


TestProcedureOverAnySequenceOfSteps = Procedure.TestCase
TestProcedureOverAnySequenceOfSteps.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


# ---- reviews and changes of amount ---------------------------------------------------------------------------


def test_review_falls_due_a_cycle_after_enrolment_or_the_last_review_or_when_flagged():
    def every(months: int):
        return lambda day: months

    assert rules.review_due_on(date(2026, 1, 31), None, every(1), None) == date(2026, 2, 28)
    assert rules.review_due_on(date(2025, 5, 10), None, every(12), None) == date(2026, 5, 10)
    assert rules.review_due_on(date(2025, 5, 10), date(2026, 4, 1), every(12), None) == date(2027, 4, 1)
    assert rules.review_due_on(date(2025, 5, 10), None, every(12), date(2025, 9, 1)) == date(2025, 9, 1)
    # A review after the flag answers it.
    assert rules.review_due_on(date(2025, 5, 10), date(2025, 9, 5), every(12), date(2025, 9, 1)) == date(2026, 9, 5)


def test_the_first_change_of_amount_is_what_a_notice_of_change_says():
    before = [AllowanceStep(effective_from=date(2026, 1, 1), amount=D("200.00"))]
    after = [
        AllowanceStep(effective_from=date(2026, 1, 1), amount=D("200.00")),
        AllowanceStep(effective_from=date(2026, 5, 1), amount=D("120.00")),
    ]
    assert rules.first_change(before, after) == (date(2026, 5, 1), D("200.00"), D("120.00"))
    assert rules.first_change(after, after) is None


# ---- the notice's words and its PDF --------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    return "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def test_refusal_notice_gives_the_reason_and_how_to_appeal_in_an_embedded_font():
    text = notices.refusal_text("230102", date(2026, 3, 2), "家庭人均收入高于低保标准", 60)
    assert text.issuer == "哈尔滨市民政局（道里区）"
    font = notices.notice_font()
    assert font != notices.FALLBACK_FONT, "fonts-wqy-zenhei is missing: scripts/browser.sh installs it"
    pdf = notices.render_pdf(text.as_json(), "张三<&>", date(2026, 4, 1), "n-1")
    words = pdf_text(pdf)
    for expected in ("不予批准城市居民最低生活保障决定通知书", "张三<&>：", "2026年3月2日", "家庭人均收入高于低保标准"):
        assert expected in words
    assert "60日内向哈尔滨市民政局（道里区）提出书面申诉" in words and "2026年4月1日" in words and "n-1" in words
    assert b"/FontFile2" in pdf  # the TrueType glyphs travel with the notice


def test_without_the_truetype_font_the_notice_names_the_readers_standard_chinese_font():
    font = notices.notice_font((Path("/nonexistent/font.ttc"),))
    assert font == notices.FALLBACK_FONT
    approval = notices.Approval(
        applied_on=date(2026, 3, 2),
        visited_on=date(2026, 3, 5),
        notice_from=date(2026, 3, 6),
        notice_last_day=date(2026, 3, 12),
        objections_dismissed=False,
        members=3,
        monthly_income=D("150.00"),
        allowance=[(date(2026, 3, 2), D("450.00")), (date(2026, 7, 1), D("540.00"))],
        reason="符合条件",
    )
    content = notices.approval_text("230102", approval, 60).as_json()
    words = pdf_text(notices.render_pdf(content, "李四", date(2026, 3, 20), "n-2", font=font))
    assert "公示期间无异议" in words and "保障人口3人" in words
    assert "每月低保金450.00元，自2026年7月1日起540.00元" in words
