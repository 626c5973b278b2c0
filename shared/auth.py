"""Who is calling, and may they: bearer JWTs naming the calling agency and its scopes.

Every route but ``/health``, ``/ready`` and the docs declares the scopes it needs with :func:`requires`
(or :func:`requires_any`); :func:`check_every_route_is_guarded` refuses to build an app with a route
that does not — deny by default is structural, not a convention.

Tokens are RS256, verified with the issuer's public keys (a JWKS file or URL, ``<SERVICE>_JWT_JWKS``; two
keys at once during a rotation, by ``kid``: shared.jwks) — the production way — or HS256 with a shared
secret (``<SERVICE>_JWT_SECRET``) for local use: a service in production on HS256 says so loudly at start-up.
Claims: ``sub`` (the person or system), ``agency`` (the calling agency), ``scope`` (space-separated), ``aud``
(the services it is for), ``exp``, and for a designated hospital ``hospital_id``, for a school ``school_id``.
The scopes an agency may hold are configured once, in shared.agencies, and checked on every token.

Mint one for local use: ``python -m shared.auth --agency civil_affairs --scope "registry:read registry:write"``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from shared import agencies
from shared.errors import Forbidden, Unauthorized
from shared.jwks import IssuerKeys
from shared.services import NAMES

log = logging.getLogger("shared.auth")

# Only for development and tests: a service in production refuses to start with it (or with none).
DEVELOPMENT_SECRET = "harbin-assistance-development-only-secret-0000"
MIN_SECRET_LENGTH = 32
# A bearer token lives a working day at most: a stolen one is not good for weeks.
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 60
PUBLIC_PATHS = frozenset({"/health", "/ready", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

SERVICES = NAMES
EXTRA_SCOPES = {
    "office:mutual_aid": "districts record donations and pairings with the office (社会互助)",
    "office:work_cycle": "the leading-group office records joint meetings, inspections and commendations and "
    "follows up their decisions and findings (联席会议, 督导检查, 表彰)",
    "office:partners": "the trade union, youth league, women's federation and disabled persons' federation "
    "record their activities for dibao members with the office",
    "medical:claims": "a designated hospital submits its own claims",
    "education:schools": "a school reports a pupil's stage, boarding or leaving",
    "education:partners": "a partner organisation records its aid to a pupil",
    "utilities:water": "the Water Group posts monthly usage",
    "audit:read": "the Audit and Supervision bureaus read audit trails, claims and flags",
    "ops:metrics": "the city's monitoring scrapes /metrics",
}
ALL_SCOPES = tuple(sorted({f"{s}:{a}" for s in SERVICES for a in ("read", "write", "admin")} | set(EXTRA_SCOPES)))


@dataclass(frozen=True)
class Principal:
    subject: str
    agency: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    hospital_id: str | None = None
    school_id: str | None = None


class AuthConfig:
    """How this service verifies tokens (from its settings)."""

    def __init__(
        self,
        *,
        algorithm: str,
        secret: str,
        jwks: str,
        environment: str,
        audience: str,
        jwks_refresh_seconds: float = 300,
    ) -> None:
        self.algorithm = algorithm
        self.production = environment == "production"
        self.secret = secret or (DEVELOPMENT_SECRET if not self.production else "")
        # A token names the services it is for (``aud``); a token for another service is refused here.
        self.audience = audience
        self.issuer_keys: IssuerKeys | None = None
        if algorithm == "RS256":
            if not jwks:
                raise RuntimeError("RS256 needs the issuer's public keys: set <SERVICE>_JWT_JWKS to a JWKS file or URL")
            try:
                self.issuer_keys = IssuerKeys(jwks, jwks_refresh_seconds)
            except Exception as exc:
                raise RuntimeError(f"refusing to start: the issuer's keys at {jwks} cannot be read ({exc})") from None
        elif self.production:
            self.refuse_unsafe()
            log.warning(
                "HS256 TOKENS IN PRODUCTION: every service shares one secret, and whoever holds it can mint any "
                "agency's token. Use RS256 with the issuer's public keys (<SERVICE>_JWT_ALGORITHM=RS256, "
                "<SERVICE>_JWT_JWKS); see docs/security.md"
            )

    def refuse_unsafe(self) -> None:
        if not self.secret or self.secret == DEVELOPMENT_SECRET or len(self.secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(
                f"refusing to start in production with a default, empty or short JWT secret; "
                f"set <SERVICE>_JWT_SECRET to at least {MIN_SECRET_LENGTH} random characters"
            )

    def link_key(self) -> str:
        """Links are signed with the shared secret; a service on RS256 without one cannot sign them."""

        if not self.secret:
            raise RuntimeError("signing links needs JWT_SECRET")
        return self.secret + ":links"

    def verify(self, token: str) -> Principal:
        try:
            # RS256: the one key of the issuer's set that the token's kid names; HS256: the shared secret.
            key = self.issuer_keys.key_for(token) if self.issuer_keys is not None else self.secret
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token_expired", "the bearer token has expired; get a new one") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("invalid_token", f"the bearer token is not for this service ({self.audience})") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid_token", f"the bearer token is not valid: {type(exc).__name__}") from None
        if not isinstance(claims["sub"], str) or not claims["sub"].strip():
            raise Unauthorized("invalid_token", "the bearer token names no subject (sub): the audit needs a who")
        if claims["exp"] - time.time() > MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise Unauthorized(
                "invalid_token", f"the bearer token lives longer than {MAX_TOKEN_LIFETIME_SECONDS // 3600} h"
            )
        scopes = claims.get("scope", "")
        if not isinstance(scopes, str):
            raise Unauthorized("invalid_token", "the token's scope claim is not a space-separated string")
        agency = claims.get("agency")
        if not isinstance(agency, str):
            raise Unauthorized("invalid_token", "the bearer token names no agency")
        refused = agencies.refusal(agency, scopes.split(), claims, production=self.production, all_scopes=ALL_SCOPES)
        if refused:
            raise Unauthorized("invalid_token", f"the bearer token is refused: {refused}")
        hospital, school = claims.get("hospital_id"), claims.get("school_id")
        return Principal(
            subject=str(claims["sub"]),
            agency=agency,
            scopes=frozenset(scopes.split()),
            hospital_id=str(hospital) if hospital is not None else None,
            school_id=str(school) if school is not None else None,
        )


def authenticate(request: Request) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("not_authenticated", "send a bearer token: Authorization: Bearer <jwt>")
    principal: Principal = request.app.state.auth.verify(token.strip())
    request.state.principal = principal
    return principal


class RequireScopes:
    """A dependency: the caller is authenticated and holds ``all_of`` (or one of ``any_of``)."""

    def __init__(self, all_of: Iterable[str] = (), any_of: Iterable[str] = ()) -> None:
        self.all_of = frozenset(all_of)
        self.any_of = frozenset(any_of)

    async def __call__(self, request: Request) -> Principal:
        principal = authenticate(request)
        missing = self.all_of - principal.scopes
        if missing or (self.any_of and not self.any_of & principal.scopes):
            needed = " ".join(sorted(missing)) if missing else " or ".join(sorted(self.any_of))
            raise Forbidden("insufficient_scope", f"agency {principal.agency} lacks the scope this needs: {needed}")
        return principal


class SignedLink(RequireScopes):
    """A guard for a page opened from a link: the path's ``link`` is a short-lived token the service signed
    for that one view (a browser at the joint meeting cannot send a bearer header)."""

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    async def __call__(self, request: Request) -> Principal:
        config: AuthConfig = request.app.state.auth
        link = request.path_params.get("link", "")
        try:
            claims = jwt.decode(link, config.link_key(), algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("link_expired", "this link has expired; ask for a new one") from None
        except (jwt.PyJWTError, RuntimeError):
            raise Unauthorized("invalid_link", "this link is not valid") from None
        if claims.get("purpose") != self.purpose:
            raise Forbidden("wrong_link", "this link is for something else")
        principal = Principal(
            subject=str(claims["sub"]),
            agency=str(claims.get("agency", "unknown")),
            scopes=frozenset({f"link:{self.purpose}"}),
        )
        request.state.principal = principal
        request.state.link_claims = claims
        return principal


def sign_link(request: Request, purpose: str, ttl_seconds: int, **claims: Any) -> str:
    principal = authenticate(request)
    now = int(time.time())
    return jwt.encode(
        {
            "sub": principal.subject,
            "agency": principal.agency,
            "purpose": purpose,
            "iat": now,
            "exp": now + ttl_seconds,
            **claims,
        },
        request.app.state.auth.link_key(),
        algorithm="HS256",
    )


def requires(*scopes: str) -> Any:
    """``dependencies=[requires("registry:write")]``; with no scope, any authenticated agency."""

    return Depends(RequireScopes(all_of=scopes))


def requires_any(*scopes: str) -> Any:
    return Depends(RequireScopes(any_of=scopes))


def check_every_route_is_guarded(app: FastAPI) -> None:
    """Deny by default: a route without a scope requirement is a bug, found when the app is built."""

    checked = 0
    for route in api_routes(app):
        if route.path in PUBLIC_PATHS:
            continue
        guards = [d for d in route.dependant.dependencies if isinstance(d.call, RequireScopes)]
        if not guards:
            raise RuntimeError(f"{sorted(route.methods)} {route.path} declares no scope: add requires(...)")
        checked += 1
    if not checked:
        raise RuntimeError("no routes found to check: the router's internals changed?")


def api_routes(app: FastAPI) -> list[Any]:
    """Every endpoint as served, with the dependencies of the routers it was included from."""

    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(getattr(context, "original_route", None), APIRoute)
    ]


def mint(
    *,
    subject: str,
    agency: str,
    scopes: Iterable[str],
    secret: str = DEVELOPMENT_SECRET,
    ttl_seconds: int = 8 * 3600,
    hospital_id: str | None = None,
    school_id: str | None = None,
    algorithm: str = "HS256",
    kid: str | None = None,
    audience: str | Iterable[str] = SERVICES,
    now: float | None = None,
) -> str:
    """A token; ``secret`` is the HS256 secret, or for RS256 the issuer's private key (PEM) named ``kid``."""

    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "agency": agency,
        "scope": " ".join(sorted(set(scopes))),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if hospital_id is not None:
        claims["hospital_id"] = hospital_id
    if school_id is not None:
        claims["school_id"] = school_id
    claims["aud"] = audience if isinstance(audience, str) else sorted(audience)
    return jwt.encode(claims, secret, algorithm=algorithm, headers={"kid": kid} if kid else None)


