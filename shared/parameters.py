"""Effective-dated policy parameters: a named value, valid from a date, for a division or city-wide.

The plan gives few numbers; the bureaus set the rest and change them over time. A value is never a
literal in code: it is a row (name, scope, value, effective_from), and a computation for a day asks
for the value in force on that day. Old rows are kept, so what was paid under an old value can
always be explained.

Resolution: among the rows for the name that are in force on the day (``effective_from <= day``)
and apply to the scope (the division itself, or ``*`` for the whole city), the one with the latest
``effective_from`` wins; on the same date the division's own row beats the city-wide one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.divisions import DIVISIONS, is_harbin_division
from shared.errors import Conflict, NotFound, Unprocessable, problem_responses
from shared.periods import city_today
from shared.platform_models import PolicyParameter
from shared.unit_of_work import Cache, DbSession, UnitOfWork, Uow
from shared.validators import PlanDay, Text, WholeNumber

CITY_WIDE = "*"
# The plan's own date: defaults hold from the year it was issued.
PLAN_DATE = date(2004, 1, 1)

ParameterKind = Literal["money", "rate", "decimal", "integer", "month_day"]
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    name: str
    kind: ParameterKind
    label: str
    unit: str = ""
    # Default rows as (scope, value), in force from PLAN_DATE; illustrative starting values (docs/policy.md).
    defaults: tuple[tuple[str, str], ...] = ()
    scoped: bool = False  # whether a division may have its own value
    # The plausible range (inclusive), as text; a value outside it is refused (value_out_of_range). None takes
    # the kind's default range (DEFAULT_BOUNDS): wide enough for any real value, narrow enough to stop a typo.
    bounds: tuple[str, str] | None = None

    def range(self) -> tuple[Decimal, Decimal] | None:
        bounds = self.bounds or DEFAULT_BOUNDS.get(self.kind)
        return None if bounds is None else (Decimal(bounds[0]), Decimal(bounds[1]))


DEFAULT_BOUNDS: dict[str, tuple[str, str]] = {
    "money": ("0.00", "100000.00"),
    "rate": ("0", "1"),
    "decimal": ("0", "100000"),
    "integer": ("0", "100000"),
}


class ValueOutOfRange(ValueError):
    pass


class InvalidParameterValue(ValueError):
    pass


def parse_value(spec: ParameterSpec, raw: str) -> Any:
    """Turn a stored or submitted value into its typed form; raise InvalidParameterValue with a reason."""

    text = str(raw).strip()
    if spec.kind == "month_day":
        if not _MONTH_DAY.match(text):
            raise InvalidParameterValue(f"{spec.name} is a day of the year written MM-DD, e.g. 10-20")
        return (int(text[:2]), int(text[3:]))
    if spec.kind == "integer":
        if not re.fullmatch(r"[0-9]{1,6}", text):
            raise InvalidParameterValue(f"{spec.name} is a whole number of {spec.unit or 'units'}")
        return int(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidParameterValue(f'{spec.name} is a decimal number written as text, e.g. "200.00"') from None
    if not value.is_finite() or value < 0:
        raise InvalidParameterValue(f"{spec.name} cannot be negative")
    if spec.kind == "rate" and value > 1:
        raise InvalidParameterValue(f'{spec.name} is a share between 0 and 1, e.g. "0.50"')
    exponent = value.as_tuple().exponent  # an int: the value is finite (only NaN and infinities have letters)
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidParameterValue(f"{spec.name} has too many decimal places")
    return value


def check_range(spec: ParameterSpec, value: Any) -> None:
    limits = spec.range()
    if limits is not None and not limits[0] <= Decimal(value) <= limits[1]:
        raise ValueOutOfRange(f"{spec.name} must be between {limits[0]} and {limits[1]} {spec.unit}".rstrip())


def canonical_text(spec: ParameterSpec, raw: str) -> str:
    value = parse_value(spec, raw)
    if spec.kind == "month_day":
        return f"{value[0]:02d}-{value[1]:02d}"
    if spec.kind == "money":
        return f"{value:.2f}"
    return str(value)


@dataclass(frozen=True, slots=True)
class ParameterRow:
    name: str
    scope: str
    value: str
    effective_from: date


class MissingParameter(LookupError):
    pass


def resolve(rows: Iterable[ParameterRow], on: date, scope: str = CITY_WIDE) -> ParameterRow:
    """The row in force on ``on`` for ``scope`` (pure; see the module docstring for the rule)."""

    best: ParameterRow | None = None
    for row in rows:
        if row.effective_from > on or row.scope not in (scope, CITY_WIDE):
            continue
        if best is None or (row.effective_from, row.scope != CITY_WIDE) > (
            best.effective_from,
            best.scope != CITY_WIDE,
        ):
            best = row
    if best is None:
        raise MissingParameter(f"no value in force on {on.isoformat()} for scope {scope}")
    return best


def change_dates(rows: Iterable[ParameterRow], scope: str, after: date) -> list[date]:
    """Dates after ``after`` on which the value for ``scope`` may change."""

    return sorted(
        {row.effective_from for row in rows if row.effective_from > after and row.scope in (scope, CITY_WIDE)}
    )


@dataclass
class ParameterBook:
    """Every row of some parameters, loaded once; lookups are then pure and cheap (e.g. a whole run)."""

    specs: dict[str, ParameterSpec]
    rows: dict[str, list[ParameterRow]] = field(default_factory=dict)

    @classmethod
    async def of(cls, uow: UnitOfWork, specs: Iterable[ParameterSpec]) -> ParameterBook:
        """The book of ``specs``, read once per unit of work: a consumer batch or a run decides hundreds
        of cases with the same values."""

        specs_by_name = {spec.name: spec for spec in specs}
        books = uow.cached(_BOOKS)
        key = frozenset(specs_by_name)
        if key not in books:
            books[key] = await cls._read(uow.session, specs_by_name)
        return books[key]

    @classmethod
    async def load(cls, session: AsyncSession, specs: Iterable[ParameterSpec]) -> ParameterBook:
        """The book of ``specs``, read now (a query that reads parameters once)."""

        return await cls._read(session, {spec.name: spec for spec in specs})

    @classmethod
    async def _read(cls, session: AsyncSession, specs_by_name: dict[str, ParameterSpec]) -> ParameterBook:
        await hold_parameters(session, exclusive=False)
        result = await session.execute(
            select(
                PolicyParameter.name, PolicyParameter.scope, PolicyParameter.value, PolicyParameter.effective_from
            ).where(PolicyParameter.name.in_(list(specs_by_name)))
        )
        rows: dict[str, list[ParameterRow]] = defaultdict(list)
        for name, scope, value, effective_from in result:
            rows[name].append(ParameterRow(name, scope, value, effective_from))
        return cls(specs_by_name, dict(rows))

    def get(self, spec: ParameterSpec, on: date, scope: str = CITY_WIDE) -> Any:
        try:
            row = resolve(self.rows.get(spec.name, ()), on, scope)
        except MissingParameter as exc:
            raise MissingParameter(f"{spec.name}: {exc}") from None
        return parse_value(spec, row.value)

    def history(self, spec: ParameterSpec) -> list[ParameterRow]:
        return sorted(self.rows.get(spec.name, ()), key=lambda row: (row.effective_from, row.scope))


_BOOKS: Cache[dict[frozenset[str], ParameterBook]] = Cache("parameter books", dict)

# Changes of parameters and what is computed from them are serialised: a transaction that reads a book holds
# this lock shared until it ends, and a change takes it exclusively before writing. Without it, an enrolment
# that read the old standard and committed after a new standard's recompute kept the old amounts for good.
_PARAMETERS_LOCK_KEY = 73_012_005


async def hold_parameters(session: AsyncSession, *, exclusive: bool) -> None:
    """Hold the parameters' lock until the transaction ends (shared to read, exclusive to change).

    PostgreSQL only: on SQLite every writing transaction begins IMMEDIATE, holding the database's one write
    lock from its first statement, so a change and an enrolment are serialised already."""

    if session.bind.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {function}(:key)"), {"key": _PARAMETERS_LOCK_KEY})


def default_rows(specs: Iterable[ParameterSpec]) -> list[dict[str, Any]]:
    """The seed rows for a migration's ``bulk_insert``."""

    return [
        {
            "name": spec.name,
            "scope": scope,
            "value": canonical_text(spec, value),
            "effective_from": PLAN_DATE,
            "recorded_by": "seed",
            "note": "illustrative default (docs/policy.md)",
        }
        for spec in specs
        for scope, value in spec.defaults
    ]


