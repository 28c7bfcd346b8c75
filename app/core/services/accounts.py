"""Accounts and sign-in sessions: the first administrator, users and roles, password and
OpenID Connect sign-in, session tokens.

Rules kept here:

* A sign-in attempt writes exactly one ``login`` audit entry, ok or failed, whichever branch
  refused it; the message never tells a wrong user name from a wrong password, and an unknown
  user costs the same Argon2 verification as a known one (timing).
* Passwords are stored as Argon2id hashes only; a session token is shown once, only its hash is
  stored; idle and absolute timeouts are enforced on every use, and a disabled account's
  sessions stop on their next use.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import identity
from app.core.authz import ROLES
from app.core.services import views
from app.core.services.runtime import SYSTEM_ACTOR
from app.core.services.types import Actor, AuthenticationError, SessionInfo, UserInfo
from app.core.store import User, UserSession, lock_for_update
from synthgen.errors import InvalidInputError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class _DummyHash:
    """An Argon2 hash verified for unknown user names, so that they take as long as known ones."""

    value: str | None = None

    @classmethod
    def get(cls) -> str:
        if cls.value is None:
            cls.value = identity.hash_password("dummy-password-for-timing")
        return cls.value


class Accounts:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def has_users(self) -> bool:
        """True once any account exists (used by first-start bootstrap)."""
        with self.rt.transaction() as s:
            return s.execute(select(func.count()).select_from(User)).scalar_one() > 0

    def _check_username(self, username: Any) -> str:
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            raise InvalidInputError(
                "username must be 1-64 characters of letters, digits, '_', '.', '@', '-' starting with a letter or digit")
        return username

    def _check_role(self, role: Any) -> str:
        if role not in ROLES:
            raise InvalidInputError(f"role ({str(role)[:40]!r}) must be one of {', '.join(ROLES)}")
        return role

    def _new_password(self, username: str, password: str | None) -> tuple[str, str | None]:
        generated = None
        if password is None:
            password = generated = secrets.token_urlsafe(18)
        identity.check_password(password, self.rt.password_policy, username=username)
        return identity.hash_password(password), generated

    def create_first_admin(self, username: str, password: str | None = None) -> UserInfo:
        """Create the first admin account; only allowed while there are no users. If
        ``password`` is None one is generated and returned once in ``generated_password``."""
        self._check_username(username)
        pw_hash, generated = self._new_password(username, password)
        with self.rt.op(None, "create_user", f"user:{username}") as op:
            op.actor_name = SYSTEM_ACTOR
            s = op.session
            if s.execute(select(func.count()).select_from(User)).scalar_one() > 0:
                raise InvalidInputError("the first admin can only be created while there are no accounts")
            u = User(username=username, password_hash=pw_hash, role="admin", disabled=False, failed_attempts=0,
                     created_at=self.rt.now())
            s.add(u)
            s.flush()
            op.details = {"user_id": u.id, "role": "admin", "first_admin": True}
            return views.user_info(u, generated)

    def _start_session(self, s: Session, user: User, *, oidc_authenticated_at: datetime | None = None) -> SessionInfo:
        token = identity.new_session_token()
        now = self.rt.now()
        row = UserSession(token_hash=identity.hash_token(token), user_id=user.id, created_at=now, last_seen_at=now,
                          oidc_authenticated_at=oidc_authenticated_at)
        s.add(row)
        s.flush()
        return SessionInfo(token=token, actor=Actor(user.id, user.username, user.role, session_id=row.id), created_at=now,
                           idle_timeout_s=self.rt.session_policy.idle_timeout.total_seconds(),
                           absolute_timeout_s=self.rt.session_policy.absolute_timeout.total_seconds())

    def login(self, username: str, password: str) -> SessionInfo:
        """Check the password (Argon2id) with throttling after repeated failures; audit
        ``login`` ok/failed. Raises :class:`AuthenticationError`."""
        failure: str | None = None
        result: SessionInfo | None = None
        with self.rt.transaction() as s:
            user = None
            if isinstance(username, str) and USERNAME_RE.match(username):
                user = s.execute(lock_for_update(select(User).where(User.username == username), s)).scalar_one_or_none()
            now = self.rt.now()
            if user is None:
                identity.verify_password(_DummyHash.get(), password if isinstance(password, str) else "")
                failure = "user name or password is wrong"
                self.rt.append_audit(s, actor="anonymous", action="login", outcome="failed", target="user:unknown",
                                   details={"reason": "unknown_user"})
            elif identity.is_locked(user.failed_attempts, user.last_failure_at, now):
                delay = identity.throttle_delay(user.failed_attempts, user.last_failure_at, now)
                failure = f"too many failed sign-ins for this account; try again in {int(delay) + 1} seconds"
                self.rt.append_audit(s, actor=user.username, action="login", outcome="failed",
                                   target=f"user:{user.id}", details={"reason": "throttled"})
            elif user.disabled or not user.password_hash or not identity.verify_password(user.password_hash, password):
                user.failed_attempts += 1
                user.last_failure_at = now
                failure = "user name or password is wrong"
                self.rt.append_audit(s, actor=user.username, action="login", outcome="failed", target=f"user:{user.id}",
                                   details={"reason": "disabled" if user.disabled else "bad_password",
                                            "failed_attempts": user.failed_attempts})
            else:
                user.failed_attempts = 0
                user.last_failure_at = None
                if identity.needs_rehash(user.password_hash):
                    user.password_hash = identity.hash_password(password)
                result = self._start_session(s, user)
                self.rt.append_audit(s, actor=user.username, action="login", outcome="ok", target=f"user:{user.id}",
                                   details={"method": "password"})
        if failure is not None:
            raise AuthenticationError(failure)
        return result

    @staticmethod
    def _check_oidc_identity(issuer: Any, subject: Any) -> tuple[str, str]:
        """(issuer, subject) of an OpenID Connect identity, validated: the issuer is the
        provider's ``iss`` (an https URL; http only on the loopback interface, for local test
        providers) and the subject its ``sub`` claim (1-255 printable characters)."""
        from app.core.oidc import is_https_or_loopback

        if not isinstance(issuer, str) or not 1 <= len(issuer) <= 255:
            raise InvalidInputError("oidc_issuer must be the provider's issuer URL (1-255 characters)")
        if not is_https_or_loopback(issuer):
            raise InvalidInputError(f"oidc_issuer ({issuer[:80]!r}) must be an https URL (http only on localhost)")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 255 or not subject.isprintable():
            raise InvalidInputError("oidc_subject must be the provider's 'sub' claim: 1-255 printable characters")
        return issuer, subject

    def login_oidc(self, issuer: str, subject: str, *, authenticated_at: datetime | None = None) -> SessionInfo:
        """Log in the account linked to (issuer, subject) after the caller verified the ID token
        (signature, issuer, audience, expiry, nonce: Streamlit's OIDC flow through Authlib does).
        An identity linked to no account, or to a disabled one, is refused and audited with the
        issuer and subject, so that an administrator can link it (``link_oidc_identity``).
        ``authenticated_at`` (the ID token's auth_time/iat), when given, must be recent
        (``settings.oidc.max_age``, default 5 minutes): an old identity cookie does not open a
        session (see ``app.core.oidc``), and a sign-in whose session was logged out opens no other
        (``AuthenticationError.reason == "signed_out_identity"``)."""
        from app.core.oidc import is_recent

        max_age = self.rt.settings.oidc.max_age if self.rt.settings.oidc else timedelta(minutes=5)
        try:
            issuer, subject = self._check_oidc_identity(issuer, subject)
        except InvalidInputError:
            self.rt.record(actor="anonymous", action="login", outcome="failed", target="user:unknown",
                        details={"method": "oidc", "reason": "malformed_identity"})
            raise AuthenticationError("the identity provider returned an unusable identity (issuer or subject)") from None
        failure = failure_reason = result = None
        details = {"method": "oidc", "issuer": issuer[:200]}
        with self.rt.transaction() as s:
            user = s.execute(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)).scalar_one_or_none()
            if authenticated_at is not None and not is_recent(authenticated_at, self.rt.now(), max_age):
                failure = (f"your sign-in with the identity provider is older than {int(max_age.total_seconds() // 60) or 1} "
                           "minutes; sign in again")
                failure_reason = "stale_identity"
            elif user is not None and authenticated_at is not None and s.execute(
                    select(UserSession.id).where(UserSession.user_id == user.id, UserSession.end_reason == "logout",
                                                 UserSession.oidc_authenticated_at == authenticated_at).limit(1)
            ).first() is not None:
                # Streamlit keeps the provider's identity in a cookie that st.logout() clears by a
                # browser redirect; a tab closed or navigated mid-redirect keeps it. Logging out
                # must still mean signed out: the sign-in that session came from opens no other.
                failure = "you signed out of this sign-in; sign in with the identity provider again"
                failure_reason = "signed_out_identity"
            elif user is None or user.disabled:
                failure = ("no account is linked to this login; ask an administrator" if user is None else
                           "the account linked to this login is disabled; ask an administrator")
                failure_reason = "disabled" if user else "unknown_identity"
                details["subject"] = subject[:200]  # for the administrator who links it
            else:
                result = self._start_session(s, user, oidc_authenticated_at=authenticated_at)
            self.rt.append_audit(s, actor=user.username if user else "anonymous", action="login",
                               outcome="failed" if failure else "ok", target=f"user:{user.id}" if user else "user:unknown",
                               details=details | ({"reason": failure_reason} if failure else {}))
        if failure:
            raise AuthenticationError(failure, reason=failure_reason)
        return result

    def actor_for_session(self, token: str) -> Actor:
        """Resolve a session token; enforces idle and absolute timeouts and re-reads the user
        (disabled users and role changes apply immediately). Raises AuthenticationError."""
        if not isinstance(token, str) or not token:
            raise AuthenticationError("not signed in")
        failure = None
        with self.rt.transaction() as s:
            row = s.execute(select(UserSession).where(UserSession.token_hash == identity.hash_token(token))).scalar_one_or_none()
            if row is None or row.ended_at is not None:
                raise AuthenticationError("session is not valid; please sign in")
            now = self.rt.now()
            user = s.get(User, row.user_id)
            reason = identity.session_expired(row.created_at, row.last_seen_at, now, self.rt.session_policy)
            if reason is None and (user is None or user.disabled):
                reason = "account is disabled"
            if reason is not None:
                row.ended_at = now
                row.end_reason = reason[:64]
                failure = reason
            else:
                row.last_seen_at = now
                actor = Actor(user.id, user.username, user.role, "session", session_id=row.id)
        if failure:
            raise AuthenticationError(failure)
        return actor

    def logout(self, token: str) -> None:
        """End a session (idempotent)."""
        if not isinstance(token, str) or not token:
            return
        with self.rt.transaction() as s:
            row = s.execute(select(UserSession).where(UserSession.token_hash == identity.hash_token(token))).scalar_one_or_none()
            if row is None or row.ended_at is not None:
                return
            row.ended_at = self.rt.now()
            row.end_reason = "logout"
            user = s.get(User, row.user_id)
            self.rt.append_audit(s, actor=user.username if user else "anonymous", action="logout", outcome="ok",
                               target=f"user:{row.user_id}", details={})

    def create_user(self, actor: Actor, username: str, password: str | None, role: str, *,
                    oidc_issuer: str | None = None, oidc_subject: str | None = None) -> UserInfo:
        """admin only. Password checked against the length-based policy; None generates one
        (returned once)."""
        with self.rt.op(actor, "create_user", f"user:{username}"[:128]) as op:
            self.rt.authorize(op, "manage_users")
            self._check_username(username)
            self._check_role(role)
            if (oidc_issuer is None) != (oidc_subject is None):
                raise InvalidInputError("oidc_issuer and oidc_subject must be given together")
            if oidc_issuer is not None:
                oidc_issuer, oidc_subject = self._check_oidc_identity(oidc_issuer, oidc_subject)
                taken = op.session.execute(select(User.username).where(
                    User.oidc_issuer == oidc_issuer, User.oidc_subject == oidc_subject)).scalar_one_or_none()
                if taken is not None:
                    raise InvalidInputError(f"this identity provider login is already linked to user {taken!r}")
            pw_hash, generated = (None, None) if (password is None and oidc_issuer) else self._new_password(username, password)
            s = op.session
            if s.execute(select(User).where(User.username == username)).scalar_one_or_none() is not None:
                raise InvalidInputError(f"username ({username!r}) is already taken")
            u = User(username=username, password_hash=pw_hash, role=role, disabled=False, failed_attempts=0,
                     oidc_issuer=oidc_issuer, oidc_subject=oidc_subject, created_at=self.rt.now())
            s.add(u)
            s.flush()
            op.target = f"user:{u.id}"
            op.details = {"user_id": u.id, "username": username, "role": role, "oidc": oidc_issuer is not None}
            return views.user_info(u, generated)

    def link_oidc_identity(self, actor: Actor, user_id: int, issuer: str, subject: str) -> UserInfo:
        """admin only: let ``user_id`` sign in with the OpenID Connect identity (issuer, subject),
        e.g. copied from the refused ``login`` audit entry of that person's first attempt. One
        identity links to at most one account; linking replaces the account's previous link."""
        with self.rt.op(actor, "link_oidc", f"user:{user_id}") as op:
            self.rt.authorize(op, "manage_users")
            issuer, subject = self._check_oidc_identity(issuer, subject)
            s = op.session
            u = self.rt.user(s, user_id)
            other = s.execute(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)).scalar_one_or_none()
            if other is not None and other.id != u.id:
                raise InvalidInputError(f"this identity (issuer {issuer[:80]!r}, subject {subject[:40]!r}) is already "
                                        f"linked to user {other.username!r}; unlink it there first")
            op.details = {"user_id": u.id, "issuer": issuer[:200], "subject": subject[:200],
                          "replaced": u.oidc_issuer is not None and (u.oidc_issuer, u.oidc_subject) != (issuer, subject)}
            u.oidc_issuer, u.oidc_subject = issuer, subject
            s.flush()
            return views.user_info(u)

    def unlink_oidc_identity(self, actor: Actor, user_id: int) -> UserInfo:
        """admin only: the account can no longer sign in with its identity provider login."""
        with self.rt.op(actor, "unlink_oidc", f"user:{user_id}") as op:
            self.rt.authorize(op, "manage_users")
            u = self.rt.user(op.session, user_id)
            op.details = {"user_id": u.id, "issuer": (u.oidc_issuer or "")[:200], "subject": (u.oidc_subject or "")[:200]}
            u.oidc_issuer = u.oidc_subject = None
            return views.user_info(u)

    def list_users(self, actor: Actor) -> list[UserInfo]:
        with self.rt.op(actor, "list_users", "users", audit=False) as op:
            self.rt.authorize(op, "manage_users")
            return [views.user_info(u) for u in op.session.execute(select(User).order_by(User.id)).scalars()]

    def set_role(self, actor: Actor, user_id: int, role: str) -> UserInfo:
        with self.rt.op(actor, "set_role", f"user:{user_id}") as op:
            self.rt.authorize(op, "manage_users")
            self._check_role(role)
            u = self.rt.user(op.session, user_id)
            op.details = {"user_id": u.id, "old_role": u.role, "new_role": role}
            u.role = role
            return views.user_info(u)

    def _set_disabled(self, actor: Actor, user_id: int, disabled: bool) -> UserInfo:
        with self.rt.op(actor, "disable_user" if disabled else "enable_user", f"user:{user_id}") as op:
            self.rt.authorize(op, "manage_users")
            u = self.rt.user(op.session, user_id)
            if disabled and u.id == op.user.id:
                raise InvalidInputError("an administrator cannot disable their own account")
            u.disabled = disabled
            if not disabled:
                u.failed_attempts = 0
                u.last_failure_at = None
            op.details = {"user_id": u.id}
            return views.user_info(u)

    def disable_user(self, actor: Actor, user_id: int) -> UserInfo:
        """Disable an account; its sessions and API tokens stop working on their next use."""
        return self._set_disabled(actor, user_id, True)

    def enable_user(self, actor: Actor, user_id: int) -> UserInfo:
        return self._set_disabled(actor, user_id, False)

    def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        with self.rt.op(actor, "change_password", f"user:{actor.user_id}") as op:
            u = op.user
            if not u.password_hash or not identity.verify_password(u.password_hash, old_password):
                raise AuthenticationError("the current password is wrong")
            u.password_hash, _ = self._new_password(u.username, new_password)
            # every other session of this user ends
            for row in op.session.execute(select(UserSession).where(UserSession.user_id == u.id,
                                                                    UserSession.ended_at.is_(None))).scalars():
                row.ended_at = self.rt.now()
                row.end_reason = "password changed"
