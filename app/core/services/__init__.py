"""The checked operations of synthgen: one service per domain over a shared runtime, and the
:class:`Platform` facade that the dashboard, the CLI and the HTTP API hold.

Nothing here imports Streamlit or a web framework. Every operation

1. re-reads the acting user from the database (so disabling a user or changing a role takes
   effect on the very next call, whatever the caller cached in its :class:`Actor`),
2. authorizes the action through the machine-readable matrix (``app/core/authz_matrix.toml``,
   deny by default); a refusal raises :class:`PermissionDeniedError` and is written to the audit
   log as a ``denied`` entry,
3. does the work inside one database transaction, and
4. appends exactly one hash-chained, HMAC-signed audit entry in that same transaction.

Steps 1, 3 and 4 are the unit of work :meth:`runtime.Runtime.op`; every service uses it.

=================  ============================================================================
module             what it holds
=================  ============================================================================
``runtime``        engine, keys, audit trail, matrix, clock; the unit of work ``op``
``types``          the frozen values returned to front ends and the service-level errors
``views``          builds those values from rows (public facts only)
``accounts``       first admin, users, roles, password and OIDC sign-in, sessions
``tokens``         API tokens
``datasets``       upload, membership, deletion (crypto-shredding)
``schemas``        reviewed schema, private draft, DP discovery
``budget``         lifetime budgets
``releases``       request, retry, visibility, card, risk report
``decisions``      approve, reject, publish, revoke
``downloads``      downloads of approved releases (in memory, streamed)
``audit``          the audit trail with its witness; audited reads of the log
``keys``           master and data keys, encrypted files, key rotation
``maintenance``    integrity checks, orphan sweep
``platform``       the facade
=================  ============================================================================

Return values are plain frozen dataclasses (no ORM objects, no open sessions), safe to hand to
any front end. Errors are subclasses of :class:`synthgen.errors.SynthgenError` whose messages
are meant to be shown to the user as they are.
"""

from app.core.authz import PermissionDeniedError, SelfApprovalError
from app.core.releases import IllegalTransitionError
from app.core.services.platform import Platform
from app.core.services.runtime import Operation, Runtime
from app.core.services.types import (
    API_TOKEN_ACTIONS,
    Actor,
    ApiTokenInfo,
    ApprovalRefusedError,
    Audience,
    AuthenticationError,
    BudgetSummary,
    DatabaseBusyError,
    PendingBudgetRaise,
    DatasetInfo,
    Download,
    DownloadFormat,
    DraftSchema,
    JobInfo,
    NotFoundError,
    ReleaseInfo,
    SessionInfo,
    ThrottledError,
    UserInfo,
)

__all__ = [
    "API_TOKEN_ACTIONS", "Actor", "ApiTokenInfo", "ApprovalRefusedError", "Audience", "AuthenticationError",
    "BudgetSummary", "DatabaseBusyError", "PendingBudgetRaise", "DatasetInfo", "Download", "DownloadFormat", "DraftSchema", "IllegalTransitionError", "JobInfo",
    "NotFoundError", "Operation", "PermissionDeniedError", "Platform", "ReleaseInfo", "Runtime", "SelfApprovalError",
    "SessionInfo", "ThrottledError", "UserInfo",
]