# ---- HTTP ---------------------------------------------------------------------------------------


class ParameterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"value": "680.00", "effective_from": "2026-07-01", "scope": "*", "note": "2026年下半年低保标准"},
                {
                    "value": "700.00",
                    "effective_from": "2026-01-01",
                    "scope": "230102",
                    "retroactive": True,
                    "reason": "市政府批复补调道里区标准",
                },
            ]
        },
    )

    value: Text | WholeNumber = Field(description='the value as text, e.g. "230.00" (money is never a float)')
    effective_from: PlanDay = Field(description="in force from this day on (生效日期)")
    scope: str = Field(
        default=CITY_WIDE,
        description='a Harbin division code, or "*" for the whole city',
        json_schema_extra={"enum": [CITY_WIDE, *sorted(DIVISIONS)]},
    )
    note: Text | None = Field(default=None, max_length=500)
    retroactive: StrictBool = Field(
        default=False,
        description="required for a date before today: the next runs settle the months it touches (追溯调整)",
    )
    reason: Text | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="why a value is set retroactively (required with retroactive)",
    )


class ParameterValueOut(BaseModel):
    value: str
    effective_from: date
    scope: str
    recorded_by: str | None = None
    note: str | None = None


class ParameterOut(BaseModel):
    name: str
    label: str
    kind: str
    unit: str
    current: list[ParameterValueOut] = Field(description="the value in force today, city-wide and per division")
    history: list[ParameterValueOut]


