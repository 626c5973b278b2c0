"""Which methods a path has, answered from every route of the path rather than the first one found.

Starlette answers a method a path lacks with the methods of the first route it tried, so ``DELETE /claims``
said ``Allow: POST`` while ``/claims`` has GET too, and a request with a literal segment fell into a path
template: ``GET /eligibility/search`` asked for the resident ``search``. Here, as OpenAPI matches paths,
a concrete path (``/eligibility/search``) is matched before a template (``/eligibility/{resident_id}``);
a method the path lacks is 405 with the whole ``Allow``; ``OPTIONS`` is 204 with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import problem_response


@dataclass(frozen=True, slots=True)
class _Path:
    regex: re.Pattern[str]
    concrete: bool  # no parameter in it
    methods: frozenset[str]


def _paths(app: FastAPI) -> list[_Path]:
    by_path: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.routes):
        if route.methods and route.path:
            by_path.setdefault(route.path, set()).update(route.methods)
    return [_Path(compile_path(path)[0], "{" not in path, frozenset(methods)) for path, methods in by_path.items()]


def allowed_methods(app: FastAPI, path: str) -> frozenset[str] | None:
    """The methods ``path`` answers (OPTIONS included), or None when no route has the path (404)."""

    matching = [candidate for candidate in _paths_of(app) if candidate.regex.match(path)]
    if not matching:
        return None
    chosen = [candidate for candidate in matching if candidate.concrete] or matching
    return frozenset().union(*(candidate.methods for candidate in chosen)) | {"OPTIONS"}


def _paths_of(app: FastAPI) -> list[_Path]:
    # Routes are all added before the first request is served; read them once per app.
    paths: list[_Path] | None = getattr(app.state, "method_paths", None)
    if paths is None:
        paths = app.state.method_paths = _paths(app)
    return paths


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the root path a proxy may mount the service under."""

    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


class AllowedMethods:
    """Answer OPTIONS, and a method the path lacks, before routing: the rest goes on to the router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = allowed_methods(scope["app"], _route_path(scope))
        method = scope["method"]
        if allowed is None or (method in allowed and method != "OPTIONS"):
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(allowed))
        if method == "OPTIONS":
            response: Response = Response(status_code=204, headers={"Allow": allow})
        else:
            response = problem_response(
                405,
                "method_not_allowed",
                f"{method} is not a method of this path; it has {allow}",
                headers={"Allow": allow},
            )
        await response(scope, receive, send)
