"""Driving and checking the real system (bench.system) under fault injection."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.caseload import generate
from bench.system import LocalSystem
from services.office import rules
from shared.allowance import allowance_for_month
from shared.entitlements import WorkingAge
from shared.events import AllowanceStep
from shared.periods import Period, city_today
from shared.services import GRANTING_SERVICES as PROGRAMME_BUREAUS

# Households per scenario (CI: 120; try 2000).
PER_SCENARIO = int(os.environ.get("FAULT_HOUSEHOLDS", "120"))

CRITERIA = rules.AssessmentCriteria(
    housing_area_per_person=Decimal("8"), working_age=WorkingAge(16, 60, 55), unemployed_years=1
)


@dataclass
class Counts:
    scenario: str
    enrolled: int
    expected: int
    found: int
    duplicates: int
    lost: int
    missing: Counter = field(default_factory=Counter)

    def line(self) -> str:
        return (
            f"{self.scenario:<34} enrolled={self.enrolled:<6} expected grants={self.expected:<6} "
            f"found={self.found:<6} duplicates={self.duplicates:<3} lost={self.lost}"
        )


@dataclass
class MonthPaid:
    """The registry's ledger for one month, against what each household's allowance gives for it."""

    households: int  # in the registry
    owed: int  # owed something this month
    paid_right: int  # of those, paid exactly that this month
    duplicates: int  # ledger lines of one household, month and kind beyond the first
    paid: dict[str, Decimal]  # household -> this month's lines, where positive (what the office must hear)


def assert_exact(counts: Counts, households: int) -> None:
    assert counts.enrolled == households, counts
    assert counts.lost == 0, counts
    assert counts.duplicates == 0, counts
    assert counts.found == counts.expected > 0, counts


class FaultSystem(LocalSystem):
    """The local system on PostgreSQL, with what the fault scenarios need to drive and check it."""

    caseloads: Caseloads  # the households left for the scenarios (the test module's fixture sets it)

    def __init__(self, workdir: Path, replicas: int = 1) -> None:
        super().__init__(workdir, database="postgres", replicas=replicas)

    # ---- load --------------------------------------------------------------------------------

    async def enrol_stream(
        self,
        households: list[dict[str, Any]],
        batch: int = 25,
        progress: asyncio.Event | None = None,
        pause: float = 0,
    ) -> None:
        """Enrol as an agency would: batch after batch, retrying what failed for infrastructure reasons.

        A batch whose response was lost may have landed: retrying it then reports those households as
        already enrolled (person_in_active_household), which is fine — the registry is the truth.
        With several registry replicas the batches go round them, and a retry to the next one, as a load
        balancer would send them; ``pause`` spaces the batches out.
        """

        targets = self.instances("registry")
        async with self.client("registry") as http:
            for number, start in enumerate(range(0, len(households), batch)):
                chunk = households[start : start + batch]
                for attempt in range(600):
                    url = f"http://127.0.0.1:{self.ports[targets[(number + attempt) % len(targets)]]}/households/bulk"
                    try:
                        response = await http.post(url, json={"households": chunk})
                        if response.status_code == 200:
                            errors = [r["error"]["code"] for r in response.json()["results"] if r["error"]]
                            assert set(errors) <= {"person_in_active_household"}, errors
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(min(0.1 * (attempt + 1), 1.0))
                else:
                    raise TimeoutError("the registry did not take a batch for a minute")
                if progress is not None and start + batch >= len(households) // 3:
                    progress.set()
                if pause:
                    await asyncio.sleep(pause)

    async def wait_ready(self, instance: str, timeout: float = 90) -> None:
        """Until the instance reports ready (database, Kafka, consumer and relay), as an orchestrator waits
        before it moves a rollout on."""

        await self.wait_healthy(instance, timeout, path="/ready")

    async def handled(self, instance: str) -> int:
        """Events the instance's consumer has handled since it started."""

        async with self.client(instance, timeout=10) as http:
            response = await http.get("/admin/consumer")
            response.raise_for_status()
            return int(response.json()["handled"])

    # ---- what the policy gives, and what was granted ----------------------------------------

    async def enrolled(self, heads: list[str]) -> list[dict[str, Any]]:
        registry = await self.connect("registry")
        try:
            rows = await registry.fetch(
                "SELECT h.id, h.heating, h.housing_area_m2, h.enrolled_on FROM households h "
                "JOIN members m ON m.household_id = h.id WHERE m.relation = 'head' AND m.resident_id = ANY($1)",
                heads,
            )
            members = await registry.fetch(
                "SELECT * FROM members WHERE removed = false AND household_id = ANY($1)", [r["id"] for r in rows]
            )
        finally:
            await registry.close()
        by_household: dict[str, list[Any]] = {}
        for member in members:
            by_household.setdefault(member["household_id"], []).append(_Member(member))
        return [dict(row) | {"members": by_household.get(row["id"], [])} for row in rows]

    def expected(self, households: list[dict[str, Any]]) -> list[tuple[str, rules.Expectation]]:
        return [
            (household["id"], expectation)
            for household in households
            for expectation in rules.expected_assistance(
                heating=household["heating"],
                housing_area_m2=Decimal(household["housing_area_m2"]),
                enrolled_on=household["enrolled_on"],
                members=household["members"],
                on=city_today(),
                criteria=CRITERIA,
            )
        ]

    async def granted(self, household_ids: list[str]) -> tuple[set[tuple[str, str, str, str]], int]:
        """What the office sees (all bureaus' grants, through Kafka) and how many duplicate grants bureaus hold."""

        office = await self.connect("office")
        try:
            records = await office.fetch(
                "SELECT household_id, bureau, programme, resident_id FROM assistance_records "
                "WHERE household_id = ANY($1)",
                household_ids,
            )
        finally:
            await office.close()
        seen = {(r["household_id"], r["bureau"], r["programme"], r["resident_id"]) for r in records}
        duplicates = 0
        for bureau in PROGRAMME_BUREAUS:
            connection = await self.connect(bureau)
            try:
                rows = await connection.fetch(
                    "SELECT household_id, resident_id, programme, count(*) AS n FROM grants "
                    "WHERE household_id = ANY($1) GROUP BY household_id, resident_id, programme HAVING count(*) > 1",
                    household_ids,
                )
            finally:
                await connection.close()
            duplicates += sum(row["n"] - 1 for row in rows)
        return seen, duplicates

    async def held_by(self, bureau: str, households: list[dict[str, Any]]) -> tuple[int, int]:
        """(expected, found): the grants the policy gives these households from ``bureau``, and how many of
        them the bureau's own database holds — not the office's copy, which outlives a bureau's replay."""

        enrolled = await self.enrolled([h["members"][0]["resident_id"] for h in households])
        expected = [(household_id, e) for household_id, e in self.expected(enrolled) if e.bureau == bureau]
        connection = await self.connect(bureau)
        try:
            rows = await connection.fetch(
                "SELECT household_id, programme, coalesce(resident_id, '') AS resident_id FROM grants "
                "WHERE household_id = ANY($1)",
                [h["id"] for h in enrolled],
            )
        finally:
            await connection.close()
        held = {(r["household_id"], r["programme"], r["resident_id"]) for r in rows}
        found = sum(
            1 for household_id, e in expected if any((household_id, p, e.resident_id) in held for p in e.programmes)
        )
        return len(expected), found

    async def month_paid(self, month: Period) -> MonthPaid:
        registry = await self.connect("registry")
        try:
            # Every month of every household: its lines, and how many of them of one kind.
            lines = await registry.fetch(
                "SELECT household_id, period, kind, count(*) AS n, sum(amount) AS amount FROM payments "
                "GROUP BY household_id, period, kind"
            )
            payable = await registry.fetch("SELECT id, enrolled_on, allowance_schedule FROM households")
        finally:
            await registry.close()
        this_month: dict[str, Decimal] = {}
        for row in lines:
            if row["period"] == month.label:
                this_month[row["household_id"]] = this_month.get(row["household_id"], Decimal(0)) + row["amount"]
        owed = {
            row["id"]: allowance_for_month(_schedule(row["allowance_schedule"]), month, row["enrolled_on"])
            for row in payable
        }
        return MonthPaid(
            households=len(payable),
            owed=sum(1 for amount in owed.values() if amount > 0),
            paid_right=sum(1 for key, amount in owed.items() if amount > 0 and this_month.get(key) == amount),
            duplicates=sum(row["n"] - 1 for row in lines),
            paid={key: amount for key, amount in this_month.items() if amount > 0},
        )

    async def office_heard(self, period: str, expected: dict[str, Decimal], timeout: float = 120) -> dict[str, Any]:
        """The registry's payments of ``period`` as the office has them, once they match ``expected`` (or time is up)."""

        heard: dict[str, Any] = {}
        office = await self.connect("office")
        try:
            for _ in range(int(timeout * 2)):
                heard = dict(
                    await office.fetch(
                        "SELECT household_id, sum(amount) FROM assistance_payments "
                        "WHERE bureau = 'civil_affairs' AND period = $1 GROUP BY household_id",
                        period,
                    )
                )
                if heard == expected:
                    break
                await asyncio.sleep(0.5)
        finally:
            await office.close()
        return heard

    async def settle(self, scenario: str, households: list[dict[str, Any]], timeout: float = 240) -> Counts:
        """Wait until every expected grant has reached the office (or time runs out); count."""

        heads = [h["members"][0]["resident_id"] for h in households]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            enrolled = await self.enrolled(heads)
            expected = self.expected(enrolled)
            seen, duplicates = await self.granted([h["id"] for h in enrolled])
            missing = Counter(
                (e.bureau, min(e.programmes))
                for household_id, e in expected
                if not any((household_id, e.bureau, p, e.resident_id) in seen for p in e.programmes)
            )
            found = len(expected) - sum(missing.values())
            counts = Counts(scenario, len(enrolled), len(expected), found, duplicates, len(expected) - found, missing)
            if (
                counts.lost == 0 and counts.enrolled == len(households)
            ) or asyncio.get_running_loop().time() > deadline:
                return counts
            await asyncio.sleep(1)


class _Member:
    """A registry member row with the attributes the entitlement rules read."""

    def __init__(self, row: Any) -> None:
        for key in (
            "resident_id",
            "sex",
            "birth_date",
            "relation",
            "able_to_work",
            "employment_status",
            "unemployed_since",
            "disabled",
            "school_stage",
            "boarding",
        ):
            setattr(self, key, row[key])


class Caseloads:
    """Households for the scenarios, all from one generator so no two scenarios share a person."""

    def __init__(self, per_scenario: int, scenarios: int, seed: int = 2004) -> None:
        self.per_scenario = per_scenario
        self.all = generate(per_scenario * scenarios, seed=seed)
        self.next = 0

    def take(self, count: int | None = None) -> list[dict[str, Any]]:
        count = count or self.per_scenario
        households, self.next = self.all[self.next : self.next + count], self.next + count
        return households


def _schedule(raw: str | list[Any]) -> list[AllowanceStep]:
    return [AllowanceStep.model_validate(step) for step in (json.loads(raw) if isinstance(raw, str) else raw)]


def digest(rows: list[Any]) -> Counter:
    return Counter(tuple(row) for row in rows)
