"""The heating supplement and the central-heating reduction over time, on the real broker and PostgreSQL.

The registry's extension and exit-ahead features are being rebuilt elsewhere, so these tests play the
registry: they publish its household snapshots (with ``extensions`` and ``exit_on``) on the real
households topic that the utilities consumer reads.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.utilities import service as utilities_service
from shared.audit import Actor
from shared.events import (
    AllowanceStep,
    ExtensionSpell,
    Heating,
    HouseholdChanged,
    HouseholdEnrolled,
    HouseholdExited,
    IntegrationEvent,
    MemberSnapshot,
    Relation,
    encode,
    envelope_for,
)
from shared.kafka import ensure_topics
from shared.periods import add_months, city_today, month_of
from shared.platform_models import PolicyParameter
from tests.support import KAFKA, eventually, new_prefix, person_id, system

pytestmark = pytest.mark.integration

NOVEMBER = date(2025, 11, 1)


async def publish(prefix: str, *events: IntegrationEvent) -> None:
    """Send events as the registry would (one household's events keep their order on its partition)."""

    topics = {prefix + event.TOPIC for event in events}
    await ensure_topics(KAFKA, topics)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                prefix + event.TOPIC, value=encode(envelope_for(event, "registry")), key=event.key.encode()
            )
    finally:
        await producer.stop()


def person(relation: Relation = "head") -> MemberSnapshot:
    return MemberSnapshot(
        resident_id=person_id(),
        name="测试成员",
        sex="male",
        birth_date=date(1975, 3, 15),
        relation=relation,
        able_to_work=True,
        employment_status="unemployed",
    )


def snapshot(
    household_id: str,
    *,
    heating: Heating = "non_central",
    enrolled_on: date = NOVEMBER,
    schedule: tuple[tuple[date, str], ...] = ((NOVEMBER, "300.00"),),
    members: list[MemberSnapshot] | None = None,
    effective_on: date | None = None,
    **extra: object,
) -> HouseholdEnrolled | HouseholdChanged:
    steps = [AllowanceStep(effective_from=day, amount=Decimal(amount)) for day, amount in schedule]
    fields: dict[str, Any] = dict(
        household_id=household_id,
        division_code="230102",
        address="哈尔滨市道里区测试街1号",
        heating=heating,
        housing_area_m2=Decimal("40.00"),
        monthly_income=Decimal("100.00"),
        monthly_allowance=steps[-1].amount,
        enrolled_on=enrolled_on,
        allowance_schedule=steps,
        members=members or [person()],
        **extra,
    )
    if effective_on is None:
        return HouseholdEnrolled(**fields)
    return HouseholdChanged(effective_on=effective_on, changed=["allowance"], **fields)


async def view_of(utilities, household_id: str) -> dict:
    response = await utilities.get(f"/households/{household_id}")
    return response.json() if response.status_code == 200 else {}


async def lines_of(utilities, household_id: str) -> list[tuple[str, str, str, str, str]]:
    rows = (await utilities.get("/heating/supplements", params={"household_id": household_id})).json()
    return [(r["period"], r["kind"], r["amount"], r["withheld"], r["run_period"]) for r in rows]


