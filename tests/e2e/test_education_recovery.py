"""Education overpayments are recovered, through the API on PostgreSQL: a recovery line is owed by the household,
its later payments are withheld against it first, no transfer is negative, and runs at once withhold it once."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from tests.support import AppClient, all_found, enrol, eventually, household_body, member, system

pytestmark = pytest.mark.integration


async def _ledger(education: httpx.AsyncClient, household_id: str) -> dict:
    response = await education.get("/grants", params={"household_id": household_id})
    assert response.status_code == 200, response.text
    return response.json()


def _lines(ledger: dict) -> list[tuple[str, str, str, str, str, str]]:
    return sorted(
        (g["resident_id"][-4:], g["programme"], g["period"], g["kind"], g["amount"], g["withheld"])
        for g in ledger["grants"]
    )


def _check_invariants(ledger: dict) -> None:
    """No transfer is negative, a line's transfer is its amount less what was withheld, and what the household
    owes is its recoveries less what was withheld."""

    for line in ledger["grants"]:
        amount, withheld, transferred = (Decimal(line[k]) for k in ("amount", "withheld", "transferred"))
        assert transferred >= 0 and withheld >= 0, line
        assert transferred == (amount - withheld if line["kind"] == "payment" else Decimal("0.00")), line
    recovered = -sum((Decimal(g["amount"]) for g in ledger["grants"] if g["kind"] == "recovery"), Decimal(0))
    withheld = sum((Decimal(g["withheld"]) for g in ledger["grants"]), Decimal(0))
    assert Decimal(ledger["balance_owed"]) == recovered - withheld >= 0


def _net(ledger: dict) -> dict[tuple[str, str, str], Decimal]:
    net: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for g in ledger["grants"]:
        net[(g["resident_id"][-4:], g["programme"], g["period"])] += Decimal(g["amount"])
    return {key: amount for key, amount in net.items() if amount}


async def _not_in_dibao(education: httpx.AsyncClient, resident_id: str) -> None:
    async def left() -> bool:
        return not (await education.get(f"/pupils/{resident_id}")).json()["in_dibao"]

    await eventually(left)


async def test_a_back_dated_exit_is_recovered_from_the_households_next_payment_for_another_pupil(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        head = member("head")
        boarder = member("child", born=date(2013, 5, 5), school_stage="junior", boarding=True)
        sister = member("child", born=date(2016, 6, 6), male=False, school_stage="primary", boarding=False)
        household = await enrol(
            registry, household_body(enrolled_on=date(2026, 1, 10), members=[head, boarder, sister])
        )
        a, b = boarder["resident_id"][-4:], sister["resident_id"][-4:]
        await eventually(lambda: all_found(education, *(f"/pupils/{p['resident_id']}" for p in (boarder, sister))))
        spring = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert spring["transferred_amount"] == "700.00"  # 200 + 60 × 5 for the boarder, 200 for his sister

        # Learnt late: the boarder left the household on 20 April. May–July's boarding goes back: 180 owed.
        left = await registry.patch(
            f"/households/{household['id']}", json={"effective_on": "2026-04-20", "members": [head, sister]}
        )
        assert left.status_code == 200, left.text
        await _not_in_dibao(education, boarder["resident_id"])
        settled = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert (settled["recoveries"], settled["recovered_amount"], settled["transferred_amount"]) == (
            1,
            "-180.00",
            "0.00",
        )
        owing = await _ledger(education, household["id"])
        assert owing["balance_owed"] == "180.00"
        _check_invariants(owing)

        # The autumn term's waiver for his sister is due in full, and 180 of it is kept back.
        autumn = (await education.post("/term-runs", json={"term": "2026-autumn"})).json()
        assert (
            autumn["grants_made"],
            autumn["total_amount"],
            autumn["withheld_amount"],
            autumn["transferred_amount"],
        ) == (1, "200.00", "180.00", "20.00")
        after = await _ledger(education, household["id"])
        assert after["balance_owed"] == "0.00"
        assert _lines(after) == sorted(
            [
                (a, "boarding_subsidy", "2026-spring", "payment", "300.00", "0.00"),
                (a, "boarding_subsidy", "2026-spring", "recovery", "-180.00", "0.00"),
                (a, "fee_waiver", "2026-spring", "payment", "200.00", "0.00"),
                (b, "fee_waiver", "2026-spring", "payment", "200.00", "0.00"),
                (b, "fee_waiver", "2026-autumn", "payment", "200.00", "180.00"),
            ]
        )
        autumn_line = next(g for g in after["grants"] if g["period"] == "2026-autumn")
        assert autumn_line["transferred"] == "20.00"
        _check_invariants(after)
        # Each period's lines sum to what is due for it, whatever was withheld.
        assert _net(after) == {
            (a, "boarding_subsidy", "2026-spring"): Decimal("120.00"),
            (a, "fee_waiver", "2026-spring"): Decimal("200.00"),
            (b, "fee_waiver", "2026-spring"): Decimal("200.00"),
            (b, "fee_waiver", "2026-autumn"): Decimal("200.00"),
        }

        for term in ("2026-spring", "2026-autumn"):
            again = (await education.post("/term-runs", json={"term": term})).json()
            assert (again["grants_made"], again["recoveries"], again["withheld_amount"]) == (0, 0, "0.00"), again
        assert await _ledger(education, household["id"]) == after


async def test_what_a_household_owes_beyond_one_payment_stays_owed_and_comes_down_term_by_term(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        head = member("head")
        boarder = member("child", born=date(2013, 5, 5), school_stage="junior", boarding=True)
        sister = member("child", born=date(2016, 6, 6), male=False, school_stage="primary", boarding=False)
        household = await enrol(
            registry, household_body(enrolled_on=date(2026, 1, 10), members=[head, boarder, sister])
        )
        await eventually(lambda: all_found(education, *(f"/pupils/{p['resident_id']}" for p in (boarder, sister))))
        await education.post("/term-runs", json={"term": "2026-spring"})

        # Learnt late: the boarder left on 15 February, before the term began — all 500 of his term goes back.
        left = await registry.patch(
            f"/households/{household['id']}", json={"effective_on": "2026-02-15", "members": [head, sister]}
        )
        assert left.status_code == 200, left.text
        await _not_in_dibao(education, boarder["resident_id"])
        settled = (await education.post("/term-runs", json={"term": "2026-spring"})).json()
        assert (settled["recoveries"], settled["recovered_amount"]) == (2, "-500.00")
        assert (await _ledger(education, household["id"]))["balance_owed"] == "500.00"

        autumn = (await education.post("/term-runs", json={"term": "2026-autumn"})).json()
        assert (autumn["withheld_amount"], autumn["transferred_amount"]) == ("200.00", "0.00")
        after = await _ledger(education, household["id"])
        assert after["balance_owed"] == "300.00"
        withheld_line = next(g for g in after["grants"] if g["period"] == "2026-autumn")
        assert (withheld_line["amount"], withheld_line["withheld"], withheld_line["transferred"]) == (
            "200.00",
            "200.00",
            "0.00",
        )
        _check_invariants(after)


async def _waiting_on_locks(education: AppClient, count: int) -> bool:
    """At least ``count`` of the service's connections wait on a lock."""

    async with education.app.state.platform.sessions() as session:
        return (
            int(
                await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            )
            >= count
        )


