"""Errors of the HTTP API: every error is JSON ``{"error": {"code": ..., "message": ...}}``.

The status of a service error comes from the one table, :data:`synthgen.errors.ERROR_KINDS`
(400 bad input, 401 not authenticated, 403 not allowed, 404 not found, 409 conflict or budget
exceeded, 500 internal). An internal error never shows its message (it may quote paths, keys or
data): the client gets ``internal_error`` and a correlation id, the server log the traceback
under that id.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from synthgen.errors import ERROR_KINDS, ErrorKind, SynthgenError, kind_of

log = logging.getLogger("app.api")

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="synthgen", error="invalid_token"'}
_STATUS_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 500: "internal_error"}


class ApiError(Exception):
    """An error with its HTTP status, stable code and one-line message (raised by the routers)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. not_found, invalid_token")
    message: str = Field(description="one line, meant for people")
    correlation_id: str | None = Field(None, description="internal errors only: quote it to the operator")


class ErrorBody(BaseModel):
    error: ErrorDetail


#: OpenAPI description of the error answers of the release and token endpoints
ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "bad input (e.g. an unparsable body)"},
    401: {"model": ErrorBody, "description": "missing, malformed, unknown, expired or revoked credentials"},
    403: {"model": ErrorBody, "description": "authenticated, but not allowed"},
    404: {"model": ErrorBody, "description": "no such release, or one the caller may not see"},
    422: {"model": ErrorBody, "description": "malformed request"},
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   correlation_id: str | None = None) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """500 with no detail; the traceback goes to the log under a correlation id."""
    correlation_id = secrets.token_hex(8)
    log.error("internal error %s on %s %s", correlation_id, request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(500, ERROR_KINDS[ErrorKind.INTERNAL].code,
                          f"internal error; the operator can find details in the server log under {correlation_id}",
                          correlation_id=correlation_id)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(SynthgenError)
    async def _service_error(request: Request, exc: SynthgenError) -> JSONResponse:
        kind = kind_of(exc)
        rule = ERROR_KINDS[kind]
        if not rule.shows_message:
            return internal_error(request, exc)
        headers = BEARER_CHALLENGE if kind is ErrorKind.NOT_AUTHENTICATED else None
        return error_response(rule.http_status, rule.code, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(parts)[:500] or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), detail,
                              dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(request, exc)
