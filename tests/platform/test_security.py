"""Authentication, authorisation, the audit trail and personal data, for every service."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from shared.auth import DEVELOPMENT_SECRET, PUBLIC_PATHS, api_routes, mint
from shared.db import create_engine
from shared.migrations import SERVICES
from tests.support import (
    bearer,
    drop_database,
    enrol,
    household_body,
    member,
    migrated_database,
    new_prefix,
    running,
    service_app,
    serving,
    system,
)

MUTATING = {"POST", "PATCH", "PUT", "DELETE"}
A_RESIDENT_ID = "11010519491231002X"


def concrete(path: str) -> str:
    """Fill a route's path parameters with plausible values."""

    path = path.replace("{resident_id}", A_RESIDENT_ID)
    return re.sub(r"\{[a-z_]*id\}", "1", re.sub(r"\{(number|link)\}", "x", path))


def routes(service: str, methods: set[str]) -> list[tuple[str, str]]:
    app = service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix())
    return sorted(
        (method, route.path)
        for route in api_routes(app)
        if route.path not in PUBLIC_PATHS and not route.path.startswith("/reports/assessment/view")
        for method in route.methods & methods
    )


CASES = [(service, method, path) for service in SERVICES for method, path in routes(service, MUTATING)]
READS = [(service, method, path) for service in SERVICES for method, path in routes(service, {"GET"})]


def client(service: str) -> httpx.AsyncClient:
    """The app without its lifespan: authentication is decided before any database work."""

    app = service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(("service", "method", "path"), CASES, ids=[f"{s} {m} {p}" for s, m, p in CASES])
async def test_every_mutating_endpoint_refuses_no_bad_expired_and_wrong_scope_tokens(service, method, path):
    async with client(service) as http:
        url = concrete(path)
        missing = await http.request(method, url, json={})
        garbage = await http.request(method, url, json={}, headers={"Authorization": "Bearer not.a.jwt"})
        forged = await http.request(
            method,
            url,
            json={},
            headers={
                "Authorization": "Bearer "
                + mint(
                    subject="x",
                    agency="x",
                    scopes=["registry:write", f"{service}:write", f"{service}:admin"],
                    secret="some-other-secret-of-sufficient-length!!",
                )
            },
        )
        expired = await http.request(method, url, json={}, headers=bearer(ttl=-60))
        wrong = await http.request(method, url, json={}, headers=bearer("nothing:relevant"))
    assert (missing.status_code, missing.json()["code"]) == (401, "not_authenticated")
    assert (garbage.status_code, garbage.json()["code"]) == (401, "invalid_token")
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_token")
    assert (expired.status_code, expired.json()["code"]) == (401, "token_expired")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "insufficient_scope")
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("service", "method", "path"), READS, ids=[f"{s} {m} {p}" for s, m, p in READS])
async def test_reading_needs_a_token_too(service, method, path):
    async with client(service) as http:
        response = await http.request(method, concrete(path), params={"period": "2026"})
    assert response.status_code == 401


@pytest.mark.parametrize("service", SERVICES)
async def test_health_and_docs_are_open(service):
    async with client(service) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/docs")).status_code == 200


@pytest.mark.integration
async def test_a_hospital_claims_only_as_itself(kafka, postgres):
    async with system("medical") as s:
        http = s["medical"]
        body = {
            "hospital_id": "7",
            "resident_id": A_RESIDENT_ID,
            "invoice_no": "I-1",
            "visit_date": "2026-01-10",
            "kind": "outpatient",
            "total_cost": "10.00",
            "insurance_paid": "0.00",
        }
        other = await http.post("/claims", json=body, headers=bearer("medical:claims", hospital_id="8"))
        bureau = await http.post("/claims", json=body, headers=bearer("medical:claims", "medical:write"))
        itself = await http.post("/claims", json=body, headers=bearer("medical:claims", hospital_id="7"))
    assert (other.status_code, other.json()["code"]) == (403, "wrong_hospital")
    assert (bureau.status_code, bureau.json()["code"]) == (403, "not_a_hospital")
    # past the hospital check, the unknown hospital is refused on its merits
    assert (itself.status_code, itself.json()["code"]) == (422, "hospital_not_found")


async def test_only_civil_affairs_enrols_and_sets_the_dibao_standard():
    async with client("registry") as http:
        health_bureau = bearer("medical:write", "medical:read", agency="health_bureau")
        enrolment = await http.post("/households", json=household_body(), headers=health_bureau)
        standard = await http.post(
            "/parameters/dibao_standard",
            headers=health_bureau,
            json={"value": "999.00", "effective_from": "2026-01-01"},
        )
    assert enrolment.status_code == 403 and standard.status_code == 403


@pytest.mark.parametrize("secret", ["", DEVELOPMENT_SECRET, "too-short"])
def test_production_refuses_to_start_with_a_default_empty_or_short_secret(secret):
    with pytest.raises(RuntimeError, match="refusing to start"):
        service_app(
            "registry", "sqlite+aiosqlite:///:memory:", new_prefix(), environment="production", jwt_secret=secret
        )


