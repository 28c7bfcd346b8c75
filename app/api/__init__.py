"""The HTTP API for ML teams and scripts (FastAPI), served beside the dashboard.

Run it with ``python -m app.api`` (``SYNTHGEN_API_HOST``/``SYNTHGEN_API_PORT``, default
``127.0.0.1:8000``) or ``uvicorn --factory app.api:create_app``. OpenAPI: ``/openapi.json``.

One router per area: :mod:`app.api.releases` (API token, read-only) and :mod:`app.api.tokens`
(user name and password); :mod:`app.api.auth` says who is calling, :mod:`app.api.errors` turns
errors into JSON through the one table of error kinds (:data:`synthgen.errors.ERROR_KINDS`).

Authentication
--------------
* Release endpoints (``/api/v1/releases...``) take a personal API token only:
  ``Authorization: Bearer sgt_...``. API tokens are *read-only release* credentials: they list,
  describe and download releases and nothing else.
* Token management (``/api/v1/tokens``) takes the account's user name and password (HTTP Basic),
  never an API token: presenting a token there is refused with 403 ``insufficient_scope``, so a
  leaked token cannot mint or extend itself.

Every call goes through :class:`app.core.services.Platform`, which re-reads the user, authorizes
through the matrix and writes the audit log (every download is one ``download`` entry).

Errors
------
Every error is JSON ``{"error": {"code": ..., "message": ...}}``: 400 bad input, 401 not
authenticated, 403 authenticated but not allowed, 404 no such release *or a release the caller may
not see* (unapproved, revoked, or of a dataset they do not belong to: its existence is not
revealed), 409 conflict or budget exceeded, 422 malformed request, 500 internal error (no
details; a correlation id that the server log holds). A caller who can see a release but may not
download it (e.g. a data owner and a revoked release, an admin who is not a data consumer) gets
403.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request

from app.api import releases, tokens
from app.api.errors import ApiError, install_error_handlers
from app.api.models import Health
from app.core.config import Settings
from app.core.services import Platform

__all__ = ["create_app", "serve", "API_PREFIX"]

API_PREFIX = "/api/v1"


class _SecurityHeaders:
    """Pure ASGI middleware (does not buffer streamed bodies): nosniff and no framing."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                                    (b"referrer-policy", b"no-referrer")):
                    if name not in names:
                        headers.append((name, value))
                if b"cache-control" not in names and not scope["path"].endswith("/download"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _no_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare (``?fromat=csv`` must not
    silently download Parquet)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        known.update(p.alias for p in d.query_params)
        stack.extend(d.dependencies)
    unknown = sorted({k for k in request.query_params.keys() if k not in known})
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        allowed = ", ".join(sorted(known)) or "none"
        raise ApiError(422, "invalid_request", f"unknown query parameter(s) {shown}; allowed: {allowed}")


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """The API application. Opens a :class:`Platform` from ``settings`` (default: the
    environment) unless one is given (then the caller keeps ownership of it)."""
    owned = platform is None
    if platform is None:
        platform = Platform.open(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if owned:
            platform.close()

    app = FastAPI(title="synthgen API", version="1",
                  description="Approved differentially-private synthetic releases for ML teams. "
                              "Errors are JSON {\"error\": {\"code\", \"message\"}}.",
                  lifespan=lifespan, dependencies=[Depends(_no_unknown_query)])
    app.state.platform = platform
    install_error_handlers(app)
    app.add_middleware(_SecurityHeaders)

    @app.get("/health", response_model=Health, tags=["meta"])
    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["meta"], include_in_schema=False)
    def health() -> Health:
        return Health(status="ok")

    app.include_router(releases.router, prefix=API_PREFIX)
    app.include_router(tokens.router, prefix=API_PREFIX)
    return app


def serve(host: str | None = None, port: int | None = None, settings: Settings | None = None,
          platform: Platform | None = None) -> None:
    """Run the API with uvicorn (blocking). Defaults: SYNTHGEN_API_HOST or 127.0.0.1,
    SYNTHGEN_API_PORT or 8000."""
    import uvicorn

    host = host or os.environ.get("SYNTHGEN_API_HOST") or "127.0.0.1"
    port = int(port or os.environ.get("SYNTHGEN_API_PORT") or 8000)
    uvicorn.run(create_app(settings, platform=platform), host=host, port=port, log_level="warning",
                server_header=False)
