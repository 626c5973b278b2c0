"""The dibao payment run alone, in-process, against a PostgreSQL database of its own.

    python -m bench.payment_run --households 100000 [--pg postgresql+asyncpg://postgres@127.0.0.1:5432]

The whole-system benchmark (``bench.run``) times the run through HTTP after a 20-minute fan-out; this one
enrols the same synthetic caseload straight through the registry's use case (no Kafka: the events stay in
the outbox) and times the same three steps — the history settled through last month, this month's run, and
a repeat — so the run's cost can be profiled (``py-spy record -- python -m bench.payment_run``) and changed
in minutes. It creates and drops the database ``bench_payment_run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.caseload import generate
from services.registry import service
from shared.db import create_engine, session_factory
from shared.migrations import upgrade
from shared.periods import add_months, city_today, month_of
from shared.unit_of_work import Actor, UnitsOfWork

DATABASE = "bench_payment_run"
BENCH = Actor("bench", "bench.payment_run", "benchmark")
SAVED = "bench_payment_run_history"  # the database after the history step, for --again


async def _recreate(host: str, port: int, template: str | None = None) -> None:
    connection = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await connection.close()


async def _save(host: str, port: int, engine: AsyncEngine) -> None:
    """Keep the database as it stands after the history, so ``--again`` can time this month from there."""

    await engine.dispose()  # a template must have no connections
    connection = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{SAVED}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{SAVED}" TEMPLATE "{DATABASE}"')
    finally:
        await connection.close()


async def _enrol(units: UnitsOfWork, households: int, batch: int) -> float:
    caseload = generate(households)
    started = time.perf_counter()
    for offset in range(0, len(caseload), batch):
        async with units.begin(actor=BENCH) as uow:
            outcome = await service.enrol_bulk(uow, caseload[offset : offset + batch])
            await uow.commit()
        refused = [r for r in outcome if r.error is not None]
        if refused:
            raise SystemExit(f"caseload row refused: {refused[0]}")
    return round(time.perf_counter() - started, 2)


async def main(households: int, host: str, port: int, batch: int, again: bool) -> dict[str, object]:
    await _recreate(host, port, SAVED if again else None)
    url = f"postgresql+asyncpg://postgres@{host}:{port}/{DATABASE}"
    await asyncio.to_thread(upgrade, "registry", url)
    engine = create_engine(url, 4)
    units = UnitsOfWork(session_factory(engine))
    results: dict[str, object] = {"households": households}
    this_month = month_of(city_today())
    steps = [("history", add_months(this_month, -1)), ("month", this_month), ("repeat", this_month)]
    try:
        if again:
            steps = steps[1:]
        else:
            results["enrol_seconds"] = await _enrol(units, households, batch)
        for step, period in steps:
            if step == "month" and not again:
                await _save(host, port, engine)
            started = time.perf_counter()
            async with units.begin(actor=BENCH) as uow:
                run = await service.run_payments(units, uow, period.label)
                await uow.commit()
            results[step] = {
                "period": period.label,
                "seconds": round(time.perf_counter() - started, 2),
                "households_paid": run.households_paid,
                "total": str(run.total_amount),
            }
            print(step, results[step], flush=True)
    finally:
        await engine.dispose()
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--batch", type=int, default=1000, help="households per enrolment transaction")
    parser.add_argument(
        "--again",
        action="store_true",
        help="start from the database the last full run kept after its history step, and time this "
        "month's run and its repeat again",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.households, args.pg_host, args.pg_port, args.batch, args.again)), indent=2))


if __name__ == "__main__":
    cli()