def test_production_starts_with_a_real_secret():
    app = service_app(
        "registry",
        "sqlite+aiosqlite:///:memory:",
        new_prefix(),
        environment="production",
        jwt_secret="x" * 48,
        audit_key="k" * 40,
        seal_keys=Fernet.generate_key().decode(),  # the registry seals the office's facts with its own key
    )
    assert app.state.auth.secret == "x" * 48


def test_an_app_with_an_unguarded_route_is_refused():
    from fastapi import APIRouter, FastAPI

    from shared.auth import check_every_route_is_guarded, requires

    router = APIRouter(prefix="/things")

    @router.get("/guarded", dependencies=[requires("things:read")])
    async def guarded() -> dict:
        return {}

    @router.get("/forgotten")
    async def forgotten() -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(RuntimeError, match="/things/forgotten declares no scope"):
        check_every_route_is_guarded(app)


@pytest.mark.integration
async def test_changes_leave_an_append_only_audit_trail_readable_only_by_auditors(kafka, postgres):
    async with system("registry") as s:
        registry = s["registry"]
        created = await enrol(registry, household_body(income="100.00", enrolled_on=date(2026, 1, 1)))
        civil_affairs = bearer("registry:write", "registry:read", agency="civil_affairs")
        assert (
            await registry.patch(
                f"/households/{created['id']}", headers=civil_affairs, json={"monthly_income": "150.00"}
            )
        ).status_code == 200
        assert (
            await registry.post(
                f"/households/{created['id']}/exit",
                headers=civil_affairs,
                json={"on": "2026-06-01", "reason": "收入超标"},
            )
        ).status_code == 200

        denied = await registry.get("/audit", headers=civil_affairs)
        assert (denied.status_code, denied.json()["code"]) == (403, "insufficient_scope")
        trail = (
            await registry.get(
                "/audit",
                headers=bearer("audit:read", agency="audit_bureau"),
                params={"resource_type": "households", "resource_id": created["id"]},
            )
        ).json()
        actions = [(e["action"], e["agency"]) for e in trail["items"]]
        assert actions == [
            ("POST /households", "local"),
            ("PATCH /households/{household_id}", "civil_affairs"),
            ("POST /households/{household_id}/exit", "civil_affairs"),
        ]
        enrolment, change, exit_ = trail["items"]
        assert enrolment["before"] is None and enrolment["after"]["monthly_income"] == "100.00"
        assert (change["before"]["monthly_income"], change["after"]["monthly_income"]) == ("100.00", "150.00")
        assert (exit_["before"]["exited_on"], exit_["after"]["exited_on"]) == (None, "2026-06-01")

        assert (await registry.post("/audit", json={})).status_code == 405
        assert (await registry.delete("/audit")).status_code == 405
        engine = create_engine(s["registry"].app.state.settings.database_url)
        try:
            for statement in (
                "UPDATE audit_log SET agency = 'someone else'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
            ):
                with pytest.raises(Exception, match="append-only"):
                    async with engine.begin() as connection:
                        await connection.execute(text(statement))
        finally:
            await engine.dispose()


@pytest.mark.integration
async def test_logs_never_show_a_resident_id_in_full(kafka, postgres, capfd):
    async with system("registry") as s:
        head = member("head")
        created = await enrol(s["registry"], household_body(members=[head]))
        async with serving(s["registry"].app) as base:
            async with httpx.AsyncClient(base_url=base, headers=bearer()) as http:
                assert (await http.get(f"/persons/{head['resident_id']}")).status_code == 200
                conflict = await http.post("/households", json=household_body(members=[head]))
                assert conflict.status_code == 409
                assert head["resident_id"] not in conflict.text
                await asyncio.sleep(0.2)  # let the access log line flush
        assert created["id"]
    output = capfd.readouterr()
    logged = output.out + output.err
    assert "/persons/" in logged, "the access log line is there"
    assert head["resident_id"] not in logged
    assert head["resident_id"][:6] + "********" + head["resident_id"][-4:] in logged


def _claims_token(**claims: object) -> str:
    now = int(time.time())
    body = {"sub": "pytest", "agency": "local", "scope": "legal:read", "iat": now, "exp": now + 600,
            "aud": "legal"} | claims  # fmt: skip
    return jwt.encode({k: v for k, v in body.items() if v is not None}, DEVELOPMENT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("why", "claims"),
    [
        ("for another service", {"aud": "medical"}),
        ("for no service", {"aud": None}),
        ("with no subject", {"sub": ""}),
        ("with a blank subject", {"sub": "   "}),
        ("that lives until 9999", {"exp": 253402300799}),
        ("that lives two days", {"exp": int(time.time()) + 2 * 86400}),
    ],
)
async def test_a_token_is_refused(why, claims):
    # Refused before the route runs: the app need not be started.
    app = service_app("legal", "sqlite+aiosqlite:///:memory:", new_prefix())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/cases", headers={"Authorization": f"Bearer {_claims_token(**claims)}"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), why


@pytest.mark.integration
async def test_a_token_for_this_service_among_others_living_a_working_day_is_accepted(kafka, postgres):
    token = _claims_token(aud=["medical", "legal"], exp=int(time.time()) + 23 * 3600)
    url = await migrated_database("legal")
    try:
        async with running(service_app("legal", url, new_prefix()), authorised=False) as http:
            response = await http.get("/cases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
    finally:
        await drop_database(url)
