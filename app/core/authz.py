"""Authorization: role × action × scope, deny by default.

The cells live in ``authz_matrix.toml`` next to this module (the single source of truth; the
reasoning for each cell is in its comments). This module only fixes the vocabulary (role,
action and scope names, and which actions are dataset-scoped), validates the file strictly
at load, and answers questions about it.

Scopes: ``own`` (the user is a member/owner of the dataset), ``other`` (not a member), and
``global`` for actions not tied to a dataset. Asking a dataset action with scope ``global`` (or
a global action with ``own``/``other``) is denied, as is any unknown role, action or scope.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from synthgen.errors import NotAuthorisedError, SynthgenError

__all__ = [
    "ROLES",
    "DATASET_ACTIONS",
    "GLOBAL_ACTIONS",
    "ACTIONS",
    "SCOPES",
    "DEFAULT_MATRIX_PATH",
    "PermissionDeniedError",
    "SelfApprovalError",
    "AuthzMatrixError",
    "AuthzMatrix",
    "load_matrix",
    "authorize",
    "scope_for",
    "four_eyes_check",
]

ROLES: tuple[str, ...] = ("admin", "data_owner", "privacy_officer", "ml_engineer")
DATASET_ACTIONS: tuple[str, ...] = (
    "upload",
    "view_raw",
    "edit_schema",
    "discover_schema",
    "set_budget",
    "request_release",
    "view_risk_report",
    "approve",
    "reject",
    "publish",
    "revoke",
    "download_approved",
    "download_unapproved",
    "delete_dataset",
    "list_datasets",
    "view_dataset",
    "list_releases",
    "view_release_card",
)
GLOBAL_ACTIONS: tuple[str, ...] = ("view_audit", "manage_users", "rotate_keys", "manage_tokens")
ACTIONS: tuple[str, ...] = DATASET_ACTIONS + GLOBAL_ACTIONS
DATASET_SCOPES: tuple[str, ...] = ("own", "other")
SCOPES: tuple[str, ...] = ("own", "other", "global")
ALWAYS_DENIED: tuple[str, ...] = ("download_unapproved",)

DEFAULT_MATRIX_PATH = Path(__file__).with_name("authz_matrix.toml")

_SCOPE_PHRASE = {
    "own": " on a dataset it belongs to",
    "other": " on a dataset it does not belong to",
    "global": "",
}


class PermissionDeniedError(NotAuthorisedError):
    """The user's role does not allow the action (or the request was malformed)."""


class SelfApprovalError(PermissionDeniedError):
    """Four-eyes rule: a user may not approve their own request."""


class AuthzMatrixError(SynthgenError):
    """The authorization matrix file is malformed; the service must not start with it."""


def _scopes_for(action: str) -> tuple[str, ...]:
    return DATASET_SCOPES if action in DATASET_ACTIONS else ("global",)


@dataclass(frozen=True)
class AuthzMatrix:
    """The validated matrix: the set of allowed (role, action, scope) cells."""

    allowed: frozenset[tuple[str, str, str]]
    source: str = "<memory>"

    def allows(self, role: str, action: str, scope: str) -> bool:
        """True only for an explicit ``true`` cell; anything unknown or mistyped is False."""
        try:
            return (role, action, scope) in self.allowed
        except TypeError:  # unhashable junk
            return False

    def cells(self) -> Iterator[tuple[str, str, str, bool]]:
        """Every meaningful cell (role, action, scope, allowed), in file order."""
        for role in ROLES:
            for action in ACTIONS:
                for scope in _scopes_for(action):
                    yield role, action, scope, (role, action, scope) in self.allowed

    def allowed_actions(self, role: str, scope: str) -> frozenset[str]:
        """Actions ``role`` may perform in ``scope`` (e.g. to decide which UI buttons to show)."""
        return frozenset(a for (r, a, s) in self.allowed if r == role and s == scope)


def _fail(source: str, message: str) -> AuthzMatrixError:
    return AuthzMatrixError(f"authorization matrix {source}: {message}")


