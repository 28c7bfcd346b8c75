"""The HTTP API for ML teams and scripts (FastAPI), served beside the dashboard.

Run it with ``python -m app.api`` (``SYNTHGEN_API_HOST``/``SYNTHGEN_API_PORT``, default
``127.0.0.1:8000``) or ``uvicorn --factory app.api:create_app``. OpenAPI: ``/openapi.json``.

Authentication
--------------
* Release endpoints (``/api/v1/releases...``) take a personal API token only:
  ``Authorization: Bearer sgt_...``. API tokens are *read-only release* credentials: they list,
  describe and download releases and nothing else.
* Token management (``/api/v1/tokens``) takes the account's user name and password (HTTP Basic),
  never an API token: presenting a token there is refused with 403 ``insufficient_scope``, so a
  leaked token cannot mint or extend itself.

Every call goes through :class:`app.core.services.Platform`, which re-reads the user, authorizes
through the matrix and writes the audit log (every download is one ``download`` entry). Refused
authentications (missing, malformed, unknown, expired or revoked token; disabled account; wrong
scope) are written to the audit log here as ``api_auth`` entries.

Errors
------
Every error is JSON ``{"error": {"code": ..., "message": ...}}``: 400 bad input, 401 not
authenticated, 403 authenticated but not allowed, 404 no such release *or a release the caller may
not see* (unapproved, revoked, or of a dataset they do not belong to: its existence is not
revealed), 422 malformed request, 500 internal error (no details). A caller who can see a release
but may not download it (e.g. a data owner and a revoked release, an admin who is not a data
consumer) gets 403.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.authz import PermissionDeniedError
from app.core.config import Settings
from app.core.releases import DOWNLOADABLE, IllegalTransitionError
from app.core.services import Actor, AuthenticationError, NotFoundError, Platform, ReleaseInfo, ThrottledError
from app.core.streaming import ArtifactIntegrityError
from app.web_security import SecurityHeaders
from synthgen.errors import SynthgenError

__all__ = ["create_app", "serve", "API_PREFIX"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
MAX_ID = 2**31 - 1
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error with its HTTP status, stable code and one-line message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. not_found, invalid_token")
    message: str = Field(description="one line, meant for people")


class ErrorBody(BaseModel):
    error: ErrorDetail


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="synthgen", error="invalid_token"'}
_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 500: "internal_error"}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(AuthenticationError)
    async def _auth_error(request: Request, exc: AuthenticationError) -> JSONResponse:
        return _error(401, "unauthenticated", str(exc), _BEARER_CHALLENGE)

    @app.exception_handler(PermissionDeniedError)
    async def _denied(request: Request, exc: PermissionDeniedError) -> JSONResponse:
        return _error(403, "forbidden", str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(IllegalTransitionError)
    async def _conflict(request: Request, exc: IllegalTransitionError) -> JSONResponse:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(SynthgenError)
    async def _bad_input(request: Request, exc: SynthgenError) -> JSONResponse:
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid_request", "; ".join(parts)[:500] or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _error(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), detail,
                      dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "internal error; the operator can find details in the server log")


# --------------------------------------------------------------------------------------------
# Response models
# --------------------------------------------------------------------------------------------


class ReleaseOut(BaseModel):
    id: int
    dataset_id: int
    dataset: str
    state: str
    synthesizer: str
    dp: bool
    epsilon: float | None
    delta: float | None
    rho: float | None
    rows: int | None
    target: str | None
    verdict: str | None
    approver: str | None
    override: bool
    created_at: datetime
    updated_at: datetime
    files: dict[str, str] = Field(description="public file name -> SHA-256 of its content")
    downloadable: bool


class ReleaseList(BaseModel):
    releases: list[ReleaseOut]


class CardOut(BaseModel):
    release: ReleaseOut
    privacy: dict[str, Any]
    card_html: str = Field(description="the ML-team release card (HTML), as rendered in the dashboard")


class TokenCreate(BaseModel):
    ttl_days: float = Field(30.0, ge=0.001, le=365, description="lifetime in days (at most 365)")


class TokenOut(BaseModel):
    id: int
    prefix: str
    user: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    token: str | None = Field(None, description="the secret: only in the answer to its creation, shown once")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class Health(BaseModel):
    status: Literal["ok"]


def _release_out(r: ReleaseInfo) -> ReleaseOut:
    return ReleaseOut(id=r.id, dataset_id=r.dataset_id, dataset=r.dataset_name, state=r.state,
                      synthesizer=r.synthesizer, dp=r.dp, epsilon=r.epsilon, delta=r.delta, rho=r.rho, rows=r.rows,
                      target=r.target, verdict=r.verdict, approver=r.approver, override=r.override,
                      created_at=r.created_at, updated_at=r.updated_at, files=dict(r.artifacts),
                      downloadable=r.state in DOWNLOADABLE)


def _token_out(t) -> TokenOut:
    return TokenOut(id=t.id, prefix=t.prefix, user=t.user, created_at=t.created_at, expires_at=t.expires_at,
                    revoked=t.revoked, token=t.token)


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="apiToken",
                     description="Personal API token (sgt_...): read-only access to releases.")
_basic = HTTPBasic(auto_error=False, scheme_name="password",
                   description="User name and password; only for managing one's API tokens.")


def _platform(request: Request) -> Platform:
    return request.app.state.platform


def _token_prefix(token: str) -> str:
    from app.core.identity import API_TOKEN_DISPLAY_CHARS, looks_like_api_token

    return token[:API_TOKEN_DISPLAY_CHARS] if looks_like_api_token(token) else "malformed"


def _audit_refusal(platform: Platform, request: Request, *, actor: str, outcome: str, target: str,
                   reason: str) -> None:
    try:
        platform.record(actor=actor, action="api_auth", outcome=outcome, target=target,
                        details={"reason": reason, "method": request.method, "path": request.url.path[:200]})
    except Exception:  # noqa: BLE001 - never turn a refusal into a 500
        log.exception("could not audit a refused API request")


def _release_scope_actor(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
    """The actor of a valid API token (release endpoints); 401 + audit entry otherwise."""
    platform = _platform(request)
    header = request.headers.get("authorization", "")
    if credentials is None:
        scheme = header.split(" ", 1)[0].lower() if header else ""
        reason = "password_not_accepted" if scheme == "basic" else ("missing" if not header else "malformed")
        _audit_refusal(platform, request, actor="anonymous", outcome="denied", target="api_token:none", reason=reason)
        message = ("release endpoints take an API token, not a password: send 'Authorization: Bearer sgt_...'"
                   if scheme == "basic" else "an API token is required: send 'Authorization: Bearer sgt_...'")
        raise ApiError(401, "unauthenticated", message, _BEARER_CHALLENGE)
    token = credentials.credentials
    try:
        return platform.actor_for_api_token(token)
    except AuthenticationError as exc:
        _audit_refusal(platform, request, actor=exc.username or "anonymous", outcome="denied",
                       target=f"api_token:{_token_prefix(token)}", reason=exc.reason or "other")
        raise ApiError(401, "invalid_token", "API token is not valid (unknown, revoked or expired)",
                       _BEARER_CHALLENGE) from None


def _password_actor(request: Request, basic: HTTPBasicCredentials | None = Depends(_basic)) -> tuple[Actor, str]:
    """(actor, session token) from HTTP Basic credentials; API tokens are refused (scope)."""
    platform = _platform(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        try:
            name = platform.actor_for_api_token(token).username
        except AuthenticationError as exc:
            name = exc.username or "anonymous"
        _audit_refusal(platform, request, actor=name, outcome="denied", target=f"api_token:{_token_prefix(token)}",
                       reason="insufficient_scope")
        raise ApiError(403, "insufficient_scope",
                       "API tokens only give read-only access to releases; managing tokens needs the account's "
                       "user name and password")
    if basic is None:
        _audit_refusal(platform, request, actor="anonymous", outcome="denied", target="user:unknown",
                       reason="missing")
        raise ApiError(401, "unauthenticated", "user name and password are required (HTTP Basic)",
                       {"WWW-Authenticate": 'Basic realm="synthgen"'})
    source = request.client.host if request.client else "unknown"
    try:
        session = platform.login(basic.username, basic.password, source=source)  # audits login ok/failed itself
    except ThrottledError as exc:
        raise ApiError(429, "too_many_requests", str(exc), {"Retry-After": str(exc.retry_after)}) from None
    except AuthenticationError as exc:
        raise ApiError(401, "unauthenticated", str(exc), {"WWW-Authenticate": 'Basic realm="synthgen"'}) from None
    return session.actor, session.token


# --------------------------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------------------------

_ERRORS = {
    400: {"model": ErrorBody, "description": "bad input (e.g. an unparsable body)"},
    401: {"model": ErrorBody, "description": "missing, malformed, unknown, expired or revoked credentials"},
    403: {"model": ErrorBody, "description": "authenticated, but not allowed"},
    404: {"model": ErrorBody, "description": "no such release, or one the caller may not see"},
    422: {"model": ErrorBody, "description": "malformed request"},
}
ReleaseId = Path(..., ge=1, le=MAX_ID, description="release id")


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


def _visible(platform: Platform, actor: Actor, release_id: int) -> ReleaseInfo | None:
    """The release if the caller may see it (no audit entry, never raises for lack of rights)."""
    for r in platform.list_releases(actor):
        if r.id == release_id:
            return r
    return None


def _hide_invisible(platform: Platform, actor: Actor, release_id: int, exc: SynthgenError) -> ApiError:
    """404 for releases the caller may not see (do not reveal they exist), 403 otherwise."""
    seen = _visible(platform, actor, release_id)
    if seen is None:
        return ApiError(404, "not_found", f"release {release_id} does not exist or is not visible to you")
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", str(exc))
    if seen.state not in DOWNLOADABLE:
        return ApiError(403, "forbidden", f"release {release_id} is {seen.state!r}: only approved or published "
                                          "releases can be downloaded")
    return ApiError(403, "forbidden", str(exc))


def _checked(platform: Platform, actor: Actor, release_id: int, fn):
    try:
        return fn()
    except (PermissionDeniedError, NotFoundError) as exc:
        raise _hide_invisible(platform, actor, release_id, exc) from None


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
    _install_error_handlers(app)
    app.add_middleware(SecurityHeaders, csp_exempt=("/docs", "/redoc"))

    @app.get("/health", response_model=Health, tags=["meta"])
    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["meta"], include_in_schema=False)
    def health() -> Health:
        return Health(status="ok")

    @app.get(f"{API_PREFIX}/releases", response_model=ReleaseList, responses=_ERRORS, tags=["releases"])
    def list_releases(request: Request, actor: Actor = Depends(_release_scope_actor),
                      dataset: str | None = Query(None, max_length=200, description="dataset name"),
                      state: list[Literal["approved", "published", "draft", "running", "failed", "evaluated",
                                          "rejected", "revoked"]] | None = Query(None),
                      ) -> ReleaseList:
        """Releases visible to the caller (an ML engineer only ever sees approved or published ones)."""
        found = _platform(request).list_releases(actor, states=tuple(state) if state else None)
        if dataset is not None:
            found = [r for r in found if r.dataset_name == dataset]
        return ReleaseList(releases=[_release_out(r) for r in found])

    @app.get(f"{API_PREFIX}/releases/latest", response_model=ReleaseOut, responses=_ERRORS, tags=["releases"])
    def latest_release(request: Request, dataset: str = Query(..., min_length=1, max_length=200),
                       actor: Actor = Depends(_release_scope_actor)) -> ReleaseOut:
        """The newest approved or published release of ``dataset`` visible to the caller."""
        found = [r for r in _platform(request).list_releases(actor, states=DOWNLOADABLE) if r.dataset_name == dataset]
        if not found:
            raise ApiError(404, "not_found", f"no approved release of dataset {dataset[:80]!r} is visible to you")
        return _release_out(max(found, key=lambda r: r.id))

    @app.get(f"{API_PREFIX}/releases/{{release_id}}", response_model=ReleaseOut, responses=_ERRORS,
             tags=["releases"])
    def get_release(request: Request, release_id: int = ReleaseId,
                    actor: Actor = Depends(_release_scope_actor)) -> ReleaseOut:
        p = _platform(request)
        return _release_out(_checked(p, actor, release_id, lambda: p.get_release(actor, release_id)))

    @app.get(f"{API_PREFIX}/releases/{{release_id}}/card", response_model=CardOut, responses=_ERRORS,
             tags=["releases"])
    def get_card(request: Request, release_id: int = ReleaseId,
                 actor: Actor = Depends(_release_scope_actor)) -> CardOut:
        """The ML-team release card (no real-side statistics)."""
        p = _platform(request)
        html = _checked(p, actor, release_id, lambda: p.get_release_card(actor, release_id, audience="ml"))
        rel = p.get_release(actor, release_id)
        privacy = {"dp": rel.dp, "epsilon": rel.epsilon, "delta": rel.delta, "rho": rel.rho,
                   "accounting": "zCDP" if rel.dp else "none: NOT differentially private"}
        return CardOut(release=_release_out(rel), privacy=privacy, card_html=html)

    @app.get(f"{API_PREFIX}/releases/{{release_id}}/manifest", responses=_ERRORS, tags=["releases"],
             response_model=dict[str, Any])
    def get_manifest(request: Request, release_id: int = ReleaseId,
                     actor: Actor = Depends(_release_scope_actor)) -> dict[str, Any]:
        """SHA-256 and size of every file, schema, synthesizer, ε/δ/ρ, versions, approval (audited)."""
        p = _platform(request)
        return _checked(p, actor, release_id, lambda: p.manifest(actor, release_id))

    @app.get(f"{API_PREFIX}/releases/{{release_id}}/download", tags=["releases"], response_class=StreamingResponse,
             responses={200: {"description": "the synthetic table, streamed",
                              "content": {MEDIA["csv"]: {"schema": {"type": "string"}},
                                          MEDIA["parquet"]: {"schema": {"type": "string", "format": "binary"}}},
                              "headers": {"ETag": {"schema": {"type": "string"},
                                                   "description": "quoted SHA-256 of the body"},
                                          "X-Checksum-SHA256": {"schema": {"type": "string"}}}},
                        500: {"model": ErrorBody, "description": "a stored file failed its integrity check"},
                        **_ERRORS})
    def download(request: Request, release_id: int = ReleaseId,
                 format: Literal["csv", "parquet"] = Query("parquet", description="csv or parquet"),
                 actor: Actor = Depends(_release_scope_actor)):
        """The synthetic table of an approved/published release. Audited. The body's SHA-256 is in
        ``ETag``, ``X-Checksum-SHA256`` and the manifest."""
        p = _platform(request)
        try:
            stream = _checked(p, actor, release_id, lambda: p.open_download(actor, release_id, format))
        except ArtifactIntegrityError as exc:  # checked before any byte is sent; audited by the service
            raise ApiError(500, "integrity_error", str(exc)) from None
        headers = {"ETag": f'"{stream.sha256}"', "X-Checksum-SHA256": stream.sha256, "Content-Length": str(stream.size),
                   "Content-Disposition": f'attachment; filename="{stream.filename}"'}
        # The stream checks the GCM tag and the manifest SHA-256 at its end; a mismatch raises
        # inside the response and aborts it, so the client never gets a complete, wrong file.
        return StreamingResponse(iter(stream), media_type=stream.media_type, headers=headers)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request):
        """Prometheus metrics (``app.core.metrics``), for a scraper holding SYNTHGEN_METRICS_TOKEN."""
        import hmac

        from fastapi.responses import Response

        from app.core import metrics as metrics_mod

        expected = _platform(request).settings.metrics_token
        if expected is None:
            raise ApiError(404, "not_found", "metrics are off: set SYNTHGEN_METRICS_TOKEN to turn them on")
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise ApiError(401, "unauthenticated", "metrics need 'Authorization: Bearer <SYNTHGEN_METRICS_TOKEN>'",
                           {"WWW-Authenticate": 'Bearer realm="synthgen-metrics"'})
        return Response(metrics_mod.render(_platform(request).engine), media_type=metrics_mod.CONTENT_TYPE)

    # -- tokens (password only) ----------------------------------------------------------------
    _pw_errors = {code: _ERRORS[code] for code in (400, 401, 403, 422)}

    @app.post(f"{API_PREFIX}/tokens", response_model=TokenOut, status_code=201, responses=_pw_errors,
              tags=["tokens"])
    def create_token(request: Request, body: TokenCreate | None = None,
                     who: tuple[Actor, str] = Depends(_password_actor)) -> TokenOut:
        """Create a personal API token (returned once). Needs user name and password."""
        p = _platform(request)
        actor, session = who
        try:
            ttl = timedelta(days=(body or TokenCreate()).ttl_days)
            return _token_out(p.create_api_token(actor, ttl))
        finally:
            p.logout(session)

    @app.get(f"{API_PREFIX}/tokens", response_model=TokenList, responses=_pw_errors, tags=["tokens"])
    def list_tokens(request: Request, who: tuple[Actor, str] = Depends(_password_actor)) -> TokenList:
        p = _platform(request)
        actor, session = who
        try:
            return TokenList(tokens=[_token_out(t) for t in p.list_api_tokens(actor)])
        finally:
            p.logout(session)

    @app.delete(f"{API_PREFIX}/tokens/{{token_id}}", status_code=204, responses={**_pw_errors, 404: _ERRORS[404]},
                tags=["tokens"])
    def revoke_token(request: Request, token_id: int = Path(..., ge=1, le=MAX_ID),
                     who: tuple[Actor, str] = Depends(_password_actor)) -> None:
        """Revoke one of your tokens (admins: anyone's). Idempotent."""
        p = _platform(request)
        actor, session = who
        try:
            p.revoke_api_token(actor, token_id)
        finally:
            p.logout(session)

    return app


def serve(host: str | None = None, port: int | None = None, settings: Settings | None = None,
          platform: Platform | None = None) -> None:
    """Run the API with uvicorn (blocking). Defaults: SYNTHGEN_API_HOST or 127.0.0.1,
    SYNTHGEN_API_PORT or 8000. With ``SYNTHGEN_TLS_CERT_FILE``/``SYNTHGEN_TLS_KEY_FILE`` set it
    serves HTTPS only."""
    import uvicorn

    settings = settings or Settings.from_env()
    host = host or os.environ.get("SYNTHGEN_API_HOST") or "127.0.0.1"
    port = int(port or os.environ.get("SYNTHGEN_API_PORT") or 8000)
    tls = {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)} if settings.tls else {}
    uvicorn.run(create_app(settings, platform=platform), host=host, port=port, log_level="warning",
                server_header=False, **tls)


if __name__ == "__main__":
    serve()
