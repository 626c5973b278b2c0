"""Calling the services: addresses, the token, and every refusal said in one line the operator can act on."""

from __future__ import annotations

import os
from typing import Any

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from shared.agencies import EXACT
from shared.services import PORTS
from shared.tracing import provider

# Exit statuses (the README's "Operate it" lists them).
EXIT_REFUSED = 1  # a service refused the request, or something is not ready
EXIT_USAGE = 2  # a bad argument or file, or a run not confirmed
EXIT_REJECTED = 3  # enrol: some rows were rejected (the rest went in); overdue: something is late
EXIT_UNREACHABLE = 4  # a service could not be reached, or failed (5xx)
EXIT_TOKEN = 5  # the token was refused (401) or lacks a scope (403)

TOKEN_VARIABLE = "HARBIN_TOKEN"

# The scope each service wants for what the CLI does with it, for the hint after a 401 or 403.
SCOPES = {
    "registry": "registry:read registry:write",
    "utilities": "utilities:write",
    "housing": "housing:write",
    "education": "education:write",
    "office": "office:read",
}


class CliError(Exception):
    """Something the operator must fix, said in one line; ``main`` prints it and exits with ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def url(service: str) -> str:
    return os.environ.get(f"HARBIN_{service.upper()}_URL", f"http://127.0.0.1:{PORTS[service]}")


def client(service: str, timeout: float = 600) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if (token := os.environ.get(TOKEN_VARIABLE)) else {}
    http = httpx.Client(base_url=url(service), timeout=timeout, headers=headers)
    # Each call starts a trace (traceparent sent), so a run started here can be followed into the services.
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=provider())
    return http


def _problem(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200].strip()
    if not isinstance(body, dict):
        return "", str(body)[:200]
    return str(body.get("code") or ""), str(body.get("detail") or body.get("title") or "")


def agency_for(scopes: str) -> str:
    """The first agency (shared/agencies.py's order: Civil Affairs first) that may hold every one of ``scopes``,
    so that the command the hint prints mints a token the services accept (Civil Affairs may not hold
    ``utilities:write``; the Price Bureau may)."""

    wanted = set(scopes.split())
    return next((name for name, agency in EXACT.items() if wanted <= agency.scopes), "local")


def token_hint(service: str, scopes: str | None = None) -> str:
    scopes = scopes or SCOPES.get(service, f"{service}:read")
    state = "is not set" if not os.environ.get(TOKEN_VARIABLE) else "is set, but this token was not accepted"
    return (
        f"harbin-ops sends the token in {TOKEN_VARIABLE}, which {state}; mint one with "
        f'`python -m shared.auth --agency {agency_for(scopes)} --subject "$(whoami)" --scope "{scopes}"`'
    )


def answer(response: httpx.Response, service: str, scopes: str | None = None) -> Any:
    """The response's JSON, or a :class:`CliError` that says what went wrong and what to do (``scopes``: what the
    call needs, for the hint after a 401 or 403)."""

    if response.status_code < 400:
        return response.json()
    code, detail = _problem(response)
    said = f"{service}: {response.status_code} {code}: {detail}".rstrip(": ")
    if response.status_code == 401:
        raise CliError(f"{said}. {token_hint(service, scopes)}", EXIT_TOKEN)
    if response.status_code == 403:
        raise CliError(f"{said}. {token_hint(service, scopes)}", EXIT_TOKEN)
    if response.status_code >= 500:
        raise CliError(f"{said} (nothing to fix on this side: see the service's log)", EXIT_UNREACHABLE)
    raise CliError(said, EXIT_REFUSED)
