"""Database access: engine creation and the typed SQLAlchemy 2 models.

SQLite (embedded default): every connection gets ``journal_mode=WAL``, ``synchronous=FULL``,
``foreign_keys=ON`` and a busy timeout from a ``connect`` listener, which then reads them back
and refuses the connection if any is not in force. Transactions start with ``BEGIN IMMEDIATE``
so that read-check-write sequences (ledger reservations, job claims, audit appends) are
serialized. PostgreSQL: the same code takes row locks with ``SELECT ... FOR UPDATE``.

No column holds a private value or an exact row count of a private table.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from synthgen.errors import InternalError

SQLITE_BUSY_TIMEOUT_MS = 60_000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TZDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise InternalError("naive datetime stored")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class UserSession(Base):
    __tablename__ = "sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    # For a session opened from an identity-provider sign-in: that sign-in's time (the ID
    # token's auth_time/iat). Logging out spends the sign-in: it opens no further session.
    oidc_authenticated_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    columns_json: Mapped[str] = mapped_column(Text)  # column names (public: they are in the schema)
    schema_json: Mapped[str | None] = mapped_column(Text)
    # A schema released by DP discovery (Platform.discover_schema), paid from this dataset's
    # budget and waiting for the owner's review; never used by a release until saved as schema_json.
    schema_draft_json: Mapped[str | None] = mapped_column(Text)
    budget_rho_total: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    wrapped_data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64))
    storage_dir: Mapped[str] = mapped_column(String(255))  # relative to the data directory
    table_path: Mapped[str | None] = mapped_column(String(255))  # encrypted train split
    table_sha256: Mapped[str | None] = mapped_column(String(64))  # of the ciphertext file
    control_path: Mapped[str | None] = mapped_column(String(255))  # encrypted held-out control split
    control_sha256: Mapped[str | None] = mapped_column(String(64))
    split_seed: Mapped[int] = mapped_column(Integer)
    # public | internal | confidential | restricted (app.core.classification): sets the largest
    # initial budget, how many officers approve a release and how long it stays published
    classification: Mapped[str] = mapped_column(String(16), server_default="restricted")


class Membership(Base):
    __tablename__ = "memberships"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    synthesizer: Mapped[str] = mapped_column(String(64))
    config_json: Mapped[str] = mapped_column(Text)
    schema_json: Mapped[str] = mapped_column(Text)  # the schema the release was fitted with
    dp: Mapped[bool] = mapped_column(Boolean)
    epsilon: Mapped[float | None] = mapped_column(Float)
    delta: Mapped[float | None] = mapped_column(Float)
    rho: Mapped[float | None] = mapped_column(Float)
    rows: Mapped[int | None] = mapped_column(Integer)  # requested synthetic rows (public choice)
    target: Mapped[str | None] = mapped_column(String(200))
    policy_json: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))
    report_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # full report: real-side statistics
    model_info_json: Mapped[str | None] = mapped_column(Text)  # public model facts: config, budget, versions
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # the second privacy officer, when the dataset's label asks for two (approver_id is the first)
    second_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # end of the publication window set by the label; revoked automatically after it
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    artifacts_json: Mapped[str | None] = mapped_column(Text)  # {name: {"path", "sha256", "size"}}
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"), index=True)
    rho: Mapped[float] = mapped_column(Float)
    # δ spent outside zCDP (OpenDP's key thresholding in DP schema discovery): it adds to the
    # failure probability of the dataset's guarantee instead of composing into ρ
    extra_delta: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    state: Mapped[str] = mapped_column(String(16))  # reserved | spent
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    spent_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class ReleaseView(Base):
    """The first time a sign-in session opened a release's card or risk report.

    Dashboard pages rerun on every click; one audit entry per (session, release, what) records
    who looked at what without an entry per rerun (see ``Platform._view_recorded``)."""

    __tablename__ = "release_views"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    what: Mapped[str] = mapped_column(String(32), primary_key=True)  # view_release_card:ml | ...:full | view_risk_report
    first_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class BudgetRaise(Base):
    """A data owner's request to raise a dataset's lifetime budget, and its decision.

    Raising the budget lets more about the table be released, so it is a privacy decision: it
    takes effect only when a privacy officer of the dataset (not the requester) approves it.
    Lowering needs no approval (it only ever reduces exposure)."""

    __tablename__ = "budget_raises"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    old_rho: Mapped[float] = mapped_column(Float)
    new_rho: Mapped[float] = mapped_column(Float)
    new_epsilon: Mapped[float] = mapped_column(Float)  # at the dataset's δ, as asked
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class SchemaReview(Base):
    """The act of reviewing a dataset's schema: who saved it as reviewed, when, from which draft,
    and what they changed. A release can only use a schema with a review (by fingerprint)."""

    __tablename__ = "schema_reviews"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    # what the reviewed schema started from: private_draft | dp_discovery | previous_schema | none
    source: Mapped[str] = mapped_column(String(32))
    changes_json: Mapped[str] = mapped_column(Text)  # [{"column", "field", "draft", "reviewed"}, ...]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_id", "state", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # queued | running | succeeded | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO-8601 UTC, exactly as hashed
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(128))
    entry_hash: Mapped[str] = mapped_column(String(128))
    signature: Mapped[str] = mapped_column(String(128))


class AuditHead(Base):
    """One row: the latest (seq, entry_hash), HMAC-signed. Updated in the same transaction as
    each append; it is the lock that serializes appends and lets the verifier detect truncation
    (rewriting it to an older head needs the audit key)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(128))
    signed_head: Mapped[str] = mapped_column(String(300))  # audit.format_head(): HMAC-signed


