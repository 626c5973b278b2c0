"""Errors as ``application/problem+json`` (RFC 9457) with a stable machine-readable ``code``.

Services raise :class:`DomainError` subclasses; the handlers installed by :func:`install_error_handlers`
turn them, FastAPI's validation errors and anything unexpected into problem documents. Bad input is
always a 4xx with a reason the caller can act on; an unexpected failure is a 500 that hides internals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import is_busy, is_transient
from shared.logging import mask_text
from shared.periods import PeriodInFuture
from shared.request_id import current_request_id

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("shared.errors")


class FieldError(BaseModel):
    """One field's reason, in a validation problem."""

    loc: list[str] = Field(description='where: ["body", "members", "0", "resident_id"], ["query", "period"]')
    type: str = Field(description="the validator's error type")
    msg: str = Field(description="what is wrong, for a person")
    code: str | None = Field(default=None, description="the stable reason of this field, when it has one")
    reason: str | None = Field(default=None, description="a finer reason, e.g. checksum for a resident ID")


class Problem(BaseModel):
    """An error the caller can act on (RFC 9457). Branch on ``code``; ``title`` is the same for every ``code``."""

    type: str = Field(default="about:blank", description="URI naming the problem type: one per code")
    title: str = Field(description="a short summary of the problem type, the same for every problem of the code")
    status: int = Field(description="the HTTP status")
    detail: str | None = Field(default=None, description="this occurrence, for a person")
    code: str = Field(description="Stable machine-readable reason, e.g. invalid_resident_id")
    errors: list[FieldError] | None = Field(default=None, description="Per-field reasons, for validation errors")
    request_id: str | None = Field(
        default=None, description="The request's ID (the X-Request-ID header), to quote when reporting it"
    )


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Unprocessable(DomainError):
    status = 422


_UNSTORABLE = {
    "CharacterNotInRepertoireError",
    "UntranslatableCharacterError",
    "NumericValueOutOfRangeError",
    "StringDataRightTruncationError",
    "InvalidTextRepresentationError",
    "DatetimeFieldOverflowError",
    "DataError",
}


def _unstorable_value(exc: BaseException) -> bool:
    """The database refused a value (a NUL character, a lone surrogate, a number too large): bad input."""

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (UnicodeEncodeError, OverflowError)) or type(seen).__name__ in _UNSTORABLE:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


# A problem's title names its code (RFC 9457: the same for every occurrence of a type); these read better
# than the code's words.
_TITLES = {
    "invalid_json": "Invalid JSON",
    "http_error": "HTTP error",
    "internal_error": "Internal error",
    "invalid_resident_id": "Invalid resident ID",
}


def problem_title(code: str) -> str:
    """The one title of a code: ``invalid_period`` → "Invalid period", whichever way it was raised."""

    return _TITLES.get(code) or code.replace("_", " ").capitalize()


