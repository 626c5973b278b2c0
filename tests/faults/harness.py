"""The real system for fault injection: a private Kafka broker and PostgreSQL server this suite may stop,
restart and wipe, and the seven services as separate uvicorn processes it may kill."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.caseload import generate
from services.registry import rules
from shared.entitlements import WorkingAge
from shared.migrations import SERVICES
from tests.support import token

ROOT = Path(__file__).resolve().parents[2]
PROGRAMME_BUREAUS = ("medical", "education", "housing", "employment", "utilities", "legal")
CRITERIA = rules.AssessmentCriteria(housing_area_per_person=Decimal("8"), working_age=WorkingAge(16, 60, 55),
                                    unemployed_years=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_pair() -> int:
    """A free port whose successor is free too (Kafka's controller listens on the next port)."""

    for _ in range(1000):
        port = random.randrange(20_000, 30_000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue
    raise RuntimeError("no two free ports in a row")


async def run(*command: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    process = await asyncio.create_subprocess_exec(*command, env={**os.environ, **(env or {})}, cwd=ROOT,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(process.communicate(), timeout))[0].decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return output


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
        return (f"{self.scenario:<34} enrolled={self.enrolled:<6} expected grants={self.expected:<6} "
                f"found={self.found:<6} duplicates={self.duplicates:<3} lost={self.lost}")


class FaultSystem:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kafka_port = free_port_pair()
        self.pg_port = free_port()
        self.kafka = f"127.0.0.1:{self.kafka_port}"
        self.ports = {service: free_port() for service in SERVICES}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.token = token()
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    # ---- infrastructure ----------------------------------------------------------------------

    @property
    def kafka_env(self) -> dict[str, str]:
        return {"KAFKA_PORT": str(self.kafka_port), "KAFKA_RUN_DIR": str(self.workdir / "kafka")}

    @property
    def pg_env(self) -> dict[str, str]:
        return {"PG_PORT": str(self.pg_port), "PG_DATA": str(self.workdir / "pg" / "data")}

    async def start_kafka(self) -> None:
        await run(str(ROOT / "scripts" / "kafka.sh"), "start", env=self.kafka_env)

    async def stop_kafka(self) -> None:
        await run(str(ROOT / "scripts" / "kafka.sh"), "stop", env=self.kafka_env)

    async def start_postgres(self) -> None:
        (self.workdir / "pg").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(self.workdir, 0o755)
            for parent in self.workdir.parents:
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o111)
        await run(str(ROOT / "scripts" / "postgres.sh"), "start", env=self.pg_env)

    async def restart_postgres(self) -> None:
        await run(str(ROOT / "scripts" / "postgres.sh"), "restart", env=self.pg_env)

    async def stop_postgres(self) -> None:
        await run(str(ROOT / "scripts" / "postgres.sh"), "stop", env=self.pg_env)

    def database_url(self, service: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{service}"

    async def connect(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", database=service)

    async def migrate(self, service: str) -> None:
        await run(sys.executable, "-m", "shared.migrations", service, "--url", self.database_url(service))

    async def wipe_database(self, service: str) -> None:
        admin = await asyncpg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", database="postgres")
        try:
            await admin.execute(f'DROP DATABASE "{service}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{service}"')
        finally:
            await admin.close()
        await self.migrate(service)

    # ---- services ----------------------------------------------------------------------------

    async def start(self, service: str, **settings: str) -> None:
        prefix = service.upper()
        env = {f"{prefix}_DATABASE_URL": self.database_url(service), f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
               f"{prefix}_ENVIRONMENT": "test", f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
               **{f"{prefix}_{key.upper()}": value for key, value in settings.items()}}
        log = open(self.workdir / "logs" / f"{service}.log", "ab")
        self.processes[service] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "--factory", f"services.{service}.main:create_app",
            "--host", "127.0.0.1", "--port", str(self.ports[service]), env={**os.environ, **env}, cwd=ROOT,
            stdout=log, stderr=log)
        await self.wait_healthy(service)

    async def wait_healthy(self, service: str, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{self.ports[service]}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self.processes[service].returncode is not None:
                    raise RuntimeError(f"{service} exited; see {self.workdir / 'logs' / service}.log")
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{service} did not come up")
                await asyncio.sleep(0.2)

    async def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(service)
        process.send_signal(sig)
        await process.wait()

    async def stop_all(self) -> None:
        for service in list(self.processes):
            await self.kill(service, signal.SIGTERM)

    def client(self, service: str, timeout: float = 120) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.ports[service]}", timeout=timeout,
                                 headers={"Authorization": f"Bearer {self.token}"})

    # ---- load --------------------------------------------------------------------------------

    async def enrol_stream(self, households: list[dict[str, Any]], batch: int = 25,
                           progress: asyncio.Event | None = None) -> None:
        """Enrol as an agency would: batch after batch, retrying what failed for infrastructure reasons.

        A batch whose response was lost may have landed: retrying it then reports those households as
        already enrolled (person_in_active_household), which is fine — the registry is the truth.
        """

        async with self.client("registry") as http:
            for start in range(0, len(households), batch):
                chunk = households[start:start + batch]
                for attempt in range(600):
                    try:
                        response = await http.post("/households/bulk", json={"households": chunk})
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

    # ---- what the policy gives, and what was granted ----------------------------------------

    async def enrolled(self, heads: list[str]) -> list[dict[str, Any]]:
        registry = await self.connect("registry")
        try:
            rows = await registry.fetch(
                "SELECT h.id, h.heating, h.housing_area_m2, h.enrolled_on, h.status FROM households h "
                "JOIN members m ON m.household_id = h.id WHERE m.relation = 'head' AND m.resident_id = ANY($1)", heads)
            members = await registry.fetch(
                "SELECT * FROM members WHERE removed = false AND household_id = ANY($1)", [r["id"] for r in rows])
        finally:
            await registry.close()
        by_household: dict[str, list[Any]] = {}
        for member in members:
            by_household.setdefault(member["household_id"], []).append(_Member(member))
        return [dict(row) | {"members": by_household.get(row["id"], [])} for row in rows]

    def expected(self, households: list[dict[str, Any]]) -> list[tuple[str, rules.Expectation]]:
        return [(household["id"], expectation) for household in households
                for expectation in rules.expected_assistance(
                    heating=household["heating"], housing_area_m2=Decimal(household["housing_area_m2"]),
                    enrolled_on=household["enrolled_on"], members=household["members"], on=date.today(),
                    criteria=CRITERIA)]

    async def granted(self, household_ids: list[str]) -> tuple[set[tuple[str, str, str, str]], int]:
        """What the office sees (all bureaus' grants, through Kafka) and how many duplicate grants bureaus hold."""

        registry = await self.connect("registry")
        try:
            records = await registry.fetch(
                "SELECT household_id, bureau, programme, resident_id FROM assistance_records "
                "WHERE household_id = ANY($1)", household_ids)
        finally:
            await registry.close()
        seen = {(r["household_id"], r["bureau"], r["programme"], r["resident_id"]) for r in records}
        duplicates = 0
        for bureau in PROGRAMME_BUREAUS:
            connection = await self.connect(bureau)
            try:
                rows = await connection.fetch(
                    "SELECT household_id, resident_id, programme, count(*) AS n FROM grants "
                    "WHERE household_id = ANY($1) GROUP BY household_id, resident_id, programme HAVING count(*) > 1",
                    household_ids)
            finally:
                await connection.close()
            duplicates += sum(row["n"] - 1 for row in rows)
        return seen, duplicates

    async def settle(self, scenario: str, households: list[dict[str, Any]], timeout: float = 240) -> Counts:
        """Wait until every expected grant has reached the office (or time runs out); count."""

        heads = [h["members"][0]["resident_id"] for h in households]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            enrolled = await self.enrolled(heads)
            expected = self.expected(enrolled)
            seen, duplicates = await self.granted([h["id"] for h in enrolled])
            missing = Counter((e.bureau, min(e.programmes)) for household_id, e in expected
                              if not any((household_id, e.bureau, p, e.resident_id) in seen for p in e.programmes))
            found = len(expected) - sum(missing.values())
            counts = Counts(scenario, len(enrolled), len(expected), found, duplicates, len(expected) - found, missing)
            if (counts.lost == 0 and counts.enrolled == len(households)) or asyncio.get_running_loop().time() > deadline:
                return counts
            await asyncio.sleep(1)


class _Member:
    """A registry member row with the attributes the entitlement rules read."""

    def __init__(self, row: Any) -> None:
        for key in ("resident_id", "sex", "birth_date", "relation", "able_to_work", "employment_status",
                    "unemployed_since", "disabled", "school_stage", "boarding"):
            setattr(self, key, row[key])


class Caseloads:
    """Households for the scenarios, all from one generator so no two scenarios share a person."""

    def __init__(self, per_scenario: int, scenarios: int, seed: int = 2004) -> None:
        self.per_scenario = per_scenario
        self.all = generate(per_scenario * scenarios, seed=seed)
        self.next = 0

    def take(self, count: int | None = None) -> list[dict[str, Any]]:
        count = count or self.per_scenario
        households, self.next = self.all[self.next:self.next + count], self.next + count
        return households


def digest(rows: list[Any]) -> Counter:
    return Counter(tuple(row) for row in rows)
