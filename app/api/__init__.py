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
from app.api.limits import DownloadLimit, max_downloads_from_env
from app.api.models import Health
from app.core.config import Settings
from app.core.services import Platform
from app.web_security import SecurityHeaders

__all__ = ["create_app", "serve", "API_PREFIX"]

API_PREFIX = "/api/v1"


def _is_list(param) -> bool:
    from typing import Union, get_args, get_origin

    annotation = getattr(getattr(param, "field_info", None), "annotation", None)
    args = [annotation]
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        args = list(get_args(annotation))
    return any(get_origin(a) in (list, tuple, set, frozenset) for a in args)


def _no_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare (``?fromat=csv`` must not
    silently download Parquet)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    multi: set[str] = set()  # list-valued parameters (e.g. state=approved&state=published)
    stack = [dependant]
    while stack:
        d = stack.pop()
        known.update(p.alias for p in d.query_params)
        multi.update(p.alias for p in d.query_params if _is_list(p))
        stack.extend(d.dependencies)
    unknown = sorted({k for k in request.query_params.keys() if k not in known})
    repeated = sorted({k for k in request.query_params.keys()
                       if k in known and k not in multi and len(request.query_params.getlist(k)) > 1})
    if repeated:  # ?format=csv&format=parquet must not silently serve one of them
        raise ApiError(422, "invalid_request", f"query parameter {repeated[0][:40]!r} given more than once; "
                                               "give it once")
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        allowed = ", ".join(sorted(known)) or "none"
        raise ApiError(422, "invalid_request", f"unknown query parameter(s) {shown}; allowed: {allowed}")


def create_app(settings: Settings | None = None, *, platform: Platform | None = None,
               max_downloads: int | None = None) -> FastAPI:
    """The API application. Opens a :class:`Platform` from ``settings`` (default: the
    environment) unless one is given (then the caller keeps ownership of it). At most
    ``max_downloads`` (default ``SYNTHGEN_API_MAX_DOWNLOADS`` or 64) downloads stream at once;
    more get 503 with ``Retry-After`` (:mod:`app.api.limits`)."""
    owned = platform is None
    if max_downloads is None:
        max_downloads = max_downloads_from_env()
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
    app.add_middleware(DownloadLimit, limit=max_downloads)
    app.add_middleware(SecurityHeaders, csp_exempt=("/docs", "/redoc"))  # outermost: the 503 gets the headers too

    @app.get("/health", response_model=Health, tags=["meta"])
    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["meta"], include_in_schema=False)
    def health() -> Health:
        return Health(status="ok")

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request):
        """Prometheus metrics (``app.core.metrics``), for a scraper holding SYNTHGEN_METRICS_TOKEN."""
        import hmac

        from fastapi.responses import Response

        from app.core import metrics as metrics_mod

        p = request.app.state.platform
        expected = p.settings.metrics_token
        if expected is None:
            raise ApiError(404, "not_found", "metrics are off: set SYNTHGEN_METRICS_TOKEN to turn them on")
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise ApiError(401, "unauthenticated", "metrics need 'Authorization: Bearer <SYNTHGEN_METRICS_TOKEN>'",
                           {"WWW-Authenticate": 'Bearer realm="synthgen-metrics"'})
        return Response(metrics_mod.render(p.engine), media_type=metrics_mod.CONTENT_TYPE)

    app.include_router(releases.router, prefix=API_PREFIX)
    app.include_router(tokens.router, prefix=API_PREFIX)
    return app


def serve(host: str | None = None, port: int | None = None, settings: Settings | None = None,
          platform: Platform | None = None) -> None:
    """Run the API with uvicorn (blocking). Defaults: SYNTHGEN_API_HOST or 127.0.0.1,
    SYNTHGEN_API_PORT or 8000. With ``SYNTHGEN_TLS_CERT_FILE``/``SYNTHGEN_TLS_KEY_FILE`` set it
    serves HTTPS only."""
    import uvicorn

    settings = settings or (platform.settings if platform is not None else Settings.from_env())
    host = host or os.environ.get("SYNTHGEN_API_HOST") or "127.0.0.1"
    port = int(port or os.environ.get("SYNTHGEN_API_PORT") or 8000)
    tls = {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)} if settings.tls else {}
    uvicorn.run(create_app(settings, platform=platform), host=host, port=port, log_level="warning",
                server_header=False, **tls)
