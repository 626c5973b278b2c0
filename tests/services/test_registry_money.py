"""Money over time in the registry, through the API on PostgreSQL: every month paid from the facts in force
in it, runs that settle the past against the ledger, exits that take effect on their date, the extension."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.registry import service
from services.registry.schemas import HouseholdIn
from shared.events import EMPLOYMENT_TOPIC, MemberEmployed
from shared.periods import add_months, city_today, month_of
from shared.unit_of_work import Actor
from tests.support import enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


@pytest.fixture()
async def registry(kafka, postgres):
    async with system("registry") as s:
        yield s["registry"]


async def ledger(registry, household_id: str) -> list[tuple[str, str, str]]:
    lines = (await registry.get(f"/households/{household_id}/payments")).json()
    return [(line["period"], line["kind"], line["amount"]) for line in lines]


def month_sums(lines: list[tuple[str, str, str]]) -> dict[str, str]:
    sums: dict[str, float] = {}
    for period, _, amount in lines:
        sums[period] = sums.get(period, 0) + float(amount)
    return {period: f"{amount:.2f}" for period, amount in sums.items()}


async def test_back_dated_enrolment_is_paid_arrears_for_every_month_since_enrolment(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 3, 15)))
    run = (await registry.post("/payment-runs", json={"period": "2026-06"})).json()
    assert (run["households_paid"], run["total_amount"]) == (1, "800.00")
    assert await ledger(registry, household["id"]) == [
        ("2026-03", "dibao", "200.00"),
        ("2026-04", "dibao", "200.00"),
        ("2026-05", "dibao", "200.00"),
        ("2026-06", "dibao", "200.00"),
    ]


async def test_retroactive_income_rise_is_recovered_from_later_payments_never_a_negative_transfer(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    await registry.post("/payment-runs", json={"period": "2026-03"})  # Jan–Mar at 200
    changed = await registry.patch(
        f"/households/{household['id']}", json={"monthly_income": "150.00", "effective_on": "2026-02-01"}
    )
    assert changed.status_code == 200, changed.text
    run = (await registry.post("/payment-runs", json={"period": "2026-04"})).json()
    # February and March were paid 150 over; April's 50 is withheld against it.
    assert (run["overpaid"], run["recovered"], run["total_amount"]) == ("300.00", "50.00", "0.00")
    lines = await ledger(registry, household["id"])
    assert ("2026-02", "recovery", "-150.00") in lines and ("2026-03", "recovery", "-150.00") in lines
    assert month_sums(lines) == {"2026-01": "200.00", "2026-02": "50.00", "2026-03": "50.00", "2026-04": "50.00"}
    assert (await registry.get(f"/households/{household['id']}")).json()["balance_owed"] == "250.00"
    raw = (await registry.get(f"/households/{household['id']}/payments")).json()
    assert all(float(line["amount"]) - float(line["withheld"]) >= 0 for line in raw if line["kind"] != "recovery")


async def test_retroactive_standard_is_refused_without_a_reason_and_paid_as_arrears_with_one(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    await registry.post("/payment-runs", json={"period": "2026-04"})
    silent = await registry.post(
        "/parameters/dibao_standard", json={"value": "230.00", "effective_from": "2026-03-01", "scope": "230102"}
    )
    assert (silent.status_code, silent.json()["code"]) == (422, "retroactive_change")
    absurd = await registry.post(
        "/parameters/dibao_standard",
        json={
            "value": "1556673496.00",
            "effective_from": "2026-03-01",
            "scope": "230102",
            "retroactive": True,
            "reason": "typo",
        },
    )
    assert (absurd.status_code, absurd.json()["code"]) == (422, "value_out_of_range")
    raised = await registry.post(
        "/parameters/dibao_standard",
        json={
            "value": "230.00",
            "effective_from": "2026-03-01",
            "scope": "230102",
            "retroactive": True,
            "reason": "市政府2026年3月调标文件补录",
        },
    )
    assert raised.status_code == 201, raised.text
    run = (await registry.post("/payment-runs", json={"period": "2026-04"})).json()
    assert (run["households_paid"], run["total_amount"]) == (1, "60.00")
    assert month_sums(await ledger(registry, household["id"]))["2026-03"] == "230.00"


async def test_standard_changed_while_an_enrolment_is_in_flight_reaches_that_household(registry):
    """An enrolment that read the old standard and commits after the new one's recompute must not keep the old
    amounts: the change waits for it, then recomputes it too."""

    body = HouseholdIn.model_validate(household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    async with registry.app.state.platform.units.begin(actor=Actor("civil-affairs", "clerk", "test")) as uow:
        enrolled = await service.enrol(uow, body)  # read the standard, wrote the household; not committed
        change = asyncio.create_task(
            registry.post(
                "/parameters/dibao_standard",
                json={
                    "value": "230.00",
                    "effective_from": "2026-03-01",
                    "scope": "*",
                    "retroactive": True,
                    "reason": "调标文件补录",
                },
            )
        )
        await asyncio.sleep(1.0)
        assert not change.done(), "the new standard did not wait for the enrolment computed from the old one"
        await uow.commit()
    response = await change
    assert response.status_code == 201, response.text
    schedule = (await registry.get(f"/households/{enrolled.id}")).json()["allowance_schedule"]
    assert [(step["effective_from"], step["amount"]) for step in schedule] == [
        ("2026-01-01", "200.00"),
        ("2026-03-01", "230.00"),
    ]


async def test_a_run_cut_into_batches_by_months_settles_exactly_what_one_batch_would(registry):
    """The first run after a migration settles years per household: its batches end at a number of household-months
    (memory), and every household is still settled once, in full."""

    households = [await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1))) for _ in range(3)]
    units = registry.app.state.platform.units
    async with units.begin(actor=Actor("civil-affairs", "clerk", "test")) as uow:
        # Six months a household, four a batch: each batch takes one household (a batch takes at least one).
        run = await service.run_payments(units, uow, "2026-06", months_per_batch=4)
        await uow.commit()
    assert (run.households_paid, run.total_amount) == (3, Decimal("3600.00"))
    for household in households:
        assert month_sums(await ledger(registry, household["id"])) == {f"2026-0{m}": "200.00" for m in range(1, 7)}
    again = (await registry.post("/payment-runs", json={"period": "2026-06"})).json()
    assert (again["households_paid"], again["total_amount"]) == (0, "0.00")


async def test_run_for_a_month_not_begun_is_refused_and_this_month_is_paid(registry):
    this_month = month_of(city_today())
    await enrol(registry, household_body(income="0.00", enrolled_on=this_month.start))
    ahead = await registry.post("/payment-runs", json={"period": add_months(this_month, 1).label})
    assert (ahead.status_code, ahead.json()["code"]) == (422, "period_in_future")
    assert (await registry.post("/payment-runs", json={"period": this_month.label})).json()["households_paid"] == 1


async def test_enrolment_with_income_at_the_standard_is_refused(registry):
    response = await registry.post("/households", json=household_body(income="200.00"))
    assert (response.status_code, response.json()["code"]) == (422, "income_above_standard")


async def test_income_rising_to_the_line_ends_dibao_at_the_end_of_that_month(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    changed = (
        await registry.patch(
            f"/households/{household['id']}", json={"monthly_income": "500.00", "effective_on": "2026-05-12"}
        )
    ).json()
    assert (changed["exit_on"], changed["status"]) == ("2026-06-01", "exited")
    await registry.post("/payment-runs", json={"period": "2026-07"})
    assert month_sums(await ledger(registry, household["id"])) == {
        "2026-01": "200.00",
        "2026-02": "200.00",
        "2026-03": "200.00",
        "2026-04": "200.00",
        "2026-05": "200.00",
    }


async def test_future_exit_keeps_the_household_and_its_members_until_the_date(registry):
    person = member("head")
    household = await enrol(registry, household_body(members=[person]))
    leaving_on = city_today() + timedelta(days=20)
    exited = (
        await registry.post(
            f"/households/{household['id']}/exit", json={"on": leaving_on.isoformat(), "reason": "迁往外地"}
        )
    ).json()
    assert (exited["status"], exited["exit_on"], exited["exited_on"]) == ("active", leaving_on.isoformat(), None)
    elsewhere = await registry.post("/households", json=household_body(members=[{**person}]))
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "person_in_active_household")
    assert (await registry.get(f"/persons/{person['resident_id']}")).json()["in_dibao"] is True
    later = await registry.post(
        f"/households/{household['id']}/exit", json={"on": (leaving_on + timedelta(days=5)).isoformat(), "reason": "x"}
    )
    assert (later.status_code, later.json()["code"]) == (409, "exit_already_set")


async def test_a_person_joins_a_new_household_only_from_the_day_the_old_one_ended(registry):
    person = member("head")
    first = await enrol(registry, household_body(members=[person], enrolled_on=date(2026, 1, 1)))
    await registry.post(f"/households/{first['id']}/exit", json={"on": "2026-04-01", "reason": "并户"})
    overlapping = await registry.post(
        "/households", json=household_body(members=[{**person}], enrolled_on=date(2026, 3, 1))
    )
    assert (overlapping.status_code, overlapping.json()["code"]) == (409, "person_in_active_household")
    second = await enrol(registry, household_body(members=[{**person}], enrolled_on=date(2026, 4, 1)))
    await registry.post("/payment-runs", json={"period": "2026-05"})
    first_months = set(month_sums(await ledger(registry, first["id"])))
    second_months = set(month_sums(await ledger(registry, second["id"])))
    assert first_months == {"2026-01", "2026-02", "2026-03"} and second_months == {"2026-04", "2026-05"}


async def test_concurrent_runs_for_one_month_pay_each_household_once(registry):
    households = [await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1))) for _ in range(5)]
    runs = await asyncio.gather(*(registry.post("/payment-runs", json={"period": "2026-02"}) for _ in range(4)))
    assert all(run.status_code == 200 for run in runs), [run.text for run in runs]
    assert sum(float(run.json()["total_amount"]) for run in runs) == 5 * 400
    for household in households:
        assert month_sums(await ledger(registry, household["id"])) == {"2026-01": "200.00", "2026-02": "200.00"}


async def test_extension_survives_exit_and_the_member_is_recorded_employed(kafka, postgres):
    async with system("registry") as s:
        registry = s["registry"]
        worker = member("head", able_to_work=True, employment_status="unemployed", unemployed_since="2025-01-01")
        household = await enrol(
            registry,
            household_body(income="0.00", enrolled_on=date(2026, 1, 1), members=[worker, member("spouse", male=False)]),
        )
        await _publish(
            registry,
            MemberEmployed(
                household_id=household["id"],
                resident_id=worker["resident_id"],
                employed_on=date(2026, 3, 10),
                kind="job",
                employer="某物业公司",
            ),
        )

        async def recorded() -> bool:
            return (await registry.get(f"/households/{household['id']}")).json()["review_reason"] is not None

        await eventually(recorded)
        view = (await registry.get(f"/households/{household['id']}")).json()
        assert view["members"][0]["employment_status"] == "employed"
        # The job lifts income over the line; the household then leaves at the end of the extension.
        changed = await registry.patch(
            f"/households/{household['id']}", json={"monthly_income": "900.00", "effective_on": "2026-03-10"}
        )
        assert changed.json()["exit_on"] == "2026-06-01"
        again = (await registry.get(f"/households/{household['id']}")).json()
        assert again["members"][0]["employment_status"] == "employed", "a later change keeps the job"
        # Brought forward by a case-worker: the extension is still paid for its months.
        await registry.post(f"/households/{household['id']}/exit", json={"on": "2026-04-01", "reason": "迁出"})
        await registry.post("/payment-runs", json={"period": "2026-07"})
        assert await ledger(registry, household["id"]) == [
            ("2026-01", "dibao", "400.00"),
            ("2026-02", "dibao", "400.00"),
            ("2026-03", "extension", "400.00"),
            ("2026-04", "extension", "400.00"),
            ("2026-05", "extension", "400.00"),
        ]


async def _publish(client, event) -> None:
    """Announce an event on the real broker as the employment service would."""

    from aiokafka import AIOKafkaProducer

    from shared.events import encode, envelope_for
    from tests.support import KAFKA

    topic = client.app.state.settings.topic(EMPLOYMENT_TOPIC)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode(envelope_for(event, "employment")), key=event.key.encode())
    finally:
        await producer.stop()


async def test_a_run_for_an_earlier_month_after_a_change_leaves_the_later_months_to_the_next_run(registry):
    household = await enrol(registry, household_body(income="0.00", enrolled_on=date(2026, 1, 1)))
    await registry.post("/payment-runs", json={"period": "2026-05"})
    await registry.patch(
        f"/households/{household['id']}", json={"monthly_income": "100.00", "effective_on": "2026-02-01"}
    )
    await registry.post("/payment-runs", json={"period": "2026-03"})  # settles Feb–Mar under the new facts
    assert month_sums(await ledger(registry, household["id"]))["2026-04"] == "200.00"
    await registry.post("/payment-runs", json={"period": "2026-05"})
    assert month_sums(await ledger(registry, household["id"])) == {
        "2026-01": "200.00",
        "2026-02": "100.00",
        "2026-03": "100.00",
        "2026-04": "100.00",
        "2026-05": "100.00",
    }
