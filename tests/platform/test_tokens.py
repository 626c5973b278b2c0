"""Tokens: an agency holds only the scopes configured for it, RS256 with the issuer's keys (two at once during a
rotation), HS256 announced loudly in production."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import logging
import time
from pathlib import Path

import httpx
import jwt
import pytest

from shared import jwks
from shared.auth import ALL_SCOPES, DEVELOPMENT_SECRET, mint
from shared.auth import main as mint_command
from tests.support import new_prefix, service_app

AUDIT_KEY = "a-production-audit-key-of-forty-characters"


async def call(app, path: str, token: str) -> httpx.Response:
    """Authentication is decided before any database work: the app need not be started."""

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        return await http.get(path, headers={"Authorization": f"Bearer {token}"})


def app(service: str = "medical", **settings):
    return service_app(service, "sqlite+aiosqlite:///:memory:", new_prefix(), **settings)


@pytest.mark.parametrize(
    ("why", "agency", "scopes", "identity"),
    [
        ("a school claiming to read medical eligibility", "school_7", ["medical:read"], {"school_id": "7"}),
        (
            "a hospital claiming to read eligibility as the bureau does",
            "hospital_3",
            ["medical:read"],
            {"hospital_id": "3"},
        ),
        ("a hospital naming another hospital", "hospital_3", ["medical:claims"], {"hospital_id": "4"}),
        ("a hospital naming none", "hospital_3", ["medical:claims"], {}),
        ("the health bureau posing as a hospital", "health_bureau", ["medical:claims"], {"hospital_id": "3"}),
        ("the health bureau carrying a school", "health_bureau", ["medical:read"], {"school_id": "3"}),
        ("an agency nobody configured", "someone", ["medical:read"], {}),
        ("the Water Group reading medical data", "water_group", ["medical:read", "utilities:water"], {}),
    ],
)
async def test_a_token_claiming_what_its_agency_may_not_hold_is_refused(why, agency, scopes, identity):
    token = mint(subject="pytest", agency=agency, scopes=scopes, **identity)
    response = await call(app(), "/eligibility/11010519491231002X", token)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), why
    assert agency[:20] in response.json()["detail"]


async def test_a_token_within_its_agency_passes_authentication():
    # The hospital may not read claims' audit flags (a scope it lacks): 403, so it was authenticated.
    hospital = mint(subject="pytest", agency="hospital_3", scopes=["medical:claims"], hospital_id="3")
    response = await call(app(), "/audit/flags", hospital)
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


async def test_the_local_agency_with_every_scope_is_refused_in_production():
    production = app(environment="production", jwt_secret="x" * 48, audit_key=AUDIT_KEY)
    response = await call(
        production, "/audit/flags", mint(subject="p", agency="local", scopes=ALL_SCOPES, secret="x" * 48)
    )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert "development and tests only" in response.json()["detail"]
    # In development it is authenticated (and then lacks the one scope it was not given).
    development = await call(app(), "/audit/flags", mint(subject="p", agency="local", scopes=["medical:write"]))
    assert (development.status_code, development.json()["code"]) == (403, "insufficient_scope")


def test_hs256_in_production_is_announced_loudly_at_start_up():
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("shared.auth")
    logger.addHandler(handler)
    try:
        app(environment="development")
        quiet = buffer.getvalue()
        app(environment="production", jwt_secret="x" * 48, audit_key=AUDIT_KEY)
    finally:
        logger.removeHandler(handler)
    assert "HS256" not in quiet
    assert "HS256 TOKENS IN PRODUCTION" in buffer.getvalue()


def _keys(tmp_path: Path, *kids: str) -> tuple[Path, dict[str, str]]:
    """A JWKS with ``kids`` made by the key-management command, and each key's private PEM."""

    document = tmp_path / "jwks.json"
    private = {}
    for kid in kids:
        pem = tmp_path / f"{kid}.pem"
        jwks.main(["new", "--kid", kid, "--private-key", str(pem), "--jwks", str(document)])
        private[kid] = pem.read_text()
        assert pem.stat().st_mode & 0o077 == 0, "the private key is readable by its owner only"
    return document, private


def _rs256(private: str, kid: str | None, **claims) -> str:
    return mint(subject="tax", agency="tax_bureau", scopes=[], secret=private, algorithm="RS256", kid=kid, **claims)


