"""Small pieces every service's routers use: report periods, paging, CSV responses."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import Response

from shared.errors import Unprocessable
from shared.periods import InvalidPeriod, Period, parse_month, parse_period
from shared.validators import LAST_YEAR, MONTH_PATTERN, PERIOD_PATTERN, PLAN_YEAR


def _check(period: str, pattern: str, what: str) -> None:
    # Years from the 2004 plan on (nothing was paid or reported before it), ASCII digits only.
    if not re.fullmatch(pattern, period, re.ASCII):
        raise Unprocessable("invalid_period", f"{period[:20]!r} is not {what} between {PLAN_YEAR} and {LAST_YEAR}")


def _report_period(
    period: str = Query(
        description=f"YYYY-MM, YYYY-H1, YYYY-H2 or YYYY, from {PLAN_YEAR}",
        examples=["2026-H1"],
        json_schema_extra={"pattern": PERIOD_PATTERN},
    ),
) -> Period:
    _check(period, PERIOD_PATTERN, "a period YYYY-MM, YYYY-H1, YYYY-H2 or YYYY")
    try:
        return parse_period(period)
    except InvalidPeriod as exc:
        raise Unprocessable("invalid_period", str(exc)) from None


def _month(
    period: str = Query(
        description=f"YYYY-MM, from {PLAN_YEAR}-01", examples=["2026-01"], json_schema_extra={"pattern": MONTH_PATTERN}
    ),
) -> Period:
    _check(period, MONTH_PATTERN, "a month YYYY-MM")
    try:
        return parse_month(period)
    except InvalidPeriod as exc:
        raise Unprocessable("invalid_period", str(exc)) from None


def _optional_report_period(
    period: str | None = Query(
        default=None,
        description=f"YYYY-MM, YYYY-H1, YYYY-H2 or YYYY, from {PLAN_YEAR} (all when absent)",
        examples=["2026-H1"],
        json_schema_extra={"pattern": PERIOD_PATTERN},
    ),
) -> Period | None:
    return None if period is None else _report_period(period)


ReportPeriod = Annotated[Period, Depends(_report_period)]
OptionalReportPeriod = Annotated[Period | None, Depends(_optional_report_period)]
MonthQuery = Annotated[Period, Depends(_month)]
Page = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
Size = Annotated[int, Query(ge=1, le=1000, description="items per page")]


def text_answers(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a 200 also given as text (CSV, HTML): declared as such, so that a generated client
    reads it as text rather than parsing it as JSON."""

    return {200: {"content": {media_type: {"schema": {"type": "string"}} for media_type in media_types}}}


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def wants_csv(accept: str | None, format: str | None) -> bool:
    return format == "csv" or (accept is not None and "text/csv" in accept)


def wants_html(accept: str | None, format: str | None) -> bool:
    """The page: ``format=html``, or a browser's ``Accept: text/html`` when no format is named."""

    return format == "html" or (format is None and accept is not None and "text/html" in accept)
