"""The checked operations of synthgen: one facade for the dashboard, the CLI and the HTTP API.

Nothing here imports Streamlit or a web framework. Every public method of :class:`Platform`

1. re-reads the acting user from the database (so disabling a user or changing a role takes
   effect on the very next call, whatever the caller cached in its :class:`Actor`),
2. authorizes the action through the machine-readable matrix (``app/core/authz_matrix.toml``,
   deny by default); a refusal raises :class:`PermissionDeniedError` and is written to the audit
   log as a ``denied`` entry,
3. does the work inside one database transaction, and
4. appends exactly one hash-chained, HMAC-signed audit entry in that same transaction.

Return values are plain frozen dataclasses (no ORM objects, no open sessions), safe to hand to
any front end. Errors are subclasses of :class:`synthgen.errors.SynthgenError` whose messages
are meant to be shown to the user as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from synthgen.budget import CONVERSION, PrivacyBudget
from synthgen.errors import SynthgenError

if TYPE_CHECKING:
    from app.core.streaming import DownloadStream

Audience = Literal["full", "ml"]
DownloadFormat = Literal["csv", "parquet", "card", "manifest", "bundle"]


#: What an actor authenticated by an API token may do (read-only release access).
API_TOKEN_ACTIONS = frozenset({"list_releases", "view_release_card", "download", "view_dataset", "list_datasets"})


class AuthenticationError(SynthgenError):
    """Unknown user, wrong password, throttled, disabled, or an expired/revoked session or token.

    The message never says which of user name or password was wrong. ``reason`` (a short code
    such as ``revoked``) and ``username`` (the account concerned, if known) are for the audit
    log of the caller, never for the person who failed to authenticate."""

    def __init__(self, message: str, *, reason: str | None = None, username: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.username = username


class NotFoundError(SynthgenError):
    """The dataset, release, user or token id does not exist (or was deleted)."""


# --------------------------------------------------------------------------------------------
# Values returned to front ends
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting. Obtained from :meth:`Platform.actor_for_session` or
    :meth:`Platform.actor_for_api_token`; every service call re-reads the user, so a stale role
    here never grants anything."""

    user_id: int
    username: str
    role: str
    via: str = "session"  # "session" | "api_token" | "system"
    #: id of the sign-in session (not its secret token), set by actor_for_session / login:
    #: lets a page that reruns on every click record a view once per session.
    session_id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SessionInfo:
    """Result of a successful login. ``token`` is shown once; only its hash is stored."""

    token: str
    actor: Actor
    created_at: datetime
    idle_timeout_s: float
    absolute_timeout_s: float


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    oidc_issuer: str | None = None
    oidc_subject: str | None = None
    generated_password: str | None = None  # only when the platform generated it; shown once


@dataclass(frozen=True)
class BudgetSummary:
    """Lifetime budget of a dataset. ``reserved`` and ``spent`` are both gone for good
    (a reservation is never refunded); ``remaining = total - spent - reserved``."""

    dataset_id: int
    delta: float
    total: PrivacyBudget
    spent: PrivacyBudget
    reserved: PrivacyBudget
    remaining: PrivacyBudget
    conversion: str = CONVERSION
    #: δ spent outside zCDP (DP schema discovery's key thresholding): the dataset's ε values hold
    #: at ``delta + extra_delta``
    extra_delta: float = 0.0

    @property
    def guarantee_delta(self) -> float:
        return self.delta + self.extra_delta

    def epsilon(self, which: str) -> float:
        """ε at the dataset's δ of ``which`` in {"total", "spent", "reserved", "remaining"}."""
        return getattr(self, which).epsilon(self.delta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "delta": self.delta,
            "extra_delta": self.extra_delta,
            "guarantee_delta": self.guarantee_delta,
            "conversion": self.conversion,
            **{k: {"rho": getattr(self, k).rho, "epsilon": self.epsilon(k)}
               for k in ("total", "spent", "reserved", "remaining")},
        }


@dataclass(frozen=True)
class DatasetInfo:
    """Public facts about a registered dataset. No row count, no values."""

    id: int
    name: str
    owner: str
    owner_id: int
    created_at: datetime
    delta: float
    columns: tuple[str, ...]
    schema_json: str | None
    schema_reviewed: bool  # a schema is set and is not flagged derived_from_private_data
    members: tuple[str, ...]
    budget: BudgetSummary
    schema_draft_json: str | None = None  # DP-discovered draft waiting for the owner's review


@dataclass(frozen=True)
class DraftSchema:
    """A schema drafted by looking at the private table. Flagged derived_from_private_data:
    the owner must review it (bounds, categories) before it can be used for a release."""

    schema_json: str
    derived_from_private_data: bool = True
    warning: str = (
        "This draft was computed from the private table: its categories and bounds reveal "
        "private values. Review every column, replace data-derived bounds and categories with "
        "public knowledge, and save it with derived_from_private_data set to false."
    )


@dataclass(frozen=True)
class JobInfo:
    id: int
    release_id: int
    kind: str
    state: str  # queued | running | succeeded | failed
    progress: float
    message: str
    attempts: int
    error: str | None
    created_at: datetime
    heartbeat_at: datetime | None


@dataclass(frozen=True)
class ReleaseInfo:
    id: int
    dataset_id: int
    dataset_name: str
    state: str  # draft | running | failed | evaluated | approved | rejected | published | revoked
    requester: str
    synthesizer: str
    config: dict[str, Any]
    dp: bool
    epsilon: float | None
    delta: float | None
    rho: float | None
    rows: int | None
    target: str | None
    policy: dict[str, Any]
    verdict: str | None  # pass | fail | inconclusive (after evaluation)
    approver: str | None
    reason: str | None
    override: bool
    created_at: datetime
    updated_at: datetime
    artifacts: dict[str, str]  # file name -> SHA-256 (empty until evaluated)
    job: JobInfo | None


@dataclass(frozen=True)
class Download:
    filename: str
    data: bytes
    sha256: str
    media_type: str


@dataclass(frozen=True)
class ApiTokenInfo:
    id: int
    prefix: str
    user: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    token: str | None = None  # the secret, only in the return value of create_api_token


# --------------------------------------------------------------------------------------------
# Implementation
# --------------------------------------------------------------------------------------------

import hashlib
import io
import logging
import json
import os
import re
import secrets
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core import audit as audit_mod
from app.core import crypto, identity, ledger
from app.core import releases as rel_sm
from app.core.authz import (
    ROLES,
    PermissionDeniedError,
    SelfApprovalError,
    authorize,
    four_eyes_check,
    load_matrix,
    scope_for,
)
from app.core.config import Settings
from app.core.releases import DOWNLOADABLE, IllegalTransitionError
from app.core.store import (
    ApiToken,
    AuditHead,
    AuditRow,
    Dataset,
    Job,
    LedgerEntry,
    Membership,
    Release,
    ReleaseView,
    User,
    UserSession,
    lock_for_update,
    make_engine,
    session_factory,
    transaction,
    utcnow,
)
from synthgen.budget import check_delta
from synthgen.errors import BudgetError, InternalError, InvalidInputError
from synthgen.io import atomic_write_bytes, table_to_bytes

_log = logging.getLogger(__name__)

__all__ = [
    "Actor", "ApiTokenInfo", "ApprovalRefusedError", "AuthenticationError", "BudgetSummary", "DatasetInfo",
    "Download", "DraftSchema", "IllegalTransitionError", "JobInfo", "NotFoundError", "PermissionDeniedError",
    "Platform", "ReleaseInfo", "SelfApprovalError", "SessionInfo", "UserInfo",
]

SYSTEM_ACTOR = "system"
WORKER_ACTOR = "worker"
CONTROL_FRACTION = 0.30
MIN_ROWS = 20
MAX_SYNTHETIC_ROWS = 1_000_000
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_NAME_MAX = 200
_REASON_MAX = 2000


