"""A service's view of the caseload: the fields it declared, typed, and nothing it did not (no silent default)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.projection import CaseloadFields, member_view


def test_a_member_field_the_service_does_not_keep_cannot_be_read_as_a_default():
    member = member_view({"resident_id": "230102197503151234", "birth_date": "1975-03-15", "disabled": True})
    assert member.birth_date == date(1975, 3, 15) and member.disabled is True
    with pytest.raises(AttributeError):
        _ = member.boarding  # the model's default (False) would have answered for a fact never received
    with pytest.raises(AttributeError):
        _ = member.name


def test_a_declared_field_that_the_snapshot_does_not_have_is_refused():
    with pytest.raises(ValueError, match="monthly_incom"):
        CaseloadFields(household=frozenset({"monthly_incom"}), member=frozenset())
    with pytest.raises(ValueError, match="nickname"):
        CaseloadFields(household=frozenset(), member=frozenset({"nickname"}))


def test_every_copy_keeps_the_household_id_division_enrolment_and_the_members_resident_ids():
    fields = CaseloadFields(household=frozenset(), member=frozenset())
    assert fields.household == {"household_id", "division_code", "enrolled_on"}
    assert fields.member == {"resident_id"}
