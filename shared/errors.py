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


class Problem(BaseModel):
    """An error the caller can act on."""

    type: str = Field(default="about:blank", description="URI naming the problem type")
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable machine-readable reason, e.g. invalid_resident_id")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Per-field reasons, for validation errors")
    request_id: str | None = Field(
        default=None, description="The request's ID (the X-Request-ID header), to quote when reporting it"
    )


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, code: str, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors


class Unauthorized(DomainError):
    status, title = 401, "Not authenticated"


class Forbidden(DomainError):
    status, title = 403, "Forbidden"


class NotFound(DomainError):
    status, title = 404, "Not found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class Unprocessable(DomainError):
    status, title = 422, "Unprocessable"


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


def problem_response(
    status: int,
    title: str,
    code: str,
    detail: str | None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://harbin-assistance.example/problems/{code}",
        title=title,
        status=status,
        detail=mask_text(detail) if detail else detail,
        code=code,
        errors=errors,
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
        return problem_response(
            422, "Invalid request", "invalid_value", "a value cannot be stored: a character or number out of range"
        )
    if is_busy(exc):
        # Nothing was written: the unit of work is rolled back whole. The same request may simply be sent again.
        log.warning("database busy: %s", type(exc).__name__)
        return problem_response(
            503,
            "Service busy",
            "service_busy",
            "the service is busy (no database connection or lock free in time); nothing was "
            "written: retry after a moment",
            headers={"Retry-After": BUSY_RETRY_AFTER},
        )
    if is_transient(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
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
        return problem_response(exc.status, exc.title, exc.code, exc.detail, exc.errors)

    @app.exception_handler(PeriodInFuture)
    async def _future(_: Request, exc: PeriodInFuture) -> JSONResponse:
        return problem_response(422, "Unprocessable", "period_in_future", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if _not_json(exc.errors()):
            return problem_response(
                415,
                "Unsupported media type",
                "unsupported_media_type",
                "the body must be JSON, sent as Content-Type: application/json",
            )
        code, detail, errors = validation_details(exc.errors())
        return problem_response(422, "Invalid request", code, detail, errors)

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
        return problem_response(
            exc.status_code, str(exc.detail), code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

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
        return problem_response(
            500, "Internal error", "internal_error", "an unexpected error occurred; it has been logged"
        )


PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired bearer token",
    403: "The token lacks a scope this needs (or names another hospital)",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "The body is over 1 MB (body_too_large)",
    415: "The body is not JSON (unsupported_media_type)",
    422: "Invalid input, with a machine-readable code",
    503: "The database is unreachable (database_unavailable) or busy (service_busy); retry after Retry-After seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem+json errors."""

    return {
        status: {"description": _DESCRIPTIONS.get(status, "Error"), "content": PROBLEM_CONTENT} for status in statuses
    }


def document_problems(app: FastAPI, public_paths: frozenset[str] = frozenset({"/health", "/ready"})) -> None:
    """Make the OpenAPI document say what the service really answers on errors: problem+json."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        # Every operation but the public ones needs a bearer token: say so, so that Swagger UI shows its
        # Authorize button and generated clients send the token.
        schema["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "a token naming the calling agency, its scopes and this service (aud)"}
        }  # fmt: skip
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                if path not in public_paths:
                    operation["security"] = [{"bearer": []}]
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = PROBLEM_CONTENT
                        response["description"] = _DESCRIPTIONS.get(int(status), response.get("description", "Error"))
                if path in public_paths:
                    continue
                statuses = (401, 403, 413, 415, 422, 503) if "requestBody" in operation else (401, 403, 422, 503)
                for status in statuses:
                    responses.setdefault(
                        str(status), {"description": _DESCRIPTIONS[status], "content": PROBLEM_CONTENT}
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