def parse_matrix(text: str, source: str = "<text>") -> AuthzMatrix:
    """Parse and strictly validate matrix TOML text (see authz_matrix.toml for the shape)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, f"is not valid TOML ({exc})") from None
    extra_top = set(doc) - {"roles"}
    if extra_top:
        raise _fail(source, f"unknown top-level table(s) {sorted(extra_top)}; only [roles.*] is allowed")
    roles = doc.get("roles")
    if not isinstance(roles, dict):
        raise _fail(source, "has no [roles.<role>.<scope>] tables")
    missing_roles = [r for r in ROLES if r not in roles]
    unknown_roles = sorted(set(roles) - set(ROLES))
    if missing_roles:
        raise _fail(source, f"role(s) {missing_roles} are missing; every role {list(ROLES)} must be listed")
    if unknown_roles:
        raise _fail(source, f"unknown role(s) {unknown_roles}; roles are {list(ROLES)}")
    allowed: set[tuple[str, str, str]] = set()
    for role in ROLES:
        table = roles[role]
        if not isinstance(table, dict):
            raise _fail(source, f"roles.{role} must be a table of scopes")
        if set(table) != set(SCOPES):
            raise _fail(
                source, f"roles.{role} has scopes {sorted(table)}; it must have exactly {list(SCOPES)}"
            )
        for scope in SCOPES:
            cells = table[scope]
            expected = DATASET_ACTIONS if scope in DATASET_SCOPES else GLOBAL_ACTIONS
            if not isinstance(cells, dict):
                raise _fail(source, f"roles.{role}.{scope} must be a table of action = true/false")
            missing = [a for a in expected if a not in cells]
            unknown = sorted(set(cells) - set(expected))
            if missing:
                raise _fail(source, f"roles.{role}.{scope} does not list action(s) {missing}; every cell must be explicit")
            if unknown:
                raise _fail(
                    source,
                    f"roles.{role}.{scope} has unknown or misplaced action(s) {unknown}; "
                    f"{scope} actions are {list(expected)}",
                )
            for action in expected:
                value = cells[action]
                if type(value) is not bool:
                    raise _fail(
                        source,
                        f"roles.{role}.{scope}.{action} ({value!r}) must be a boolean true or false",
                    )
                if action in ALWAYS_DENIED and value:
                    raise _fail(
                        source, f"roles.{role}.{scope}.{action} is true; {action} must be false for every role"
                    )
                if value:
                    allowed.add((role, action, scope))
    return AuthzMatrix(frozenset(allowed), source)


@functools.lru_cache(maxsize=1)
def _default_matrix() -> AuthzMatrix:
    return parse_matrix(DEFAULT_MATRIX_PATH.read_text(encoding="utf-8"), str(DEFAULT_MATRIX_PATH))


def load_matrix(path: str | Path | None = None) -> AuthzMatrix:
    """The matrix from ``path``, or the bundled ``authz_matrix.toml`` (parsed once, cached).

    Raises :class:`AuthzMatrixError` when the file is missing or fails validation.
    """
    if path is None:
        return _default_matrix()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"cannot be read ({exc.__class__.__name__})") from None
    return parse_matrix(text, str(path))


def scope_for(is_member: bool) -> str:
    """``own`` for a member/owner of the dataset, ``other`` otherwise."""
    return "own" if is_member is True else "other"


def _show(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def authorize(matrix: AuthzMatrix, *, role: str, action: str, scope: str) -> None:
    """Return None when allowed, else raise :class:`PermissionDeniedError` (never KeyError)."""
    if role not in ROLES:
        raise PermissionDeniedError(f"role {_show(role)!r} is not a known role (known: {', '.join(ROLES)}); access denied")
    if action not in ACTIONS:
        raise PermissionDeniedError(f"action {_show(action)!r} is not a known action; access denied")
    if scope not in SCOPES:
        raise PermissionDeniedError(
            f"scope {_show(scope)!r} is not a known scope (known: {', '.join(SCOPES)}); access denied"
        )
    if scope not in _scopes_for(action):
        kind = "dataset action" if action in DATASET_ACTIONS else "global action"
        raise PermissionDeniedError(
            f"{action} is a {kind}; scope must be {' or '.join(_scopes_for(action))}, not {scope}; access denied"
        )
    if not matrix.allows(role, action, scope):
        raise PermissionDeniedError(f"role {role} may not {action}{_SCOPE_PHRASE[scope]}")


def four_eyes_check(requester_id: object, approver_id: object) -> None:
    """Refuse a decision on a request by the user who made it (compare ids, not names)."""
    if requester_id is None or approver_id is None:
        raise PermissionDeniedError("requester_id and approver_id must both be known for a four-eyes check")
    if str(requester_id) == str(approver_id):
        raise SelfApprovalError(
            f"user {_show(approver_id)} requested this release and may not also approve it (four-eyes rule)"
        )