async def test_runs_of_two_school_years_at_once_withhold_what_is_owed_once(kafka, postgres):
    async with system("registry", "education") as s:
        registry, education = s["registry"], s["education"]
        head = member("head")
        boarder = member("child", born=date(2013, 5, 5), school_stage="junior", boarding=True)
        household = await enrol(registry, household_body(enrolled_on=date(2026, 1, 10), members=[head, boarder]))
        await eventually(lambda: all_found(education, f"/pupils/{boarder['resident_id']}"))
        await education.post("/term-runs", json={"term": "2026-spring"})
        # Learnt late: he left on 15 February (500 owed), and a cousin who boards joined on 20 February.
        left = await registry.patch(
            f"/households/{household['id']}", json={"effective_on": "2026-02-15", "members": [head]}
        )
        assert left.status_code == 200, left.text
        await _not_in_dibao(education, boarder["resident_id"])
        await education.post("/term-runs", json={"term": "2026-spring"})
        assert (await _ledger(education, household["id"]))["balance_owed"] == "500.00"
        cousin = member("child", born=date(2014, 7, 7), school_stage="primary", boarding=True)
        joined = await registry.patch(
            f"/households/{household['id']}", json={"effective_on": "2026-02-20", "members": [head, cousin]}
        )
        assert joined.status_code == 200, joined.text
        await eventually(lambda: all_found(education, f"/pupils/{cousin['resident_id']}"))

        # The cousin is due 500 for spring (school year 2025-2026) and 500 for autumn (2026-2027). Writing to the
        # ledger is held up until both runs are under way, so each has read what it could of the household's
        # balance before either wrote: they must not both withhold the same 500.
        async with education.app.state.platform.sessions() as blocker:
            await blocker.execute(text("LOCK TABLE term_grants IN EXCLUSIVE MODE"))
            runs = [
                asyncio.create_task(education.post("/term-runs", json={"term": term}))
                for term in ("2026-spring", "2026-autumn")
            ]
            await eventually(lambda: _waiting_on_locks(education, 2))
            await blocker.commit()
        responses = await asyncio.gather(*runs)

        assert all(run.status_code == 200 for run in responses), [run.text for run in responses]
        bodies = [run.json() for run in responses]
        assert sum(Decimal(b["total_amount"]) for b in bodies) == Decimal("1000.00")
        assert sum(Decimal(b["withheld_amount"]) for b in bodies) == Decimal("500.00")
        assert sum(Decimal(b["transferred_amount"]) for b in bodies) == Decimal("500.00")
        after = await _ledger(education, household["id"])
        assert after["balance_owed"] == "0.00"
        assert sum(Decimal(g["withheld"]) for g in after["grants"]) == Decimal("500.00")
        _check_invariants(after)
