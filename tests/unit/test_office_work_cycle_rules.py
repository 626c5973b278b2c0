"""The work cycle's rules without I/O: scores (bounds, monotone in coverage, weights' scale), timeliness, a
month paid on time and in full, findings resolved on time, the period a meeting reviews, who may be commended."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.office.work_cycle import rules
from services.office.work_cycle.units import MEMBER_UNITS, PARTNERS, MemberUnit, PartnerOrganisation
from shared.services import BUREAUS

D = Decimal
WEIGHTS = {
    "coverage": D("0.30"),
    "timeliness": D("0.15"),
    "unserved": D("0.15"),
    "findings": D("0.20"),
    "payments": D("0.20"),
}

ratios = st.one_of(st.none(), st.fractions(min_value=0, max_value=1, max_denominator=10_000))
weights = st.fixed_dictionaries(
    {c: st.decimals(min_value=0, max_value=1, places=2, allow_nan=False, allow_infinity=False) for c in rules.CRITERIA}
)


@st.composite
def measures(draw: st.DrawFn) -> list[rules.Measure]:
    return [rules.Measure(criterion, draw(ratios)) for criterion in rules.CRITERIA]


def test_member_units_are_the_bureaus_and_the_partner_organisations():
    assert get_args(MemberUnit) == MEMBER_UNITS == (*BUREAUS, *PARTNERS)
    assert get_args(PartnerOrganisation) == PARTNERS


@given(measures(), weights)
def test_a_score_is_between_0_and_100_and_none_only_when_no_weighted_criterion_applies(found, weighted):
    points = rules.score(found, weighted)
    applies = any(m.ratio is not None and weighted[m.criterion] > 0 for m in found)
    assert (points is not None) == applies
    if points is not None:
        assert D("0") <= points <= D("100")
        assert points == points.quantize(D("0.01"))


@given(
    st.integers(min_value=1, max_value=100_000),
    st.data(),
    measures(),
    weights,
)
def test_a_score_never_falls_when_coverage_rises(eligible, data, others, weighted):
    low = data.draw(st.integers(min_value=0, max_value=eligible))
    high = data.draw(st.integers(min_value=low, max_value=eligible))
    rest = [m for m in others if m.criterion != "coverage"]
    before = rules.score([rules.coverage(low, eligible), *rest], weighted)
    after = rules.score([rules.coverage(high, eligible), *rest], weighted)
    if weighted["coverage"] > 0:
        assert before is not None and after is not None
        assert after >= before


@given(measures(), weights, st.integers(min_value=1, max_value=50))
def test_scaling_every_weight_leaves_the_score_unchanged(found, weighted, factor):
    scaled = {c: w * factor for c, w in weighted.items()}
    assert rules.score(found, scaled) == rules.score(found, weighted)


@given(measures(), weights)
def test_a_criterion_that_does_not_apply_counts_as_if_it_were_not_there(found, weighted):
    without = [m for m in found if m.ratio is not None]
    assert rules.score(found, weighted) == rules.score(without, weighted)


def test_every_criterion_met_scores_100_and_none_met_scores_0():
    assert rules.score([rules.Measure(c, Fraction(1)) for c in rules.CRITERIA], WEIGHTS) == D("100.00")
    assert rules.score([rules.Measure(c, Fraction(0)) for c in rules.CRITERIA], WEIGHTS) == D("0.00")
    # Coverage 1 of 2, the rest not applicable: the score is the coverage.
    assert rules.score([rules.coverage(1, 2), rules.Measure("findings", None)], WEIGHTS) == D("50.00")
    # Coverage 0.5 (weight 0.30) and findings 1 (weight 0.20): (0.15 + 0.20) / 0.50 = 70.
    assert rules.score([rules.coverage(1, 2), rules.outcomes("findings", 3, 0)], WEIGHTS) == D("70.00")


def test_a_negative_weight_or_a_share_over_one_is_refused():
    with pytest.raises(ValueError):
        rules.score([rules.coverage(1, 2)], {**WEIGHTS, "coverage": D("-0.1")})
    with pytest.raises(ValueError):
        rules.share(3, 2)
    assert rules.share(0, 0) is None


@given(
    st.floats(min_value=0, max_value=10_000, allow_nan=False),
    st.floats(min_value=0, max_value=10_000, allow_nan=False),
    st.integers(min_value=0, max_value=365),
)
def test_timeliness_is_a_share_that_falls_as_the_90th_percentile_grows(p90, later, target):
    early, late = sorted((p90, later))
    first, second = rules.timeliness_ratio(early, target), rules.timeliness_ratio(late, target)
    assert first is not None and second is not None
    assert 0 <= second <= first <= 1
    assert (first == 1) == (early <= target)


def test_timeliness_at_twice_the_target_is_half_and_nothing_granted_does_not_apply():
    assert rules.timeliness_ratio(30.0, 15) == Fraction(1, 2)
    assert rules.timeliness_ratio(15.0, 15) == 1
    assert rules.timeliness_ratio(None, 15) is None


def test_unserved_counts_the_eligible_households_not_left_waiting():
    assert rules.unserved(1, 4).ratio == Fraction(3, 4)
    assert rules.unserved(0, 0).ratio is None


def test_pooled_weighs_each_part_by_what_it_counted_and_skips_what_does_not_apply():
    measure = rules.pooled("timeliness", [(Fraction(1), 3), (Fraction(0), 1), (None, 5), (Fraction(1, 2), 0)])
    assert (measure.ratio, measure.denominator) == (Fraction(3, 4), 4)
    assert rules.pooled("timeliness", [(None, 3)]).ratio is None


JUNE = date(2026, 6, 30)


def test_a_month_of_dibao_is_met_only_when_paid_in_full_by_its_deadline():
    due = D("140.00")
    assert rules.month_payment(due, [(date(2026, 6, 5), D("140.00"))], JUNE, date(2026, 7, 10)) == "met"
    assert rules.month_payment(due, [(date(2026, 6, 5), D("100.00"))], JUNE, date(2026, 7, 10)) == "missed"
    # Made whole by arrears after the deadline: still not on time.
    late = [(date(2026, 6, 5), D("100.00")), (date(2026, 7, 2), D("40.00"))]
    assert rules.month_payment(due, late, JUNE, date(2026, 7, 10)) == "missed"
    # Short, but the deadline has not passed: it waits.
    assert rules.month_payment(due, [], JUNE, date(2026, 6, 20)) == "pending"
    assert rules.month_payment(due, [], JUNE, JUNE) == "pending"
    assert rules.month_payment(due, [], JUNE, JUNE + timedelta(days=1)) == "missed"


def test_a_household_the_office_heard_of_late_is_due_by_the_day_it_heard_plus_the_grace():
    assert rules.payment_deadline(JUNE, date(2026, 6, 1), 0) == JUNE
    assert rules.payment_deadline(JUNE, date(2026, 8, 3), 0) == date(2026, 8, 3)
    assert rules.payment_deadline(JUNE, date(2026, 6, 1), 5) == date(2026, 7, 5)
    assert rules.paid_on_time(date(2026, 7, 5), date(2026, 7, 5)) == "met"
    assert rules.paid_on_time(date(2026, 7, 6), date(2026, 7, 5)) == "missed"


def test_a_finding_is_resolved_on_time_late_or_not_yet_due():
    due = date(2026, 9, 30)
    assert rules.resolution(due, date(2026, 9, 30), date(2026, 12, 1)) == "met"
    assert rules.resolution(due, date(2026, 10, 1), date(2026, 12, 1)) == "missed"
    assert rules.resolution(due, None, date(2026, 10, 1)) == "missed"
    assert rules.resolution(due, None, due) == "pending"
    assert rules.overdue("open", due, date(2026, 10, 1))
    assert not rules.overdue("open", due, due)
    assert not rules.overdue("resolved", due, date(2026, 10, 1))


def test_a_meeting_reviews_the_half_year_or_year_just_ended_unless_it_names_one_of_its_kind():
    assert rules.meeting_period("half_year", date(2026, 6, 28)) == "2026-H1"
    assert rules.meeting_period("half_year", date(2026, 7, 8)) == "2026-H1"
    assert rules.meeting_period("half_year", date(2026, 12, 20)) == "2026-H2"
    assert rules.meeting_period("half_year", date(2027, 1, 15)) == "2026-H2"
    assert rules.meeting_period("half_year", date(2026, 8, 1), "2026-H2") == "2026-H2"
    assert rules.meeting_period("year_end", date(2026, 12, 28)) == "2026"
    assert rules.meeting_period("year_end", date(2027, 1, 12)) == "2026"
    assert rules.meeting_period("ad_hoc", date(2026, 9, 1)) == "2026-H2"
    assert rules.meeting_period("ad_hoc", date(2026, 9, 1), "2026-08") == "2026-08"
    with pytest.raises(rules.PeriodKindMismatch):
        rules.meeting_period("half_year", date(2026, 7, 8), "2026")
    with pytest.raises(rules.PeriodKindMismatch):
        rules.meeting_period("year_end", date(2027, 1, 8), "2026-H2")


def test_only_a_score_at_or_above_the_threshold_for_a_half_year_or_year_can_be_commended():
    assert rules.commendation_refusal(None, D("90")) == "score_not_computed"
    assert rules.commendation_refusal(D("89.99"), D("90")) == "score_below_threshold"
    assert rules.commendation_refusal(D("90.00"), D("90")) is None
    assert [rules.is_assessment_period(p) for p in ("2026-H1", "2026", "2026-05")] == [True, True, False]


START = date(2026, 7, 10)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
changes = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["open", "done"]),
        "closed_on": days,
        "due_on": days,
    },
)


@given(st.lists(changes, max_size=8), st.dates(min_value=START, max_value=date(2027, 12, 31)))
def test_a_task_followed_up_in_any_order_is_closed_on_a_day_only_while_closed_and_never_before_it_began(steps, today):
    state = rules.FollowUp("open", None, START + timedelta(days=30))
    for step in steps:
        try:
            state = rules.follow_up(state, closed="done", started_on=START, today=today, **step)
        except rules.FollowUpRefused as refused:
            assert refused.reason in get_args(rules.FollowUpRefusal)
            continue
        assert (state.status == "done") == (state.closed_on is not None)
        assert state.closed_on is None or state.closed_on >= START
        assert state.due_on >= START


def test_following_up_a_finding_keeps_the_day_it_was_resolved_and_forgets_it_when_reopened():
    state = rules.FollowUp("open", None, date(2026, 8, 1))
    resolved = rules.follow_up(state, closed="resolved", started_on=START, today=date(2026, 8, 5), status="resolved")
    assert (resolved.status, resolved.closed_on) == ("resolved", date(2026, 8, 5))
    moved = rules.follow_up(
        resolved, closed="resolved", started_on=START, today=date(2026, 9, 1), due_on=date(2026, 8, 10)
    )
    assert (moved.closed_on, moved.due_on) == (date(2026, 8, 5), date(2026, 8, 10)), "a new due day keeps the day"
    reopened = rules.follow_up(moved, closed="resolved", started_on=START, today=date(2026, 9, 1), status="open")
    assert (reopened.status, reopened.closed_on) == ("open", None)
    for change, reason in (
        ({"due_on": date(2026, 7, 9)}, "due_before_start"),
        ({"closed_on": date(2026, 8, 5)}, "day_without_closing"),
        ({"status": "resolved", "closed_on": date(2026, 7, 1)}, "closed_before_start"),
    ):
        with pytest.raises(rules.FollowUpRefused) as refused:
            rules.follow_up(reopened, closed="resolved", started_on=START, today=date(2026, 9, 1), **change)
        assert refused.value.reason == reason
