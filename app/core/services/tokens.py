"""API tokens: bearer tokens for the HTTP API, acting as their user with read-only release access
(``types.API_TOKEN_ACTIONS``, enforced by :meth:`app.core.services.runtime.Runtime.op`).

The secret is returned once by :meth:`ApiTokens.create_api_token`; only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core import identity
from app.core.services.types import Actor, ApiTokenInfo, AuthenticationError, NotFoundError
from app.core.store import ApiToken, User
from synthgen.errors import InvalidInputError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class ApiTokens:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def create_api_token(self, actor: Actor, ttl: timedelta = timedelta(days=30)) -> ApiTokenInfo:
        """A bearer token for the HTTP API acting as ``actor``; the secret is returned once."""
        with self.rt.op(actor, "create_api_token", f"user:{actor.user_id}") as op:
            self.rt.authorize(op, "manage_tokens")
            if not isinstance(ttl, timedelta) or not timedelta(minutes=1) <= ttl <= timedelta(days=365):
                raise InvalidInputError(f"ttl ({ttl!r}) must be between 1 minute and 365 days")
            token, prefix = identity.new_api_token()
            now = self.rt.now()
            row = ApiToken(user_id=op.user.id, prefix=prefix, token_hash=identity.hash_token(token), created_at=now,
                           expires_at=now + ttl)
            op.session.add(row)
            op.session.flush()
            op.details = {"token_id": row.id, "prefix": prefix, "ttl_days": round(ttl.total_seconds() / 86400, 3)}
            return ApiTokenInfo(id=row.id, prefix=prefix, user=op.user.username, created_at=now,
                                expires_at=row.expires_at, revoked=False, token=token)

    def list_api_tokens(self, actor: Actor) -> list[ApiTokenInfo]:
        with self.rt.op(actor, "list_api_tokens", f"user:{actor.user_id}", audit=False) as op:
            self.rt.authorize(op, "manage_tokens")
            q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
            if not self.rt.allowed(op.session, op.user, "manage_users"):
                q = q.where(ApiToken.user_id == op.user.id)
            return [ApiTokenInfo(id=t.id, prefix=t.prefix, user=name, created_at=t.created_at, expires_at=t.expires_at,
                                 revoked=t.revoked_at is not None) for t, name in op.session.execute(q)]

    def revoke_api_token(self, actor: Actor, token_id: int) -> None:
        with self.rt.op(actor, "revoke_api_token", f"api_token:{token_id}") as op:
            row = op.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
            if row is None:
                raise NotFoundError(f"API token {token_id!r} does not exist")
            self.rt.authorize(op, "manage_tokens" if row.user_id == op.user.id else "manage_users")
            if row.revoked_at is None:
                row.revoked_at = self.rt.now()
            op.details = {"token_id": row.id, "prefix": row.prefix}

    def actor_for_api_token(self, token: str) -> Actor:
        """The actor of a valid API token. Raises :class:`AuthenticationError` whose ``reason``
        (malformed, unknown, revoked, expired, account_disabled) and ``username`` are meant for the
        caller's audit entry only: the message does not tell them apart."""
        if not identity.looks_like_api_token(token):
            raise AuthenticationError("API token is not valid", reason="malformed")
        invalid = "API token is not valid (unknown, revoked or expired)"
        with self.rt.transaction() as s:
            row = s.execute(select(ApiToken).where(ApiToken.token_hash == identity.hash_token(token))).scalar_one_or_none()
            now = self.rt.now()
            if row is None:
                raise AuthenticationError(invalid, reason="unknown")
            user = s.get(User, row.user_id)
            name = user.username if user else None
            if row.revoked_at is not None:
                raise AuthenticationError(invalid, reason="revoked", username=name)
            if row.expires_at <= now:
                raise AuthenticationError(invalid, reason="expired", username=name)
            if user is None or user.disabled:
                raise AuthenticationError("API token is not valid: its account is disabled", reason="account_disabled",
                                          username=name)
            row.last_used_at = now
            return Actor(user.id, user.username, user.role, "api_token")
