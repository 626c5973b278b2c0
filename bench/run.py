"""The benchmark: the whole system, as the README starts it, on a synthetic Harbin caseload.

    python -m bench.run --households 100000 --database postgres
    python -m bench.run --households 500 --database sqlite          (the smoke size CI runs)

It starts its own Kafka broker (and PostgreSQL server) and every service as a separate process (the
registry, the six bureaus and the leading-group office),
and measures, in one run:

1. bulk enrolment: households/s into the registry (POST /households/bulk, 1,000 a request);
2. end-to-end fan-out: from the first enrolment until every bureau has consumed every enrolment
   (its grants commit with its consumer position) and the office every enrolment and every grant,
   then checked against what the plan gives, as the office's assessment sees it;
3. latency under steady load: single enrolments at a fixed rate; enrolment → AssistanceGranted
   on ``assistance.grants``, per bureau, p50 and p99;
4. monthly runs: the dibao payment run and the heating supplement run over the caseload;
5. replay: the medical service rebuilding from its topics, events/s;
6. memory: each service's peak RSS;

and the baselines that bound what this machine can do: raw aiokafka produce-and-consume of as many
events of the same size, and a raw bulk insert of the same rows into the same kind of database.
Results go to ``bench/results/<date>-<database>-<n>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.caseload import generate
from bench.system import LocalSystem
from shared.db import Area, Money
from shared.events import GRANTS_TOPIC, HOUSEHOLDS_TOPIC, decode_envelope
from shared.periods import add_months, city_today, month_of
from shared.services import GRANTING_SERVICES as BUREAUS
from shared.services import NAMES as SERVICES

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds(service_pids: dict[str, int], workdir: Path) -> dict[str, float]:
    """CPU time (user + system) so far of each service, of the run's Kafka broker and of its PostgreSQL
    server (the postmaster and its backends): only the processes under ``workdir``, not another broker
    or database server the machine runs (a developer's, a test run's)."""

    tick = os.sysconf("SC_CLK_TCK")
    by_pid = {pid: service for service, pid in service_pids.items()}
    ours = str(workdir).encode()
    stats: dict[int, tuple[int, float, str, bytes]] = {}  # pid: (parent, cpu, name, command)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, name, command)
    postmasters = {pid for pid, (_, _, name, command) in stats.items() if name == "postgres" and ours in command}
    totals: dict[str, float] = defaultdict(float)
    for pid, (parent, used, name, command) in stats.items():
        if pid in by_pid:
            totals[by_pid[pid]] += used
        elif b"kafka.Kafka" in command and ours in command:
            totals["kafka"] += used
        elif pid in postmasters or (name == "postgres" and parent in postmasters):
            totals["postgres"] += used
    return dict(totals)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Bench:
    def __init__(self, system: LocalSystem, households: int, seed: int, rates: list[int], seconds: int) -> None:
        self.system = system
        self.count = households
        self.seed = seed
        self.rates = rates
        self.seconds = seconds
        self.results: dict[str, Any] = {}

    # ---- helpers -------------------------------------------------------------------------------

    async def positions(self, service: str, topic: str) -> int:
        """How many events of ``topic`` the service has committed (from its own database)."""

        async with self.system.client(service) as http:
            state = (await http.get("/admin/consumer")).json()
        return sum(offset for key, offset in state["positions"].items() if key.split("/")[0] == topic)

    async def end_offsets(self, topic: str) -> int:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.system.kafka, enable_auto_commit=False)
        await consumer.start()
        try:
            for _ in range(50):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.1)
            ends = await consumer.end_offsets(list(consumer.assignment()))
        finally:
            await consumer.stop()
        return sum(ends.values())

    async def unpublished(self, service: str) -> int:
        if self.system.database == "sqlite":
            import sqlite3

            with sqlite3.connect(f"file:{self.system.workdir / 'db' / service}.db?mode=ro", uri=True) as db:
                return int(db.execute("SELECT count(*) FROM outbox_messages").fetchone()[0])
        connection = await self.system.connect(service)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM outbox_messages"))
        finally:
            await connection.close()

    async def wait_consumed(self, services: tuple[str, ...], topic: str, target: int, timeout: float) -> float:
        """Seconds until every service has committed ``target`` events of ``topic``."""

        started = time.perf_counter()
        while True:
            done = [await self.positions(s, topic) >= target for s in services]
            if all(done):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"not consumed within {timeout} s: {dict(zip(services, done, strict=True))}")
            await asyncio.sleep(0.25)

    async def drained(self, timeout: float) -> tuple[int, int]:
        """Wait until every bureau has consumed every enrolment and the office every grant; returns
        how many household and grant events there were."""

        while await self.unpublished("registry"):
            await asyncio.sleep(0.1)
        events = await self.end_offsets(HOUSEHOLDS_TOPIC)
        await self.wait_consumed((*BUREAUS, "office"), HOUSEHOLDS_TOPIC, events, timeout=timeout)
        for bureau in BUREAUS:
            while await self.unpublished(bureau):
                await asyncio.sleep(0.1)
        grants = await self.end_offsets(GRANTS_TOPIC)
        await self.wait_consumed(("office",), GRANTS_TOPIC, grants, timeout=timeout)
        return events, grants

    async def rows_written(self) -> dict[str, int] | None:
        """Row versions written so far in each service's tables, by PostgreSQL's own counters: inserts
        and updates (an update writes a new version; a delete only flags the old one). None on SQLite,
        which keeps no such counters."""

        if self.system.database != "postgres":
            return None
        written: dict[str, int] = {}
        for service in SERVICES:
            connection = await self.system.connect(service)
            try:
                for table, count in await connection.fetch(
                    "SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables"
                ):
                    written[f"{service}.{table}"] = int(count)
            finally:
                await connection.close()
        return written

    # ---- 1 and 2: bulk enrolment and fan-out -------------------------------------------------

    def service_pids(self) -> dict[str, int]:
        """Every process of every service, by instance (``medical``, ``medical-2`` with ``--replicas 2``)."""

        return {
            instance: self.system.pid(instance) for service in SERVICES for instance in self.system.instances(service)
        }

    async def enrolment_and_fan_out(self, households: list[dict[str, Any]]) -> None:
        rows_before = await self.rows_written()
        cpu_before = cpu_seconds(self.service_pids(), self.system.workdir)
        started = time.perf_counter()
        async with self.system.client("registry") as http:
            for start in range(0, len(households), 1000):
                response = await http.post("/households/bulk", json={"households": households[start : start + 1000]})
                response.raise_for_status()
                assert response.json()["rejected"] == 0, response.json()["results"][:3]
        enrolled = time.perf_counter() - started
        events, grants = await self.drained(timeout=max(600, len(households) / 20))
        fan_out = time.perf_counter() - started
        cpu_after = cpu_seconds(self.service_pids(), self.system.workdir)
        cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 1) for name in sorted(cpu_after)}
        self.results["bulk_enrolment"] = {
            "households": len(households),
            "seconds": round(enrolled, 2),
            "households_per_second": round(len(households) / enrolled, 1),
        }
        self.results["fan_out"] = {
            "households": len(households),
            "seconds": round(fan_out, 2),
            "households_per_second": round(len(households) / fan_out, 1),
            "household_events": events,
            "grant_events": grants,
            "cpu_seconds": cpu,
            "peak_rss_mb": self.peak_rss(),
        }
        self.results["fan_out"]["check"] = await self.check_granted(households)
        if rows_before is not None:
            # An idle backend may hold its counts up to PostgreSQL's 10 s idle-flush interval.
            await asyncio.sleep(11)
            rows_after = await self.rows_written()
            assert rows_after is not None  # counted before, so this is PostgreSQL
            by_table = {
                table: count - rows_before.get(table, 0)
                for table, count in sorted(rows_after.items())
                if count - rows_before.get(table, 0)
            }
            self.results["fan_out"]["rows_written"] = sum(by_table.values())
            self.results["fan_out"]["rows_written_by_table"] = by_table

    def bound_fan_out(self) -> None:
        """How long the fan-out's own volume takes at the baselines' rates, one after the other: what
        moving these events and writing these rows costs on this machine, one client each, before any
        of the bureaus' work.

        A baseline event is produced once and consumed once. The fan-out produces every household
        event once and six bureaus and the office consume it; every grant event is produced once and
        the office consumes it."""

        fan_out = self.results["fan_out"]
        if "rows_written" not in fan_out:
            return
        pairs = (fan_out["household_events"] * (1 + len(BUREAUS) + 1) + fan_out["grant_events"] * 2) / 2
        kafka_seconds = pairs / self.results["baseline_kafka"]["events_per_second"]
        insert_seconds = fan_out["rows_written"] / self.results["baseline_insert"]["rows_per_second"]
        fan_out["baseline_bound"] = {
            "kafka_seconds": round(kafka_seconds, 1),
            "insert_seconds": round(insert_seconds, 1),
            "seconds": round(kafka_seconds + insert_seconds, 1),
        }

    async def check_granted(self, households: list[dict[str, Any]]) -> dict[str, int]:
        """Every household has what the plan gives it, bureau by bureau (as the office sees it)."""

        return await expected_and_found(self.system)

    # ---- 3: latency under steady load ----------------------------------------------------------

    async def latency(self, households: list[dict[str, Any]], rate: int) -> None:
        # Each rate starts on a quiet system: a backlog left by the previous measure is not this one's.
        await self.drained(timeout=600)
        sent: dict[str, float] = {}
        arrived: dict[str, dict[str, float]] = defaultdict(dict)
        consumer = AIOKafkaConsumer(
            GRANTS_TOPIC, bootstrap_servers=self.system.kafka, auto_offset_reset="latest", enable_auto_commit=False
        )
        await consumer.start()
        for _ in range(100):
            if consumer.assignment():
                break
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.seek_to_end(tp)
        stop = asyncio.Event()

        async def listen() -> None:
            while not stop.is_set():
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    now = time.perf_counter()
                    for record in batch:
                        envelope = decode_envelope(record.value)
                        if envelope.type == "AssistanceGranted":
                            arrived[envelope.payload["bureau"]].setdefault(envelope.key, now)

        listener = asyncio.create_task(listen())
        # An agency's system keeps a bounded number of requests in flight; latency counts from the moment
        # an enrolment was due to be sent, so time spent queueing behind a busy registry counts too.
        in_flight = asyncio.Semaphore(64)
        async with self.system.client("registry") as http:

            async def one(body: dict[str, Any], due: float) -> None:
                async with in_flight:
                    response = await http.post("/households", json=body)
                response.raise_for_status()
                sent[response.json()["id"]] = due

            interval, tasks, begin = 1 / rate, [], time.perf_counter()
            for index, body in enumerate(households):
                due = begin + index * interval
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                tasks.append(asyncio.create_task(one(body, due)))
            await asyncio.gather(*tasks)
            achieved = len(households) / (time.perf_counter() - begin)
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and any(
            len(arrived[b]) < len(sent) for b in ("medical", "utilities", "legal")
        ):
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # the bureaus that serve only some households
        stop.set()
        await listener
        await consumer.stop()
        per_bureau = {}
        for bureau in BUREAUS:
            latencies = [arrived[bureau][h] - sent[h] for h in sent if h in arrived[bureau]]
            per_bureau[bureau] = {
                "granted": len(latencies),
                "p50_ms": _ms(percentile(latencies, 0.5)),
                "p99_ms": _ms(percentile(latencies, 0.99)),
            }
        self.results.setdefault("latency", []).append(
            {
                "target_rate": rate,
                "achieved_rate": round(achieved, 1),
                "households": len(households),
                "per_bureau": per_bureau,
            }
        )

    # ---- 4: monthly runs ---------------------------------------------------------------------

    async def monthly_runs(self) -> None:
        """The monthly runs as a city lives them: the caseload's history is settled once (every month since each
        household's enrolment, up to last month), then this month's run is timed, then run again (a repeat adds
        nothing and should cost little)."""

        this_month = month_of(city_today())
        last_month = add_months(this_month, -1)
        for name, service, path in (
            ("dibao_payment_run", "registry", "/payment-runs"),
            ("heating_supplement_run", "utilities", "/heating/supplement-runs"),
        ):
            timings = {}
            async with self.system.client(service, timeout=3600) as http:
                for step, period in (("history", last_month), ("month", this_month), ("repeat", this_month)):
                    started = time.perf_counter()
                    response = await http.post(path, json={"period": period.label})
                    response.raise_for_status()
                    timings[step] = (round(time.perf_counter() - started, 2), response.json()["households_paid"])
            self.results[name] = {
                "period": this_month.label,
                "seconds": timings["month"][0],
                "households_paid": timings["month"][1],
                "history_seconds": timings["history"][0],
                "history_households": timings["history"][1],
                "repeat_seconds": timings["repeat"][0],
            }

    # ---- 5: replay -----------------------------------------------------------------------------

    async def replay(self) -> None:
        events = await self.end_offsets(HOUSEHOLDS_TOPIC)
        # A replay is refused beside other replicas (they would not re-read theirs): as ops do it, the
        # service is scaled to one first, and back once it has caught up. Not timed: the group's rebalance.
        others = self.system.instances("medical")[1:]
        for instance in others:
            await self.system.kill(instance, signal.SIGTERM)
        async with self.system.client("medical") as http:
            for _ in range(600):
                started = time.perf_counter()
                response = await http.post("/admin/replay")
                if response.status_code != 409:  # 409 until this replica holds every partition
                    break
                await asyncio.sleep(0.2)
            response.raise_for_status()
        await self.wait_consumed(("medical",), HOUSEHOLDS_TOPIC, events, timeout=max(600, events / 20))
        elapsed = time.perf_counter() - started
        for instance in others:
            await self.system.start(instance)
        self.results["replay"] = {
            "service": "medical",
            "events": events,
            "seconds": round(elapsed, 2),
            "events_per_second": round(events / elapsed, 1),
        }

    # ---- 6: memory -----------------------------------------------------------------------------

    def peak_rss(self) -> dict[str, float]:
        peaks = {}
        for instance, pid in self.service_pids().items():
            status = Path(f"/proc/{pid}/status").read_text()
            peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            peaks[instance] = round(peak_kb / 1024, 1)
        return peaks

    def memory(self) -> None:
        self.results["peak_rss_mb"] = self.peak_rss()

    # ---- baselines -----------------------------------------------------------------------------

    async def kafka_baseline(self, count: int, sample: bytes) -> None:
        topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
        from shared.kafka import ensure_topics

        await ensure_topics(self.system.kafka, [topic])
        producer = AIOKafkaProducer(
            bootstrap_servers=self.system.kafka, enable_idempotence=True, acks="all", linger_ms=5
        )
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.system.kafka, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await producer.start()
        await consumer.start()
        try:
            started = time.perf_counter()
            futures = [await producer.send(topic, sample, key=str(i).encode()) for i in range(count)]
            await asyncio.gather(*futures)
            received = 0
            while received < count:
                for batch in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                    received += len(batch)
            elapsed = time.perf_counter() - started
        finally:
            await producer.stop()
            await consumer.stop()
        self.results["baseline_kafka"] = {
            "events": count,
            "bytes_each": len(sample),
            "seconds": round(elapsed, 2),
            "events_per_second": round(count / elapsed, 1),
        }

    async def insert_baseline(self, households: list[dict[str, Any]]) -> None:
        """The same household and member rows, straight into the same kind of database, in batches."""

        url = self.system.database_url("registry").rsplit("/", 1)[0] + "/"
        if self.system.database == "sqlite":
            url = f"sqlite+aiosqlite:///{self.system.workdir / 'db' / 'baseline'}.db"
        else:
            admin = await self.system.connect("registry")
            try:
                await admin.execute("CREATE DATABASE baseline")
            finally:
                await admin.close()
            url += "baseline"
        metadata = MetaData()
        household_table = Table(
            "households",
            metadata,
            Column("id", String(36), primary_key=True),
            Column("division_code", String(6)),
            Column("address", String(300)),
            Column("heating", String(20)),
            Column("housing_area_m2", Area()),
            Column("monthly_income", Money()),
            Column("status", String(10)),
            Column("enrolled_on", Date),
            Column("allowance_schedule", JSON),
        )
        member_table = Table(
            "members",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("household_id", String(36)),
            Column("resident_id", String(18)),
            Column("name", String(100)),
            Column("relation", String(10)),
            Column("school_stage", String(12)),
        )
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
            started, written = time.perf_counter(), 0
            for start in range(0, len(households), 1000):
                rows, members = [], []
                for household in households[start : start + 1000]:
                    household_id = str(uuid.uuid4())
                    rows.append(
                        {
                            "id": household_id,
                            "division_code": household["division_code"],
                            "address": household["address"],
                            "heating": household["heating"],
                            "housing_area_m2": Decimal(household["housing_area_m2"]),
                            "monthly_income": Decimal(household["monthly_income"]),
                            "status": "active",
                            "enrolled_on": date.fromisoformat(household["enrolled_on"]),
                            "allowance_schedule": [{"effective_from": household["enrolled_on"], "amount": "0.00"}],
                        }
                    )
                    members += [
                        {
                            "household_id": household_id,
                            "resident_id": m["resident_id"],
                            "name": m["name"],
                            "relation": m["relation"],
                            "school_stage": m.get("school_stage", "none"),
                        }
                        for m in household["members"]
                    ]
                async with engine.begin() as connection:
                    await connection.execute(insert(household_table), rows)
                    await connection.execute(insert(member_table), members)
                written += len(rows) + len(members)
            elapsed = time.perf_counter() - started
        finally:
            await engine.dispose()
        self.results["baseline_insert"] = {
            "households": len(households),
            "seconds": round(elapsed, 2),
            "households_per_second": round(len(households) / elapsed, 1),
            "rows": written,
            "rows_per_second": round(written / elapsed, 1),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def expected_and_found(system: LocalSystem) -> dict[str, int]:
    """Per bureau, households the plan says it should serve against households it served, as the office's
    assessment sees them through Kafka."""

    async with system.client("office") as http:
        result = (await http.get("/reports/assessment", params={"period": str(city_today().year)})).json()
    granted = {b["bureau"]: b["households_granted"] for b in result["bureaus"]}
    eligible = {b["bureau"]: b["households_eligible"] for b in result["bureaus"]}
    return {
        "households_eligible": sum(eligible.values()),
        "households_granted": sum(granted.values()),
        "households_missing": sum(eligible.values()) - sum(granted.values()),
    }


def _fan_out_row(r: dict[str, Any]) -> tuple[str, str, str, float | None]:
    fan_out = r["fan_out"]
    result = (
        f"{fan_out['seconds']} s for {fan_out['households']} ({fan_out['households_per_second']} households/s; "
        f"{fan_out['household_events']} household and {fan_out['grant_events']} grant events"
    )
    bound = fan_out.get("baseline_bound")
    if bound is None:  # SQLite keeps no row counters, so no bound
        return ("end-to-end fan-out", result + ")", "", None)
    return (
        "end-to-end fan-out",
        result + f", {fan_out['rows_written']} rows written)",
        f"{bound['seconds']} s for the same events at the raw Kafka rate ({bound['kafka_seconds']} s) "
        f"and the same rows at the raw insert rate ({bound['insert_seconds']} s)",
        bound["seconds"] / fan_out["seconds"],
    )


def _run_row(label: str, run: dict[str, Any]) -> tuple[str, str, str, float | None]:
    history = (
        (
            f"history through last month settled first: {run['history_seconds']} s for "
            f"{run['history_households']}; a repeat: {run['repeat_seconds']} s"
        )
        if "history_seconds" in run
        else ""
    )
    return (label, f"{run['seconds']} s for {run['households_paid']}", history, None)


def markdown(results: dict[str, Any]) -> str:
    r = results
    rows = [
        (
            "bulk enrolment",
            f"{r['bulk_enrolment']['households_per_second']} households/s",
            f"{r['baseline_insert']['households_per_second']} households/s raw insert",
            r["bulk_enrolment"]["households_per_second"] / r["baseline_insert"]["households_per_second"],
        ),
        _fan_out_row(r),
    ]
    if "replay" in r:
        rows.append(
            (
                "replay (medical)",
                f"{r['replay']['events_per_second']} events/s",
                f"{r['baseline_kafka']['events_per_second']} events/s raw Kafka",
                r["replay"]["events_per_second"] / r["baseline_kafka"]["events_per_second"],
            )
        )
    for name, key in (("dibao payment run", "dibao_payment_run"), ("heating supplement run", "heating_supplement_run")):
        if key in r:
            rows.append(_run_row(name, r[key]))
    latencies = r.get("latency", [])
    for lat in latencies if isinstance(latencies, list) else [latencies]:
        for bureau, value in lat["per_bureau"].items():
            rows.append(
                (
                    f"latency {bureau}",
                    f"p50 {value['p50_ms']} ms, p99 {value['p99_ms']} ms ({value['granted']} grants)",
                    f"sent at {lat['target_rate']}/s, achieved {lat['achieved_rate']}/s",
                    None,
                )
            )
    if "cpu_seconds" in r["fan_out"]:
        rows.append(
            (
                "CPU during fan-out",
                ", ".join(f"{s} {cpu} s" for s, cpu in r["fan_out"]["cpu_seconds"].items()),
                f"{r['machine']['cpus']} cores × {r['fan_out']['seconds']} s",
                None,
            )
        )
    if "peak_rss_mb" in r["fan_out"]:
        rows.append(
            (
                "peak RSS by the end of fan-out",
                ", ".join(f"{s} {mb} MB" for s, mb in r["fan_out"]["peak_rss_mb"].items()),
                "",
                None,
            )
        )
    rows.append(("peak RSS (whole run)", ", ".join(f"{s} {mb} MB" for s, mb in r["peak_rss_mb"].items()), "", None))
    lines = []
    if r.get("replicas", 1) > 1:
        lines += [f"{r['replicas']} replicas of every service, {r['households']} households, {r['database']}", ""]
    lines += ["| measure | result | baseline | ratio |", "|---|---|---|---|"]
    for name, value, baseline, ratio in rows:
        lines.append(f"| {name} | {value} | {baseline} | {'' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or mkdtemp(prefix="harbin-bench-"))
    system = LocalSystem(workdir, database=args.database, replicas=args.replicas)
    caseload = generate(args.households + sum(args.rate) * args.seconds, seed=args.seed)
    households, steady = caseload[: args.households], caseload[args.households :]
    bench = Bench(system, args.households, args.seed, args.rate, args.seconds)
    await system.up()
    try:
        sample = json.dumps({"households": [households[0]]}, ensure_ascii=False).encode() * 2
        await bench.kafka_baseline(args.households, sample[:1500])
        await bench.insert_baseline(households)
        await bench.enrolment_and_fan_out(households)
        bench.bound_fan_out()
        if not args.fan_out_only:
            for rate in args.rate:
                await bench.latency(steady[: rate * args.seconds], rate)
                steady = steady[rate * args.seconds :]
            await bench.monthly_runs()
            await bench.replay()
        bench.memory()
    except BaseException:
        print(f"benchmark failed; its databases, broker and logs are kept in {workdir}", file=sys.stderr)
        raise
    finally:
        await system.down()
    if not args.workdir:
        # A full-size run leaves gigabytes of broker and database files; a passed run needs none of them.
        shutil.rmtree(workdir, ignore_errors=True)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": args.database,
        "households": args.households,
        "replicas": args.replicas,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **bench.results,
    }
    out = args.out or RESULTS / f"{date.today().isoformat()}-{args.database}-{args.households}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(markdown(results))
    print(f"\nresults: {out}")
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the system on a synthetic caseload")
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=2004)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="processes per service, in one consumer group on one database (PostgreSQL only)",
    )
    parser.add_argument(
        "--rate",
        type=int,
        nargs="+",
        default=[200],
        help="enrolments per second for the latency measure (several: one measure each)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="how long the steady load lasts")
    parser.add_argument(
        "--workdir",
        help="where the run's databases and logs go, kept afterwards "
        "(default: a temp folder, removed when the run passes)",
    )
    parser.add_argument(
        "--fan-out-only", action="store_true", help="measure bulk enrolment and fan-out only (for profiling)"
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON results (default: bench/results/)")
    parser.add_argument("--table", type=Path, help="only print the Markdown table of an earlier results file")
    args = parser.parse_args()
    if args.table:
        print(markdown(json.loads(args.table.read_text())))
        return
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