def problem_response(
    status: int,
    code: str,
    detail: str | None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://harbin-assistance.example/problems/{code}",
        title=problem_title(code),
        status=status,
        detail=mask_text(detail) if detail else detail,
        code=code,
        errors=[FieldError.model_validate(error) for error in errors] if errors else None,
        request_id=current_request_id(),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def validation_details(raw_errors: Sequence[Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(code, detail, per-field errors) for pydantic errors, as a caller sees them.

    The offending input is left out on purpose: it may hold a resident ID or a name.
    """

    errors = []
    for error in raw_errors:
        ctx = error.get("ctx") or {}
        item: dict[str, Any] = {
            "loc": [str(part) for part in error.get("loc", ())],
            "type": error.get("type"),
            "msg": mask_text(str(error.get("msg", ""))),
        }
        if reason := ctx.get("reason"):
            item["reason"] = str(reason)
        if code := ctx.get("code"):
            item["code"] = str(code)
        errors.append(item)
    first = errors[0] if errors else {}
    where = ".".join(part for part in first.get("loc", []) if part != "body")
    detail = f"{where}: {first.get('msg')}" if where else str(first.get("msg", "invalid request"))
    return _validation_code(errors), detail, errors


def _validation_code(errors: list[dict[str, Any]]) -> str:
    """The most specific code of the errors, so callers need not parse messages."""

    for error in errors:
        if error.get("code"):
            return str(error["code"])
    if any(error.get("type") == "extra_forbidden" for error in errors):
        return "unknown_field"
    if any(error.get("type") == "json_invalid" for error in errors):
        return "invalid_json"
    if any(error.get("type") == "missing" for error in errors):
        return "missing_field"
    return "validation_error"


BUSY_RETRY_AFTER = "2"


def database_problem(exc: BaseException) -> JSONResponse | None:
    """The answer to a failure of the database rather than of the code, or None for a real bug."""

    if _unstorable_value(exc):
        return problem_response(422, "invalid_value", "a value cannot be stored: a character or number out of range")
    if is_busy(exc):
        # Nothing was written: the unit of work is rolled back whole. The same request may simply be sent again.
        log.warning("database busy: %s", type(exc).__name__)
        return problem_response(
            503,
            "service_busy",
            "the service is busy (no database connection or lock free in time); nothing was "
            "written: retry after a moment",
            headers={"Retry-After": BUSY_RETRY_AFTER},
        )
    if is_transient(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "database_unavailable",
            "the database is not reachable; retry later",
            headers={"Retry-After": "5"},
        )
    return None


def _not_json(errors: Sequence[Any]) -> bool:
    """FastAPI hands a body it could not read as JSON (another or no content type) to the model as bytes."""

    return any(
        error.get("type") == "json_invalid"
        or (tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes | bytearray))
        for error in errors
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail, exc.errors)

    @app.exception_handler(PeriodInFuture)
    async def _future(_: Request, exc: PeriodInFuture) -> JSONResponse:
        return problem_response(422, "period_in_future", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if _not_json(exc.errors()):
            return problem_response(
                415,
                "unsupported_media_type",
                "the body must be JSON, sent as Content-Type: application/json",
            )
        code, detail, errors = validation_details(exc.errors())
        return problem_response(422, code, detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "not_authenticated",
            403: "forbidden",
            413: "body_too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code, "http_error")
        return problem_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Answered here, not by the catch-all below: that one re-raises to the server after answering.
        if (response := database_problem(exc)) is not None:
            return response
        raise exc

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if (response := database_problem(exc)) is not None:
            return response
        log.exception("unexpected error")
        return problem_response(500, "internal_error", "an unexpected error occurred; it has been logged")


PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# What each status means here, with the codes a caller meets most: one text for every operation.
PROBLEM_DESCRIPTIONS = {
    400: "The request itself is malformed: Content-Length is not a number (invalid_content_length)",
    401: "Missing, invalid or expired bearer token, or one not for this service (not_authenticated, invalid_token, "
    "token_expired)",
    403: "The token lacks a scope this needs, or speaks for another hospital or school (insufficient_scope, …)",
    404: "Not found: the code names what (household_not_found, person_not_found, …)",
    405: "The path exists but not with this method; the Allow header lists those it has (method_not_allowed)",
    409: "Conflicts with the current state (person_in_active_household, already_assigned, …)",
    413: "The body is over 1 MB (body_too_large)",
    415: "The body is not JSON sent as application/json (unsupported_media_type)",
    422: "Invalid input or a rule refused it, with a machine-readable code and per-field errors",
    500: "An unexpected failure, logged with the request ID (internal_error); nothing was half-written",
    503: "The database is unreachable (database_unavailable) or busy (service_busy); nothing was written: "
    "retry after Retry-After seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route answers beyond the usual ones
    (the document adds 400, 401, 403, 413, 415, 422, 500 and 503 wherever they apply: shared.openapi)."""

    return {status: {"description": PROBLEM_DESCRIPTIONS[status], "content": PROBLEM_CONTENT} for status in statuses}
