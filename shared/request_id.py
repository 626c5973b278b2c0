"""The request ID: accepted from ``X-Request-ID`` or made, returned on every response, put in every problem
body and every log line written while the request is served, so a caller's report finds the log."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
# What a caller may send: short, printable, no spaces (it goes into logs and headers as it is).
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The ID of the request being served (None outside a request: a consumer, a run started at boot)."""

    return _current.get()


class RequestId:
    """Outermost middleware: every response, even a refusal before routing, carries the request's ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == HEADER.encode()), b"")
        text = sent.decode("latin-1")
        request_id = text if _ACCEPTED.fullmatch(text) else uuid.uuid4().hex
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name != HEADER.encode()]
                message["headers"] = [*headers, (HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