class LoginFailure(Base):
    """One failed (or still being checked) sign-in attempt counted under one throttle key
    (``app.core.throttle``): kept in the database so that the API, the dashboard and every worker
    process of a deployment share the counters. ``at`` is Unix time; rows older than the
    throttle's window are deleted."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Float, index=True)


class LoginTrusted(Base):
    """An address an account signed in from successfully (exempt from the per-account counter,
    so an attacker elsewhere cannot keep the owner out)."""

    __tablename__ = "login_trusted"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)


# --------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------

_SQLITE_EXPECTED = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start (BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        actual = {
            "journal_mode": str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower(),
            "synchronous": int(cur.execute("PRAGMA synchronous").fetchone()[0]),
            "foreign_keys": int(cur.execute("PRAGMA foreign_keys").fetchone()[0]),
        }
    finally:
        cur.close()
    if actual != _SQLITE_EXPECTED:
        raise InternalError(f"SQLite connection settings {actual} differ from the required {_SQLITE_EXPECTED}")


def _sqlite_on_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _private_sqlite_file(path) -> None:
    """Create the database file readable by its owner only (0600), and tighten an existing one.

    The file holds password hashes, wrapped keys and the audit log; SQLite creates its ``-wal``
    and ``-shm`` files with the main file's permissions, so they follow."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


def make_engine(url: str, **kwargs) -> Engine:
    """Engine for ``url`` with the durability settings above."""
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite://"):
            raise InternalError("an in-memory SQLite database cannot be shared; use a file")
        from pathlib import Path

        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database:
            _private_sqlite_file(Path(database).expanduser().absolute())
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                  "check_same_thread": False},
                               poolclass=NullPool, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    return engine


def sqlite_pragmas(engine: Engine) -> dict:
    """The pragmas in force on a fresh connection (for tests and health checks)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        try:
            return {
                "journal_mode": str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower(),
                "synchronous": int(cur.execute("PRAGMA synchronous").fetchone()[0]),
                "foreign_keys": int(cur.execute("PRAGMA foreign_keys").fetchone()[0]),
            }
        finally:
            cur.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session, one transaction: commit on success, roll back on any exception."""
    with factory() as session:
        with session.begin():
            yield session


def lock_for_update(stmt, session: Session):
    """Add FOR UPDATE where the backend supports it (SQLite is serialized by BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def integrity_check(engine: Engine) -> list[str]:
    """Backend integrity check: SQLite ``PRAGMA integrity_check`` + ``foreign_key_check``;
    PostgreSQL: foreign keys are enforced by the server, so only a connectivity check."""
    problems: list[str] = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
            if [r[0] for r in rows] != ["ok"]:
                problems.extend(str(r[0]) for r in rows)
            fk = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            problems.extend(f"foreign key violation: {tuple(r)}" for r in fk)
        else:
            conn.exec_driver_sql("SELECT 1")
    return problems
