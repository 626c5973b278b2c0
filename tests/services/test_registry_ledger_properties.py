"""The dibao ledger over any sequence of events, checked against a model of the policy (Hypothesis).

Random sequences of enrolments (some back-dated), changes of income or members (some retroactive),
employment, exits (some set ahead), changes of the standard (some retroactive) and payment runs, in any
order, through the registry's API and its event handler on PostgreSQL. After every step:

* for every household and every month a run has settled, the ledger's lines sum to what the facts now
  known make due — computed here by a model written from the policy, not by the registry's own code;
* no one is in two households on any day (the members' spans never overlap);
* no transfer is negative, and nothing is withheld beyond what was paid over;
* a repeated run adds nothing.

CI runs a few examples (``LEDGER_EXAMPLES``, ``LEDGER_STEPS``); to run it long:
``LEDGER_EXAMPLES=300 LEDGER_STEPS=40 scripts/test.sh tests/services/test_registry_ledger_properties.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from services.registry import service as registry_service
from shared.events import MemberEmployed
from shared.periods import add_months, city_today, month_of, month_period
from tests.support import drop_database, household_body, member, migrated_database, new_prefix, running, service_app

pytestmark = pytest.mark.integration

D = Decimal
T = TypeVar("T")
DIVISIONS = ("230102", "230125")  # an urban district (¥200 by default) and a county (¥150)
DEFAULT_STANDARD = {"230102": D("200.00"), "230125": D("150.00")}
FIRST_DAY = date(2025, 7, 1)
TODAY = city_today()
LAST_RUN_MONTH = month_of(TODAY)
EXTENSION_MONTHS = 3


def _months_between(first: date, last: date) -> list[Any]:
    months, month = [], month_of(first)
    while month.start <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


@dataclass
class ModelHousehold:
    """What the case-worker told the registry, as the policy reads it."""

    id: str
    division: str
    enrolled_on: date
    people: list[str]
    # effective day → (members, income): a change states the facts from its day on.
    revisions: dict[date, tuple[int, Decimal]]
    exit_on: date | None = None
    jobs: dict[tuple[str, date], None] = field(default_factory=dict)

    def facts_on(self, day: date) -> tuple[int, Decimal]:
        return self.revisions[max(d for d in self.revisions if d <= day)]

    def in_dibao_in(self, month: Any) -> bool:
        return self.enrolled_on <= month.end and (self.exit_on is None or self.exit_on > month.start)


class Model:
    def __init__(self) -> None:
        self.households: dict[str, ModelHousehold] = {}
        # (division, from) → standard
        self.standards: dict[tuple[str, date], Decimal] = {}
        self.settled_through: dict[str, str] = {}

    def standard(self, division: str, day: date) -> Decimal:
        dated = [
            (since, value) for (where, since), value in self.standards.items() if where == division and since <= day
        ]
        return max(dated)[1] if dated else DEFAULT_STANDARD[division]

    def allowance(self, household: ModelHousehold, day: date) -> Decimal:
        members, income = household.facts_on(day)
        return max(D("0.00"), self.standard(household.division, day) * members - income).quantize(D("0.01"))

    def due(self, household: ModelHousehold, month: Any) -> Decimal:
        regular = D("0.00")
        if household.in_dibao_in(month):
            regular = self.allowance(household, max(month.start, household.enrolled_on))
        covering = [
            self.allowance(household, max(household.enrolled_on, employed_on - timedelta(days=1)))
            for (_, employed_on) in household.jobs
            if month_of(employed_on).start
            <= month.start
            <= add_months(month_of(employed_on), EXTENSION_MONTHS - 1).start
        ]
        return max([regular, *covering])

    def income_rise_exit(self, household: ModelHousehold, effective_on: date) -> date | None:
        members, income = household.facts_on(effective_on)
        if income < self.standard(household.division, effective_on) * members:
            return None
        last = month_of(effective_on)
        for _, employed_on in household.jobs:
            end = add_months(month_of(employed_on), EXTENSION_MONTHS - 1)
            if end.start > last.start:
                last = end
        return add_months(last, 1).start


def machine(loop: asyncio.AbstractEventLoop, tally: dict[str, int]) -> type[RuleBasedStateMachine]:
    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)

    class LedgerMachine(RuleBasedStateMachine):
        households = Bundle("households")
        people = Bundle("people")

        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            self.stack = contextlib.AsyncExitStack()
            self.url = run(migrated_database("registry"))
            app = service_app("registry", self.url, new_prefix(), consumer_enabled=False, outbox_relay_enabled=False)
            self.app = app
            self.client = run(self.stack.enter_async_context(running(app)))

        def teardown(self) -> None:
            run(self.stack.aclose())
            run(drop_database(self.url))

        # ---- the case-worker's steps -------------------------------------------------------------

        @rule(target=people, born=st.dates(date(1950, 1, 1), date(2015, 12, 31)), male=st.booleans())
        def a_person(self, born: date, male: bool) -> dict[str, Any]:
            return member("other", born=born, male=male)

        @initialize(target=households, division=st.sampled_from(DIVISIONS), enrolled_on=st.dates(FIRST_DAY, TODAY))
        def a_first_household(self, division: str, enrolled_on: date) -> Any:
            return self.enrol(division, "0.00", enrolled_on, [])

        @rule(
            target=households,
            division=st.sampled_from(DIVISIONS),
            income=st.sampled_from(["0.00", "50.00", "120.00", "250.00", "390.00"]),
            enrolled_on=st.dates(FIRST_DAY, TODAY),
            heads=st.lists(people, max_size=3, unique_by=lambda p: p["resident_id"]),
        )
        def enrol(self, division: str, income: str, enrolled_on: date, heads: list[dict[str, Any]]) -> Any:
            # Someone known already (who may be in another household), or someone new.
            heads = heads or [member("head")]
            members = [{**person, "relation": "head" if index == 0 else "other"} for index, person in enumerate(heads)]
            response = run(
                self.client.post(
                    "/households",
                    json=household_body(division=division, income=income, enrolled_on=enrolled_on, members=members),
                )
            )
            assert response.status_code in (201, 409, 422), response.text
            if response.status_code != 201:
                expected = {"person_in_active_household", "income_above_standard"}
                assert response.json()["code"] in expected, response.text
                if response.json()["code"] == "income_above_standard":
                    assert D(income) >= self.model.standard(division, enrolled_on) * len(members)
                return None
            assert D(income) < self.model.standard(division, enrolled_on) * len(members), "the means test"
            created = response.json()
            tally["households enrolled"] += 1
            self.model.households[created["id"]] = ModelHousehold(
                created["id"],
                division,
                enrolled_on,
                [m["resident_id"] for m in members],
                {enrolled_on: (len(members), D(income))},
            )
            return created["id"]

        @rule(
            household=households,
            income=st.sampled_from(["0.00", "80.00", "160.00", "300.00", "900.00"]),
            days_after=st.integers(0, 500),
        )
        def change_income(self, household: str | None, income: str, days_after: int) -> None:
            self._change(household, {"monthly_income": income}, days_after)

        @rule(
            household=households,
            newcomers=st.lists(people, max_size=2, unique_by=lambda p: p["resident_id"]),
            keep=st.integers(1, 3),
            days_after=st.integers(0, 500),
        )
        def change_members(
            self, household: str | None, newcomers: list[dict[str, Any]], keep: int, days_after: int
        ) -> None:
            if household is None:
                return
            known = self.model.households[household]
            view = run(self.client.get(f"/households/{household}")).json()
            kept = view["members"][:keep]
            members = [
                {
                    k: v
                    for k, v in m.items()
                    if k
                    in (
                        "resident_id",
                        "name",
                        "relation",
                        "able_to_work",
                        "employment_status",
                        "disabled",
                        "school_stage",
                        "boarding",
                    )
                }
                for m in kept
            ]
            members += [
                {**p, "relation": "other"}
                for p in newcomers
                if p["resident_id"] not in {m["resident_id"] for m in members}
            ]
            members[0]["relation"] = "head"
            for other in members[1:]:
                other["relation"] = "other"
            if self._change(household, {"members": members}, days_after):
                known.people = [m["resident_id"] for m in members]

        def _change(self, household: str | None, body: dict[str, Any], days_after: int) -> bool:
            if household is None:
                return False
            known = self.model.households[household]
            effective_on = min(TODAY, known.enrolled_on + timedelta(days=days_after))
            response = run(
                self.client.patch(f"/households/{household}", json={**body, "effective_on": effective_on.isoformat()})
            )
            if known.exit_on is not None and known.exit_on <= TODAY:
                assert (response.status_code, response.json()["code"]) == (409, "household_not_active")
                return False
            if known.exit_on is not None and effective_on >= known.exit_on:
                assert (response.status_code, response.json()["code"]) == (422, "effective_after_exit")
                return False
            if response.status_code == 409:
                assert response.json()["code"] == "person_in_active_household", response.text
                return False
            assert response.status_code == 200, response.text
            tally["changes"] += 1
            members, income = known.facts_on(effective_on)
            known.revisions[effective_on] = (
                len(body["members"]) if "members" in body else members,
                D(body["monthly_income"]) if "monthly_income" in body else income,
            )
            exit_on = self.model.income_rise_exit(known, effective_on)
            if exit_on is not None and (known.exit_on is None or exit_on < known.exit_on):
                known.exit_on = exit_on
            assert response.json()["exit_on"] == (known.exit_on.isoformat() if known.exit_on else None)
            return True

        @rule(household=households, days_after=st.integers(0, 600))
        def exit(self, household: str | None, days_after: int) -> None:
            if household is None:
                return
            known = self.model.households[household]
            on = known.enrolled_on + timedelta(days=days_after)
            response = run(
                self.client.post(f"/households/{household}/exit", json={"on": on.isoformat(), "reason": "x"})
            )
            if known.exit_on is not None and known.exit_on <= TODAY:
                assert response.json()["code"] == "household_not_active", response.text
            elif known.exit_on is not None and on >= known.exit_on:
                assert response.json()["code"] == "exit_already_set", response.text
            else:
                assert response.status_code == 200, response.text
                tally["exits"] += 1
                known.exit_on = on
                assert response.json()["status"] == ("exited" if on <= TODAY else "active")

        @rule(household=households, which=st.integers(0, 2), days_after=st.integers(0, 400))
        def member_finds_work(self, household: str | None, which: int, days_after: int) -> None:
            if household is None:
                return
            known = self.model.households[household]
            worker = known.people[which % len(known.people)]
            employed_on = min(TODAY, known.enrolled_on + timedelta(days=days_after))

            async def handle() -> None:
                async with self.app.state.platform.units.begin(source="event") as uow:
                    await registry_service.record_employment(
                        uow,
                        MemberEmployed(household_id=household, resident_id=worker, employed_on=employed_on, kind="job"),
                    )
                    await uow.commit()

            run(handle())
            in_dibao = known.enrolled_on <= employed_on and (known.exit_on is None or known.exit_on > employed_on)
            if in_dibao:
                known.jobs[(worker, employed_on)] = None
                tally["jobs"] += 1

        @rule(
            division=st.sampled_from(DIVISIONS),
            value=st.sampled_from(["180.00", "230.00", "260.00"]),
            month=st.dates(FIRST_DAY, TODAY + timedelta(days=60)),
        )
        def new_standard(self, division: str, value: str, month: date) -> None:
            since = month.replace(day=1)
            body: dict[str, Any] = {"value": value, "effective_from": since.isoformat(), "scope": division}
            if since < TODAY:
                body |= {"retroactive": True, "reason": "补录调标"}
            response = run(self.client.post("/parameters/dibao_standard", json=body))
            if (division, since) in self.model.standards:
                assert response.json()["code"] == "parameter_already_set"
                return
            assert response.status_code == 201, response.text
            self.model.standards[(division, since)] = D(value)

        @rule(month=st.dates(FIRST_DAY, LAST_RUN_MONTH.start))
        def payment_run(self, month: date) -> None:
            period = month_of(month).label
            first = run(self.client.post("/payment-runs", json={"period": period}))
            assert first.status_code == 200, first.text
            for household in self.model.households:
                self.model.settled_through[household] = max(period, self.model.settled_through.get(household, ""))
            again = run(self.client.post("/payment-runs", json={"period": period})).json()
            assert (again["households_paid"], again["total_amount"], again["overpaid"]) == (0, "0.00", "0.00"), (
                "a repeated run adds nothing"
            )
            self._check_ledger_matches_the_facts(period)

        @rule()
        def run_ahead(self) -> None:
            ahead = run(self.client.post("/payment-runs", json={"period": add_months(LAST_RUN_MONTH, 1).label}))
            assert (ahead.status_code, ahead.json()["code"]) == (422, "period_in_future")

        # ---- what must hold ----------------------------------------------------------------------

        def _lines(self) -> list[Any]:
            async def read() -> list[Any]:
                async with self.app.state.platform.sessions() as session:
                    return list(
                        (
                            await session.execute(
                                text("SELECT household_id, period, amount, kind, withheld FROM payments")
                            )
                        ).all()
                    )

            return run(read())

        def _check_ledger_matches_the_facts(self, through: str) -> None:
            sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: D("0.00"))
            for household_id, period, amount, _, _ in self._lines():
                sums[(household_id, period)] += D(amount)
            for household in self.model.households.values():
                for month in _months_between(
                    household.enrolled_on, month_period(int(through[:4]), int(through[5:])).end
                ):
                    tally["months checked"] += 1
                    tally["months with money"] += bool(sums[(household.id, month.label)])
                    assert sums[(household.id, month.label)] == self.model.due(household, month), (
                        f"{household.id} {month.label}: ledger {sums[(household.id, month.label)]}, "
                        f"due {self.model.due(household, month)}"
                    )

        @invariant()
        def no_transfer_is_negative_and_nothing_is_withheld_beyond_what_is_owed(self) -> None:
            owed: dict[str, Decimal] = defaultdict(lambda: D("0.00"))
            for household_id, _, amount, kind, withheld in self._lines():
                amount, withheld = D(amount), D(withheld)
                if kind == "recovery":
                    assert amount < 0 and withheld == 0
                    owed[household_id] -= amount
                else:
                    assert amount > 0 and D("0.00") <= withheld <= amount
                    owed[household_id] -= withheld
            assert all(balance >= 0 for balance in owed.values()), owed

        @invariant()
        def no_one_is_in_two_households_on_any_day(self) -> None:
            async def read() -> list[Any]:
                async with self.app.state.platform.sessions() as session:
                    return list(
                        (
                            await session.execute(
                                text("SELECT resident_id, household_id, joined_on, left_on FROM members")
                            )
                        ).all()
                    )

            spans: dict[str, list[tuple[date, date, str]]] = defaultdict(list)
            for resident_id, household_id, joined_on, left_on in run(read()):
                end = left_on or date.max
                if end > joined_on:
                    spans[resident_id].append((joined_on, end, household_id))
            for resident_id, person_spans in spans.items():
                person_spans.sort()
                for (_, end, first), (start, _, second) in itertools.pairwise(person_spans):
                    assert start >= end, f"{resident_id} in {first} and {second} at once"

    return LedgerMachine


async def test_the_ledger_matches_the_facts_over_any_sequence_of_events(kafka, postgres):
    loop = asyncio.get_running_loop()
    budget = settings(
        max_examples=int(os.environ.get("LEDGER_EXAMPLES", "8")),
        stateful_step_count=int(os.environ.get("LEDGER_STEPS", "30")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("CI") == "true",
    )
    tally: dict[str, int] = defaultdict(int)
    await asyncio.to_thread(run_state_machine_as_test, machine(loop, tally), settings=budget)
    print("ledger state machine:", dict(tally))
    # The examples reached what they are for: money in the ledger checked against the model, after changes.
    assert tally["months with money"] > 0 and tally["changes"] > 0 and tally["exits"] > 0, dict(tally)
