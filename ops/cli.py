"""harbin-ops: the ops team's command line.

    harbin-ops enrol caseload.xlsx           enrol a district's caseload (CSV or Excel), resumable, with a file of rejects
    harbin-ops pay 2026-05                   settle a month's dibao (also: supplement, rent-subsidy, term); --dry-run
    harbin-ops assessment 2026-H1            the joint meeting's assessment (from the office)
    harbin-ops meeting 2026-H1               the joint meeting's pack: one self-contained HTML page (from the office)
    harbin-ops dlq list / dlq requeue …      see dead-lettered messages, put a fixed one back on its topic
    harbin-ops replay medical                rebuild a service's event-derived state from its topics
    harbin-ops status                        is every service ready, and has the system caught up?

Service addresses come from HARBIN_<SERVICE>_URL (default http://127.0.0.1:800N), Kafka from
HARBIN_KAFKA (default 127.0.0.1:9092; HARBIN_KAFKA_SECURITY_PROTOCOL, _USERNAME, _PASSWORD, _CA_FILE under SASL),
topic names' prefix from HARBIN_TOPIC_PREFIX, the bearer token from HARBIN_TOKEN. Exit statuses: 0 done,
1 refused or not ready, 2 bad argument or file or not confirmed, 3 rows rejected (enrol) or something overdue
(overdue), 4 a service unreachable or failing, 5 the token refused.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ops.caseload import (
    CSV_COLUMNS,
    HOUSEHOLD_FIELDS,
    MEMBER_FIELDS,
    REJECTED_HEADER,
    CaseloadFileError,
    FileHousehold,
    households,
    read_rows,
    registry_reasons,
    rejected_rows,
)
from ops.http import (
    EXIT_REFUSED,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    answer,
    client,
)
from shared.kafka import KafkaConnection
from shared.kafka_security import from_environment
from shared.logging import mask_text
from shared.services import PORTS

__all__ = ["CSV_COLUMNS", "HOUSEHOLD_FIELDS", "MEMBER_FIELDS", "app", "main"]

app = typer.Typer(
    help="Harbin urban social assistance: commands for the ops team.", no_args_is_help=True, add_completion=False
)
dlq = typer.Typer(help="Dead-lettered messages: list them, put a fixed one back.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")


def console(stderr: bool = False) -> Console:
    """Rich output; without a terminal (a log, a pipe) tables are 160 wide unless COLUMNS says otherwise."""

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def main() -> None:
    """The entry point: every failure the operator can act on is one line and an exit status, not a traceback."""

    try:
        app(prog_name="harbin-ops")
    except CliError as exc:
        console(stderr=True).print(f"[red]{exc.message}[/red]", markup=True, highlight=False, soft_wrap=True)
        raise SystemExit(exc.status) from None
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
        raise SystemExit(EXIT_UNREACHABLE) from None


def _confirm(question: str) -> None:
    """Ask on the terminal; without one (a script, a pipe), refuse: the run needs --yes."""

    if not sys.stdin.isatty():
        raise CliError(f"{question} — no terminal to ask on: add --yes to go ahead", EXIT_USAGE)
    if not typer.confirm(question, default=False):
        raise CliError("not confirmed: nothing done", EXIT_USAGE)


# ---- enrol a caseload ---------------------------------------------------------------------------------


class EnrolProgress:
    """A rich bar with counts and rate on a terminal; plain periodic lines on stderr otherwise (a log)."""

    def __init__(self, total: int, every: float) -> None:
        self.out = console(stderr=True)
        self.total, self.every = total, every
        self.started = time.monotonic()
        self.last_line: float | None = None
        self.bar: Progress | None = None
        if self.out.is_terminal:
            self.bar = Progress(
                TextColumn("enrolling"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("households · {task.fields[rate]} · {task.fields[counts]}"),
                TimeRemainingColumn(),
                console=self.out,
            )
            self.task = self.bar.add_task("enrol", total=total, rate="", counts="")
            self.bar.start()

    def update(self, done: int, enrolled: int, already: int, rejected: int) -> None:
        now = time.monotonic()
        rate = done / max(now - self.started, 1e-6)
        counts = f"enrolled {enrolled}, already in {already}, rejected {rejected}"
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=f"{rate:.0f}/s", counts=counts)
            return
        if self.last_line is None or now - self.last_line >= self.every or done == self.total:
            self.last_line = now
            left = (self.total - done) / rate if rate else 0
            percent = done * 100 // max(self.total, 1)
            self.out.print(
                f"enrolling: {done}/{self.total} households ({percent}%), {rate:.0f}/s, {counts}, "
                f"about {left:.0f} s left"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _batches(items: list[FileHousehold], size: int) -> Iterator[list[FileHousehold]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


RETRIES = 3


def _send(http: httpx.Client, batch: list[FileHousehold]) -> dict[str, Any]:
    """One batch to the bulk endpoint, sent again after a timeout or a busy answer: the households' keys make
    a repeat harmless (what went in the first time is answered as already enrolled)."""

    bodies = [{**household.body(), "idempotency_key": household.idempotency_key()} for household in batch]
    for attempt in range(RETRIES + 1):
        try:
            response = http.post("/households/bulk", json={"households": bodies})
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError):
            if attempt == RETRIES:
                raise
            time.sleep(2**attempt)
            continue
        if response.status_code == 503 and attempt < RETRIES:
            time.sleep(float(response.headers.get("Retry-After", "2")))
            continue
        result: dict[str, Any] = answer(response, "registry", "registry:write")
        return result
    raise AssertionError("unreachable")  # pragma: no cover


@app.command()
def enrol(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="the caseload: CSV or Excel (.xlsx), one row per member"),
    ],
    rejected: Annotated[
        Path | None, typer.Option(help="where to write rejected rows (default: <file>.rejected.csv)")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="the CSV's encoding (default: UTF-8 with or without BOM, else GBK/GB18030)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 500,
    progress_every: Annotated[
        float, typer.Option(help="seconds between progress lines when not on a terminal", min=0)
    ] = 10.0,
) -> None:
    """Enrol households through the registry's bulk endpoint; safe to run again on the same file.

    Each household is sent with a key made from its data: a household already enrolled (by an earlier,
    interrupted run) is reported as already in, not refused. Rejected rows go to a CSV (UTF-8 with BOM, for
    Excel) with their line in the file, the column, and the reason in Chinese and English. Exit 0 when every
    household is in, 3 when some rows were rejected, 2 for a file that cannot be read, 4 when the registry
    cannot be reached, 5 when the token is refused."""

    try:
        rows, read_as = read_rows(file, encoding)
    except CaseloadFileError as exc:
        raise CliError(f"{file}: {exc}", EXIT_USAGE) from None
    if read_as == "gb18030":
        typer.secho(f"{file}: not UTF-8, read as GBK (GB18030)", fg="yellow", err=True)
    found = households(rows)
    to_send = [household for household in found if not household.problems]
    rejected = rejected or file.with_suffix(".rejected.csv")
    enrolled = already = refused = refused_rows = 0
    known: dict[str, tuple[str, int]] = {}  # registry id → (household_ref, first line), to name a clash
    with rejected.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(REJECTED_HEADER)
        for household in found:
            if household.problems:
                refused, refused_rows = refused + 1, refused_rows + len(household.rows)
                writer.writerows(rejected_rows(household, household.problems))
        progress = EnrolProgress(len(found), progress_every)
        done = refused
        try:
            with client("registry") as http:
                for batch in _batches(to_send, batch_size):
                    result = _send(http, batch)
                    outcomes = sorted(result["results"], key=lambda outcome: outcome["index"])
                    for outcome in outcomes:
                        household = batch[outcome["index"]]
                        if outcome["error"] is None:
                            known[outcome["id"]] = (household.ref, household.lines[0])
                            already += bool(outcome.get("already_enrolled"))
                            enrolled += not outcome.get("already_enrolled")
                    for outcome in outcomes:
                        if outcome["error"] is not None:
                            household = batch[outcome["index"]]
                            refused, refused_rows = refused + 1, refused_rows + len(household.rows)
                            reasons = registry_reasons(household, outcome["error"], known)
                            writer.writerows(rejected_rows(household, reasons))
                    done += len(batch)
                    progress.update(done, enrolled, already, refused)
        finally:
            progress.close()
    typer.echo(
        f"enrolled {enrolled} households; already enrolled {already}; rejected {refused} "
        f"({refused_rows} rows) — 纳入 {enrolled} 户，此前已纳入 {already} 户，未纳入 {refused} 户"
    )
    if refused:
        typer.echo(f"rejected rows, with line, column and reason (原因): {rejected}")
        raise typer.Exit(EXIT_REJECTED)
    rejected.unlink(missing_ok=True)


# ---- runs ---------------------------------------------------------------------------------------------

# A run's figures, as the operator reads them (the answer's other fields are shown under their own names).
RUN_FIELDS = {
    "households_paid": "households with a payment (withheld ones too) 有发放记录户数",
    "grants_made": "payments made 发放笔数",
    "total_amount": "amount settled 金额",
    "transferred_amount": "transferred 实发",
    "withheld": "withheld against what was owed 扣回",
    "withheld_amount": "withheld against what was owed 扣回",
    "recovered": "withheld against what was owed 扣回",
    "overpaid": "overpaid, now owed 多发待扣",
    "recoveries": "overpayments recorded 多发笔数",
    "recovered_amount": "overpaid, now owed 多发待扣",
    "already_paid": "already paid by earlier runs 此前已发",
    "already_made": "already made by earlier runs 此前已发",
    "lines": "ledger lines written 台账行数",
    "left_out_count": "left out 未发放户数",
}
REASONS = {"withheld": "all that was due went against what the household owes (扣回多发款)"}
LISTED = 20


def _money(value: Any) -> str:
    return f"¥{Decimal(str(value)):,.2f}"


def show_run(what: str, result: dict[str, Any], out: Console) -> None:
    dry = bool(result.get("dry_run"))
    period = result.get("period") or result.get("term")
    out.print(
        f"[bold]{what} {period}[/bold]" + (" — [yellow]DRY RUN: nothing was paid or written[/yellow]" if dry else "")
    )
    divisions = result.get("by_division") or []
    figures = Table(show_header=False)
    figures.add_column("", style="bold")
    figures.add_column("", justify="right")
    transferred = sum((Decimal(d["amount"]) for d in divisions), Decimal(0))
    figures.add_row("households transferred to 实发户数", str(sum(d["households"] for d in divisions)))
    figures.add_row("transferred 实发金额", _money(transferred))
    for key, value in result.items():
        # The transfer is shown once, as the sum of the divisions above (a term run also answers it as a field).
        if key in (
            "period",
            "term",
            "dry_run",
            "by_division",
            "left_out",
            "left_out_count",
            "payees",
            "transferred_amount",
        ):
            continue
        figures.add_row(RUN_FIELDS.get(key, key), _money(value) if isinstance(value, str) else str(value))
    out.print(figures)
    if divisions:
        table = Table(title="paid per division 分区县", title_justify="left")
        for header, justify in (("division 区县", "left"), ("code", "left"), ("households 户数", "right")):
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        table.add_column("transferred 实发", justify="right")
        for division in divisions:
            table.add_row(
                division["division_name"],
                division["division_code"],
                str(division["households"]),
                _money(division["amount"]),
            )
        out.print(table)
    left_out, count = result.get("left_out") or [], int(result.get("left_out_count") or 0)
    if count:
        table = Table(title=f"left out 未发放: {count} households", title_justify="left")
        for header in ("household", "division", "due", "withheld", "why"):
            table.add_column(header)
        for item in left_out[:LISTED]:
            table.add_row(
                item["household_id"],
                item["division_code"],
                _money(item["due"]),
                _money(item["withheld"]),
                REASONS.get(item["reason"], item["reason"]),
            )
        out.print(table)
        if count > LISTED:
            out.print(f"… and {count - LISTED} more (all of them: --json)")
    else:
        out.print("left out 未发放: none — every household something was due to receives it")


def _lag_warning(http: httpx.Client, service: str) -> None:
    """A run pays what the bureau has recorded: events still on Kafka are households it has not heard of."""

    try:
        response = http.get("/metrics", timeout=10)
    except httpx.HTTPError:
        return
    if response.status_code != 200:
        console(stderr=True).print(
            f"(not checked whether {service} has caught up: /metrics needs a token with ops:metrics)"
        )
        return
    sums = _metric_sums(response.text, service)
    lag, backlog = sums.get("harbin_consumer_lag", 0.0), sums.get("harbin_outbox_backlog", 0.0)
    if lag:
        console(stderr=True).print(
            f"[yellow]{service} has {lag:.0f} events on Kafka it has not handled yet: households enrolled or "
            "changed in the last moments are not in this run (they are settled by the next one). To include them, "
            "wait until `harbin-ops status` says caught up.[/yellow]"
        )
    if backlog:
        console(stderr=True).print(f"[yellow]{service} has {backlog:.0f} events not yet sent to Kafka.[/yellow]")


def _run(what: str, service: str, path: str, body: dict[str, str], dry_run: bool, yes: bool, as_json: bool) -> None:
    out = console()
    with client(service) as http:
        _lag_warning(http, service)
        if dry_run or not yes:
            preview = answer(http.post(path, json={**body, "dry_run": True}), service)
            if as_json and dry_run:
                typer.echo(json.dumps(preview, ensure_ascii=False, indent=2))
                return
            show_run(what, preview, console(stderr=as_json))
            if dry_run:
                return
            paid = sum((Decimal(d["amount"]) for d in preview.get("by_division") or ()), Decimal(0))
            households = sum(d["households"] for d in preview.get("by_division") or ())
            _confirm(f"Run it: transfer {_money(paid)} to {households} households?")
        result = answer(http.post(path, json=body), service)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        show_run(what, result, out)


DryRun = Annotated[
    bool, typer.Option("--dry-run", help="show what would be paid, to whom, and who is left out; pay nothing")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="no preview and no question (scripts)")]
AsJson = Annotated[bool, typer.Option("--json", help="the service's answer as JSON (for scripts)")]


@app.command()
def pay(period: str, dry_run: DryRun = False, yes: Yes = False, as_json: AsJson = False) -> None:
    """Settle dibao through a month (YYYY-MM): every month since enrolment against the ledger, arrears paid and
    overpayments recorded as owed; running it again adds nothing; a month not begun is refused.

    Without --yes it first shows what the run would do (a dry run) and asks."""

    _run("dibao payment run 低保金", "registry", "/payment-runs", {"period": period}, dry_run, yes, as_json)


@app.command()
def supplement(period: str, dry_run: DryRun = False, yes: Yes = False, as_json: AsJson = False) -> None:
    """Settle the +20% heating supplement for households without central heating, through a month."""

    _run(
        "heating supplement run 采暖补贴",
        "utilities",
        "/heating/supplement-runs",
        {"period": period},
        dry_run,
        yes,
        as_json,
    )


@app.command("rent-subsidy")
def rent_subsidy(period: str, dry_run: DryRun = False, yes: Yes = False, as_json: AsJson = False) -> None:
    """Settle the low-rent housing subsidy through a month."""

    _run("rent subsidy run 租金补贴", "housing", "/subsidy-runs", {"period": period}, dry_run, yes, as_json)


@app.command()
def term(
    term_label: Annotated[str, typer.Argument(metavar="TERM", help="YYYY-spring or YYYY-autumn")],
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: AsJson = False,
) -> None:
    """Settle a school term's waivers, boarding subsidies and disability grants."""

    _run("school term run 就学救助", "education", "/term-runs", {"term": term_label}, dry_run, yes, as_json)


