"""Token endpoints (``/api/v1/tokens``): user name and password (HTTP Basic) only. Each call
signs in, acts, and signs out again (the session lives for one request)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Path, Request

from app.api.auth import password_actor, platform_of
from app.api.errors import ERROR_RESPONSES
from app.api.models import TokenCreate, TokenList, TokenOut, token_out
from app.api.releases import MAX_ID
from app.core.services import Actor

router = APIRouter(prefix="/tokens", tags=["tokens"])
_errors = {code: ERROR_RESPONSES[code] for code in (400, 401, 403, 422)}


@router.post("", response_model=TokenOut, status_code=201, responses=_errors)
def create_token(request: Request, body: TokenCreate | None = None,
                 who: tuple[Actor, str] = Depends(password_actor)) -> TokenOut:
    """Create a personal API token (returned once). Needs user name and password."""
    p = platform_of(request)
    actor, session = who
    try:
        ttl = timedelta(days=(body or TokenCreate()).ttl_days)
        return token_out(p.create_api_token(actor, ttl))
    finally:
        p.logout(session)


@router.get("", response_model=TokenList, responses=_errors)
def list_tokens(request: Request, who: tuple[Actor, str] = Depends(password_actor)) -> TokenList:
    p = platform_of(request)
    actor, session = who
    try:
        return TokenList(tokens=[token_out(t) for t in p.list_api_tokens(actor)])
    finally:
        p.logout(session)


@router.delete("/{token_id}", status_code=204, responses={**_errors, 404: ERROR_RESPONSES[404]})
def revoke_token(request: Request, token_id: int = Path(..., ge=1, le=MAX_ID),
                 who: tuple[Actor, str] = Depends(password_actor)) -> None:
    """Revoke one of your tokens (admins: anyone's). Idempotent."""
    p = platform_of(request)
    actor, session = who
    try:
        p.revoke_api_token(actor, token_id)
    finally:
        p.logout(session)
