"""Structured (JSON-lines) logs with resident IDs masked wherever they appear.

Masking is a filter on the root handler, so a resident ID cannot leak through a careless log call,
an exception message or a third-party library's log line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote

from opentelemetry import trace

from shared.request_id import current_request_id

# 18-digit (or 15-digit legacy) resident IDs, not inside longer runs of digits or letters.
_ID_LIKE = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])|(?<![\dA-Za-z])\d{15}(?![\dA-Za-z])")


# A run of URL-encoded text: what a query string or a raw path carries (``2301%30219…``, ``%32%33…``).
_PERCENT_ENCODED = re.compile(r"[0-9A-Za-z%]*%[0-9A-Fa-f]{2}[0-9A-Za-z%]*")


def _decoded(match: re.Match[str]) -> str:
    text = match.group(0)
    for _ in range(3):  # twice-encoded (%2532) too
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def mask_text(text: str) -> str:
    """Hide the middle of every resident-ID-shaped number (keep region code and last four), percent-encoded
    ones decoded first: an ID with a digit written ``%31`` is still an ID."""

    if not text:
        return text
    if "%" in text:
        text = _PERCENT_ENCODED.sub(_decoded, text)

    def _mask(match: re.Match[str]) -> str:
        number = match.group(0)
        return number[:6] + "*" * (len(number) - 10) + number[-4:]

    return _ID_LIKE.sub(_mask, text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so the formatter never sees the raw text.
            formatter = logging.Formatter()
            record.exc_text = mask_text(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # the trace this line belongs to (shared.tracing), to find it in the tracing backend
            entry["trace_id"] = f"{span.trace_id:032x}"
        for key, value in record.__dict__.items():
            if key.startswith("ctx_"):
                entry[key[4:]] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        return mask_text(json.dumps(entry, ensure_ascii=False, default=str))


class _ServiceHandler(logging.StreamHandler[TextIO]):
    """The handler configure_logging installs (and replaces when called again)."""


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    root = logging.getLogger()
    for installed in list(root.handlers):
        if isinstance(installed, _ServiceHandler):
            root.removeHandler(installed)
    handler = _ServiceHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # Every library's records through this one handler: uvicorn's own handlers go, its access line too (the
    # service writes its own, with route, status, duration, agency and request ID: shared.metrics), and
    # Python's warnings (SQLAlchemy's among them) become log records instead of bare lines on stderr.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy", "aiokafka", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.captureWarnings(True)
    logging.getLogger("aiokafka").setLevel("WARNING")