# ---- the assessment -------------------------------------------------------------------------------------


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1 / 60:
        return f"{value * 3600:.0f} s"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@app.command()
def assessment(
    period: str,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="also save the coverage CSV")] = None,
    unserved_csv: Annotated[Path | None, typer.Option("--unserved-csv", help="also save the unserved list")] = None,
) -> None:
    """Print the joint meeting's assessment: coverage, timeliness and money per bureau, and the unserved."""

    with client("office") as http:
        result = answer(http.get("/reports/assessment", params={"period": period}), "office")
        for target, part in ((csv_file, "coverage"), (unserved_csv, "unserved")):
            if target is not None:
                response = http.get("/reports/assessment", params={"period": period, "format": "csv", "part": part})
                answer_text = response.text if response.status_code < 400 else answer(response, "office")
                target.write_text(answer_text, encoding="utf-8")
    out = console()
    out.print(
        f"assessment {result['period']} ({result['period_name']}) as of {result['as_of']}: "
        f"{result['households']} households, {result['persons']} persons, dibao paid {_money(result['dibao_paid'])}"
    )
    if not result.get("period_complete", True):
        out.print(f"[yellow]{result['period_name']} is still running: these figures will change.[/yellow]")
    bureaus = Table(title="per bureau 各部门", title_justify="left")
    for header in ("bureau", "eligible", "granted", "coverage", "median", "p90", "≤ 24 h", "paid (元)"):
        bureaus.add_column(header, justify="left" if header == "bureau" else "right", no_wrap=True)
    for b in result["bureaus"]:
        bureaus.add_row(
            f"{b['bureau_name']} ({b['bureau']})",
            str(b["households_eligible"]),
            str(b["households_granted"]),
            _percent(b["coverage"]),
            _hours(b.get("timeliness_median_hours")),
            _hours(b.get("timeliness_p90_hours")),
            _percent(b.get("granted_within_day")),
            _money(b["amount_paid"]),
        )
    out.print(bureaus)
    if result.get("programmes"):
        money = Table(title="money per programme 各项目资金", title_justify="left")
        for header in ("bureau", "programme", "households", "payments", "paid (元)"):
            money.add_column(header, justify="right" if header in ("households", "payments", "paid (元)") else "left")
        for p in result["programmes"]:
            money.add_row(
                p["bureau_name"],
                p["programme_name"],
                str(p["households_paid"]),
                str(p["payments"]),
                _money(p["amount_paid"]),
            )
        out.print(money)
    unserved = result["unserved"]
    out.print(f"unserved households (enrolled over {result['unserved_after_days']} days): {len(unserved)}")
    if unserved:
        table = Table(show_header=True)
        for header in ("district", "street", "head", "waiting (d)", "missing", "household"):
            table.add_column(header, no_wrap=header == "household")
        for household in unserved[:LISTED]:
            missing = ", ".join(sorted({f"{m['bureau']}:{m['programme']}" for m in household["missing"]}))
            table.add_row(
                household.get("division_name", household["division_code"]),
                household.get("street", ""),
                household.get("head_name", ""),
                str(household["days_waiting"]),
                missing,
                household["household_id"],
            )
        out.print(table)
        if len(unserved) > LISTED:
            out.print(f"… and {len(unserved) - LISTED} more (all of them: --unserved-csv FILE)")


