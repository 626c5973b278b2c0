"""harbin-ops: the ops team's command line.

    harbin-ops enrol caseload.csv            enrol a caseload from CSV, with a progress bar and a file of rejects
    harbin-ops pay 2026-05                   run a month's dibao payments (also: supplement, rent-subsidy, term)
    harbin-ops assessment 2026-H1            print the joint meeting's assessment (from the office)
    harbin-ops dlq list / dlq requeue …      see dead-lettered messages, put a fixed one back on its topic
    harbin-ops replay medical                rebuild a service's event-derived state from its topics
    harbin-ops status                        is every service ready, and has the system caught up?

Service addresses come from HARBIN_<SERVICE>_URL (default http://127.0.0.1:800N), Kafka from
HARBIN_KAFKA (default 127.0.0.1:9092; HARBIN_KAFKA_SECURITY_PROTOCOL, _USERNAME, _PASSWORD, _CA_FILE under SASL),
a bearer token from HARBIN_TOKEN.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from prometheus_client.parser import text_string_to_metric_families

from shared.kafka import KafkaConnection
from shared.kafka_security import from_environment
from shared.logging import mask_text
from shared.services import PORTS
from shared.tracing import provider

MEMBER_FIELDS = [
    "resident_id",
    "name",
    "relation",
    "able_to_work",
    "employment_status",
    "unemployed_since",
    "disabled",
    "school_stage",
    "boarding",
]
HOUSEHOLD_FIELDS = ["division_code", "address", "heating", "housing_area_m2", "monthly_income", "enrolled_on"]
CSV_COLUMNS = ["household_ref", *HOUSEHOLD_FIELDS, *MEMBER_FIELDS]
BOOLEAN = {
    "true": True,
    "1": True,
    "yes": True,
    "是": True,
    "false": False,
    "0": False,
    "no": False,
    "否": False,
    "": False,
}

app = typer.Typer(
    help="Harbin urban social assistance: commands for the ops team.", no_args_is_help=True, add_completion=False
)
dlq = typer.Typer(help="Dead-lettered messages: list them, put a fixed one back.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")


def url(service: str) -> str:
    return os.environ.get(f"HARBIN_{service.upper()}_URL", f"http://127.0.0.1:{PORTS[service]}")


def client(service: str, timeout: float = 600) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if (token := os.environ.get("HARBIN_TOKEN")) else {}
    http = httpx.Client(base_url=url(service), timeout=timeout, headers=headers)
    # Each call starts a trace (traceparent sent), so a run started here can be followed into the services.
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=provider())
    return http


def main() -> None:
    """The entry point: the commands, with a service that cannot be reached said in one line, not a traceback."""

    try:
        app(prog_name="harbin-ops")
    except httpx.TransportError as exc:
        try:
            address = str(exc.request.url.copy_with(path="/", query=None))
        except RuntimeError:  # an error raised before any request was made
            address = "the service"
        typer.secho(
            f"cannot reach {address} ({type(exc).__name__}); is it running? Addresses come from HARBIN_<SERVICE>_URL",
            fg="red",
            err=True,
        )
        raise SystemExit(4) from None


def fail_on_problem(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            problem = response.json()
            typer.secho(f"{response.status_code} {problem.get('code')}: {problem.get('detail')}", fg="red", err=True)
        except ValueError:
            typer.secho(f"{response.status_code}: {response.text[:300]}", fg="red", err=True)
        raise typer.Exit(1)
    body: dict[str, Any] = response.json()
    return body


# ---- enrol a caseload from CSV ------------------------------------------------------------------


@dataclass
class CsvHousehold:
    ref: str
    rows: list[dict[str, str]]
    lines: list[int]  # each row's line in the file (a household's rows need not be next to each other)

    def body(self) -> dict[str, Any]:
        first = self.rows[0]
        body: dict[str, Any] = {name: first[name] for name in HOUSEHOLD_FIELDS if first.get(name)}
        body["members"] = [_member(row) for row in self.rows]
        return body


def _member(row: dict[str, str]) -> dict[str, Any]:
    member: dict[str, Any] = {}
    for name in MEMBER_FIELDS:
        value = (row.get(name) or "").strip()
        if name in ("able_to_work", "disabled", "boarding"):
            member[name] = BOOLEAN.get(value.lower(), value)
        elif value:
            member[name] = value
    return member


def read_caseload_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without a BOM), else GB18030, a superset of the GBK that Excel writes
    on Chinese Windows. Said on stderr when it was not UTF-8, so a wrong guess does not pass unnoticed."""

    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            typer.secho(f"{path}: neither UTF-8 nor GBK/GB18030; save it as UTF-8 CSV", fg="red", err=True)
            raise typer.Exit(2) from None
        typer.secho(f"{path}: not UTF-8, read as GBK (GB18030)", fg="yellow", err=True)
        return text