class ApprovalRefusedError(SynthgenError):
    """An approval breaks the release policy (failed gate / non-DP without an allowed override)."""


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """Bounded IN lists (SQLite limits bound parameters per statement)."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clean_text(value: Any, field_name: str, *, required: bool = True, max_len: int = _REASON_MAX) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{field_name} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"{field_name} must not be empty: write down why")
    if len(value) > max_len:
        raise InvalidInputError(f"{field_name} ({len(value)} characters) must be at most {max_len} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidInputError(f"{field_name} must not contain control characters")
    return value


@dataclass
class _Op:
    """State of one service call: its session, the re-read user and its audit entry."""

    session: Session
    user: User | None
    actor_name: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)
    audit: bool = True
    on_rollback: list[Callable[[], None]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class Platform:
    """The facade. Build it with :meth:`Platform.open`; it owns one SQLAlchemy engine, the
    master key and the audit HMAC key. Thread-safe (each call uses its own DB session)."""

    def __init__(self, settings: Settings, engine, master: crypto.MasterKey, audit_key: bytes,
                 messages: list[str]):
        self.settings = settings
        self.engine = engine
        self._factory = session_factory(engine)
        self._master = master
        self._audit_key = audit_key
        self.startup_messages = messages
        self.matrix = load_matrix()
        self.password_policy = identity.PasswordPolicy()
        self.session_policy = identity.SessionPolicy(settings.session_idle_timeout,
                                                     settings.session_absolute_timeout)
        from app.core.uploads import UploadLimits

        self.upload_limits = UploadLimits(max_bytes=settings.max_upload_bytes)
        self.now: Callable[[], datetime] = utcnow  # injectable clock (tests)
        # The head of the log also lives outside the database (the witness file), written after
        # each commit that appended to it: someone who rolls back the audit table *and* its head
        # row consistently (a restored copy, deleted newest rows) is caught by comparing the two.
        # Written after commit only, so a rolled-back append never leaves the witness ahead, and
        # never moved off a head the log no longer holds, so later appends cannot erase the evidence.
        event.listen(self._factory, "after_commit", self._write_audit_witness)
        event.listen(self._factory, "after_soft_rollback", lambda session, previous: session.info.pop("audit_head", None))

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> "Platform":
        """Open (and by default migrate to head) the database, load or (embedded default only)
        create the master and audit keys. ``platform.startup_messages`` says where generated keys
        were written."""
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = make_engine(settings.database_url)
        messages: list[str] = []
        if migrate:
            from app.core.migrations import current_revision, upgrade

            brand_new = current_revision(engine) is None
            upgrade(engine)
            if brand_new:
                messages.extend(cls._set_aside_stale_witness(settings))
        audit_key, msg = audit_mod.load_or_create_hmac_key(
            settings.audit_key_env, settings.audit_key_file, settings.data_dir, settings.create_keys)
        messages.append(msg)
        master, msg = cls._load_master(settings, engine)
        messages.append(msg)
        platform = cls(settings, engine, master, audit_key, messages)
        platform._ensure_audit_head()
        return platform

    @staticmethod
    def _set_aside_stale_witness(settings: Settings) -> list[str]:
        """A database created from nothing (every table, not only the audit log, was absent)
        cannot match a witness left by an earlier database at the same URL (``make clean``, a
        reinstall): keep that witness under another name instead of failing every verification."""
        witness = settings.audit_witness_file
        if not witness.exists():
            return []
        aside = witness.with_name(f"{witness.name}.before-{utcnow().strftime('%Y%m%dT%H%M%SZ')}")
        os.replace(witness, aside)
        return [f"new database: the audit witness of an earlier database at this URL was kept as {aside}"]

    @staticmethod
    def _load_master(settings: Settings, engine) -> tuple[crypto.MasterKey, str]:
        """Load the master key; finish a key rotation that crashed between commit and rename."""
        pending = settings.master_key_file.with_name(settings.master_key_file.name + ".new")
        if settings.master_key_env is None and pending.exists():
            new = crypto.MasterKey.from_b64(pending.read_text(encoding="ascii"), source="pending master key")
            with engine.connect() as conn:
                used = {r[0] for r in conn.execute(select(Dataset.master_key_id).where(
                    Dataset.wrapped_data_key.is_not(None)))}
                conn.rollback()
            if new.key_id in used:  # the rotation committed: finish the swap
                os.replace(pending, settings.master_key_file)
            else:  # the rotation did not commit: forget the new key
                pending.unlink()
        return crypto.load_master_key(settings.master_key_env, settings.master_key_file, settings.data_dir,
                                      create=settings.create_keys)

    def close(self) -> None:
        """Dispose of the engine."""
        self.engine.dispose()

    def __enter__(self) -> "Platform":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals: transactions, audit, authorization ----------------------------------------
    def _ensure_audit_head(self) -> None:
        try:
            with transaction(self._factory) as s:
                if s.get(AuditHead, 1) is None:
                    s.add(AuditHead(id=1, seq=0, entry_hash=audit_mod.GENESIS_HASH,
                                    signed_head=audit_mod.format_head(0, audit_mod.GENESIS_HASH, self._audit_key)))
        except IntegrityError:  # another process created it first
            pass

    def _append_audit(self, s: Session, *, actor: str, action: str, outcome: str, target: str,
                      details: dict[str, Any]) -> audit_mod.AuditEntry:
        head = s.execute(lock_for_update(select(AuditHead).where(AuditHead.id == 1), s)).scalar_one()
        prev = None
        if head.seq > 0:
            prev = audit_mod.AuditEntry(seq=head.seq, at="", actor="", action="", outcome="", target="",
                                        details={}, prev_hash="", entry_hash=head.entry_hash, signature="")
        entry = audit_mod.make_entry(prev, seq=head.seq + 1, at=audit_mod.utc_now_iso(self.now()),
                                     actor=actor or "anonymous", action=action, outcome=outcome,
                                     target=target or "-", details=details, key=self._audit_key)
        d = audit_mod.entry_to_dict(entry)
        s.add(AuditRow(seq=d["seq"], at=d["at"], actor=d["actor"], action=d["action"], outcome=d["outcome"],
                       target=d["target"], details_json=d["details"], prev_hash=d["prev_hash"],
                       entry_hash=d["entry_hash"], signature=d["signature"]))
        head.seq = entry.seq
        head.entry_hash = entry.entry_hash
        head.signed_head = audit_mod.format_head(entry.seq, entry.entry_hash, self._audit_key)
        s.flush()
        if self._witness_may_advance(s, entry.seq):
            s.info["audit_head"] = (entry.seq, entry.entry_hash)
        return entry

    def _read_witness(self) -> tuple[int, str] | None | str:
        """(seq, entry_hash) of the witness, None when there is none, or why it is unreadable."""
        path = self.settings.audit_witness_file
        try:
            return audit_mod.parse_head(path.read_text(encoding="ascii"), self._audit_key)
        except FileNotFoundError:
            return None
        except (InvalidInputError, OSError, UnicodeDecodeError) as exc:
            return str(exc)

    def _witness_may_advance(self, s: Session, new_seq: int) -> bool:
        """True when the witness is missing, or names an older entry that the log still holds."""
        witness = self._read_witness()
        if witness is None:
            return True
        if isinstance(witness, str):
            return False  # keep an unreadable witness for the verifier to report
        seq, entry_hash = witness
        if seq >= new_seq:
            return False  # the log is behind the witness: keep the evidence
        if seq == 0:
            return True
        held = s.execute(select(AuditRow.entry_hash).where(AuditRow.seq == seq)).scalar_one_or_none()
        return held == entry_hash

    def _write_audit_witness(self, session: Session) -> None:
        head = session.info.pop("audit_head", None)
        if head is None:
            return
        seq, entry_hash = head
        try:
            crypto.write_secret_file(self.settings.audit_witness_file,
                                     audit_mod.format_head(seq, entry_hash, self._audit_key) + "\n")
        except OSError as exc:  # the action committed; a lagging witness only weakens the check
            _log.warning("could not write the audit witness %s: %s", self.settings.audit_witness_file, exc)

    def _witness_problems(self, entries: list[audit_mod.AuditEntry]) -> list[str]:
        """Compare the log with the witness outside the database. Processes write it in any
        order, so it may lag the log (fine) but never run ahead of it or disagree with it."""
        path = self.settings.audit_witness_file
        witness = self._read_witness()
        if witness is None:
            return []
        if isinstance(witness, str):
            return [f"the audit witness {path} is unreadable: {witness}"]
        seq, entry_hash = witness
        last = entries[-1].seq if entries else 0
        if seq > last:
            return [f"the log ends at seq {last} but the witness outside the database ({path}) recorded seq {seq}: "
                    "entries were removed or the database was restored from an older copy (after a deliberate "
                    "restore, move the witness file aside to accept the restored log)"]
        at = next((e for e in entries if e.seq == seq), None)
        if seq > 0 and (at is None or at.entry_hash != entry_hash):
            return [f"entry seq {seq} differs from the witness outside the database ({path}): the log was rewritten"]
        return []

    def record(self, *, actor: str, action: str, outcome: str, target: str, details: dict[str, Any]) -> None:
        """Append one audit entry in its own transaction (used by the worker and for failures)."""
        with transaction(self._factory) as s:
            self._append_audit(s, actor=actor, action=action, outcome=outcome, target=target, details=details)

    def _load_user(self, s: Session, actor: Actor) -> User:
        if not isinstance(actor, Actor):
            raise AuthenticationError("a signed-in actor is required")
        user = s.get(User, actor.user_id)
        if user is None or user.username != actor.username:
            raise AuthenticationError("the account no longer exists; please sign in again")
        if user.disabled:
            raise AuthenticationError(f"account {user.username!r} is disabled")
        return user

    @contextmanager
    def _op(self, actor: Actor | None, action: str, target: str, *, audit: bool = True) -> Iterator[_Op]:
        """One checked operation: transaction + re-read user + exactly one audit entry.

        Success: the entry (outcome ok, unless ``op.audit`` is False for plain metadata reads)
        is appended in the operation's own transaction. A permission denial rolls the work back
        and appends a ``denied`` entry; any other error rolls back and appends ``failed``."""
        op: _Op | None = None
        actor_name = actor.username if isinstance(actor, Actor) else "anonymous"
        try:
            with transaction(self._factory) as s:
                # API tokens are scoped to read-only release access; enforced here, in the one
                # place every operation passes, not only in the HTTP layer.
                if isinstance(actor, Actor) and actor.via == "api_token" and action not in API_TOKEN_ACTIONS:
                    raise PermissionDeniedError(f"an API token may not {action}: tokens only give read-only access to releases")
                user = self._load_user(s, actor) if actor is not None else None
                op = _Op(session=s, user=user, actor_name=user.username if user else actor_name,
                         action=action, target=target, audit=audit)
                yield op
                if op.audit:
                    self._append_audit(s, actor=op.actor_name, action=op.action, outcome="ok",
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
            raise
        for fn in op.after_commit:
            fn()

    def _is_member(self, s: Session, user: User, dataset_id: int) -> bool:
        return s.get(Membership, (dataset_id, user.id)) is not None

    def _authorize(self, op: _Op, action: str, dataset_id: int | None = None) -> None:
        user = op.user
        if user is None:
            raise PermissionDeniedError(f"{action} needs a signed-in user")
        scope = "global" if dataset_id is None else scope_for(self._is_member(op.session, user, dataset_id))
        authorize(self.matrix, role=user.role, action=action, scope=scope)

    def _permits(self, role: str, action: str, scope: str) -> bool:
        try:
            authorize(self.matrix, role=role, action=action, scope=scope)
            return True
        except PermissionDeniedError:
            return False

    def _allowed(self, s: Session, user: User, action: str, dataset_id: int | None = None) -> bool:
        scope = "global" if dataset_id is None else scope_for(self._is_member(s, user, dataset_id))
        return self._permits(user.role, action, scope)

    def _dataset(self, s: Session, dataset_id: int) -> Dataset:
        ds = s.get(Dataset, dataset_id) if isinstance(dataset_id, int) and not isinstance(dataset_id, bool) else None
        if ds is None or ds.deleted_at is not None:
            raise NotFoundError(f"dataset {dataset_id!r} does not exist")
        return ds

    def _release(self, s: Session, release_id: int) -> Release:
        rel = s.get(Release, release_id) if isinstance(release_id, int) and not isinstance(release_id, bool) else None
        if rel is None:
            raise NotFoundError(f"release {release_id!r} does not exist")
        return rel

    def _user(self, s: Session, user_id: int) -> User:
        u = s.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
        if u is None:
            raise NotFoundError(f"user {user_id!r} does not exist")
        return u

    # -- keys & encrypted files ----------------------------------------------------------------
    def master_key(self, wanted_key_id: str | None = None) -> crypto.MasterKey:
        """The loaded master key; reloaded when another process rotated it meanwhile."""
        if wanted_key_id is None or wanted_key_id == self._master.key_id:
            return self._master
        candidates = []
        try:
            candidates.append(crypto.load_master_key(self.settings.master_key_env, self.settings.master_key_file,
                                                     self.settings.data_dir, create=False)[0])
        except crypto.KeyConfigError:
            pass
        pending = self.settings.master_key_file.with_name(self.settings.master_key_file.name + ".new")
        if pending.exists():
            try:
                candidates.append(crypto.MasterKey.from_b64(pending.read_text(encoding="ascii")))
            except (OSError, crypto.KeyConfigError):
                pass
        for key in candidates:
            if key.key_id == wanted_key_id:
                self._master = key
                return key
        return self._master  # unwrap will fail with a clear message

    def data_key(self, ds: Dataset) -> bytes:
        if ds.wrapped_data_key is None:
            raise NotFoundError(f"dataset {ds.id} was deleted; its data key was destroyed")
        wrapped = ds.wrapped_data_key
        return crypto.unwrap_data_key(self.master_key(crypto.wrapped_key_id(wrapped)), wrapped, str(ds.id))

    def _path(self, relative: str) -> Path:
        path = (self.settings.data_dir / relative).resolve()
        if not path.is_relative_to(self.settings.data_dir.resolve()):
            raise InternalError(f"stored path {relative!r} leaves the data directory")
        return path

    def read_encrypted(self, ds: Dataset, relative: str, purpose: str, expected_sha256: str | None = None) -> bytes:
        blob = self._path(relative).read_bytes()
        if expected_sha256 is not None and _sha256(blob) != expected_sha256:
            raise crypto.DecryptionError(f"{purpose} file of dataset {ds.id} does not match its recorded SHA-256")
        return crypto.decrypt(self.data_key(ds), blob, str(ds.id), purpose)

    def write_encrypted(self, ds: Dataset, relative: str, purpose: str, plaintext: bytes, *,
                        data_key: bytes | None = None) -> str:
        """Encrypt and write temp-file → fsync → rename; returns the SHA-256 of the ciphertext."""
        blob = crypto.encrypt(data_key or self.data_key(ds), plaintext, str(ds.id), purpose)
        atomic_write_bytes(self._path(relative), blob, mode=0o600)
        return _sha256(blob)

    def load_tables(self, ds: Dataset):
        """(train, control) DataFrames, decrypted in memory only."""
        from synthgen.io import read_parquet_bytes

        train = read_parquet_bytes(self.read_encrypted(ds, ds.table_path, "table.train", ds.table_sha256), "train")
        control = read_parquet_bytes(self.read_encrypted(ds, ds.control_path, "table.control", ds.control_sha256),
                                     "control")
        return train, control

    # -- info builders -------------------------------------------------------------------------
    def _budget(self, s: Session, ds: Dataset) -> BudgetSummary:
        summ = ledger.summary(s, ds)
        return BudgetSummary(dataset_id=ds.id, delta=ds.delta, total=summ.total, spent=summ.spent,
                             reserved=summ.reserved, remaining=summ.remaining, extra_delta=summ.extra_delta)

    def _dataset_info(self, s: Session, ds: Dataset) -> DatasetInfo:
        owner = s.get(User, ds.owner_id)
        members = s.execute(select(User.username).join(Membership, Membership.user_id == User.id)
                            .where(Membership.dataset_id == ds.id).order_by(User.username)).scalars().all()
        reviewed = False
        if ds.schema_json:
            reviewed = not json.loads(ds.schema_json).get("derived_from_private_data", False)
        return DatasetInfo(id=ds.id, name=ds.name, owner=owner.username if owner else "?", owner_id=ds.owner_id,
                           created_at=ds.created_at, delta=ds.delta, columns=tuple(json.loads(ds.columns_json)),
                           schema_json=ds.schema_json, schema_reviewed=reviewed, members=tuple(members),
                           budget=self._budget(s, ds), schema_draft_json=ds.schema_draft_json)

    def _user_info(self, u: User, generated: str | None = None) -> UserInfo:
        return UserInfo(id=u.id, username=u.username, role=u.role, disabled=u.disabled, created_at=u.created_at,
                        oidc_issuer=u.oidc_issuer, oidc_subject=u.oidc_subject, generated_password=generated)

    def _job_info(self, job: Job | None) -> JobInfo | None:
        if job is None:
            return None
        return JobInfo(id=job.id, release_id=job.release_id, kind=job.kind, state=job.state,
                       progress=job.progress, message=job.message or "", attempts=job.attempts, error=job.error,
                       created_at=job.created_at, heartbeat_at=job.heartbeat_at)

    def _release_info(self, s: Session, rel: Release) -> ReleaseInfo:
        return self._release_infos(s, [rel])[0]

    def _release_infos(self, s: Session, rels: list[Release]) -> list[ReleaseInfo]:
        """ReleaseInfo of many releases with a fixed number of queries (dataset names, user
        names and the latest job of each release are read in bulk, not once per release)."""
        if not rels:
            return []
        ds_names: dict[int, str] = {}
        usernames: dict[int, str] = {}
        latest_job: dict[int, Job] = {}
        rel_ids = [r.id for r in rels]
        user_ids = sorted({r.requester_id for r in rels} | {r.approver_id for r in rels if r.approver_id})
        for chunk in _chunks(sorted({r.dataset_id for r in rels})):
            ds_names.update(s.execute(select(Dataset.id, Dataset.name).where(Dataset.id.in_(chunk))).all())
        for chunk in _chunks(user_ids):
            usernames.update(s.execute(select(User.id, User.username).where(User.id.in_(chunk))).all())
        for chunk in _chunks(rel_ids):
            newest = select(func.max(Job.id)).where(Job.release_id.in_(chunk)).group_by(Job.release_id)
            latest_job.update((j.release_id, j) for j in s.execute(select(Job).where(Job.id.in_(newest))).scalars())
        out = []
        for rel in rels:
            artifacts = {k: v["sha256"] for k, v in json.loads(rel.artifacts_json or "{}").items() if v.get("public")}
            out.append(ReleaseInfo(
                id=rel.id, dataset_id=rel.dataset_id, dataset_name=ds_names.get(rel.dataset_id, "?"), state=rel.state,
                requester=usernames.get(rel.requester_id, "?"), synthesizer=rel.synthesizer,
                config=json.loads(rel.config_json), dp=rel.dp, epsilon=rel.epsilon, delta=rel.delta, rho=rel.rho,
                rows=rel.rows, target=rel.target, policy=json.loads(rel.policy_json), verdict=rel.verdict,
                approver=usernames.get(rel.approver_id) if rel.approver_id else None, reason=rel.reason,
                override=rel.override, created_at=rel.created_at, updated_at=rel.updated_at, artifacts=artifacts,
                job=self._job_info(latest_job.get(rel.id))))
        return out

    # -- identity ------------------------------------------------------------------------------
    def has_users(self) -> bool:
        """True once any account exists (used by first-start bootstrap)."""
        with transaction(self._factory) as s:
            return s.execute(select(func.count()).select_from(User)).scalar_one() > 0

    def _check_username(self, username: Any) -> str:
        if not isinstance(username, str) or not _USERNAME_RE.match(username):
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
        identity.check_password(password, self.password_policy, username=username)
        return identity.hash_password(password), generated

    def create_first_admin(self, username: str, password: str | None = None) -> UserInfo:
        """Create the first admin account; only allowed while there are no users. If
        ``password`` is None one is generated and returned once in ``generated_password``."""
        self._check_username(username)
        pw_hash, generated = self._new_password(username, password)
        with self._op(None, "create_user", f"user:{username}") as op:
            op.actor_name = SYSTEM_ACTOR
            s = op.session
            if s.execute(select(func.count()).select_from(User)).scalar_one() > 0:
                raise InvalidInputError("the first admin can only be created while there are no accounts")
            u = User(username=username, password_hash=pw_hash, role="admin", disabled=False, failed_attempts=0,
                     created_at=self.now())
            s.add(u)
            s.flush()
            op.details = {"user_id": u.id, "role": "admin", "first_admin": True}
            return self._user_info(u, generated)

    def _start_session(self, s: Session, user: User, *, oidc_authenticated_at: datetime | None = None) -> SessionInfo:
        token = identity.new_session_token()
        now = self.now()
        row = UserSession(token_hash=identity.hash_token(token), user_id=user.id, created_at=now, last_seen_at=now,
                          oidc_authenticated_at=oidc_authenticated_at)
        s.add(row)
        s.flush()
        return SessionInfo(token=token, actor=Actor(user.id, user.username, user.role, session_id=row.id), created_at=now,
                           idle_timeout_s=self.session_policy.idle_timeout.total_seconds(),
                           absolute_timeout_s=self.session_policy.absolute_timeout.total_seconds())

    _DUMMY_HASH: str | None = None

    def login(self, username: str, password: str) -> SessionInfo:
        """Check the password (Argon2id) with throttling after repeated failures; audit
        ``login`` ok/failed. Raises :class:`AuthenticationError`."""
        failure: str | None = None
        result: SessionInfo | None = None
        with transaction(self._factory) as s:
            user = None
            if isinstance(username, str) and _USERNAME_RE.match(username):
                user = s.execute(lock_for_update(select(User).where(User.username == username), s)).scalar_one_or_none()
            now = self.now()
            if user is None:
                if Platform._DUMMY_HASH is None:
                    Platform._DUMMY_HASH = identity.hash_password("dummy-password-for-timing")
                identity.verify_password(Platform._DUMMY_HASH, password if isinstance(password, str) else "")
                failure = "user name or password is wrong"
                self._append_audit(s, actor="anonymous", action="login", outcome="failed", target="user:unknown",
                                   details={"reason": "unknown_user"})
            elif identity.is_locked(user.failed_attempts, user.last_failure_at, now):
                delay = identity.throttle_delay(user.failed_attempts, user.last_failure_at, now)
                failure = f"too many failed sign-ins for this account; try again in {int(delay) + 1} seconds"
                self._append_audit(s, actor=user.username, action="login", outcome="failed",
                                   target=f"user:{user.id}", details={"reason": "throttled"})
            elif user.disabled or not user.password_hash or not identity.verify_password(user.password_hash, password):
                user.failed_attempts += 1
                user.last_failure_at = now
                failure = "user name or password is wrong"
                self._append_audit(s, actor=user.username, action="login", outcome="failed", target=f"user:{user.id}",
                                   details={"reason": "disabled" if user.disabled else "bad_password",
                                            "failed_attempts": user.failed_attempts})
            else:
                user.failed_attempts = 0
                user.last_failure_at = None
                if identity.needs_rehash(user.password_hash):
                    user.password_hash = identity.hash_password(password)
                result = self._start_session(s, user)
                self._append_audit(s, actor=user.username, action="login", outcome="ok", target=f"user:{user.id}",
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

        max_age = self.settings.oidc.max_age if self.settings.oidc else timedelta(minutes=5)
        try:
            issuer, subject = self._check_oidc_identity(issuer, subject)
        except InvalidInputError:
            self.record(actor="anonymous", action="login", outcome="failed", target="user:unknown",
                        details={"method": "oidc", "reason": "malformed_identity"})
            raise AuthenticationError("the identity provider returned an unusable identity (issuer or subject)") from None
        failure = failure_reason = result = None
        details = {"method": "oidc", "issuer": issuer[:200]}
        with transaction(self._factory) as s:
            user = s.execute(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)).scalar_one_or_none()
            if authenticated_at is not None and not is_recent(authenticated_at, self.now(), max_age):
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
            self._append_audit(s, actor=user.username if user else "anonymous", action="login",
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
        with transaction(self._factory) as s:
            row = s.execute(select(UserSession).where(UserSession.token_hash == identity.hash_token(token))).scalar_one_or_none()
            if row is None or row.ended_at is not None:
                raise AuthenticationError("session is not valid; please sign in")
            now = self.now()
            user = s.get(User, row.user_id)
            reason = identity.session_expired(row.created_at, row.last_seen_at, now, self.session_policy)
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
        with transaction(self._factory) as s:
            row = s.execute(select(UserSession).where(UserSession.token_hash == identity.hash_token(token))).scalar_one_or_none()
            if row is None or row.ended_at is not None:
                return
            row.ended_at = self.now()
            row.end_reason = "logout"
            user = s.get(User, row.user_id)
            self._append_audit(s, actor=user.username if user else "anonymous", action="logout", outcome="ok",
                               target=f"user:{row.user_id}", details={})

    def create_user(self, actor: Actor, username: str, password: str | None, role: str, *,
                    oidc_issuer: str | None = None, oidc_subject: str | None = None) -> UserInfo:
        """admin only. Password checked against the length-based policy; None generates one
        (returned once)."""
        with self._op(actor, "create_user", f"user:{username}"[:128]) as op:
            self._authorize(op, "manage_users")
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
                     oidc_issuer=oidc_issuer, oidc_subject=oidc_subject, created_at=self.now())
            s.add(u)
            s.flush()
            op.target = f"user:{u.id}"
            op.details = {"user_id": u.id, "username": username, "role": role, "oidc": oidc_issuer is not None}
            return self._user_info(u, generated)

    def link_oidc_identity(self, actor: Actor, user_id: int, issuer: str, subject: str) -> UserInfo:
        """admin only: let ``user_id`` sign in with the OpenID Connect identity (issuer, subject),
        e.g. copied from the refused ``login`` audit entry of that person's first attempt. One
        identity links to at most one account; linking replaces the account's previous link."""
        with self._op(actor, "link_oidc", f"user:{user_id}") as op:
            self._authorize(op, "manage_users")
            issuer, subject = self._check_oidc_identity(issuer, subject)
            s = op.session
            u = self._user(s, user_id)
            other = s.execute(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)).scalar_one_or_none()
            if other is not None and other.id != u.id:
                raise InvalidInputError(f"this identity (issuer {issuer[:80]!r}, subject {subject[:40]!r}) is already "
                                        f"linked to user {other.username!r}; unlink it there first")
            op.details = {"user_id": u.id, "issuer": issuer[:200], "subject": subject[:200],
                          "replaced": u.oidc_issuer is not None and (u.oidc_issuer, u.oidc_subject) != (issuer, subject)}
            u.oidc_issuer, u.oidc_subject = issuer, subject
            s.flush()
            return self._user_info(u)

    def unlink_oidc_identity(self, actor: Actor, user_id: int) -> UserInfo:
        """admin only: the account can no longer sign in with its identity provider login."""
        with self._op(actor, "unlink_oidc", f"user:{user_id}") as op:
            self._authorize(op, "manage_users")
            u = self._user(op.session, user_id)
            op.details = {"user_id": u.id, "issuer": (u.oidc_issuer or "")[:200], "subject": (u.oidc_subject or "")[:200]}
            u.oidc_issuer = u.oidc_subject = None
            return self._user_info(u)

    def list_users(self, actor: Actor) -> list[UserInfo]:
        with self._op(actor, "list_users", "users", audit=False) as op:
            self._authorize(op, "manage_users")
            return [self._user_info(u) for u in op.session.execute(select(User).order_by(User.id)).scalars()]

    def set_role(self, actor: Actor, user_id: int, role: str) -> UserInfo:
        with self._op(actor, "set_role", f"user:{user_id}") as op:
            self._authorize(op, "manage_users")
            self._check_role(role)
            u = self._user(op.session, user_id)
            op.details = {"user_id": u.id, "old_role": u.role, "new_role": role}
            u.role = role
            return self._user_info(u)

    def _set_disabled(self, actor: Actor, user_id: int, disabled: bool) -> UserInfo:
        with self._op(actor, "disable_user" if disabled else "enable_user", f"user:{user_id}") as op:
            self._authorize(op, "manage_users")
            u = self._user(op.session, user_id)
            if disabled and u.id == op.user.id:
                raise InvalidInputError("an administrator cannot disable their own account")
            u.disabled = disabled
            if not disabled:
                u.failed_attempts = 0
                u.last_failure_at = None
            op.details = {"user_id": u.id}
            return self._user_info(u)

    def disable_user(self, actor: Actor, user_id: int) -> UserInfo:
        """Disable an account; its sessions and API tokens stop working on their next use."""
        return self._set_disabled(actor, user_id, True)

    def enable_user(self, actor: Actor, user_id: int) -> UserInfo:
        return self._set_disabled(actor, user_id, False)

    def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        with self._op(actor, "change_password", f"user:{actor.user_id}") as op:
            u = op.user
            if not u.password_hash or not identity.verify_password(u.password_hash, old_password):
                raise AuthenticationError("the current password is wrong")
            u.password_hash, _ = self._new_password(u.username, new_password)
            # every other session of this user ends
            for row in op.session.execute(select(UserSession).where(UserSession.user_id == u.id,
                                                                    UserSession.ended_at.is_(None))).scalars():
                row.ended_at = self.now()
                row.end_reason = "password changed"

    def create_api_token(self, actor: Actor, ttl: timedelta = timedelta(days=30)) -> ApiTokenInfo:
        """A bearer token for the HTTP API acting as ``actor``; the secret is returned once."""
        with self._op(actor, "create_api_token", f"user:{actor.user_id}") as op:
            self._authorize(op, "manage_tokens")
            if not isinstance(ttl, timedelta) or not timedelta(minutes=1) <= ttl <= timedelta(days=365):
                raise InvalidInputError(f"ttl ({ttl!r}) must be between 1 minute and 365 days")
            token, prefix = identity.new_api_token()
            now = self.now()
            row = ApiToken(user_id=op.user.id, prefix=prefix, token_hash=identity.hash_token(token), created_at=now,
                           expires_at=now + ttl)
            op.session.add(row)
            op.session.flush()
            op.details = {"token_id": row.id, "prefix": prefix, "ttl_days": round(ttl.total_seconds() / 86400, 3)}
            return ApiTokenInfo(id=row.id, prefix=prefix, user=op.user.username, created_at=now,
                                expires_at=row.expires_at, revoked=False, token=token)

    def list_api_tokens(self, actor: Actor) -> list[ApiTokenInfo]:
        with self._op(actor, "list_api_tokens", f"user:{actor.user_id}", audit=False) as op:
            self._authorize(op, "manage_tokens")
            q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
            if not self._allowed(op.session, op.user, "manage_users"):
                q = q.where(ApiToken.user_id == op.user.id)
            return [ApiTokenInfo(id=t.id, prefix=t.prefix, user=name, created_at=t.created_at, expires_at=t.expires_at,
                                 revoked=t.revoked_at is not None) for t, name in op.session.execute(q)]

    def revoke_api_token(self, actor: Actor, token_id: int) -> None:
        with self._op(actor, "revoke_api_token", f"api_token:{token_id}") as op:
            row = op.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
            if row is None:
                raise NotFoundError(f"API token {token_id!r} does not exist")
            self._authorize(op, "manage_tokens" if row.user_id == op.user.id else "manage_users")
            if row.revoked_at is None:
                row.revoked_at = self.now()
            op.details = {"token_id": row.id, "prefix": row.prefix}

    def actor_for_api_token(self, token: str) -> Actor:
        """The actor of a valid API token. Raises :class:`AuthenticationError` whose ``reason``
        (malformed, unknown, revoked, expired, account_disabled) and ``username`` are meant for the
        caller's audit entry only: the message does not tell them apart."""
        if not identity.looks_like_api_token(token):
            raise AuthenticationError("API token is not valid", reason="malformed")
        invalid = "API token is not valid (unknown, revoked or expired)"
        with transaction(self._factory) as s:
            row = s.execute(select(ApiToken).where(ApiToken.token_hash == identity.hash_token(token))).scalar_one_or_none()
            now = self.now()
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

    # -- datasets ------------------------------------------------------------------------------
    def _authorize_dataset(self, op: _Op, action: str, dataset_id: int) -> Dataset:
        ds = self._dataset(op.session, dataset_id)
        op.details.setdefault("dataset_id", ds.id)
        self._authorize(op, action, ds.id)
        return ds

    def upload_dataset(self, actor: Actor, filename: str, data: bytes, *, name: str,
                       budget_epsilon: float, delta: float, schema_json: str | None = None) -> DatasetInfo:
        """Validate (size/shape limits; hostile files raise UploadRejected with a user-facing
        message and store nothing), convert to Parquet, split 70/30 train/control with a seeded
        split, encrypt both under a fresh data key (AES-GCM, dataset id as associated data) and
        register the dataset with its lifetime budget (ε at δ). The uploader becomes owner and
        member. ``schema_json``, if given, must be a reviewed schema matching the columns."""
        import numpy as np

        from app.core.uploads import validate_upload
        from synthgen.schema import Schema

        with self._op(actor, "upload", "dataset:new") as op:
            if op.user is None:
                raise PermissionDeniedError("upload needs a signed-in user")
            # creating a dataset makes the uploader its owner: checked with scope "own"
            authorize(self.matrix, role=op.user.role, action="upload", scope="own")
            name = _clean_text(name, "name", max_len=_NAME_MAX)
            total = PrivacyBudget.from_epsilon(budget_epsilon, delta)
            op.details = {"name": name, "budget_epsilon": float(budget_epsilon), "delta": float(delta)}
            frame = validate_upload(filename, data, self.upload_limits)
            if len(frame) < MIN_ROWS:
                raise InvalidInputError(f"the table must have at least {MIN_ROWS} rows to split off a control set")
            schema_text = None
            if schema_json is not None:
                schema = Schema.from_json(schema_json)
                self._check_schema_columns(schema, [str(c) for c in frame.columns])
                schema_text = schema.to_json()
            frame = frame.reset_index(drop=True)
            columns = [str(c) for c in frame.columns]
            seed = secrets.randbits(31)
            perm = np.random.default_rng(seed).permutation(len(frame))
            n_control = max(1, int(round(len(frame) * CONTROL_FRACTION)))
            control = frame.iloc[np.sort(perm[:n_control])].reset_index(drop=True)
            train = frame.iloc[np.sort(perm[n_control:])].reset_index(drop=True)
            train_bytes = table_to_bytes(train, "parquet")
            control_bytes = table_to_bytes(control, "parquet")
            del frame, train, control
            s = op.session
            storage = f"datasets/{secrets.token_hex(8)}"
            ds = Dataset(name=name, owner_id=op.user.id, columns_json=json.dumps(columns),
                         schema_json=schema_text, budget_rho_total=total.rho, delta=float(delta), created_at=self.now(),
                         storage_dir=storage, split_seed=seed)
            s.add(ds)
            s.flush()
            data_key = crypto.new_data_key()
            ds.wrapped_data_key = crypto.wrap_data_key(self._master, data_key, str(ds.id))
            ds.master_key_id = self._master.key_id
            directory = self._path(storage)
            op.on_rollback.append(lambda: shutil.rmtree(directory, ignore_errors=True))
            ds.table_path = f"{storage}/train.enc"
            ds.control_path = f"{storage}/control.enc"
            ds.table_sha256 = self.write_encrypted(ds, ds.table_path, "table.train", train_bytes, data_key=data_key)
            ds.control_sha256 = self.write_encrypted(ds, ds.control_path, "table.control", control_bytes,
                                                     data_key=data_key)
            s.add(Membership(dataset_id=ds.id, user_id=op.user.id, created_at=self.now()))
            s.flush()
            op.target = f"dataset:{ds.id}"
            op.details.update(dataset_id=ds.id, columns=len(json.loads(ds.columns_json)),
                              format=Path(str(filename)).suffix.lower().lstrip(".")[:10],
                              schema_provided=schema_text is not None)
            return self._dataset_info(s, ds)

    @staticmethod
    def _check_schema_columns(schema, columns: list[str]) -> None:
        from synthgen.errors import SchemaError

        missing = [n for n in schema.names if n not in columns]
        if missing:
            raise SchemaError(f"the table has no column {missing[0]!r} declared in the schema")
        extra = [n for n in columns if n not in schema.names]
        if extra:
            raise SchemaError(f"column {extra[0]!r} is in the table but not in the schema")

    def list_datasets(self, actor: Actor) -> list[DatasetInfo]:
        """Datasets the actor may see (members; every dataset for roles allowed 'other')."""
        with self._op(actor, "list_datasets", "datasets", audit=False) as op:
            s = op.session
            out = []
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None)).order_by(Dataset.id)).scalars():
                if self._allowed(s, op.user, "list_datasets", ds.id):
                    out.append(self._dataset_info(s, ds))
            return out

    def get_dataset(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        with self._op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self._authorize_dataset(op, "view_dataset", dataset_id)
            return self._dataset_info(op.session, ds)

    def _membership(self, actor: Actor, dataset_id: int, user_id: int, add: bool) -> DatasetInfo:
        with self._op(actor, "add_member" if add else "remove_member", f"dataset:{dataset_id}") as op:
            self._authorize(op, "manage_users")
            s = op.session
            ds = self._dataset(s, dataset_id)
            u = self._user(s, user_id)
            op.details = {"dataset_id": ds.id, "user_id": u.id, "role": u.role}
            row = s.get(Membership, (ds.id, u.id))
            if add and row is None:
                s.add(Membership(dataset_id=ds.id, user_id=u.id, created_at=self.now()))
            elif not add and row is not None:
                if u.id == ds.owner_id:
                    raise InvalidInputError(f"user {u.username!r} owns dataset {ds.id} and must stay a member")
                s.delete(row)
            s.flush()
            return self._dataset_info(s, ds)

    def add_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self._membership(actor, dataset_id, user_id, True)

    def remove_member(self, actor: Actor, dataset_id: int, user_id: int) -> DatasetInfo:
        return self._membership(actor, dataset_id, user_id, False)

    def draft_schema(self, actor: Actor, dataset_id: int) -> DraftSchema:
        """Draft a schema from the private table (owner/view_raw only). The result is flagged
        derived_from_private_data and is NOT stored."""
        from synthgen.draft import draft_schema as _draft

        with self._op(actor, "view_raw", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "view_raw", dataset_id)
            train, _control = self.load_tables(ds)
            schema = _draft(train, name=ds.name)
            op.details["purpose"] = "draft_schema"
            return DraftSchema(schema_json=schema.to_json(),
                               derived_from_private_data=bool(schema.to_dict().get("derived_from_private_data", True)))

    @staticmethod
    def _discovery_inputs(columns: list[str], numeric: dict[str, Any] | None, identifiers: Any, bins: Any):
        """Validate the public declarations of a DP discovery before any budget is touched."""
        from synthgen.discovery import NumericSpec

        if numeric is None:
            numeric = {}
        if not isinstance(numeric, dict):
            raise InvalidInputError("numeric must map column names to their public bounds {lower, upper, integer}")
        identifiers = list(identifiers or [])
        if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 64:
            raise InvalidInputError(f"bins ({bins!r}) must be an integer between 2 and 64")
        specs: dict[str, NumericSpec] = {}
        for name, spec in numeric.items():
            if name not in columns:
                raise InvalidInputError(f"numeric column ({str(name)[:60]!r}) must be a column of the table")
            if isinstance(spec, NumericSpec):
                specs[name] = spec
                continue
            if not isinstance(spec, dict) or set(spec) - {"lower", "upper", "integer"}:
                raise InvalidInputError(f"numeric[{name!r}] must be an object with lower, upper and optional integer")
            integer = spec.get("integer", True)
            if not isinstance(integer, bool):
                raise InvalidInputError(f"numeric[{name!r}].integer ({integer!r}) must be true or false")
            bounds = []
            for key in ("lower", "upper"):
                value = spec.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                        or value in (float("inf"), float("-inf")):
                    raise InvalidInputError(f"numeric[{name!r}].{key} ({value!r}) must be a finite number "
                                            "(a public bound, not one read off the data)")
                if integer and value != int(value):
                    raise InvalidInputError(f"numeric[{name!r}].{key} ({value!r}) must be a whole number for an "
                                            "integer column")
                bounds.append(int(value) if integer else float(value))
            specs[name] = NumericSpec(bounds[0], bounds[1], integer)
        for name in identifiers:
            if not isinstance(name, str) or name not in columns:
                raise InvalidInputError(f"identifier column ({str(name)[:60]!r}) must be a column of the table")
            if name in specs:
                raise InvalidInputError(f"column {name!r} must not be both numeric and an identifier")
        if len(set(identifiers)) == len(columns):
            raise InvalidInputError("there is nothing to discover: every column is declared an identifier")
        return specs, identifiers

    def discover_schema(self, actor: Actor, dataset_id: int, epsilon: float, *,
                        numeric: dict[str, Any] | None = None, identifiers: list[str] | tuple[str, ...] | None = None,
                        bins: int = 8) -> DatasetInfo:
        """Release a schema of the dataset with differential privacy (``synthgen.discovery``) and
        store it as a draft for the owner to review (``DatasetInfo.schema_draft_json``).

        The owner declares only public facts: which columns are ``numeric`` (with public bounds
        ``{"lower", "upper", "integer"}``) and which are ``identifiers``; every other column is
        categorical and its categories are released by OpenDP's key thresholding, numeric bin
        cuts by DP quantiles.

        Privacy accounting, exactly like a release: ``epsilon`` at the dataset's δ is converted
        to ρ and reserved in the dataset's ledger under the dataset's lock (overspending raises
        the ledger's :class:`BudgetExceededError` and writes nothing), then marked spent and
        committed *before* the private table is read, so the spend stays on the ledger whatever
        happens next (an error that depends on the noisy output, a crash). Key thresholding
        also needs a δ: it uses the dataset's δ, recorded in the audit entry and the draft's notes.

        Audit: one ``discover_schema`` entry when the budget is charged (stage ``charged``: ε,
        δ, ρ, ledger entry), one when the draft is stored (stage ``stored``) or, if the
        computation fails, a failed entry (stage ``computing``)."""
        from synthgen.discovery import discover_schema as _discover

        target = f"dataset:{dataset_id}"
        with self._op(actor, "discover_schema", target) as op:
            ds = self._authorize_dataset(op, "discover_schema", dataset_id)
            specs, identifiers = self._discovery_inputs(json.loads(ds.columns_json), numeric, identifiers, bins)
            cost = PrivacyBudget.from_epsilon(epsilon, ds.delta)
            # key thresholding's δ is not part of ρ: the ledger records it beside the ρ
            entry = ledger.reserve(op.session, ds.id, cost, None, extra_delta=ds.delta)
            ledger.mark_spent(op.session, entry.id)
            entry_id, actor_name = entry.id, op.actor_name
            op.details.update(stage="charged", epsilon=float(epsilon), delta=ds.delta, rho=cost.rho,
                              threshold_delta=ds.delta, ledger_entry=entry_id, numeric=len(specs),
                              identifiers=len(identifiers), bins=bins)
        # Committed: the budget is spent from here on, whatever happens below.
        try:
            # discovery itself asks OpenDP for a hair less than ``cost`` (synthgen._opendp.SLACK)
            train, _control = self.load_tables(ds)
            schema, accounting = _discover(train, numeric=specs, identifiers=identifiers, budget=cost,
                                           delta=ds.delta, bins=bins, name=ds.name)
            del train, _control
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                self.record(actor=actor_name, action="discover_schema", outcome="failed", target=target,
                            details={"stage": "computing", "error": type(exc).__name__, "dataset_id": ds.id,
                                     "ledger_entry": entry_id, "rho": cost.rho})
            raise
        with self._op(actor, "discover_schema", target) as op:
            ds = self._authorize_dataset(op, "discover_schema", dataset_id)
            ds.schema_draft_json = schema.to_json()
            op.details.update(stage="stored", ledger_entry=entry_id, rho_charged=cost.rho, rho_used=accounting["rho"],
                              delta_used=accounting["delta"], queries=accounting["queries"],
                              fingerprint=schema.fingerprint()[:64])
            return self._dataset_info(op.session, ds)

    def discard_schema_draft(self, actor: Actor, dataset_id: int) -> DatasetInfo:
        """Forget the stored DP-discovered draft (its budget stays spent)."""
        with self._op(actor, "discard_schema_draft", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "edit_schema", dataset_id)
            op.details["had_draft"] = ds.schema_draft_json is not None
            ds.schema_draft_json = None
            return self._dataset_info(op.session, ds)

    def update_schema(self, actor: Actor, dataset_id: int, schema_json: str, *, clear_draft: bool = False) -> DatasetInfo:
        """Store the owner's reviewed schema (validated, must match the table's columns).
        ``clear_draft``: the owner reviewed the stored DP-discovered draft into this schema,
        so the draft is removed."""
        from synthgen.schema import Schema

        with self._op(actor, "edit_schema", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "edit_schema", dataset_id)
            if not isinstance(schema_json, str):
                raise InvalidInputError("schema_json must be JSON text")
            schema = Schema.from_json(schema_json)
            self._check_schema_columns(schema, json.loads(ds.columns_json))
            ds.schema_json = schema.to_json()
            if clear_draft:
                ds.schema_draft_json = None
            op.details.update(fingerprint=schema.fingerprint()[:64], cleared_draft=bool(clear_draft),
                              derived_from_private_data=bool(schema.to_dict().get("derived_from_private_data")))
            return self._dataset_info(op.session, ds)

    def set_budget(self, actor: Actor, dataset_id: int, budget_epsilon: float) -> BudgetSummary:
        """Change the lifetime budget (ε at the dataset's δ); never below what is already
        spent or reserved."""
        with self._op(actor, "set_budget", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "set_budget", dataset_id)
            total = PrivacyBudget.from_epsilon(budget_epsilon, ds.delta)
            old = PrivacyBudget(ds.budget_rho_total)
            ledger.set_total(op.session, ds.id, total)
            op.details.update(old_rho=old.rho, new_rho=total.rho, new_epsilon=float(budget_epsilon), delta=ds.delta)
            return self._budget(op.session, ds)

    def budget_summary(self, actor: Actor, dataset_id: int) -> BudgetSummary:
        with self._op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self._authorize_dataset(op, "view_dataset", dataset_id)
            return self._budget(op.session, ds)

    def delete_dataset(self, actor: Actor, dataset_id: int) -> None:
        """Crypto-shred: wipe the wrapped data key, remove the encrypted files, mark deleted.
        Its releases become unreadable and are revoked (or failed, if not evaluated yet)."""
        with self._op(actor, "delete_dataset", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "delete_dataset", dataset_id)
            s = op.session
            now = self.now()
            ds.deleted_at = now
            ds.wrapped_data_key = None
            for rel in s.execute(select(Release).where(Release.dataset_id == ds.id)).scalars():
                if rel.state in ("approved", "published"):
                    rel_sm.revoke(s, rel, reason="dataset deleted")
                elif rel.state in ("draft", "running"):
                    rel_sm.fail(s, rel, "dataset deleted")
                for job in s.execute(select(Job).where(Job.release_id == rel.id, Job.state.in_(("queued", "running")))).scalars():
                    job.state = "failed"
                    job.error = "dataset deleted"
                    job.finished_at = now
            directory = self._path(ds.storage_dir)
            release_dirs = [self._path(f"releases/{r}") for r in
                            s.execute(select(Release.id).where(Release.dataset_id == ds.id)).scalars()]
            op.after_commit.append(lambda: [shutil.rmtree(d, ignore_errors=True) for d in [directory, *release_dirs]])

    # -- releases ------------------------------------------------------------------------------
    @staticmethod
    def _normalize_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
        from evaluation.policy import Policy, default_policy

        if policy is not None and not isinstance(policy, dict):
            raise InvalidInputError("policy must be an object with optional 'allow_override' and 'evaluation'")
        policy = dict(policy or {})
        allow = policy.pop("allow_override", False)
        if not isinstance(allow, bool):
            raise InvalidInputError(f"policy.allow_override ({allow!r}) must be true or false")
        evaluation = policy.pop("evaluation", None)
        if policy:
            raise InvalidInputError(f"policy has unknown field(s) {', '.join(sorted(map(str, policy)))}; "
                                    "allowed: allow_override, evaluation")
        ev = Policy.from_dict(evaluation, source="policy.evaluation") if evaluation is not None else default_policy()
        return {"allow_override": allow, "evaluation": ev.to_dict()}

    def _reserve_and_queue(self, s: Session, ds: Dataset, rel: Release) -> None:
        if rel.dp:
            ledger.reserve(s, ds.id, PrivacyBudget(rel.rho), rel.id)
        s.add(Job(kind="fit_evaluate", release_id=rel.id, state="queued", progress=0.0, message="queued",
                  attempts=0, created_at=self.now()))
        s.flush()

    def request_release(self, actor: Actor, dataset_id: int, *, synthesizer: str, epsilon: float | None,
                        delta: float | None = None, rows: int | None = None, target: str | None = None,
                        policy: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> ReleaseInfo:
        """Create a release (state ``draft``), reserve its budget in the ledger (raises
        BudgetExceededError, nothing stored) and queue a fit_evaluate job for ``synthgen worker``.
        ``synthesizer`` is a name of ``synthgen.synthesizers.SYNTHESIZERS`` ("mst", "aim", or a
        non-DP baseline "gaussian_copula"/"ctgan": then ``epsilon`` must be None, nothing is
        reserved, and the release can only be approved with an explicit, policy-allowed override).
        ``config`` holds synthesizer options (e.g. ``{"estimation_iters": 100}``)."""
        from app.core.jobs import check_synthesizer_config, synthesizer_is_dp

        with self._op(actor, "request_release", f"dataset:{dataset_id}") as op:
            ds = self._authorize_dataset(op, "request_release", dataset_id)
            s = op.session
            dp = synthesizer_is_dp(synthesizer)
            if not ds.schema_json:
                raise InvalidInputError(f"dataset {ds.id} has no schema yet: the owner must save a reviewed schema first")
            schema = json.loads(ds.schema_json)
            if schema.get("derived_from_private_data"):
                raise InvalidInputError(
                    f"dataset {ds.id}'s schema is flagged derived_from_private_data: review it (bounds and categories "
                    "from public knowledge) and save it with the flag cleared before requesting a release")
            rho = None
            if dp:
                if epsilon is None:
                    raise InvalidInputError(f"epsilon (None) must be given for the DP synthesizer {synthesizer}")
                delta = ds.delta if delta is None else check_delta(delta)
                rho = PrivacyBudget.from_epsilon(epsilon, delta).rho
                epsilon = float(epsilon)
            else:
                if epsilon is not None or delta is not None:
                    raise InvalidInputError(f"epsilon ({epsilon!r}) must be None for the non-DP baseline {synthesizer}")
            if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_SYNTHETIC_ROWS):
                raise InvalidInputError(f"rows ({rows!r}) must be an integer between 1 and {MAX_SYNTHETIC_ROWS} or None")
            names = [c["name"] for c in schema.get("columns", [])]
            if target is not None and target not in names:
                raise InvalidInputError(f"target ({str(target)[:60]!r}) must be a column of the schema")
            if config is not None and not isinstance(config, dict):
                raise InvalidInputError("config must be an object of synthesizer options")
            config_dict = check_synthesizer_config(synthesizer, config or {})
            policy_dict = self._normalize_policy(policy)
            now = self.now()
            rel = Release(dataset_id=ds.id, requester_id=op.user.id, state="draft", synthesizer=synthesizer,
                          config_json=json.dumps(config_dict, sort_keys=True), schema_json=ds.schema_json, dp=dp,
                          epsilon=epsilon, delta=delta, rho=rho, rows=rows, target=target,
                          policy_json=json.dumps(policy_dict, sort_keys=True), override=False, created_at=now,
                          updated_at=now)
            s.add(rel)
            s.flush()
            self._reserve_and_queue(s, ds, rel)
            op.target = f"release:{rel.id}"
            op.details.update(release_id=rel.id, synthesizer=synthesizer, dp=dp, epsilon=epsilon, delta=delta, rho=rho)
            return self._release_info(s, rel)

    def retry_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        """Requeue a failed release. The failed attempt's budget stays spent; the retry reserves
        its cost again."""
        with self._op(actor, "retry_release", f"release:{release_id}") as op:
            s = op.session
            rel = self._release(s, release_id)
            ds = self._authorize_dataset(op, "request_release", rel.dataset_id)
            rel_sm.retry(s, rel)
            rel.error = None
            self._reserve_and_queue(s, ds, rel)
            op.details.update(release_id=rel.id, rho=rel.rho)
            return self._release_info(s, rel)

    def _release_visibility(self, s: Session, user: User) -> Callable[[Release], bool]:
        """Predicate "may ``user`` see this release" with the user's memberships read once
        (one query for a whole list instead of one per release)."""
        member_of = set(s.execute(select(Membership.dataset_id).where(Membership.user_id == user.id)).scalars())

        def allowed(action: str, dataset_id: int) -> bool:
            return self._permits(user.role, action, scope_for(dataset_id in member_of))

        def may_see(rel: Release) -> bool:
            if not allowed("list_releases", rel.dataset_id):
                return False
            return rel.state in DOWNLOADABLE or allowed("view_risk_report", rel.dataset_id)

        return may_see

    def _visible_release(self, op: _Op, release_id: int, action: str = "list_releases") -> Release:
        rel = self._release(op.session, release_id)
        op.details.setdefault("dataset_id", rel.dataset_id)
        op.details.setdefault("release_id", rel.id)
        self._authorize(op, action, rel.dataset_id)
        if rel.state not in DOWNLOADABLE and not self._allowed(op.session, op.user, "view_risk_report", rel.dataset_id):
            raise PermissionDeniedError(
                f"role {op.user.role} may only see approved or published releases; release {rel.id} is {rel.state!r}")
        return rel

    def list_releases(self, actor: Actor, *, dataset_id: int | None = None,
                      states: tuple[str, ...] | None = None) -> list[ReleaseInfo]:
        """Releases the actor may see. Roles that may not see unapproved releases of a dataset
        (ml_engineer) only ever get approved/published ones."""
        with self._op(actor, "list_releases", f"dataset:{dataset_id}" if dataset_id else "releases", audit=False) as op:
            s = op.session
            q = select(Release).order_by(Release.id)
            if dataset_id is not None:
                self._authorize_dataset(op, "list_releases", dataset_id)
                q = q.where(Release.dataset_id == dataset_id)
            if states:
                q = q.where(Release.state.in_(tuple(states)))
            may_see = self._release_visibility(s, op.user)
            return self._release_infos(s, [r for r in s.execute(q).scalars() if may_see(r)])

    def get_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self._op(actor, "list_releases", f"release:{release_id}", audit=False) as op:
            return self._release_info(op.session, self._visible_release(op, release_id))

    def _artifacts(self, rel: Release) -> dict[str, dict[str, Any]]:
        artifacts = json.loads(rel.artifacts_json or "{}")
        if not artifacts:
            raise InvalidInputError(f"release {rel.id} has no artifacts yet: it is {rel.state!r}")
        return artifacts

    def read_artifact(self, s: Session, rel: Release, name: str) -> bytes:
        """Decrypt one artifact and check its recorded SHA-256 (ciphertext and plaintext)."""
        meta = self._artifacts(rel).get(name)
        if meta is None:
            raise NotFoundError(f"release {rel.id} has no file {name!r}")
        ds = s.get(Dataset, rel.dataset_id)
        data = self.read_encrypted(ds, meta["path"], meta["purpose"], meta["cipher_sha256"])
        if _sha256(data) != meta["sha256"]:
            raise crypto.DecryptionError(f"file {name!r} of release {rel.id} does not match its recorded SHA-256")
        return data

    def _view_recorded(self, op: _Op, actor: Actor, release_id: int, what: str) -> None:
        """Audit a view of a release's card or risk report once per sign-in session.

        Why: dashboard pages rerun on every click, so "one audit entry per call" wrote an entry
        per rerun, and the log said someone viewed a report dozens of times when they opened it
        once. What a privacy officer needs is who opened which release's card or report, and
        when they first did so in a sign-in session: that is recorded (with the session id);
        later calls from the same session append nothing. Calls without a sign-in session (API
        tokens, scripts) are explicit requests and are recorded every time. Refusals and
        failures are always recorded (``_op`` does that before this is reached)."""
        sid = actor.session_id if isinstance(actor, Actor) and actor.via == "session" else None
        if sid is None:
            return
        s = op.session
        row = s.get(UserSession, sid)
        if row is None or row.user_id != op.user.id or row.ended_at is not None:
            return  # not a live session of this user: audit every call
        if s.get(ReleaseView, (sid, release_id, what)) is not None:
            op.audit = False
            return
        try:
            with s.begin_nested():
                s.add(ReleaseView(session_id=sid, release_id=release_id, what=what, first_at=self.now()))
        except IntegrityError:  # a concurrent rerun of the same session recorded it first
            op.audit = False
            return
        op.details.update(session=sid, first_view_in_session=True)

    def get_release_card(self, actor: Actor, release_id: int, audience: Audience = "ml") -> str:
        """HTML release card. ``full`` holds real-side statistics (view_risk_report);
        ``ml`` is the ML-team card (approved/published releases for ml_engineer). Audited once
        per sign-in session and release (see :meth:`_view_recorded`)."""
        from app.core.bundle import CARD_FULL, CARD_ML

        action = "view_release_card" if audience == "ml" else "view_risk_report"
        with self._op(actor, action, f"release:{release_id}") as op:
            if audience == "ml":
                rel = self._visible_release(op, release_id, "view_release_card")
                name = CARD_ML
            elif audience == "full":
                rel = self._release(op.session, release_id)
                op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
                self._authorize(op, "view_risk_report", rel.dataset_id)
                name = CARD_FULL
            else:
                raise InvalidInputError(f"audience ({str(audience)[:20]!r}) must be 'ml' or 'full'")
            op.details["audience"] = audience
            html = self.read_artifact(op.session, rel, name).decode("utf-8")
            self._view_recorded(op, actor, rel.id, f"card:{audience}")
            return html

    def get_risk_report(self, actor: Actor, release_id: int) -> dict[str, Any]:
        """The full evaluation report (decrypted) for reviewers. Audited once per sign-in
        session and release (see :meth:`_view_recorded`)."""
        with self._op(actor, "view_risk_report", f"release:{release_id}") as op:
            rel = self._release(op.session, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self._authorize(op, "view_risk_report", rel.dataset_id)
            if rel.report_enc is None:
                raise InvalidInputError(f"release {rel.id} has no evaluation report yet: it is {rel.state!r}")
            ds = op.session.get(Dataset, rel.dataset_id)
            report = json.loads(crypto.decrypt(self.data_key(ds), rel.report_enc, str(ds.id), f"report.{rel.id}"))
            self._view_recorded(op, actor, rel.id, "risk_report")
            return report

    def approve(self, actor: Actor, release_id: int, reason: str, *, override: bool = False) -> ReleaseInfo:
        """privacy_officer, not the requester (four-eyes). A failed/inconclusive gate or a
        non-DP release needs ``override=True``, a policy that allows overrides and a reason."""
        with self._op(actor, "approve", f"release:{release_id}") as op:
            s = op.session
            rel = self._release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self._authorize(op, "approve", rel.dataset_id)
            four_eyes_check(rel.requester_id, op.user.id)
            rel_sm.check(rel, "approve")
            reason = _clean_text(reason, "reason")
            policy = json.loads(rel.policy_json)
            problems = []
            if not rel.dp:
                problems.append("it is not differentially private (dp=False)")
            if rel.verdict != "pass":
                problems.append(f"its evaluation verdict is {rel.verdict!r}, not 'pass'")
            if problems:
                if not policy.get("allow_override"):
                    raise ApprovalRefusedError(
                        f"release {rel.id} cannot be approved: {' and '.join(problems)}, and its policy does not allow "
                        "an override (policy.allow_override is false)")
                if override is not True:
                    raise ApprovalRefusedError(
                        f"release {rel.id} cannot be approved: {' and '.join(problems)}; approving it anyway needs "
                        "override=True and a written reason")
            rel_sm.approve(s, rel, approver_id=op.user.id, reason=reason, override=bool(problems))
            op.details.update(verdict=rel.verdict, override=bool(problems), dp=rel.dp)
            return self._release_info(s, rel)

    def reject(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self._op(actor, "reject", f"release:{release_id}") as op:
            s = op.session
            rel = self._release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self._authorize(op, "reject", rel.dataset_id)
            rel_sm.check(rel, "reject")
            rel_sm.reject(s, rel, approver_id=op.user.id, reason=_clean_text(reason, "reason"))
            op.details["verdict"] = rel.verdict
            return self._release_info(s, rel)

    def publish(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self._op(actor, "publish", f"release:{release_id}") as op:
            s = op.session
            rel = self._release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self._authorize(op, "publish", rel.dataset_id)
            rel_sm.publish(s, rel)
            return self._release_info(s, rel)

    def revoke(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self._op(actor, "revoke", f"release:{release_id}") as op:
            s = op.session
            rel = self._release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self._authorize(op, "revoke", rel.dataset_id)
            rel_sm.check(rel, "revoke")
            rel_sm.revoke(s, rel, reason=_clean_text(reason, "reason"))
            return self._release_info(s, rel)

    def _downloadable(self, op: _Op, release_id: int) -> Release:
        rel = self._release(op.session, release_id)
        op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
        if rel.state in DOWNLOADABLE:
            self._authorize(op, "download_approved", rel.dataset_id)
        else:
            self._authorize(op, "download_unapproved", rel.dataset_id)  # denied for every role
            raise InternalError("download_unapproved was allowed by the matrix")
        return rel

    def _manifest(self, s: Session, rel: Release) -> dict[str, Any]:
        from app.core.bundle import build_manifest

        ds = s.get(Dataset, rel.dataset_id)
        return build_manifest(rel, dataset_name=ds.name, requester=s.get(User, rel.requester_id).username,
                              approver=s.get(User, rel.approver_id).username if rel.approver_id else None)

    def download(self, actor: Actor, release_id: int, fmt: DownloadFormat = "bundle") -> Download:
        """Approved or published releases only: ``csv``/``parquet`` synthetic table, ``card``
        (ML-team card HTML), ``manifest`` (JSON) or ``bundle`` (zip of all of them)."""
        from app.core.bundle import build_bundle, download_name, manifest_bytes, FORMAT_FILES

        with self._op(actor, "download", f"release:{release_id}") as op:
            if fmt not in ("csv", "parquet", "card", "manifest", "bundle"):
                raise InvalidInputError(f"format ({str(fmt)[:20]!r}) must be csv, parquet, card, manifest or bundle")
            rel = self._downloadable(op, release_id)
            s = op.session
            manifest = self._manifest(s, rel)
            if fmt == "manifest":
                data, media = manifest_bytes(manifest), "application/json"
            elif fmt == "bundle":
                files = {name: self.read_artifact(s, rel, name) for name in manifest["files"]}
                data, media = build_bundle(files, manifest), "application/zip"
            else:
                name, media = FORMAT_FILES[fmt]
                data = self.read_artifact(s, rel, name)
            op.details.update(format=fmt, sha256=_sha256(data))
            return Download(filename=download_name(rel.id, fmt), data=data, sha256=_sha256(data), media_type=media)

    def open_download(self, actor: Actor, release_id: int, fmt: str = "parquet") -> "DownloadStream":
        """A streamed download of an approved or published release's ``csv``, ``parquet`` or
        ``card`` file: an :class:`app.core.streaming.DownloadStream` to iterate (1 MiB chunks,
        decrypted as they are read) with ``filename``, ``media_type``, ``sha256`` and ``size``.

        Authorized and audited like :meth:`download` (one ``download`` entry with the format and
        the SHA-256, ``streamed: true``). The stored ciphertext is checked against its recorded
        SHA-256 before the entry is written and before any byte is handed out: a tampered file
        raises :class:`app.core.streaming.ArtifactIntegrityError` and is audited as a failed
        download. The GCM tag and the plaintext SHA-256 are checked at the end of the iteration
        (a mismatch there raises and is audited too). Memory stays at a few MiB for any size."""
        from app.core.bundle import FORMAT_FILES, download_name
        from app.core.streaming import ArtifactIntegrityError, DownloadStream, check_ciphertext

        target = f"release:{release_id}"
        with self._op(actor, "download", target) as op:
            if fmt not in FORMAT_FILES:
                raise InvalidInputError(f"format ({str(fmt)[:20]!r}) must be csv, parquet or card for a streamed "
                                        "download (manifest and bundle: use download())")
            rel = self._downloadable(op, release_id)
            name, media = FORMAT_FILES[fmt]
            meta = self._artifacts(rel).get(name)
            if meta is None or not meta.get("public"):
                raise NotFoundError(f"release {rel.id} has no {fmt} file")
            ds = op.session.get(Dataset, rel.dataset_id)
            data_key = self.data_key(ds)
            fh = open(self._path(meta["path"]), "rb")  # noqa: SIM115 - closed by the stream (or on rollback)
            op.on_rollback.append(fh.close)
            op.details.update(format=fmt, sha256=meta["sha256"], via=actor.via, streamed=True)
            # Hashed inside the transaction so that a tampered file yields exactly one "failed"
            # entry and no "ok" one (on SQLite this holds the write lock for the read of the file:
            # about 0.1 s per 100 MB).
            nonce, tag = check_ciphertext(fh, plaintext_size=int(meta["size"]), cipher_sha256=meta["cipher_sha256"],
                                          release_id=rel.id)
            actor_name = op.actor_name

            def on_failure(exc: ArtifactIntegrityError) -> None:
                self.record(actor=actor_name, action="download", outcome="failed", target=target,
                            details={"error": type(exc).__name__, "format": fmt, "release_id": release_id,
                                     "stage": "streaming"})

            media_type = "text/csv; charset=utf-8" if fmt == "csv" else media
            stream = DownloadStream(filename=download_name(rel.id, fmt), media_type=media_type, sha256=meta["sha256"],
                                    size=int(meta["size"]), release_id=rel.id, fmt=fmt, _fh=fh, _data_key=data_key,
                                    _aad=crypto.associated_data(str(ds.id), meta["purpose"]), _nonce=nonce, _tag=tag,
                                    _on_failure=on_failure)
        return stream

    def manifest(self, actor: Actor, release_id: int) -> dict[str, Any]:
        """SHA-256 of every file, schema, synthesizer config, ε/δ/ρ, library versions, approval."""
        with self._op(actor, "download", f"release:{release_id}") as op:
            rel = self._downloadable(op, release_id)
            op.details["format"] = "manifest"
            return self._manifest(op.session, rel)

    # -- audit & keys --------------------------------------------------------------------------
    def _audit_rows(self, s: Session, q) -> list[audit_mod.AuditEntry]:
        return [audit_mod.entry_from_dict({"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
                                           "outcome": r.outcome, "target": r.target, "details": r.details_json,
                                           "prev_hash": r.prev_hash, "entry_hash": r.entry_hash,
                                           "signature": r.signature})
                for r in s.execute(q).scalars()]

    _OUTCOMES = ("ok", "denied", "failed")

    def _audit_query(self, *, action: str | None, actor_name: str | None, target: str | None,
                     outcomes: tuple[str, ...] | list[str] | None, since_seq: int | None, limit: int, newest: bool,
                     max_limit: int) -> tuple[Any, dict[str, Any]]:
        """(query, filters) of the audit entries matching the filters, oldest first. ``newest``:
        the last ``limit`` matching entries instead of the first ``limit``."""
        filters: dict[str, Any] = {}
        for name, value in (("action", action), ("actor", actor_name), ("target", target)):
            value = _clean_text(value, f"filter {name}", required=False, max_len=128) or None
            filters[name] = value
        if outcomes is not None:
            if isinstance(outcomes, str) or not all(isinstance(o, str) for o in outcomes):
                raise InvalidInputError("outcomes must be a list of outcome names")
            unknown = sorted(set(outcomes) - set(self._OUTCOMES))
            if unknown:
                raise InvalidInputError(f"outcomes ({', '.join(repr(o[:20]) for o in unknown[:3])}) must be among "
                                        f"{', '.join(self._OUTCOMES)}")
            outcomes = tuple(o for o in self._OUTCOMES if o in outcomes)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
            raise InvalidInputError(f"limit ({limit!r}) must be an integer between 1 and {max_limit}")
        q = select(AuditRow)
        if filters["action"]:
            q = q.where(AuditRow.action == filters["action"])
        if filters["actor"]:
            q = q.where(AuditRow.actor == filters["actor"])
        if filters["target"]:
            q = q.where(AuditRow.target == filters["target"])
        if outcomes is not None:
            q = q.where(AuditRow.outcome.in_(outcomes))
        if since_seq is not None:
            q = q.where(AuditRow.seq > int(since_seq))
        filters.update(outcomes=list(outcomes) if outcomes is not None else None, since_seq=since_seq, limit=limit,
                       newest=newest)
        if newest:
            last = q.order_by(AuditRow.seq.desc()).limit(limit).subquery()
            return select(AuditRow).join(last, AuditRow.seq == last.c.seq).order_by(AuditRow.seq), filters
        return q.order_by(AuditRow.seq).limit(limit), filters

    def audit_log(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                  target: str | None = None, since_seq: int | None = None, limit: int = 500,
                  outcomes: tuple[str, ...] | list[str] | None = None, newest: bool = False) -> list:
        """Audit entries (``app.core.audit.AuditEntry``), oldest first: the first ``limit``
        matching entries, or with ``newest`` the last ``limit`` ones."""
        with self._op(actor, "view_audit", "audit") as op:
            self._authorize(op, "view_audit")
            q, _filters = self._audit_query(action=action, actor_name=actor_name, target=target, outcomes=outcomes,
                                            since_seq=since_seq, limit=max(1, min(int(limit), 10_000)),
                                            newest=newest, max_limit=10_000)
            return self._audit_rows(op.session, q)

    def export_audit(self, actor: Actor, *, action: str | None = None, actor_name: str | None = None,
                     target: str | None = None, outcomes: tuple[str, ...] | list[str] | None = None,
                     since_seq: int | None = None, limit: int = 100_000, newest: bool = True) -> bytes:
        """CSV of the audit entries matching the filters (same filters as :meth:`audit_log`),
        for privacy officers and administrators (``view_audit``). Cells are escaped against
        spreadsheet formula injection (:func:`app.core.audit.entries_to_csv`).

        The export is itself an audited action (``export_audit``, with the filters, the row
        count and the SHA-256 of the file), written in the same transaction as the read: an
        auditor can tell which extract of the log left the platform, when and with whom."""
        with self._op(actor, "export_audit", "audit") as op:
            self._authorize(op, "view_audit")
            q, filters = self._audit_query(action=action, actor_name=actor_name, target=target, outcomes=outcomes,
                                           since_seq=since_seq, limit=limit, newest=newest, max_limit=100_000)
            entries = self._audit_rows(op.session, q)
            data = audit_mod.entries_to_csv(entries)
            op.details.update(filters={k: v for k, v in filters.items() if v is not None}, rows=len(entries),
                              first_seq=entries[0].seq if entries else None,
                              last_seq=entries[-1].seq if entries else None, sha256=_sha256(data))
            return data

    def verify_audit_chain(self) -> audit_mod.VerificationResult:
        """Verify without an actor (operators, health checks, tests). Does not append."""
        with transaction(self._factory) as s:
            return self._verify(s)

    def _verify(self, s: Session) -> audit_mod.VerificationResult:
        entries = self._audit_rows(s, select(AuditRow).order_by(AuditRow.seq))
        head = s.get(AuditHead, 1)
        problems = []
        expected = None
        if head is None:
            problems.append("the audit head record is missing")
        else:
            try:
                expected = audit_mod.parse_head(head.signed_head, self._audit_key)
            except InvalidInputError as exc:
                problems.append(str(exc))
            if expected is not None and expected != (head.seq, head.entry_hash):
                problems.append("the audit head record was edited")
        result = audit_mod.verify_chain(entries, self._audit_key, expected_head=expected)
        problems += self._witness_problems(entries)
        if problems:
            return audit_mod.VerificationResult(ok=False, checked=result.checked, problems=problems + result.problems)
        return result

    def verify_audit(self, actor: Actor):
        """Verify hash chain, signatures, the stored head and the witness outside the database
        (detects edits, deletions, reordering, truncation and a consistent rollback of the log
        with its head). Returns ``app.core.audit.VerificationResult``."""
        with self._op(actor, "verify_audit", "audit") as op:
            self._authorize(op, "view_audit")
            result = self._verify(op.session)
            op.details.update(ok=result.ok, checked=result.checked, problems=len(result.problems))
            return result

    def rotate_keys(self, actor: Actor, new_master_key_b64: str | None = None) -> str:
        """Rewrap every data key under a new master key. With a key file the new key is
        generated and swapped in atomically; with SYNTHGEN_MASTER_KEY pass the new key and
        update the environment afterwards. Returns a message for the operator."""
        from_env = self.settings.master_key_env is not None
        pending = self.settings.master_key_file.with_name(self.settings.master_key_file.name + ".new")
        with self._op(actor, "rotate_keys", "keys") as op:
            self._authorize(op, "rotate_keys")
            if new_master_key_b64 is not None:
                new = crypto.MasterKey.from_b64(new_master_key_b64, source="new master key")
            elif from_env:
                raise InvalidInputError("the master key comes from SYNTHGEN_MASTER_KEY: pass the new key "
                                        "(base64 of 32 random bytes) to rotate it")
            else:
                new = crypto.MasterKey.generate()
            old = self._master
            if new.key_id == old.key_id:
                raise InvalidInputError("the new master key must differ from the current one")
            if not from_env:
                crypto.write_secret_file(pending, new.to_b64() + "\n")
                op.on_rollback.append(lambda: pending.unlink(missing_ok=True))
            count = 0
            for ds in op.session.execute(select(Dataset).where(Dataset.wrapped_data_key.is_not(None))).scalars():
                old_for_ds = self.master_key(crypto.wrapped_key_id(ds.wrapped_data_key))
                ds.wrapped_data_key = crypto.rewrap(old_for_ds, new, ds.wrapped_data_key, str(ds.id))
                ds.master_key_id = new.key_id
                count += 1
            op.details.update(old_key_id=old.key_id, new_key_id=new.key_id, datasets=count)

        def finish() -> None:
            if not from_env:
                os.replace(pending, self.settings.master_key_file)
                dfd = os.open(self.settings.master_key_file.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            self._master = new

        finish()
        if from_env:
            return (f"rewrapped {count} data keys under master key {new.key_id}; set SYNTHGEN_MASTER_KEY to the new "
                    "key for every process before restarting them")
        return f"rewrapped {count} data keys under a new master key {new.key_id} written to {self.settings.master_key_file}"

    # -- operations ----------------------------------------------------------------------------
    def check_integrity(self) -> list[str]:
        """Problems found by: the database's own integrity check, the audit chain verifier, and
        a check that every stored file (dataset tables, release artifacts) exists, has its
        recorded SHA-256 and decrypts. Empty list = healthy."""
        from app.core.store import integrity_check

        problems = list(integrity_check(self.engine))
        result = self.verify_audit_chain()
        problems += [f"audit: {p}" for p in result.problems]
        with transaction(self._factory) as s:
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None))).scalars():
                for path, purpose, sha in ((ds.table_path, "table.train", ds.table_sha256),
                                           (ds.control_path, "table.control", ds.control_sha256)):
                    try:
                        self.read_encrypted(ds, path, purpose, sha)
                    except (OSError, SynthgenError) as exc:
                        problems.append(f"dataset {ds.id} {purpose}: {type(exc).__name__}")
            for rel in s.execute(select(Release).where(Release.artifacts_json.is_not(None))).scalars():
                ds = s.get(Dataset, rel.dataset_id)
                if ds.deleted_at is not None:
                    continue
                for name in json.loads(rel.artifacts_json):
                    try:
                        self.read_artifact(s, rel, name)
                    except (OSError, SynthgenError) as exc:
                        problems.append(f"release {rel.id} {name}: {type(exc).__name__}")
        return problems

    def referenced_files(self) -> set[Path]:
        """Every file under the data directory that the database refers to."""
        out: set[Path] = set()
        with transaction(self._factory) as s:
            for ds in s.execute(select(Dataset).where(Dataset.deleted_at.is_(None))).scalars():
                out.update(self._path(p) for p in (ds.table_path, ds.control_path) if p)
            for (art,) in s.execute(select(Release.artifacts_json).where(Release.artifacts_json.is_not(None))):
                out.update(self._path(m["path"]) for m in json.loads(art).values())
        return out

    def sweep_orphans(self, min_age: timedelta = timedelta(hours=1)) -> int:
        """Remove files under datasets/ and releases/ that no committed row refers to (left by a
        crash between writing a file and committing its row) once older than ``min_age``."""
        import time

        keep = self.referenced_files()
        cutoff = time.time() - min_age.total_seconds()
        removed = 0
        for top in ("datasets", "releases"):
            root = self.settings.data_dir / top
            if not root.exists():
                continue
            for path in sorted(root.rglob("*"), reverse=True):
                try:
                    if path.is_file() and path.resolve() not in keep and path.stat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
                    elif path.is_dir() and not any(path.iterdir()):
                        path.rmdir()
                except FileNotFoundError:
                    pass
        return removed