@app.command()
def meeting(
    period: str,
    out: Annotated[
        Path | None, typer.Option("--out", help="where to write the page (default meeting-PERIOD.html here)")
    ] = None,
) -> None:
    """Prepare the joint meeting's pack (联席会议材料) for a period: its assessment, every unit's and district's
    score, the open findings with the overdue flagged — one self-contained HTML page (opens offline, prints)."""

    target = out or Path(f"meeting-{period}.html")
    with client("office") as http:
        response = http.get("/meetings/pack", params={"period": period, "format": "html"})
        page = response.text if response.status_code < 400 else answer(response, "office", "office:read")
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}", EXIT_USAGE) from None
    console().print(f"meeting pack {period}: {target} ({len(page.encode()) // 1024 + 1} KB; open it in a browser)")


# ---- status ------------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _count(value: float | None) -> str:
    """A count (events behind, rows waiting, dead letters): the metrics give floats, the operator reads whole numbers."""

    return "—" if value is None else f"{value:.0f}"


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
            f"{ready.get('relay', '—'):<9} {_count(state.lag):>8} {_count(state.backlog):>8} {_num(state.oldest):>9} "
            f"{_count(state.dead_lettered):>6}" + (f"  {state.error}" if state.error else "")
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


# ---- replay ------------------------------------------------------------------------------------------

