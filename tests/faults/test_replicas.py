"""Fault injection with two replicas of every service: nothing lost, nothing granted or paid twice.

As a cluster runs them: every service twice (``medical`` and ``medical-2``, …), both replicas on the
service's one database and in its one consumer group, the registry's batches sent round both replicas
as a load balancer would. Each scenario injects a fault that only replicas have — a replica dying with
partitions in hand, every replica restarted in turn under load, two replicas running one payment run, a
replay refused beside a replica and then joined by one mid-way — and counts as ``test_faults`` counts.
``FAULT_HOUSEHOLDS`` sets the households per scenario (CI: 120).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from shared.periods import city_today, month_of
from shared.services import NAMES as SERVICES
from tests.faults.harness import PER_SCENARIO, Caseloads, Counts, FaultSystem, assert_exact, digest

pytestmark = pytest.mark.integration

REPLICAS = 2


@pytest.fixture(scope="module")
async def system():
    workdir = Path(tempfile.mkdtemp(prefix="harbin-replicas-"))  # not under pytest's basetemp: see test_faults
    system = FaultSystem(workdir, replicas=REPLICAS)
    try:
        await system.up()  # inside: a start that fails still stops what did start
        system.caseloads = Caseloads(PER_SCENARIO, scenarios=5, seed=2005)
        yield system
    finally:
        await system.down()
        shutil.rmtree(workdir, ignore_errors=True)


async def _until(check, what: str, timeout: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


async def test_a_replica_of_every_service_killed_mid_fan_out_hands_its_partitions_over(system, report):
    households = system.caseloads.take()
    victims = [f"{service}-2" for service in SERVICES]
    # The first scenario of the module: replicas that have just started may still be joining their group.
    # Every victim ready, and a stream slow enough (about 10 s) for the group to hand each its partitions.
    await asyncio.gather(*(system.wait_ready(victim) for victim in victims))
    before = {victim: await system.handled(victim) for victim in victims}
    third = asyncio.Event()
    stream = asyncio.create_task(system.enrol_stream(households, batch=5, progress=third, pause=0.4))
    await third.wait()

    async def each_victim_is_handling_its_share() -> bool:
        # Every reader of the caseload holds partitions of it; the registry reads only employment.members.
        readers = [victim for victim in victims if not victim.startswith("registry")]
        return all([await system.handled(victim) > before[victim] for victim in readers])

    await _until(each_victim_is_handling_its_share, "every second replica handling events of its partitions")
    for victim in victims:
        await system.kill(victim)  # SIGKILL: no goodbye to the group; its partitions move after the session timeout
    await stream
    counts = await system.settle(f"a replica of all {len(SERVICES)} SIGKILLed", households)
    report(counts)
    assert_exact(counts, len(households))
    await asyncio.gather(*(system.start(victim) for victim in victims))


async def test_a_rolling_restart_of_every_replica_under_load(system, report):
    households = system.caseloads.take()
    instances = [instance for service in SERVICES for instance in system.instances(service)]
    share = -(-len(households) // len(instances))
    for number, instance in enumerate(instances):
        # Enrolments flow while each replica goes down and comes back: one replica at a time, the next only
        # once it is ready, as a Deployment's rollout goes.
        chunk = households[number * share : (number + 1) * share]
        stream = asyncio.create_task(system.enrol_stream(chunk, batch=2))
        await system.kill(instance, signal.SIGTERM)
        await system.start(instance)
        await system.wait_ready(instance)
        await stream
    counts = await system.settle(f"rolling restart of {len(instances)} replicas", households)
    report(counts)
    assert_exact(counts, len(households))


async def test_two_replicas_starting_the_same_payment_run_at_once_pay_each_household_once(system, report):
    households = system.caseloads.take()
    await system.enrol_stream(households)
    month = month_of(city_today())
    period = month.label
    async with system.client("registry") as first, system.client("registry-2") as second:
        responses = await asyncio.gather(
            first.post("/payment-runs", json={"period": period}), second.post("/payment-runs", json={"period": period})
        )
        assert [response.status_code for response in responses] == [200, 200], [r.text for r in responses]
        again = (await second.post("/payment-runs", json={"period": period})).json()
    paid = await system.month_paid(month)
    runs = [response.json()["households_paid"] for response in responses]
    counts = Counts(
        f"one payment run on two replicas ({runs[0]} + {runs[1]} paid)",
        paid.households,
        paid.owed,
        paid.paid_right,
        paid.duplicates,
        paid.owed - paid.paid_right,
    )
    report(counts)
    # Between them the two runs paid each household owed something once: what one run alone pays.
    assert paid.owed > 0 and sum(runs) == paid.owed, runs
    assert paid.duplicates == 0 and counts.lost == 0
    assert again["households_paid"] == 0
    assert await system.office_heard(period, paid.paid) == paid.paid


async def test_a_replay_is_refused_beside_a_replica_and_loses_nothing_when_one_joins_mid_way(system, report):
    households = system.caseloads.take()
    await system.enrol_stream(households)
    assert (await system.settle("(before the replay)", households)).lost == 0
    query = (
        "SELECT household_id, resident_id, programme, status, granted_on, revoked_on, monthly_amount "
        "FROM grants WHERE source = 'event'"
    )

    async def medical_grants() -> Counter:
        medical = await system.connect("medical")
        try:
            return digest(await medical.fetch(query))
        finally:
            await medical.close()

    before = await medical_grants()
    async with system.client("medical") as http:
        # Beside the other replica, which holds part of the partitions: refused, and nothing deleted.
        refused = await http.post("/admin/replay")
        assert refused.status_code == 409 and refused.json()["code"] == "replay_needs_one_replica", refused.text
        assert await medical_grants() == before
        # Scaled to one, with households still arriving: replayed once it holds every partition, and the
        # second replica comes back at once, as an autoscaler adds one for the lag a replay makes. It joins
        # a group whose positions were just deleted: it must read its partitions from the beginning too.
        more = system.caseloads.take()
        stream = asyncio.create_task(system.enrol_stream(more, batch=5, pause=0.2))
        await system.kill("medical-2", signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + 120
        while (response := await http.post("/admin/replay")).status_code == 409:
            assert asyncio.get_running_loop().time() < deadline, response.text
            await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"]["consumer_positions"] > 0
    await system.start("medical-2")
    await stream

    async def medical_holds_every_grant() -> bool:
        expected, found = await system.held_by("medical", households + more)
        return found == expected

    await _until(medical_holds_every_grant, "medical's own grants rebuilt", timeout=240)
    after = await medical_grants()
    counts = await system.settle(f"replay, a replica joining, {sum(before.values())} grants", households + more)
    report(counts)
    # What was there before is there again, and nothing of the new households is missing (settle counts
    # the bureaus' duplicates).
    assert Counter({row: n for row, n in after.items() if row in before}) == before
    assert_exact(counts, len(households) + len(more))