ParameterChanged = Callable[[UnitOfWork, ParameterSpec, PolicyParameter], Awaitable[None]]


def parameters_router(
    specs: Sequence[ParameterSpec],
    on_change: ParameterChanged | None = None,
    dependencies: Sequence[Any] = (),
    write_dependencies: Sequence[Any] = (),
) -> APIRouter:
    """``GET /parameters``, ``GET /parameters/{name}``, ``POST /parameters/{name}`` for a service's specs."""

    by_name = {spec.name: spec for spec in specs}
    router = APIRouter(prefix="/parameters", tags=["policy parameters 政策参数"], dependencies=list(dependencies))

    # The names this service has, documented as such (another name is 404 unknown_parameter).
    names: dict[str, Any] = {"enum": sorted(by_name)}
    examples = [spec.name for spec in specs[:1]]

    def _spec(name: str) -> ParameterSpec:
        spec = by_name.get(name)
        if spec is None:
            raise NotFound("unknown_parameter", f"no parameter named {name!r}; known: {', '.join(sorted(by_name))}")
        return spec

    async def _describe(session: AsyncSession, spec: ParameterSpec) -> ParameterOut:
        rows = (
            await session.scalars(
                select(PolicyParameter)
                .where(PolicyParameter.name == spec.name)
                .order_by(PolicyParameter.effective_from, PolicyParameter.scope)
            )
        ).all()
        plain = [ParameterRow(r.name, r.scope, r.value, r.effective_from) for r in rows]
        today = city_today()
        current = []
        for scope in sorted({r.scope for r in rows}):
            try:
                row = resolve(plain, today, scope)
            except MissingParameter:
                continue
            if row.scope == scope:
                current.append(ParameterValueOut(value=row.value, effective_from=row.effective_from, scope=row.scope))
        return ParameterOut(
            name=spec.name,
            label=spec.label,
            kind=spec.kind,
            unit=spec.unit,
            current=current,
            history=[
                ParameterValueOut(
                    value=r.value,
                    effective_from=r.effective_from,
                    scope=r.scope,
                    recorded_by=r.recorded_by,
                    note=r.note,
                )
                for r in rows
            ],
        )

    @router.get("", response_model=list[ParameterOut], summary="All policy parameters of this service")
    async def list_parameters(session: DbSession) -> list[ParameterOut]:
        """Every effective-dated policy parameter of this service (standards, rates, caps), each with the value in
        force today, its bounds and its full history. Any valid token."""

        return [await _describe(session, spec) for spec in specs]

    @router.get(
        "/{name}",
        response_model=ParameterOut,
        responses=problem_responses(404),
        summary="A parameter's value today and its full history",
    )
    async def get_parameter(
        session: DbSession,
        name: str = Path(max_length=80, description="the parameter's name", examples=examples, json_schema_extra=names),
    ) -> ParameterOut:
        """One policy parameter: the value in force today, its bounds, and every value it has had with the day it
        took effect and who set it. 404 `unknown_parameter` for a name this service does not have."""

        return await _describe(session, _spec(name))

    @router.post(
        "/{name}",
        response_model=ParameterOut,
        status_code=201,
        dependencies=list(write_dependencies),
        responses=problem_responses(404, 409, 422),
        summary="Set a new value from a date on (history is kept)",
    )
    async def set_parameter(
        body: ParameterIn,
        uow: Uow,
        request: Request,
        name: str = Path(max_length=80, description="the parameter's name", examples=examples, json_schema_extra=names),
    ) -> ParameterOut:
        """Set a parameter's value from a day on; the history is kept and amounts for earlier days keep their own
        values. A value outside the bounds is 422 `value_out_of_range`; a day before today needs `retroactive:
        true` and a `reason` (422 `retroactive_change`), and the next runs settle the months it touches. Scope
        `<service>:write`."""

        session = uow.session
        spec = _spec(name)
        if isinstance(body.value, bool):
            raise Unprocessable("invalid_parameter_value", "value must be text or a whole number")
        if body.scope != CITY_WIDE:
            if not spec.scoped:
                raise Unprocessable("parameter_not_scoped", f'{spec.name} is city-wide; use scope "*"')
            if not is_harbin_division(body.scope):
                raise Unprocessable("unknown_division", f"{body.scope!r} is not a Harbin division code")
        try:
            text = canonical_text(spec, str(body.value))
            check_range(spec, parse_value(spec, text))
        except InvalidParameterValue as exc:
            raise Unprocessable("invalid_parameter_value", str(exc)) from None
        except ValueOutOfRange as exc:
            raise Unprocessable("value_out_of_range", str(exc)) from None
        note = body.note
        if body.effective_from < city_today():
            if not body.retroactive or not body.reason:
                raise Unprocessable(
                    "retroactive_change",
                    f"{body.effective_from} is before today: a retroactive value changes what is "
                    'due for past periods; send "retroactive": true with a "reason"',
                )
            note = f"retroactive: {body.reason}" + (f" — {body.note}" if body.note else "")
        # Before anything is read: a change waits for the transactions computing from the old value to end,
        # and its recompute then sees everything they wrote.
        await hold_parameters(session, exclusive=True)
        caller = getattr(request.state, "principal", None)
        row = PolicyParameter(
            name=spec.name,
            scope=body.scope,
            value=text,
            effective_from=body.effective_from,
            recorded_by=getattr(caller, "agency", None) or "api",
            note=note,
        )
        session.add(row)
        uow.forget(_BOOKS)  # what this unit of work read before is now stale
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(
                "parameter_already_set",
                f"{spec.name} already has a value from {body.effective_from} for scope {body.scope}; "
                "set it from another date",
            ) from None
        if on_change is not None:
            await on_change(uow, spec, row)
        return await _describe(session, spec)

    return router