# What a service's callers meet while it replays: what it derived from events is deleted first, and comes back
# household by household as the topics are read again.
REPLAY_IMPACT = {
    "registry": "it re-reads employment.members only and deletes nothing (an extension is recorded once per "
    "job): the registry keeps answering as before",
    "medical": "hospitals get 404 on GET /eligibility/{resident_id}, and claims are refused, for every household "
    "medical has not re-read yet",
    "education": "GET /pupils/{resident_id} answers 404 and schools' reports are refused for pupils not re-read "
    "yet; a term run now would leave them out",
    "housing": "GET /households/{id} answers 404 for households not re-read yet; a rent-subsidy run now would "
    "leave them out",
    "employment": "GET /persons/{resident_id} answers 404 and no certificate is issued for people not re-read yet",
    "utilities": "water discounts and heating reductions are refused (404) for households not re-read yet; a "
    "supplement run now would leave them out",
    "legal": "GET /eligibility/{resident_id} answers eligible: false, and legal aid is refused, for people not "
    "re-read yet",
    "office": "the one-stop view answers 404 and the assessment is incomplete until every event is re-read",
}


def _lag(http: httpx.Client, service: str) -> tuple[float, int] | None:
    """(events not yet handled, partitions reporting), from /metrics; None when it cannot be read."""

    try:
        response = http.get("/metrics", timeout=10)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    lag, partitions = 0.0, 0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "harbin_consumer_lag" and sample.labels.get("service") == service:
                lag, partitions = lag + sample.value, partitions + 1
    return lag, partitions


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help="the service to rebuild: medical, education, …")],
    yes: Yes = False,
    wait: Annotated[bool, typer.Option(help="follow the replay until the service has caught up")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to follow it at most")] = 3600,
) -> None:
    """Rebuild what a service derived from events by reading its topics from the beginning.

    The service stops its own consumer first, deletes what it derived, and reads everything again; until it has
    caught up its callers get 404 for what it has not re-read (said before asking). It refuses (409) while other
    replicas of it consume part of its topics: they would not replay theirs — scale it to one replica first.
    Needs a token with <service>:admin (and ops:metrics to follow it)."""

    if service not in PORTS:
        raise CliError(f"unknown service {service}; one of {', '.join(PORTS)}", EXIT_USAGE)
    impact = REPLAY_IMPACT.get(service, "what it derived from events is missing until it has been re-read")
    console(stderr=True).print(
        f"[yellow]Replaying {service}: until it has caught up, {impact}. Run no payment run meanwhile. With several "
        f"replicas, scale {service} to one first (the service refuses otherwise).[/yellow]"
    )
    if not yes:
        _confirm(f"Replay {service} now?")
    with client(service) as http:
        result = answer(http.post("/admin/replay"), service, f"{service}:admin")
        deleted = ", ".join(f"{table} {count}" for table, count in result["deleted"].items()) or "nothing"
        typer.echo(f"{service}: replaying from the beginning of its topics; deleted {deleted}")
        if not wait:
            return
        started = time.monotonic()
        last = -1.0
        while time.monotonic() - started < timeout:
            time.sleep(2)
            state = _lag(http, service)
            if state is None:
                typer.echo("cannot follow it (/metrics needs ops:metrics): check with `harbin-ops status`")
                return
            lag, partitions = state
            if partitions and lag == 0:
                typer.echo(f"{service}: caught up after {time.monotonic() - started:.0f} s")
                return
            if lag != last:
                typer.echo(f"{service}: {lag:.0f} events left to re-read")
                last = lag
    raise CliError(f"{service} has not caught up after {timeout:.0f} s; check with `harbin-ops status`", EXIT_REFUSED)


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
        body = answer(http.get(path, params={**params, "page": str(page), "size": "1000"}), "registry", "registry:read")
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
