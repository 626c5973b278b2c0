"""Single enrolments sent many at a time to the default set-up (SQLite), as careless clients send them.

    python -m bench.concurrent --households 2000 --concurrency 50

Starts its own broker and every service on SQLite files (``--database postgres`` for PostgreSQL),
then sends every household of a synthetic caseload as its own ``POST /households`` from ``--concurrency``
clients at once; one in ``--resend`` households is sent twice at the same moment (a client that retries
before its first answer came back). A 503 ``service_busy`` is retried after its ``Retry-After``, as the
contract tells clients to. Then it waits until every bureau has consumed every enrolment and the office
every grant, and checks with the office's assessment that each household has what the plan gives it.

What must hold, and is printed: no 5xx, exactly one 201 per household (its twin gets 409), every
enrolment announced once, every bureau caught up, nothing missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx

from bench.caseload import generate
from bench.run import Bench, expected_and_found
from bench.system import LocalSystem
from shared.events import HOUSEHOLDS_TOPIC


async def send(http: httpx.AsyncClient, body: dict[str, Any], statuses: Counter[int]) -> int:
    """One enrolment, retried on 503 after ``Retry-After``; the final status."""

    while True:
        response = await http.post("/households", json=body)
        statuses[response.status_code] += 1
        if response.status_code != 503:
            return response.status_code
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def load(
    system: LocalSystem, households: list[dict[str, Any]], concurrency: int, resend_every: int
) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    final: Counter[int] = Counter()
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for index, household in enumerate(households):
        queue.put_nowait([household, household] if resend_every and index % resend_every == 0 else [household])

    async def client() -> None:
        async with system.client("registry", timeout=120) as http:
            while not queue.empty():
                bodies = queue.get_nowait()
                for status in await asyncio.gather(*(send(http, body, statuses) for body in bodies)):
                    final[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "households": len(households),
        "requests": sum(statuses.values()),
        "seconds": round(elapsed, 1),
        "enrolments_per_second": round(len(households) / elapsed, 1),
        "answers": {str(status): count for status, count in sorted(statuses.items())},
        "final": {str(status): count for status, count in sorted(final.items())},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or mkdtemp(prefix="harbin-concurrent-"))
    system = LocalSystem(workdir, database=args.database)
    households = generate(args.households, seed=args.seed)
    bench = Bench(system, args.households, args.seed, [], 0)
    await system.up()
    try:
        result = await load(system, households, args.concurrency, args.resend)
        started = time.perf_counter()
        _events, grants = await bench.drained(timeout=max(600, args.households / 5))
        result["drained_seconds"] = round(time.perf_counter() - started, 1)
        result["household_events"] = await bench.end_offsets(HOUSEHOLDS_TOPIC)
        result["grant_events"] = grants
        result["check"] = await expected_and_found(system)
        async with system.client("registry") as http:
            result["households_in_registry"] = (await http.get("/households", params={"size": 1})).json()["total"]
    finally:
        await system.down()
    twins = len(range(0, args.households, args.resend)) if args.resend else 0
    result["holds"] = {
        "no 5xx": not any(int(status) >= 500 and status != "503" for status in result["answers"])
        and "503" not in result["final"],
        "one 201 per household, its twin 409": result["final"].get("201") == args.households
        and result["final"].get("409", 0) == twins,
        "one event per household": result["household_events"] == args.households == result["households_in_registry"],
        "nothing missing": result["check"]["households_missing"] == 0,
    }
    print(json.dumps(result, indent=2))
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description="Concurrent single enrolments against the whole system")
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--resend", type=int, default=20, help="send one household in N twice at once (0: never)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=2004)
    parser.add_argument("--workdir", help="where the databases, broker and logs go (default: a temp folder)")
    result = asyncio.run(main(parser.parse_args()))
    sys.exit(0 if all(result["holds"].values()) else 1)


if __name__ == "__main__":
    cli()
