"""The values the services hand to front ends, and the errors only the service layer raises.

Return values are plain frozen dataclasses (no ORM objects, no open sessions), safe to hand to
any front end (dashboard, HTTP API, CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from synthgen.budget import CONVERSION, PrivacyBudget
from synthgen.errors import ConflictError, NotAuthenticatedError, NotFoundError  # noqa: F401 - NotFoundError re-exported

Audience = Literal["full", "ml"]
DownloadFormat = Literal["csv", "parquet", "card", "manifest", "bundle"]


#: What an actor authenticated by an API token may do (read-only release access).
API_TOKEN_ACTIONS = frozenset({"list_releases", "view_release_card", "download", "view_dataset", "list_datasets"})


class AuthenticationError(NotAuthenticatedError):
    """Unknown user, wrong password, throttled, disabled, or an expired/revoked session or token.

    The message never says which of user name or password was wrong. ``reason`` (a short code
    such as ``revoked``) and ``username`` (the account concerned, if known) are for the audit
    log of the caller, never for the person who failed to authenticate."""

    def __init__(self, message: str, *, reason: str | None = None, username: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.username = username


class ThrottledError(AuthenticationError):
    """Too many failed sign-ins from this address (or for this account from new addresses):
    refused before the password is checked. ``retry_after`` in seconds."""

    def __init__(self, retry_after: float):
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"too many failed sign-ins; try again in {self.retry_after} seconds", reason="throttled")


class DatabaseBusyError(ConflictError):
    """The database refused the transaction because of concurrent work (a deadlock or a
    serialization failure on PostgreSQL, a lock timeout on SQLite). Nothing was changed; the
    services retry a few times before raising it. The message never carries SQL."""

    def __init__(self, message: str = "the database was busy with concurrent requests; nothing was changed, "
                                      "please try again"):
        super().__init__(message)


@dataclass(frozen=True)
class Actor:
    """Who is acting. Obtained from :meth:`Platform.actor_for_session` or
    :meth:`Platform.actor_for_api_token`; every service call re-reads the user, so a stale role
    here never grants anything, and checks the credential it names (``session_id`` or
    ``token_id``) is still live: an Actor kept after logout, or built by hand without a
    session, is refused."""

    user_id: int
    username: str
    role: str
    via: str = "session"  # "session" | "api_token" | "system"
    #: id of the sign-in session (not its secret token), set by actor_for_session / login:
    #: lets a page that reruns on every click record a view once per session.
    session_id: int | None = field(default=None, compare=False)
    #: id of the API token row (not its secret), set by actor_for_api_token: every call checks
    #: that the token is still valid, so an Actor kept after revocation grants nothing.
    token_id: int | None = field(default=None, compare=False)


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
class PendingBudgetRaise:
    """A raise the owner asked for, waiting for a privacy officer's approval."""

    id: int
    epsilon: float  # the new lifetime ε at the dataset's δ
    total: PrivacyBudget
    requested_at: datetime


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
    #: a raise waiting for a privacy officer (None: none pending)
    pending_raise: PendingBudgetRaise | None = None

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
    #: public | internal | confidential | restricted (app.core.classification)
    classification: str = "restricted"
    #: for a dataset registered from a federated fit (no table on the platform): its federation
    #: record (fit id, coordinator, sites, colluders, rounds, trust model); None for an upload
    federation: dict | None = None


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
    state: str  # draft | running | failed | evaluated | second_review | approved | rejected | published | revoked
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
    #: the dataset's label (app.core.classification), shown with every release
    classification: str = "restricted"
    #: the second privacy officer, when the label asks for two approvals
    second_approver: str | None = None
    #: how many approvals the label asks for (1 or 2)
    approvals_required: int = 1
    published_at: datetime | None = None
    #: end of the publication window; the release is revoked automatically after it
    expires_at: datetime | None = None
    #: a federated fit's record (public: it is in the model info); None for a central fit
    federation: dict | None = None

    @property
    def federated(self) -> bool:
        return self.federation is not None


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



class ApprovalRefusedError(ConflictError):
    """An approval breaks the release policy (failed gate / non-DP without an allowed override)."""