async def test_extension_month_after_exit_gets_its_supplement_and_an_exit_set_ahead_ends_it(kafka, postgres):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        head = person()
        # A member found work in February: dibao goes on at 300.00 through April, though the household left on 1 February.
        await publish(
            prefix,
            snapshot("hh-extended", members=[head]),
            snapshot(
                "hh-extended",
                members=[head],
                effective_on=date(2026, 1, 5),
                exit_on=date(2026, 2, 1),
                extensions=[
                    ExtensionSpell(
                        resident_id=head.resident_id,
                        first_period="2026-02",
                        last_period="2026-04",
                        monthly_amount=Decimal("300.00"),
                    )
                ],
            ),
            HouseholdExited(
                household_id="hh-extended", division_code="230102", exited_on=date(2026, 2, 1), reason="就业"
            ),
            # An exit decided ahead (no extension): in dibao through January only.
            snapshot("hh-leaving", exit_on=date(2026, 2, 1)),
        )
        await eventually(lambda: _both_known(utilities))

        run = (await utilities.post("/heating/supplement-runs", json={"period": "2026-04"})).json()
        # extended: Nov–Mar 60.00 each, April 300.00 × 20 % × 20 / 30 season days = 40.00; leaving: Nov–Jan 60.00 each
        assert (run["households_paid"], run["total_amount"], run["recoveries"]) == (2, "520.00", 0)
        assert [(p, a) for p, _, a, _, _ in await lines_of(utilities, "hh-extended")] == [
            ("2025-11", "60.00"),
            ("2025-12", "60.00"),
            ("2026-01", "60.00"),
            ("2026-02", "60.00"),
            ("2026-03", "60.00"),
            ("2026-04", "40.00"),
        ]
        assert [p for p, *_ in await lines_of(utilities, "hh-leaving")] == ["2025-11", "2025-12", "2026-01"]
        extended = (await utilities.get("/heating/supplements", params={"household_id": "hh-extended"})).json()
        assert extended[3]["allowance"] == "300.00" and extended[5]["season_days"] == 20


async def _both_known(utilities) -> bool:
    return (await view_of(utilities, "hh-extended")).get("status") == "exited" and bool(
        await view_of(utilities, "hh-leaving")
    )