LOCAL_TOKENS = {
    "civil_affairs": (
        "民政局 Civil Affairs",
        ["registry:read", "registry:write", "office:read", "office:mutual_aid", "office:work_cycle"],
    ),
    "hospital_1": ("定点医院 hospital 1", ["medical:claims"]),
    "audit_bureau": ("审计局 Audit", ["audit:read", *(f"{s}:read" for s in SERVICES)]),
    agencies.LOCAL: ("every scope (development and tests only; refused in production)", list(ALL_SCOPES)),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Mint a bearer token: RS256 with the issuer's private key (--private-key, --kid), "
        "or HS256 with the services' secret (local use)"
    )
    parser.add_argument("--agency", help="the calling agency, e.g. civil_affairs, health_bureau (shared/agencies.py)")
    parser.add_argument("--scope", default="", help='space-separated scopes, e.g. "registry:read registry:write"')
    parser.add_argument("--subject", default="local-user")
    parser.add_argument("--hospital-id", help="for a designated hospital's token (agency hospital_<id>)")
    parser.add_argument("--school-id", help="for a school's token (agency school_<id>)")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds until it expires (24 h at most)")
    parser.add_argument("--secret", help="HS256: the services' JWT secret (default: the development secret)")
    parser.add_argument(
        "--private-key", help="RS256: the issuer's private key (PEM file, from python -m shared.jwks new)"
    )
    parser.add_argument("--kid", help="RS256: the name of that key in the JWKS")
    parser.add_argument(
        "--audience",
        nargs="+",
        default=list(SERVICES),
        metavar="SERVICE",
        help="the services the token is for (default: every service)",
    )
    parser.add_argument("--local", action="store_true", help="print ready-made tokens for local use")
    args = parser.parse_args(argv)
    if args.private_key and not args.kid:
        parser.error("--private-key needs --kid (the services pick the key by it)")
    signing: dict[str, str] = {"secret": args.secret or DEVELOPMENT_SECRET, "algorithm": "HS256"}
    if args.private_key:
        with open(args.private_key, encoding="ascii") as file:
            signing = {"secret": file.read(), "algorithm": "RS256"}
    if args.local:
        for name, (label, scopes) in LOCAL_TOKENS.items():
            hospital = "1" if name == "hospital_1" else None
            token = mint(
                subject=name,
                agency=name,
                scopes=scopes,
                ttl_seconds=args.ttl,
                hospital_id=hospital,
                secret=signing["secret"],
                algorithm=signing["algorithm"],
                kid=args.kid,
            )
            print(f"# {label}\n{name.upper()}_TOKEN={token}")
        return
    if not args.agency:
        parser.error("--agency is required (or --local)")
    if not args.subject.strip():
        # As the services would refuse it (invalid_token): e.g. --subject "$USER" where USER is not set.
        parser.error("--subject is empty: name who is calling (the audit trail records it)")
    identity = {"hospital_id": args.hospital_id, "school_id": args.school_id}
    refused = agencies.refusal(
        args.agency,
        args.scope.split(),
        {k: v for k, v in identity.items() if v is not None},
        production=False,
        all_scopes=ALL_SCOPES,
    )
    if refused:
        parser.error(f"the services would refuse this token: {refused}")
    print(
        mint(
            subject=args.subject,
            agency=args.agency,
            scopes=args.scope.split(),
            ttl_seconds=args.ttl,
            hospital_id=args.hospital_id,
            school_id=args.school_id,
            audience=args.audience,
            secret=signing["secret"],
            algorithm=signing["algorithm"],
            kid=args.kid,
        )
    )


if __name__ == "__main__":
    main()
