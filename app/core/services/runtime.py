"""The runtime every service shares: one engine, the keys, the audit trail, the authorization
matrix, the clock, and the unit of work :meth:`Runtime.op`.

Every checked operation goes through :meth:`Runtime.op`, which

1. re-reads the acting user from the database (so disabling a user or changing a role takes
   effect on the very next call, whatever the caller cached in its :class:`Actor`),
2. lets the service authorize the action through the machine-readable matrix
   (``app/core/authz_matrix.toml``, deny by default; :meth:`Runtime.authorize`); a refusal
   raises :class:`PermissionDeniedError` and is written to the audit log as a ``denied`` entry,
3. does the work inside one database transaction, and
4. appends exactly one hash-chained, HMAC-signed audit entry in that same transaction (or, when
   the work fails, one ``failed``/``denied`` entry in a transaction of its own).

Work that is not a user's operation (the worker's job transitions, sign-in attempts) opens
:meth:`Runtime.transaction` and appends its entry with :meth:`Runtime.append_audit` in it: the
same one-entry-per-transaction rule, with the actor named by the caller.
"""

from __future__ import annotations

import hmac
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core import audit as audit_mod
from app.core import identity
from app.core.authz import PermissionDeniedError, authorize, load_matrix, scope_for
from app.core.config import Settings
from app.core.services.audit import AuditTrail, set_aside_stale_witness
from app.core.services.keys import Vault, load_master
from app.core.services.types import (
    API_TOKEN_ACTIONS,
    Actor,
    AuthenticationError,
    DatabaseBusyError,
    NotFoundError,
)
from app.core.store import (
    ApiToken,
    AuditHead,
    AuditRow,
    Dataset,
    Membership,
    Release,
    User,
    UserSession,
    make_engine,
    session_factory,
    transaction,
    utcnow,
)
from app.core.throttle import DatabaseCounters, LoginThrottle
from synthgen.errors import InvalidInputError

#: SQLSTATEs of transactions PostgreSQL aborted because of concurrent ones (deadlock detected,
#: serialization failure, lock not available): retrying the whole transaction is the remedy.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
RETRIES = 4

SYSTEM_ACTOR = "system"


def database_error(exc: DBAPIError) -> Exception:
    """A clean error for a failed database statement (the driver's message quotes SQL)."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in RETRYABLE_SQLSTATES or "database is locked" in str(orig):
        return DatabaseBusyError()
    from synthgen.errors import InternalError

    return InternalError(f"database error ({type(orig).__name__ if orig else type(exc).__name__}); nothing was "
                         "changed")


class KeyMismatchError(InvalidInputError):
    """The keys given to this process are not the ones the database was written with."""


def _existing_state(engine) -> tuple[bool, set[str]]:
    """(does the audit log hold entries, master key ids of the datasets' wrapped keys)."""
    with engine.connect() as conn:
        has_rows = conn.execute(select(AuditRow.seq).limit(1)).first() is not None
        head = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one_or_none()
        used = {r[0] for r in conn.execute(select(Dataset.master_key_id).where(
            Dataset.wrapped_data_key.is_not(None), Dataset.master_key_id.is_not(None)).distinct())}
        conn.rollback()
    return has_rows or bool(head), used


def _check_audit_key(engine, key: bytes) -> None:
    """Raise :class:`KeyMismatchError` unless ``key`` signed this database's audit log: its
    signed head, or (head missing or edited) one of its five newest entries."""
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead.signed_head).where(AuditHead.id == 1)).scalar_one_or_none()
        rows = conn.execute(select(AuditRow.entry_hash, AuditRow.signature).order_by(AuditRow.seq.desc())
                            .limit(5)).all()
        conn.rollback()
    if not rows:
        return
    if head is not None:
        try:
            audit_mod.parse_head(head, key)
            return
        except InvalidInputError:
            pass
    if any(hmac.compare_digest(audit_mod.sign(key, h), sig) for h, sig in rows):
        return
    raise KeyMismatchError("the audit key does not match this database's audit log (wrong SYNTHGEN_KEY_DIR or "
                           "SYNTHGEN_AUDIT_KEY?); nothing was written")


