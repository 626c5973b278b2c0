"""Reads of a person's data are audited: who (agency, subject) looked up whom, by which route, when, with the
request's ID — in the same append-only trail as changes (shared.audit), readable with ``audit:read``.

A route that reads a person by resident ID — in its path or in a POST search form's body — declares
``reads_person()`` after its scope guard. The read is recorded in a transaction of its own before it is
served (a read the trail cannot record is not served), whatever its outcome: a lookup that finds no one
still tells the caller that the person is not in dibao.

The trail never holds the resident ID readable: the entry's ``resource_id`` is a keyed hash of it
(HMAC-SHA-256 with ``<SERVICE>_AUDIT_KEY``, the same on every service), so "who looked at this person"
is an exact query (``POST /audit/reads``), and ``after.resident_id`` is the masked number, for people.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends, Request

from shared.request_id import current_request_id
from shared.resident_id import InvalidResidentId, mask_resident_id, parse_resident_id
from shared.unit_of_work import UnitsOfWork, request_actor

RESOURCE_TYPE = "resident_read"
# Only for development and tests: a service in production refuses to start with it (or with none).
DEVELOPMENT_AUDIT_KEY = "harbin-assistance-development-audit-key-000"
MIN_AUDIT_KEY_LENGTH = 32


def audit_key(configured: str, environment: str) -> str:
    if configured and configured != DEVELOPMENT_AUDIT_KEY and len(configured) >= MIN_AUDIT_KEY_LENGTH:
        return configured
    if environment == "production":
        raise RuntimeError(
            f"refusing to start in production without <SERVICE>_AUDIT_KEY: at least {MIN_AUDIT_KEY_LENGTH} random "
            "characters, the same on every service (it keys the hash of resident IDs in the audit trail)"
        )
    return configured or DEVELOPMENT_AUDIT_KEY


def resident_key(key: str, resident_id: str) -> str:
    """The audit trail's name for a person: a keyed hash of the resident ID (not reversible without the key)."""

    return "hmac:" + hmac.new(key.encode(), resident_id.encode(), hashlib.sha256).hexdigest()[:40]


async def record_read(request: Request, resident_id: str) -> None:
    units: UnitsOfWork = request.app.state.platform.units
    async with units.begin(actor=request_actor(request)) as uow:
        uow.audit(
            RESOURCE_TYPE,
            resident_key(request.app.state.audit_key, resident_id),
            after={"resident_id": mask_resident_id(resident_id), "request_id": current_request_id()},
        )
        await uow.commit()


class ReadsPerson:
    """A route dependency (after the scope guard): audit the read of the person the request names."""

    async def __call__(self, request: Request) -> None:
        raw = request.path_params.get("resident_id")
        if raw is None:
            try:
                body = await request.json()  # the body FastAPI has read (and kept) for the endpoint
            except ValueError:
                return
            raw = body.get("resident_id") if isinstance(body, dict) else None
        if not isinstance(raw, str):
            return
        try:
            number = parse_resident_id(raw).number
        except InvalidResidentId:
            return  # refused by the route's validation: no one's data is read
        await record_read(request, number)


def reads_person() -> Any:
    """``dependencies=[requires("registry:read"), reads_person()]``."""

    return Depends(ReadsPerson())
