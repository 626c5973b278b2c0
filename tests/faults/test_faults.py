"""Fault injection on the real system: nothing lost, nothing granted twice.

Every service (the registry, six bureaus, the office) runs as a separate process on a private Kafka broker and PostgreSQL server, while
a stream of enrolments flows. Each scenario injects one fault, then checks that every household got
exactly the grants the policy gives it — as the leading-group office sees them through Kafka — and
prints its counts. ``FAULT_HOUSEHOLDS`` sets the households per scenario (CI: 120; try 2000).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from bench.system import run
from shared.events import (
    HOUSEHOLDS_TOPIC,
    AllowanceStep,
    HouseholdEnrolled,
    MemberSnapshot,
    encode,
    envelope_for,
)
from shared.kafka import read_to_end
from shared.periods import city_today, month_of
from shared.services import GRANTING_SERVICES
from shared.services import NAMES as SERVICES
from tests.faults.harness import PER_SCENARIO, Caseloads, Counts, FaultSystem, assert_exact, digest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def system():
    # A folder of its own, not under pytest's basetemp: the PostgreSQL server runs as the postgres user and
    # needs to traverse the folder's parents, and any other pytest process starting meanwhile puts
    # /tmp/pytest-of-<user> back to mode 0700 (seen: initdb's "Permission denied" while helpers ran tests).
    workdir = Path(tempfile.mkdtemp(prefix="harbin-faults-"))
    system = FaultSystem(workdir)
    try:
        await system.up()  # inside: a start that fails still stops what did start
        system.caseloads = Caseloads(PER_SCENARIO, scenarios=9)
        yield system
    finally:
        await system.down()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_bureau_killed_mid_stream_and_restarted(system, report):
    households = system.caseloads.take()
    third = asyncio.Event()
    stream = asyncio.create_task(system.enrol_stream(households, progress=third))
    await third.wait()
    await system.kill("education")
    await asyncio.sleep(2)
    await system.start("education")
    await stream
    counts = await system.settle("bureau SIGKILL + restart", households)
    report(counts)
    assert_exact(counts, len(households))


async def test_kafka_stopped_mid_stream_and_restarted(system, report):
    households = system.caseloads.take()
    third = asyncio.Event()
    stream = asyncio.create_task(system.enrol_stream(households, progress=third))
    await third.wait()
    await system.stop_kafka()
    await asyncio.sleep(8)
    await system.start_kafka()
    await stream
    counts = await system.settle("Kafka broker stopped + restarted", households)
    report(counts)
    assert_exact(counts, len(households))


async def test_registry_killed_after_commit_before_publishing(system, report):
    households = system.caseloads.take()
    await system.kill("registry", signal.SIGTERM)
    await system.start("registry", outbox_relay_enabled="false")
    await system.enrol_stream(households)
    registry = await system.connect("registry")
    try:
        unsent = await registry.fetchval("SELECT count(*) FROM outbox_messages")
    finally:
        await registry.close()
    assert unsent >= len(households), "the enrolments are committed and not yet published"
    await system.kill("registry")  # SIGKILL: the process dies with its outbox unsent
    await system.start("registry")
    counts = await system.settle("registry killed before publishing", households)
    report(counts)
    assert_exact(counts, len(households))


async def test_postgres_restarted_under_load(system, report):
    households = system.caseloads.take()
    third = asyncio.Event()
    stream = asyncio.create_task(system.enrol_stream(households, progress=third))
    await third.wait()
    await system.restart_postgres()
    await stream
    counts = await system.settle("PostgreSQL restarted under load", households)
    report(counts)
    assert_exact(counts, len(households))
    for service in SERVICES:  # recovered by themselves: nobody restarted them
        async with system.client(service) as http:
            assert (await http.get("/ready")).status_code == 200, service


async def _produce(system: FaultSystem, items: list[tuple[bytes | None, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value, headers in items:
            await producer.send_and_wait(HOUSEHOLDS_TOPIC, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_duplicate_events_injected_have_one_effect(system, report):
    households = system.caseloads.take()
    await system.enrol_stream(households)
    before = await system.settle("(before duplicates)", households)
    assert before.lost == 0
    records = await read_to_end(system.kafka, [HOUSEHOLDS_TOPIC])
    ids = {h["id"] for h in await system.enrolled([h["members"][0]["resident_id"] for h in households])}
    copies = [(r.key, r.value, list(r.headers)) for r in records if r.key.decode() in ids]
    await _produce(system, copies * 2)  # every event of these households, twice more
    await asyncio.sleep(5)
    counts = await system.settle(f"{len(copies) * 2} duplicate events injected", households)
    report(counts)
    assert_exact(counts, len(households))


async def test_poison_messages_are_dead_lettered_and_a_fixed_one_requeued(system, report, tmp_path):
    households = system.caseloads.take()
    member = households[0]["members"][0]
    synthetic = HouseholdEnrolled(
        household_id="poison-test-household",
        division_code="230102",
        address="测试",
        heating="central",
        housing_area_m2=Decimal("40"),
        monthly_income=Decimal("0.00"),
        monthly_allowance=Decimal("200.00"),
        enrolled_on=date(2026, 1, 1),
        allowance_schedule=[AllowanceStep(effective_from=date(2026, 1, 1), amount=Decimal("200.00"))],
        members=[
            MemberSnapshot(
                resident_id="11010519491231002X",
                name="测试",
                sex="female",
                birth_date=date(1949, 12, 31),
                relation="head",
                able_to_work=False,
                employment_status="retired",
            )
        ],
    )
    fixed = envelope_for(synthetic, "registry")
    unknown_version = fixed.model_copy(update={"version": 99})
    await _produce(
        system, [(b"poison-test-household", b"{not json", []), (b"poison-test-household", encode(unknown_version), [])]
    )
    await system.enrol_stream(households)  # the consumers go on past them
    counts = await system.settle("malformed + unknown version", households)
    report(counts)
    assert_exact(counts, len(households))

    env = {"HARBIN_KAFKA": system.kafka, "HARBIN_TOPIC_PREFIX": ""}
    listing = await run(sys.executable, "-m", "ops", "dlq", "list", env=env)
    for consumer in (*GRANTING_SERVICES, "office"):  # every reader of the caseload dead-letters them
        lines = [line for line in listing.splitlines() if line.startswith(f"{consumer}.{HOUSEHOLDS_TOPIC}.dlq ")]
        assert len(lines) == 2, listing
        assert all(f"from {HOUSEHOLDS_TOPIC}[" in line for line in lines)
    unknown = next(
        line
        for line in listing.splitlines()
        if line.startswith(f"medical.{HOUSEHOLDS_TOPIC}.dlq ") and "version 99" in line
    )
    topic, partition, offset = unknown.split()[:3]
    fixed_file = tmp_path / "fixed.json"
    fixed_file.write_bytes(encode(fixed))
    await run(
        sys.executable, "-m", "ops", "dlq", "requeue", topic, partition, offset, "--fixed", str(fixed_file), env=env
    )
    medical = await system.connect("medical")
    try:
        for _ in range(60):
            if await medical.fetchval("SELECT count(*) FROM grants WHERE household_id = 'poison-test-household'"):
                break
            await asyncio.sleep(0.5)
        assert (
            await medical.fetchval(
                "SELECT count(*) FROM grants WHERE household_id = 'poison-test-household' "
                "AND programme = 'medical_assistance'"
            )
            == 1
        )
    finally:
        await medical.close()
    assert member["resident_id"]


async def test_bureau_database_wiped_is_rebuilt_by_replay(system, report):
    households = system.caseloads.take()
    await system.enrol_stream(households)
    assert (await system.settle("(before the wipe)", households)).lost == 0
    query = (
        "SELECT household_id, resident_id, programme, status, granted_on, revoked_on, monthly_amount "
        "FROM grants WHERE source = 'event'"
    )
    medical = await system.connect("medical")
    try:
        before = digest(await medical.fetch(query))
    finally:
        await medical.close()
    await system.kill("medical")
    await system.wipe_database("medical")
    await system.start("medical")
    after: object = None
    for _ in range(240):
        medical = await system.connect("medical")
        try:
            after = digest(await medical.fetch(query))
        finally:
            await medical.close()
        if after == before:
            break
        await asyncio.sleep(0.5)
    counts = await system.settle(f"medical wiped, {sum(before.values())} grants replayed", households)
    report(counts)
    assert after == before
    assert_exact(counts, len(households))


async def test_payment_run_interrupted_half_way_pays_everyone_once(system, report):
    households = system.caseloads.take()
    await system.enrol_stream(households)
    month = month_of(city_today())
    period = month.label
    await system.kill("registry", signal.SIGTERM)
    await system.start("registry", run_batch_size="10")
    registry = await system.connect("registry")
    settled = "SELECT count(DISTINCT household_id) FROM payments WHERE run_period = $1"
    try:
        due = await registry.fetchval("SELECT count(*) FROM households WHERE settled_through IS NULL")
        async with system.client("registry") as http:
            run_task = asyncio.create_task(http.post("/payment-runs", json={"period": period}))
            for _ in range(400):
                if await registry.fetchval(settled, period):
                    break
                await asyncio.sleep(0.01)
            await system.kill("registry")  # half-way: some batches committed, the rest not
            run_task.cancel()
        interrupted = await registry.fetchval(settled, period)
        await system.start("registry")
        async with system.client("registry") as http:
            second = (await http.post("/payment-runs", json={"period": period})).json()
            third = (await http.post("/payment-runs", json={"period": period})).json()
    finally:
        await registry.close()
    paid = await system.month_paid(month)
    counts = Counts(
        f"payment run killed after {interrupted} of {due}",
        paid.households,
        paid.owed,
        paid.paid_right,
        paid.duplicates,
        paid.owed - paid.paid_right,
    )
    report(counts)
    assert 0 < interrupted < due, "the run was interrupted half-way"
    assert second["households_paid"] == paid.owed - interrupted
    assert third["households_paid"] == 0
    assert paid.duplicates == 0 and counts.lost == 0
    # The office hears of every payment once, the killed run's committed batches included.
    assert await system.office_heard(period, paid.paid) == paid.paid and len(paid.paid) == paid.owed