def with_retries(fn: Callable[[], Any]) -> Any:
    """Run the whole operation ``fn`` again (at most :data:`RETRIES` times, with a short growing
    pause) when the database aborted it because of concurrent transactions."""
    import random
    import time

    for attempt in range(RETRIES):
        try:
            return fn()
        except DatabaseBusyError:
            if attempt == RETRIES - 1:
                raise
            # jitter (not DP noise: only decorrelates retries of colliding transactions)
            time.sleep(0.02 * 2 ** attempt * (1 + random.random()))  # noqa: S311
WORKER_ACTOR = "worker"


@dataclass
class Operation:
    """State of one service call: its session, the re-read user and its audit entry.

    A service sets ``target`` and ``details`` of the entry, ``audit = False`` for plain metadata
    reads, and registers ``on_rollback`` (remove a half-written file) and ``after_commit``
    (remove files of a deleted dataset) actions."""

    session: Session
    user: User | None
    actor_name: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)
    audit: bool = True
    on_rollback: list[Callable[[], None]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class Runtime:
    """Build it with :meth:`Runtime.open`. Thread-safe (each call uses its own DB session)."""

    def __init__(self, settings: Settings, engine, master, audit_key: bytes, messages: list[str]):
        from app.core.uploads import UploadLimits

        self.settings = settings
        self.engine = engine
        self.factory = session_factory(engine)
        self.vault = Vault(settings, master)
        self.trail = AuditTrail(settings.audit_witness_file, audit_key, clock=lambda: self.now())
        self.startup_messages = messages
        self.matrix = load_matrix()
        self.password_policy = identity.PasswordPolicy()
        self.session_policy = identity.SessionPolicy(settings.session_idle_timeout, settings.session_absolute_timeout)
        self.upload_limits = UploadLimits(max_bytes=settings.max_upload_bytes)
        # counters shared through the database by every process (see app.core.throttle)
        self.login_throttle = LoginThrottle(counters=DatabaseCounters(engine))
        self.now: Callable[[], datetime] = utcnow  # injectable clock (tests)
        # the witness outside the database follows committed appends only (see services.audit)
        event.listen(self.factory, "after_commit", self.trail.write_witness)
        event.listen(self.factory, "after_soft_rollback", AuditTrail.forget_pending_witness)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> "Runtime":
        """Open (and by default migrate to head) the database, load or (embedded default only)
        create the master and audit keys. ``startup_messages`` says where generated keys were
        written."""
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = make_engine(settings.database_url)
        messages: list[str] = []
        if migrate:
            from app.core.migrations import current_revision, upgrade

            brand_new = current_revision(engine) is None
            upgrade(engine)
            if brand_new:
                messages.extend(set_aside_stale_witness(settings.audit_witness_file))
        try:
            log_exists, used_master_ids = _existing_state(engine)
            # Keys are checked against the database before anything is written: a process started
            # with another installation's key directory must not sign entries into this log (the
            # chain would be broken for good) nor create fresh keys for a database that has data.
            audit_key, msg = audit_mod.load_or_create_hmac_key(
                settings.audit_key_env, settings.audit_key_file, settings.data_dir,
                settings.create_keys and not log_exists)
            messages.append(msg)
            _check_audit_key(engine, audit_key)
            master, msg = load_master(settings.with_(create_keys=False) if used_master_ids else settings, engine)
            messages.append(msg)
            if used_master_ids and master.key_id not in used_master_ids:
                raise KeyMismatchError(
                    f"the master key (id {master.key_id}) is not the key this database's datasets are encrypted with "
                    f"({', '.join(sorted(used_master_ids))[:80]}): wrong SYNTHGEN_KEY_DIR or SYNTHGEN_MASTER_KEY? "
                    "Nothing was written")
        except BaseException:
            engine.dispose()  # a refused start leaves no connection behind
            raise
        runtime = cls(settings, engine, master, audit_key, messages)
        runtime.trail.ensure_head(runtime.factory)
        return runtime

    def close(self) -> None:
        """Dispose of the engine."""
        self.engine.dispose()

    # -- transactions and the audit trail -----------------------------------------------------
    def transaction(self) -> AbstractContextManager[Session]:
        """A plain transaction (commit on success, rollback on error), for work that is not a
        user's operation; whoever appends an audit entry in it names the actor."""
        return transaction(self.factory)

    def append_audit(self, s: Session, *, actor: str, action: str, outcome: str, target: str,
                     details: dict[str, Any]) -> audit_mod.AuditEntry:
        """Append one audit entry in the caller's transaction ``s``."""
        return self.trail.append(s, actor=actor, action=action, outcome=outcome, target=target, details=details)

    def record(self, *, actor: str, action: str, outcome: str, target: str, details: dict[str, Any]) -> None:
        """Append one audit entry in its own transaction (used for failures outside an operation)."""
        with self.transaction() as s:
            self.append_audit(s, actor=actor, action=action, outcome=outcome, target=target, details=details)

    # -- the unit of work ---------------------------------------------------------------------
    def _load_user(self, s: Session, actor: Actor) -> User:
        if not isinstance(actor, Actor):
            raise AuthenticationError("a signed-in actor is required")
        user = s.get(User, actor.user_id)
        if user is None or user.username != actor.username:
            raise AuthenticationError("the account no longer exists; please sign in again")
        if user.disabled:
            raise AuthenticationError(f"account {user.username!r} is disabled")
        self._check_credential(s, actor, user)
        return user

    def _check_credential(self, s: Session, actor: Actor, user: User) -> None:
        """The Actor is a claim; the session or API token it names must still be live."""
        now = self.now()
        if actor.via == "session":
            row = s.get(UserSession, actor.session_id) if isinstance(actor.session_id, int) else None
            if row is None or row.user_id != user.id or row.ended_at is not None:
                raise AuthenticationError("not signed in (the session ended); please sign in again")
            if identity.session_expired(row.created_at, row.last_seen_at, now, self.session_policy) is not None:
                raise AuthenticationError("the session expired; please sign in again")
        elif actor.via == "api_token":
            row = s.get(ApiToken, actor.token_id) if isinstance(actor.token_id, int) else None
            if row is None or row.user_id != user.id or row.revoked_at is not None or row.expires_at <= now:
                raise AuthenticationError("API token is not valid (unknown, revoked or expired)")
        else:
            raise AuthenticationError("a signed-in actor is required")

    @contextmanager
    def op(self, actor: Actor | None, action: str, target: str, *, audit: bool = True) -> Iterator[Operation]:
        """One checked operation: transaction + re-read user + exactly one audit entry.

        Success: the entry (outcome ok, unless ``op.audit`` is False for plain metadata reads)
        is appended in the operation's own transaction. A permission denial rolls the work back
        and appends a ``denied`` entry; any other error rolls back and appends ``failed``."""
        op: Operation | None = None
        actor_name = actor.username if isinstance(actor, Actor) else "anonymous"
        try:
            with self.transaction() as s:
                # API tokens are scoped to read-only release access; enforced here, in the one
                # place every operation passes, not only in the HTTP layer.
                if isinstance(actor, Actor) and actor.via == "api_token" and action not in API_TOKEN_ACTIONS:
                    raise PermissionDeniedError(f"an API token may not {action}: tokens only give read-only access to releases")
                user = self._load_user(s, actor) if actor is not None else None
                op = Operation(session=s, user=user, actor_name=user.username if user else actor_name,
                               action=action, target=target, audit=audit)
                yield op
                if op.audit:
                    self.append_audit(s, actor=op.actor_name, action=op.action, outcome="ok",
                                      target=op.target, details=op.details)
        except BaseException as exc:
            if op is not None:
                for undo in op.on_rollback:
                    try:
                        undo()
                    except OSError:
                        pass
            if isinstance(exc, (GeneratorExit, KeyboardInterrupt, SystemExit)):
                raise
            outcome = "denied" if isinstance(exc, PermissionDeniedError) else "failed"
            details: dict[str, Any] = {"error": type(exc).__name__}
            reason = getattr(exc, "reason", None)
            if isinstance(reason, str) and len(reason) <= 64:
                details["reason"] = reason
            if isinstance(exc, PermissionDeniedError):
                details["message"] = str(exc)[:200]
            if op is not None and "dataset_id" in op.details:
                details["dataset_id"] = op.details["dataset_id"]
            try:
                self.record(actor=op.actor_name if op else actor_name, action=action, outcome=outcome,
                            target=op.target if op else target, details=details)
            except Exception:  # noqa: BLE001 - never mask the original error
                pass
            if isinstance(exc, DBAPIError):  # the driver's message quotes SQL: never show it
                raise database_error(exc) from None
            raise
        for fn in op.after_commit:
            fn()

    # -- authorization ------------------------------------------------------------------------
    @staticmethod
    def is_member(s: Session, user: User, dataset_id: int) -> bool:
        return s.get(Membership, (dataset_id, user.id)) is not None

    def authorize(self, op: Operation, action: str, dataset_id: int | None = None) -> None:
        """Raise :class:`PermissionDeniedError` unless the operation's user may ``action``
        (globally, or on ``dataset_id`` as a member or not)."""
        user = op.user
        if user is None:
            raise PermissionDeniedError(f"{action} needs a signed-in user")
        scope = "global" if dataset_id is None else scope_for(self.is_member(op.session, user, dataset_id))
        authorize(self.matrix, role=user.role, action=action, scope=scope)

    def permits(self, role: str, action: str, scope: str) -> bool:
        try:
            authorize(self.matrix, role=role, action=action, scope=scope)
            return True
        except PermissionDeniedError:
            return False

    def allowed(self, s: Session, user: User, action: str, dataset_id: int | None = None) -> bool:
        scope = "global" if dataset_id is None else scope_for(self.is_member(s, user, dataset_id))
        return self.permits(user.role, action, scope)

    def authorize_dataset(self, op: Operation, action: str, dataset_id: int) -> Dataset:
        """The dataset (404 if absent or deleted), after authorizing ``action`` on it."""
        ds = self.dataset(op.session, dataset_id)
        op.details.setdefault("dataset_id", ds.id)
        self.authorize(op, action, ds.id)
        return ds

    def authorize_release(self, op: Operation, action: str, release_id: int) -> Release:
        """The release (404 if absent), after authorizing ``action`` on its dataset; its ids go
        into the audit entry either way."""
        rel = self.release(op.session, release_id)
        op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
        self.authorize(op, action, rel.dataset_id)
        return rel

    # -- lookups (an id that is not an int, or names nothing, is "not found") ----------------
    @staticmethod
    def _get(s: Session, model, key: Any, what: str):
        row = s.get(model, key) if isinstance(key, int) and not isinstance(key, bool) else None
        if row is None or getattr(row, "deleted_at", None) is not None:
            raise NotFoundError(f"{what} {key!r} does not exist")
        return row

    @classmethod
    def dataset(cls, s: Session, dataset_id: int) -> Dataset:
        return cls._get(s, Dataset, dataset_id, "dataset")

    @classmethod
    def release(cls, s: Session, release_id: int) -> Release:
        return cls._get(s, Release, release_id, "release")

    @classmethod
    def user(cls, s: Session, user_id: int) -> User:
        return cls._get(s, User, user_id, "user")
