"""Schemathesis hooks for the fuzz test (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

- ``resident-id``, the format the documents give resident IDs, generates real ones when fuzzing (a Harbin region, a real
  birth date, the GB 11643 check character), as a caller would send: a pattern cannot state a checksum.
- ``schema_valid_input_accepted``: a request the schema calls valid is not refused for its form. A 422 is
  allowed only with the code of a rule the operation's description names and that no schema can state:
  the city's calendar (a period not begun), the state of the data (not in dibao, income above the
  standard), a policy parameter's bounds, or a relation between fields (exactly one head of household).
"""

from __future__ import annotations

from datetime import date

import schemathesis
from hypothesis import strategies as st

from shared.divisions import DIVISIONS
from shared.resident_id import make_resident_id

schemathesis.openapi.format(
    "resident-id",
    st.builds(
        make_resident_id,
        st.sampled_from(sorted(DIVISIONS)),
        st.dates(date(1930, 1, 1), date(2020, 12, 31)),
        st.integers(0, 999),
    ),
)

RULES = frozenset(
    {
        # time: the city's calendar
        "period_in_future",
        "date_in_future",
        # the state of the data
        "income_above_standard",
        "not_eligible",
        "not_in_dibao",
        "household_not_active",
        "hospital_not_found",
        "hospital_not_designated",
        "not_central_heating",
        "lawyer_inactive",
        "exit_before_enrolment",
        "effective_before_enrolment",
        "effective_after_exit",
        "division_mismatch",
        "no_standard_in_force",
        "review_before_enrolment",
        "exit_not_yet_effective",
        "appeal_too_late",
        "date_before_previous_step",
        "commended_before_period",
        "person_not_disabled",
        "person_not_in_household",
        "score_not_computed",
        "score_below_threshold",
        "replay_not_supported",
        "links_not_configured",
        # a policy parameter's own bounds and kind
        "value_out_of_range",
        "invalid_parameter_value",
        "retroactive_change",
        "parameter_not_scoped",
        # relations between fields
        "inconsistent_member",
        "inconsistent_pupil",
        "invalid_household_head",
        "duplicate_member",
        "insurance_exceeds_cost",
        "empty_change",
        "empty_donation",
        "ended_before_start",
        "lawyer_required",
        "outcome_required",
        "review_change_and_exit",
        "appeal_subject",
        "appeal_remedy",
        "duplicate_unit",
        "period_kind_mismatch",
        "period_after_meeting",
        "due_before_meeting",
        "due_before_inspection",
        "unit_or_division_required",
        "household_or_person_required",
        "person_required",
        "invalid_commendation_period",
        "resolved_on_without_resolved",
        "done_on_without_done",
        "done_before_meeting",
        "resolved_before_inspection",
        "closed_before_start",
        "due_before_start",
        "day_without_closing",
    }
)
# invalid_period is a field's form everywhere but where it relates two dates of a designation.
RULES_OF = {("POST", "/hospitals"): {"invalid_period"}, ("PATCH", "/hospitals/{hospital_id}"): {"invalid_period"}}


def _only_the_check_failed(problem: dict) -> bool:
    """A resident ID of the documented form whose check character or birth date is wrong: the pattern says
    the form, no pattern can say GB 11643's MOD 11-2 checksum or the calendar."""

    reasons = {error.get("reason") for error in problem.get("errors", []) if error.get("code") == "invalid_resident_id"}
    return bool(reasons) and reasons <= {"checksum", "birth_date"}


@schemathesis.check
def schema_valid_input_accepted(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    problem = response.json() or {}
    code = problem.get("code")
    allowed = RULES | RULES_OF.get((case.method.upper(), case.path), set())
    if code == "invalid_resident_id" and _only_the_check_failed(problem):
        return None
    if code not in allowed:
        raise AssertionError(f"the schema calls this request valid, but the service refused its form: {code}")
    return None
