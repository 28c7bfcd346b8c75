"""Who is calling: API tokens for the release endpoints, user name and password for token
management (never an API token: a leaked token cannot mint or extend itself).

Refused authentications (missing, malformed, unknown, expired or revoked token; disabled
account; wrong scope) are written to the audit log here as ``api_auth`` entries.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from app.api.errors import BEARER_CHALLENGE, ApiError, log
from app.core.services import Actor, AuthenticationError, Platform

_bearer = HTTPBearer(auto_error=False, scheme_name="apiToken",
                     description="Personal API token (sgt_...): read-only access to releases.")
_basic = HTTPBasic(auto_error=False, scheme_name="password",
                   description="User name and password; only for managing one's API tokens.")


def platform_of(request: Request) -> Platform:
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


def release_scope_actor(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
    """The actor of a valid API token (release endpoints); 401 + audit entry otherwise."""
    platform = platform_of(request)
    header = request.headers.get("authorization", "")
    if credentials is None:
        scheme = header.split(" ", 1)[0].lower() if header else ""
        reason = "password_not_accepted" if scheme == "basic" else ("missing" if not header else "malformed")
        _audit_refusal(platform, request, actor="anonymous", outcome="denied", target="api_token:none", reason=reason)
        message = ("release endpoints take an API token, not a password: send 'Authorization: Bearer sgt_...'"
                   if scheme == "basic" else "an API token is required: send 'Authorization: Bearer sgt_...'")
        raise ApiError(401, "unauthenticated", message, BEARER_CHALLENGE)
    token = credentials.credentials
    try:
        return platform.actor_for_api_token(token)
    except AuthenticationError as exc:
        _audit_refusal(platform, request, actor=exc.username or "anonymous", outcome="denied",
                       target=f"api_token:{_token_prefix(token)}", reason=exc.reason or "other")
        raise ApiError(401, "invalid_token", "API token is not valid (unknown, revoked or expired)",
                       BEARER_CHALLENGE) from None


def password_actor(request: Request, basic: HTTPBasicCredentials | None = Depends(_basic)) -> tuple[Actor, str]:
    """(actor, session token) from HTTP Basic credentials; API tokens are refused (scope)."""
    platform = platform_of(request)
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
    try:
        session = platform.login(basic.username, basic.password)  # audits login ok/failed itself
    except AuthenticationError as exc:
        raise ApiError(401, "unauthenticated", str(exc), {"WWW-Authenticate": 'Basic realm="synthgen"'}) from None
    return session.actor, session.token