async def test_a_late_fact_lowering_a_paid_month_is_recovered_from_later_payments_never_by_a_negative_transfer(
    kafka, postgres
):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        head = person()
        await publish(prefix, snapshot("hh-late", members=[head]))
        await eventually(lambda: view_of(utilities, "hh-late"))
        first = (await utilities.post("/heating/supplement-runs", json={"period": "2025-12"})).json()
        assert first["total_amount"] == "120.00"

        # Learnt in January: from 1 December the household's income rose and a member joined; dibao became 100.00.
        await publish(
            prefix,
            snapshot(
                "hh-late",
                members=[head, person("spouse")],
                effective_on=date(2025, 12, 1),
                schedule=((NOVEMBER, "300.00"), (date(2025, 12, 1), "100.00")),
            ),
        )
        await eventually(lambda: _members_are(utilities, "hh-late", 2))

        january = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        assert {
            k: january[k]
            for k in ("households_paid", "total_amount", "withheld_amount", "recoveries", "recovered_amount")
        } == {
            "households_paid": 1,
            "total_amount": "20.00",
            "withheld_amount": "20.00",
            "recoveries": 1,
            "recovered_amount": "40.00",
        }
        view = await view_of(utilities, "hh-late")
        assert view["supplement_balance_owed"] == "20.00"
        february = (await utilities.post("/heating/supplement-runs", json={"period": "2026-02"})).json()
        march = (await utilities.post("/heating/supplement-runs", json={"period": "2026-03"})).json()
        assert (february["withheld_amount"], march["withheld_amount"]) == ("20.00", "0.00")

        lines = (await utilities.get("/heating/supplements", params={"household_id": "hh-late"})).json()
        assert [
            (x["period"], x["kind"], x["amount"], x["withheld"], x["transferred"], x["run_period"]) for x in lines
        ] == [
            ("2025-11", "supplement", "60.00", "0.00", "60.00", "2025-12"),
            ("2025-12", "supplement", "60.00", "0.00", "60.00", "2025-12"),
            ("2025-12", "recovery", "-40.00", "0.00", "0.00", "2026-01"),
            ("2026-01", "supplement", "20.00", "20.00", "0.00", "2026-01"),
            ("2026-02", "supplement", "20.00", "20.00", "0.00", "2026-02"),
            ("2026-03", "supplement", "20.00", "0.00", "20.00", "2026-03"),
        ]
        assert all(Decimal(x["transferred"]) >= 0 for x in lines)
        assert (await view_of(utilities, "hh-late"))["supplement_balance_owed"] == "0.00"

        report = (await utilities.get("/reports", params={"period": "2025-12"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["supplements_paid"], row["supplement_amount"], row["supplement_recovered"]) == (1, "20.00", "40.00")


async def _members_are(utilities, household_id: str, count: int) -> bool:
    return (await view_of(utilities, household_id)).get("members") == count


async def test_a_period_run_again_after_a_fact_changed_settles_its_months_in_that_run(kafka, postgres):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        head, spouse = person(), person("spouse")
        await publish(prefix, snapshot("hh-rerun", members=[head]))
        await eventually(lambda: view_of(utilities, "hh-rerun"))
        first = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        assert first["total_amount"] == "180.00"

        # Learnt the same month: from 1 December a spouse joined and dibao became 400.00 — January is run again.
        await publish(
            prefix,
            snapshot(
                "hh-rerun",
                members=[head, spouse],
                effective_on=date(2025, 12, 1),
                schedule=((NOVEMBER, "300.00"), (date(2025, 12, 1), "400.00")),
            ),
        )
        await eventually(lambda: _members_are(utilities, "hh-rerun", 2))
        again = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        assert (again["households_paid"], again["total_amount"], again["recoveries"]) == (1, "40.00", 0)

        # And again: from 1 December dibao is 200.00 after all — the same run period now recovers.
        await publish(
            prefix,
            snapshot(
                "hh-rerun",
                members=[head, spouse, person("child")],
                effective_on=date(2025, 12, 1),
                schedule=((NOVEMBER, "300.00"), (date(2025, 12, 1), "200.00")),
            ),
        )
        await eventually(lambda: _members_are(utilities, "hh-rerun", 3))
        third = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        assert (third["total_amount"], third["recoveries"], third["recovered_amount"]) == ("0.00", 2, "80.00")

        lines = await lines_of(utilities, "hh-rerun")
        assert lines == [
            ("2025-11", "supplement", "60.00", "0.00", "2026-01"),
            ("2025-12", "supplement", "60.00", "0.00", "2026-01"),
            ("2025-12", "supplement", "20.00", "0.00", "2026-01"),
            ("2025-12", "recovery", "-40.00", "0.00", "2026-01"),
            ("2026-01", "supplement", "60.00", "0.00", "2026-01"),
            ("2026-01", "supplement", "20.00", "0.00", "2026-01"),
            ("2026-01", "recovery", "-40.00", "0.00", "2026-01"),
        ]
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for period, _, amount, _, _ in lines:
            sums[period] += Decimal(amount)
        assert sums == {"2025-11": Decimal("60.00"), "2025-12": Decimal("40.00"), "2026-01": Decimal("40.00")}
        assert (await view_of(utilities, "hh-rerun"))["supplement_balance_owed"] == "80.00"
        # Nothing new: running January once more writes nothing.
        fourth = (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()
        assert (fourth["households_paid"], fourth["total_amount"], fourth["recoveries"]) == (0, "0.00", 0)
        assert await lines_of(utilities, "hh-rerun") == lines


async def test_a_rate_changed_back_to_a_month_already_paid_is_settled_by_the_next_run(kafka, postgres):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        await publish(prefix, snapshot("hh-rate"))
        await eventually(lambda: view_of(utilities, "hh-rate"))
        assert (await utilities.post("/heating/supplement-runs", json={"period": "2026-01"})).json()[
            "total_amount"
        ] == "180.00"
        # The bureau raises the rate to 25 % from 1 December, decided after January was paid (written as the
        # parameters route would, whatever it comes to demand of a retroactive change).
        async with utilities.app.state.platform.sessions() as session:
            session.add(
                PolicyParameter(
                    name="heating_supplement_rate",
                    scope="*",
                    value="0.25",
                    effective_from=date(2025, 12, 1),
                    recorded_by="pytest",
                    note="追溯调整",
                )
            )
            await session.commit()
        february = (await utilities.post("/heating/supplement-runs", json={"period": "2026-02"})).json()
        # December and January 15.00 short each, February 75.00
        assert (february["total_amount"], february["recoveries"]) == ("105.00", 0)
        assert [(p, a, r) for p, _, a, _, r in await lines_of(utilities, "hh-rate")] == [
            ("2025-11", "60.00", "2026-01"),
            ("2025-12", "60.00", "2026-01"),
            ("2025-12", "15.00", "2026-02"),
            ("2026-01", "60.00", "2026-01"),
            ("2026-01", "15.00", "2026-02"),
            ("2026-02", "75.00", "2026-02"),
        ]


async def test_heating_is_taken_as_of_each_month(kafka, postgres):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        head = person()
        await publish(
            prefix,
            snapshot("hh-connected", members=[head]),
            snapshot("hh-connected", members=[head], heating="central", effective_on=date(2026, 1, 1)),
        )
        await eventually(lambda: _heating_is(utilities, "hh-connected", "central"))
        run = (await utilities.post("/heating/supplement-runs", json={"period": "2026-02"})).json()
        assert run["total_amount"] == "120.00"
        assert [p for p, *_ in await lines_of(utilities, "hh-connected")] == ["2025-11", "2025-12"]


async def _heating_is(utilities, household_id: str, heating: str) -> bool:
    return (await view_of(utilities, household_id)).get("heating", {}).get("heating") == heating


async def test_concurrent_runs_of_one_or_several_periods_pay_each_household_month_once(kafka, postgres):
    prefix = new_prefix()
    households = [f"hh-concurrent-{n}" for n in range(7)]
    async with system("utilities", prefix=prefix, utilities={"run_batch_size": 2}) as s:
        utilities = s["utilities"]
        await publish(prefix, *(snapshot(household_id) for household_id in households))

        async def all_known() -> bool:
            return all([await view_of(utilities, household_id) for household_id in households])

        await eventually(all_known)
        responses = await asyncio.gather(
            *(
                utilities.post("/heating/supplement-runs", json={"period": period})
                for period in ("2026-01", "2026-02", "2026-01", "2026-02", "2026-02")
            )
        )
        assert all(response.status_code == 200 for response in responses), [r.text for r in responses]
        runs = [response.json() for response in responses]
        # Nov–Feb, 60.00 a month, 7 households: paid once in all, whichever run got there first
        assert sum(Decimal(run["total_amount"]) for run in runs) == Decimal("1680.00")
        assert sum(run["recoveries"] for run in runs) == 0
        for household_id in households:
            months: dict[str, list[str]] = defaultdict(list)
            for period, kind, amount, _, _ in await lines_of(utilities, household_id):
                months[period].append(f"{kind} {amount}")
            assert months == {m: ["supplement 60.00"] for m in ("2025-11", "2025-12", "2026-01", "2026-02")}
        again = (await utilities.post("/heating/supplement-runs", json={"period": "2026-02"})).json()
        assert (again["households_paid"], again["total_amount"], again["already_paid"]) == (0, "0.00", 7)


async def test_a_run_for_a_month_not_begun_is_refused(kafka, postgres):
    async with system("utilities") as s:
        utilities = s["utilities"]
        next_month = add_months(month_of(city_today()), 1).label
        refused = await utilities.post("/heating/supplement-runs", json={"period": next_month})
        assert refused.status_code == 422 and refused.json()["code"] == "period_in_future"
        this_month = await utilities.post("/heating/supplement-runs", json={"period": month_of(city_today()).label})
        assert this_month.status_code == 200, this_month.text


async def test_central_heating_bill_is_reduced_once_per_season_for_a_dibao_household_and_reported(kafka, postgres):
    prefix = new_prefix()
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        await publish(
            prefix,
            snapshot(
                "hh-central", heating="central", enrolled_on=date(2025, 9, 1), schedule=((date(2025, 9, 1), "300.00"),)
            ),
            snapshot(
                "hh-central-2",
                heating="central",
                enrolled_on=date(2025, 9, 1),
                schedule=((date(2025, 9, 1), "300.00"),),
            ),
            snapshot("hh-stove", heating="non_central"),
            snapshot(
                "hh-summer", heating="central", enrolled_on=date(2026, 6, 1), schedule=((date(2026, 6, 1), "300.00"),)
            ),
        )

        async def known() -> bool:
            return all([await view_of(utilities, h) for h in ("hh-central", "hh-central-2", "hh-stove", "hh-summer")])

        await eventually(known)
        body = {"household_id": "hh-central", "season": "2025-2026", "fee": "2400.00"}
        first = await utilities.post("/heating/bills", json=body)
        assert first.status_code == 201, first.text
        assert {k: first.json()[k] for k in ("season", "fee", "rate", "reduction", "payable")} == {
            "season": "2025-2026",
            "fee": "2400.00",
            "rate": "0.30",
            "reduction": "720.00",
            "payable": "1680.00",
        }
        again = await utilities.post("/heating/bills", json=body)
        assert again.status_code == 200 and again.json() == first.json()
        other_fee = await utilities.post("/heating/bills", json={**body, "fee": "2500.00"})
        assert other_fee.status_code == 409 and other_fee.json()["code"] == "bill_already_posted"

        for household_id, season, code in [
            ("hh-stove", "2025-2026", "not_central_heating"),
            ("hh-summer", "2025-2026", "not_in_dibao"),
            ("hh-central", f"{city_today().year + 1}-{city_today().year + 2}", "period_in_future"),
            ("hh-central", "2025-2027", "invalid_season"),
        ]:
            refused = await utilities.post(
                "/heating/bills", json={"household_id": household_id, "season": season, "fee": "2400.00"}
            )
            assert refused.status_code == 422 and refused.json()["code"] == code, (household_id, season, refused.text)
        assert (await utilities.post("/heating/bills", json={**body, "household_id": "nobody"})).status_code == 404

        # The same bill sent three times at once (a retrying client): reduced once, the others get that result.
        same = {"household_id": "hh-central-2", "season": "2025-2026", "fee": "1000.00"}
        racing = await asyncio.gather(*(utilities.post("/heating/bills", json=same) for _ in range(3)))
        assert sorted(r.status_code for r in racing) == [200, 200, 201], [r.text for r in racing]
        assert {r.json()["reduction"] for r in racing} == {"300.00"}

        report = (await utilities.get("/reports", params={"period": "2025"})).json()
        row = next(d for d in report["divisions"] if d["division_code"] == "230102")
        assert (row["heating_bills"], row["heating_fee_reduction"]) == (2, "1020.00")


async def test_a_run_cut_into_batches_by_months_pays_every_household_each_month_once(kafka, postgres):
    """The first run after a migration settles months since enrolment for everyone: its batches end at a number
    of household-months (memory), and every household's months are still paid once, in full."""

    prefix = new_prefix()
    households = [f"hh-months-{n}" for n in range(5)]
    async with system("utilities", prefix=prefix) as s:
        utilities = s["utilities"]
        await publish(prefix, *(snapshot(household_id) for household_id in households))

        async def all_known() -> bool:
            return all([await view_of(utilities, household_id) for household_id in households])

        await eventually(all_known)
        units = utilities.app.state.platform.units
        async with units.begin(actor=Actor("utilities", "clerk", "test")) as uow:
            # November to February, four months a household, three a batch: one household a batch.
            run = await utilities_service.run_supplements(units, uow, "2026-02", months_per_batch=3)
            await uow.commit()
        assert (run.households_paid, run.total_amount) == (5, Decimal("1200.00"))
        for household_id in households:
            lines = [(period, kind, amount) for period, kind, amount, _, _ in await lines_of(utilities, household_id)]
            assert lines == [(m, "supplement", "60.00") for m in ("2025-11", "2025-12", "2026-01", "2026-02")]