def _hs256_with(secret: str) -> str:
    """What an attacker signs with a key everyone can read (PyJWT itself refuses to: made by hand)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": "x", "agency": "tax_bureau", "aud": "medical", "exp": int(time.time()) + 60}
    signed = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': '2026-12'})}.{part(claims)}"
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def test_rs256_during_a_rotation_accepts_both_keys_by_kid_and_nothing_else(tmp_path):
    document, private = _keys(tmp_path, "2026-06", "2026-12")
    service = app(environment="production", jwt_algorithm="RS256", jwt_jwks=str(document), audit_key=AUDIT_KEY)
    # Any authenticated agency may verify a certificate: past authentication, legal's /cases needs a scope.
    old, new = _rs256(private["2026-06"], "2026-06"), _rs256(private["2026-12"], "2026-12")
    for accepted in (old, new):
        response = await call(service, "/audit/flags", accepted)
        assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")
    refused = {
        "signed by one key, naming the other": _rs256(private["2026-06"], "2026-12"),
        "naming no key": _rs256(private["2026-12"], None),
        "naming an unknown key": _rs256(private["2026-12"], "2027-06"),
        "HS256 with the development secret": mint(subject="tax", agency="tax_bureau", scopes=[]),
        "HS256 keyed with the published key (algorithm confusion)": _hs256_with(document.read_text()),
    }
    for why, token in refused.items():
        response = await call(service, "/audit/flags", token)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), why

    # The old key retired: once the services reread the set, what it signed is refused.
    jwks.main(["retire", "--kid", "2026-06", "--jwks", str(document)])
    service.state.auth.issuer_keys.load()
    assert (await call(service, "/audit/flags", old)).status_code == 401
    assert (await call(service, "/audit/flags", new)).status_code == 403


def test_rs256_without_a_readable_jwks_refuses_to_start(tmp_path):
    with pytest.raises(RuntimeError, match="JWT_JWKS"):
        app(jwt_algorithm="RS256")
    with pytest.raises(RuntimeError, match="cannot be read"):
        app(jwt_algorithm="RS256", jwt_jwks=str(tmp_path / "missing.json"))
    symmetric = tmp_path / "oct.json"
    symmetric.write_text(json.dumps({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}))
    with pytest.raises(RuntimeError, match="no RS256 signing key"):
        app(jwt_algorithm="RS256", jwt_jwks=str(symmetric))


def test_the_last_key_cannot_be_retired(tmp_path):
    document, _ = _keys(tmp_path, "only")
    with pytest.raises(SystemExit, match="last key"):
        jwks.main(["retire", "--kid", "only", "--jwks", str(document)])


def test_the_mint_command_signs_with_the_issuers_key_and_refuses_what_services_would(tmp_path, capsys):
    document, _ = _keys(tmp_path, "2026-12")
    capsys.readouterr()
    mint_command(
        ["--agency", "school_7", "--school-id", "7", "--scope", "education:schools", "--audience", "education",
         "--private-key", str(tmp_path / "2026-12.pem"), "--kid", "2026-12"]
    )  # fmt: skip
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(
        token, jwks.IssuerKeys(str(document)).key_for(token), algorithms=["RS256"], audience="education"
    )
    assert (claims["agency"], claims["school_id"], claims["scope"]) == ("school_7", "7", "education:schools")
    with pytest.raises(SystemExit):
        mint_command(["--agency", "school_7", "--school-id", "7", "--scope", "medical:read"])
    assert "may not hold medical:read" in capsys.readouterr().err
    assert (
        jwt.decode(
            mint(subject="s", agency="local", scopes=[]), DEVELOPMENT_SECRET, algorithms=["HS256"], audience="legal"
        )["agency"]
        == "local"
    )


async def test_the_issuers_keys_are_read_from_a_url_and_reread_in_the_background(tmp_path):
    import functools
    import http.server
    import threading

    document, _ = _keys(tmp_path, "2026-06")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        keys = jwks.IssuerKeys(f"http://127.0.0.1:{server.server_port}/jwks.json", refresh_seconds=0.1)
        assert keys.kids == ["2026-06"]
        jwks.main(["new", "--kid", "2026-12", "--private-key", str(tmp_path / "2026-12.pem"), "--jwks", str(document)])
        refreshing = asyncio.create_task(keys.keep_fresh())
        try:
            for _ in range(100):
                if keys.kids == ["2026-06", "2026-12"]:
                    break
                await asyncio.sleep(0.05)
            server.shutdown()  # the issuer gone: the keys held are kept
            await asyncio.sleep(0.3)
        finally:
            refreshing.cancel()
        assert keys.kids == ["2026-06", "2026-12"]
    finally:
        server.server_close()