def read_households(path: Path) -> list[CsvHousehold]:
    """Rows of one household share ``household_ref``, wherever they are in the file; household fields are read
    from its first row. Households come in the order their first rows do."""

    reader = csv.DictReader(io.StringIO(read_caseload_text(path), newline=""))
    missing = [
        c for c in ("household_ref", "division_code", "resident_id", "relation") if c not in (reader.fieldnames or [])
    ]
    if missing:
        typer.secho(
            f"{path}: missing columns {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}", fg="red", err=True
        )
        raise typer.Exit(2)
    households: dict[str, CsvHousehold] = {}
    for line, row in enumerate(reader, start=2):
        ref = (row.get("household_ref") or "").strip()
        household = households.setdefault(ref, CsvHousehold(ref, [], []))
        household.rows.append(row)
        household.lines.append(line)
    return list(households.values())


def _batches(households: list[CsvHousehold], size: int) -> Iterator[list[CsvHousehold]]:
    batch: list[CsvHousehold] = []
    for household in households:
        batch.append(household)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@app.command()
def enrol(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="caseload CSV, one row per member")],
    rejected: Annotated[
        Path | None, typer.Option(help="where to write rejected rows (default: <file>.rejected.csv)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 500,
) -> None:
    """Enrol households from a CSV file through the registry's bulk endpoint."""

    rejected = rejected or file.with_suffix(".rejected.csv")
    households = read_households(file)
    enrolled = refused = 0
    with (
        client("registry") as http,
        rejected.open("w", newline="", encoding="utf-8") as out,
        typer.progressbar(length=len(households), label="enrolling") as progress,
    ):
        writer = csv.writer(out)
        writer.writerow(["line", *CSV_COLUMNS, "error_code", "error_detail"])
        for batch in _batches(households, batch_size):
            result = fail_on_problem(http.post("/households/bulk", json={"households": [h.body() for h in batch]}))
            for outcome in result["results"]:
                household = batch[outcome["index"]]
                if outcome["error"] is None:
                    enrolled += 1
                    continue
                refused += 1
                for line, row in zip(household.lines, household.rows, strict=True):
                    writer.writerow(
                        [
                            line,
                            *(row.get(c, "") for c in CSV_COLUMNS),
                            outcome["error"]["code"],
                            mask_text(outcome["error"]["detail"]),
                        ]
                    )
            progress.update(len(batch))
    typer.echo(f"enrolled {enrolled} households; rejected {refused}")
    if refused:
        typer.echo(f"rejected rows and reasons: {rejected}")
        raise typer.Exit(3)
    rejected.unlink(missing_ok=True)


# ---- runs ---------------------------------------------------------------------------------------


def _run(service: str, path: str, body: dict[str, str]) -> None:
    with client(service) as http:
        typer.echo(json.dumps(fail_on_problem(http.post(path, json=body)), ensure_ascii=False, indent=2))


@app.command()
def pay(period: str) -> None:
    """Settle dibao through a month (YYYY-MM): every month since enrolment against the ledger, arrears paid and
    overpayments recorded as owed; running it again adds nothing; a month not begun is refused."""

    _run("registry", "/payment-runs", {"period": period})


@app.command()
def supplement(period: str) -> None:
    """Run a month's +20% heating supplement for households without central heating."""

    _run("utilities", "/heating/supplement-runs", {"period": period})


@app.command("rent-subsidy")
def rent_subsidy(period: str) -> None:
    """Run a month's low-rent housing subsidies."""

    _run("housing", "/subsidy-runs", {"period": period})


@app.command()
def term(term_label: Annotated[str, typer.Argument(metavar="TERM", help="YYYY-spring or YYYY-autumn")]) -> None:
    """Run a school term's waivers, boarding subsidies and disability grants."""

    _run("education", "/term-runs", {"term": term_label})


@app.command()
def assessment(
    period: str, csv_file: Annotated[Path | None, typer.Option("--csv", help="also save the coverage CSV")] = None
) -> None:
    """Print the joint meeting's assessment: coverage per bureau, and the unserved households."""

    with client("office") as http:
        result = fail_on_problem(http.get("/reports/assessment", params={"period": period}))
        if csv_file is not None:
            csv_file.write_text(
                http.get("/reports/assessment", params={"period": period, "format": "csv"}).text, encoding="utf-8"
            )
    typer.echo(
        f"assessment {result['period']} as of {result['as_of']}: {result['households']} households, "
        f"{result['persons']} persons, dibao paid {result['dibao_paid']}"
    )
    typer.echo(f"{'bureau':<12}{'eligible':>10}{'granted':>10}{'coverage':>10}{'median d':>10}{'p90 d':>8}{'paid':>14}")
    for b in result["bureaus"]:
        coverage = "—" if b["coverage"] is None else f"{b['coverage'] * 100:.1f}%"
        typer.echo(
            f"{b['bureau']:<12}{b['households_eligible']:>10}{b['households_granted']:>10}{coverage:>10}"
            f"{_num(b['timeliness_median_days']):>10}{_num(b['timeliness_p90_days']):>8}{b['amount_paid']:>14}"
        )
    typer.echo(f"unserved households (enrolled over {result['unserved_after_days']} days): {len(result['unserved'])}")
    for household in result["unserved"][:20]:
        missing = ", ".join(f"{m['bureau']}:{m['programme']}" for m in household["missing"])
        typer.echo(
            f"  {household['household_id']}  {household['division_code']}  {household['days_waiting']} d  {missing}"
        )


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@dataclass
class ServiceState:
    """One service as ``status`` sees it: its readiness, and what its metrics say is still to do."""

    name: str
    ready: dict[str, str] | None = None  # /ready's body; None when the service did not answer
    error: str = ""
    lag: float | None = None  # events on Kafka not yet handled, all partitions
    backlog: float | None = None  # events written and not yet on Kafka
    oldest: float | None = None  # seconds the oldest of those has waited
    dead_lettered: float | None = None  # since the service started

    @property
    def caught_up(self) -> bool:
        return self.ready is not None and self.ready.get("status") == "ready" and self.lag == 0 and self.backlog == 0


def _metric_sums(text: str, service: str) -> dict[str, float]:
    """Each of the service's series summed over its other labels (partitions, topics, routes)."""

    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("service") == service:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def _state(service: str) -> ServiceState:
    state = ServiceState(service)
    try:
        with client(service, timeout=10) as http:
            state.ready = http.get("/ready").json()
            metrics = http.get("/metrics")
            if metrics.status_code == 200:
                sums = _metric_sums(metrics.text, service)
                state.lag = sums.get("harbin_consumer_lag", 0.0)
                state.backlog = sums.get("harbin_outbox_backlog")
                state.oldest = sums.get("harbin_outbox_oldest_age_seconds")
                state.dead_lettered = sums.get("harbin_dead_lettered_total", 0.0)
            elif metrics.status_code in (401, 403):
                state.error = "metrics need HARBIN_TOKEN with the ops:metrics scope"
    except (httpx.HTTPError, ValueError) as exc:
        state.ready, state.error = None, f"not answering ({type(exc).__name__})"
    return state


@app.command()
def status(
    only: Annotated[list[str] | None, typer.Option("--service", help="only these services (repeatable)")] = None,
) -> None:
    """Is every service ready, and has the system caught up (nothing left on Kafka or in an outbox)?

    Exit status 0 when every service is ready, 1 otherwise. Check "caught up" before a payment run: a run
    pays what the bureaus have recorded, and events still in flight are not recorded yet."""

    unknown = [name for name in only or () if name not in PORTS]
    if unknown:
        typer.secho(f"unknown service {', '.join(unknown)}; one of {', '.join(PORTS)}", fg="red", err=True)
        raise typer.Exit(2)
    states = [_state(service) for service in (only or PORTS)]
    typer.echo(
        f"{'service':<11} {'status':<10} {'consumer':<9} {'relay':<9} {'lag':>8} {'outbox':>8} "
        f"{'oldest s':>9} {'dead':>6}"
    )
    for state in states:
        ready = state.ready or {}
        typer.echo(
            f"{state.name:<11} {ready.get('status', 'down'):<10} {ready.get('consumer', '—'):<9} "
            f"{ready.get('relay', '—'):<9} {_num(state.lag):>8} {_num(state.backlog):>8} {_num(state.oldest):>9} "
            f"{_num(state.dead_lettered):>6}" + (f"  {state.error}" if state.error else "")
        )
        if state.ready is not None and state.ready.get("status") != "ready":
            typer.echo(f"{'':<11} database={ready.get('database')} kafka={ready.get('kafka')}")
    down = [state.name for state in states if state.ready is None or state.ready.get("status") != "ready"]
    behind = [state.name for state in states if state.name not in down and not state.caught_up]
    if down:
        typer.secho(f"not ready: {', '.join(down)}", fg="red")
    if behind:
        typer.secho(f"not caught up (or metrics not readable): {', '.join(behind)}", fg="yellow")
    if not down and not behind:
        typer.secho("every service is ready and has caught up: nothing left on Kafka or in an outbox", fg="green")
    if down:
        raise typer.Exit(1)


@app.command()
def replay(service: Annotated[str, typer.Argument(help="the service to rebuild: registry, medical, …")]) -> None:
    """Rebuild what a service derived from events by reading its topics from the beginning."""

    if service not in PORTS:
        typer.secho(f"unknown service {service}; one of {', '.join(PORTS)}", fg="red", err=True)
        raise typer.Exit(2)
    with client(service) as http:
        result = fail_on_problem(http.post("/admin/replay"))
    typer.echo(f"{service}: replaying from the beginning of its topics; cleared {result['deleted']}")


# ---- dead letters -------------------------------------------------------------------------------


def _kafka() -> KafkaConnection:
    """HARBIN_KAFKA, and in a deployment the ops principal's SASL credentials and the brokers' CA (docs/security.md)."""

    return from_environment()


def _prefix() -> str:
    return os.environ.get("HARBIN_TOPIC_PREFIX", "")


async def _dead_letters(service: str | None) -> list[Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.kafka import read_to_end

    admin = AIOKafkaAdminClient(**_kafka().options())
    await admin.start()
    try:
        topics = [
            t
            for t in await admin.list_topics()
            if t.startswith(_prefix())
            and t.endswith(".dlq")
            and (service is None or t[len(_prefix()) :].startswith(f"{service}."))
        ]
    finally:
        await admin.close()
    return await read_to_end(_kafka(), topics)


@dlq.command("list")
def dlq_list(service: Annotated[str | None, typer.Option(help="only this service's dead letters")] = None) -> None:
    """Every dead-lettered message, with where it came from and why it failed."""

    records = asyncio.run(_dead_letters(service))
    for record in records:
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        typer.echo(
            f"{record.topic} {record.partition} {record.offset}  from {headers.get('dlq.origin_topic')}"
            f"[{headers.get('dlq.origin_partition')}]@{headers.get('dlq.origin_offset')}  "
            f"error: {mask_text(headers.get('dlq.error', ''))}"
        )
    typer.echo(f"{len(records)} dead-lettered message(s)")


async def _requeue(topic: str, partition: int, offset: int, fixed: bytes | None) -> str:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(**_kafka().options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=10_000, max_records=1)
        records = batch.get(tp, [])
        if not records or records[0].offset != offset:
            raise typer.BadParameter(f"no message at {topic} {partition} {offset}")
        record = records[0]
    finally:
        await consumer.stop()
    headers = dict(record.headers or ())
    origin: str = headers.get("dlq.origin_topic", b"").decode()
    if not origin:
        raise typer.BadParameter("that message has no dlq.origin_topic header")
    producer = AIOKafkaProducer(**_kafka().options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        kept = [(k, v) for k, v in record.headers or () if not k.startswith("dlq.")]
        await producer.send_and_wait(
            _prefix() + origin, value=fixed if fixed is not None else record.value, key=record.key, headers=kept
        )
    finally:
        await producer.stop()
    return origin


@dlq.command("requeue")
def dlq_requeue(
    topic: Annotated[str, typer.Argument(help="the dead-letter topic, as `dlq list` prints it")],
    partition: int,
    offset: int,
    fixed: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="publish this file's content instead of the original message"),
    ] = None,
) -> None:
    """Put a dead-lettered message (or a fixed version of it) back on the topic it came from."""

    origin = asyncio.run(_requeue(topic, partition, offset, fixed.read_bytes() if fixed else None))
    typer.echo(f"re-queued {topic} {partition} {offset} to {origin}")


# ---- the procedure: what is overdue -------------------------------------------------------------------------


def _every(http: httpx.Client, path: str, params: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every item of a paged registry list (1,000 a page), and the first page's body (its counts)."""

    items: list[dict[str, Any]] = []
    first: dict[str, Any] = {}
    for page in range(1, 1001):
        body = fail_on_problem(http.get(path, params={**params, "page": str(page), "size": "1000"}))
        first = first or body
        items += body["items"]
        if len(items) >= body["total"] or not body["items"]:
            break
    return items, first


@app.command()
def overdue(
    division: Annotated[str | None, typer.Option("--division", help="only this division (6-digit code)")] = None,
    show: Annotated[int, typer.Option(min=0, help="how many of each to list")] = 20,
) -> None:
    """What the procedure has let run late: applications past a step's time limit, appeals past the day they had
    to be decided by, households past their periodic review — counted per division, the longest late first.

    Exit status 0 when nothing is overdue, 3 otherwise (for a daily check)."""

    scope = {"division_code": division} if division else {}
    with client("registry") as http:
        applications, _ = _every(http, "/applications", {**scope, "overdue": "true"})
        appeals, _ = _every(http, "/appeals", {**scope, "overdue": "true"})
        reviews, _ = _every(http, "/reviews/due", scope)
    reviews = [review for review in reviews if review["overdue"]]
    sections = [("applications", applications), ("appeals", appeals), ("reviews", reviews)]
    divisions = sorted({item["division_code"] for _, items in sections for item in items})
    typer.echo(f"{'division':<10}{'applications':>14}{'appeals':>10}{'reviews':>10}")
    for code in divisions:
        counts = [sum(item["division_code"] == code for item in items) for _, items in sections]
        typer.echo(f"{code:<10}{counts[0]:>14}{counts[1]:>10}{counts[2]:>10}")
    typer.echo(f"{'total':<10}{len(applications):>14}{len(appeals):>10}{len(reviews):>10}")
    for title, items in sections:
        if items and show:
            typer.echo(f"overdue {title}:")
            for item in items[:show]:
                typer.echo(f"  {item['division_code']}  {_overdue_line(title, item)}")
    if any(items for _, items in sections):
        raise typer.Exit(3)
    typer.secho("nothing is overdue", fg="green")


def _overdue_line(kind: str, item: dict[str, Any]) -> str:
    if kind == "applications":
        return f"{item['id']}  awaiting {item['awaiting']}, due {item['due_on']}"
    if kind == "appeals":
        return f"{item['id']}  against {item['subject']}, to be decided by {item['decide_by']}"
    return f"{item['household_id']}  review due {item['due_on']} ({item['reason']})"
