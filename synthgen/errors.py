"""One error hierarchy for the whole platform, and the one table of what each kind of error
becomes at the edges (HTTP status, CLI exit code).

User mistakes (bad input, an illegal state move, an exhausted budget) are ``SynthgenError``
subclasses whose messages name the field, the value and the rule, e.g.
``epsilon (-1.0) must be positive``. Bugs in synthgen itself are ``InternalError``: the
message says so, so that nobody mistakes them for something the user did wrong.

Every error class has a :class:`ErrorKind` (its ``kind`` attribute, inherited). The HTTP API and
the CLI read :data:`ERROR_KINDS` and nothing else to choose a status or an exit code. An
``internal`` error never shows its message to a client (it may quote paths, keys or data): the
client gets a correlation id, the server log gets the traceback under that id. A class that
does not say its kind is ``internal``: being told "internal error" is the safe failure for an
error nobody classified.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(enum.Enum):
    BAD_INPUT = "bad_input"
    NOT_AUTHENTICATED = "not_authenticated"
    NOT_AUTHORISED = "not_authorised"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BUDGET_EXCEEDED = "budget_exceeded"
    INTERNAL = "internal"


@dataclass(frozen=True)
class KindRule:
    http_status: int
    #: stable machine-readable code in the API's error body
    code: str
    exit_code: int
    #: whether the exception's message may be shown to the client
    shows_message: bool


#: The one table. Exit codes keep the CLI's convention: 2 the user can fix it, 3 who you are or
#: what you may do, 1 not your fault.
ERROR_KINDS: dict[ErrorKind, KindRule] = {
    ErrorKind.BAD_INPUT: KindRule(400, "bad_request", 2, True),
    ErrorKind.NOT_AUTHENTICATED: KindRule(401, "unauthenticated", 3, True),
    ErrorKind.NOT_AUTHORISED: KindRule(403, "forbidden", 3, True),
    ErrorKind.NOT_FOUND: KindRule(404, "not_found", 2, True),
    ErrorKind.CONFLICT: KindRule(409, "conflict", 2, True),
    ErrorKind.BUDGET_EXCEEDED: KindRule(409, "budget_exceeded", 2, True),
    ErrorKind.INTERNAL: KindRule(500, "internal_error", 1, False),
}


def kind_of(exc: BaseException) -> ErrorKind:
    """The kind of any exception: its class's ``kind``; anything else is internal."""
    kind = getattr(type(exc), "kind", None)
    return kind if isinstance(kind, ErrorKind) else ErrorKind.INTERNAL


def rule_for(exc: BaseException) -> KindRule:
    return ERROR_KINDS[kind_of(exc)]


class SynthgenError(Exception):
    """Base class for every error the platform raises on purpose."""

    kind = ErrorKind.INTERNAL


class InvalidInputError(SynthgenError, ValueError):
    """A value supplied by the user breaks a documented constraint."""

    kind = ErrorKind.BAD_INPUT


class NotAuthorisedError(SynthgenError):
    """Signed in, but not allowed to do this."""

    kind = ErrorKind.NOT_AUTHORISED


class NotAuthenticatedError(SynthgenError):
    """Not signed in, or with credentials that are not valid (any more)."""

    kind = ErrorKind.NOT_AUTHENTICATED


class NotFoundError(SynthgenError):
    """The thing named does not exist (or the caller may not know that it does)."""

    kind = ErrorKind.NOT_FOUND


class ConflictError(SynthgenError):
    """The request is well formed but the thing is not in a state that allows it."""

    kind = ErrorKind.CONFLICT


class SchemaError(InvalidInputError):
    """A schema is malformed or does not fit the table it is used with."""


class TableReadError(InvalidInputError):
    """A file could not be read as a table."""


class BudgetError(SynthgenError):
    """A privacy budget is invalid or would be overspent."""

    kind = ErrorKind.BAD_INPUT


class BudgetExceededError(BudgetError):
    """A request needs more privacy budget than remains.

    The message follows the "Requested / Remaining / Difference" convention so that the
    person asking can see how far over they are.
    """

    kind = ErrorKind.BUDGET_EXCEEDED

    def __init__(self, requested: str, remaining: str, difference: str, subject: str = "privacy budget"):
        self.requested = requested
        self.remaining = remaining
        self.difference = difference
        super().__init__(
            f"{subject} exceeded: requested {requested}, remaining {remaining}, difference {difference}"
        )


class ModelFileError(InvalidInputError):
    """A saved model is missing, corrupt or from an incompatible version."""


class InternalError(SynthgenError):
    """Something that should never happen did: this is a bug in synthgen, please report it."""

    kind = ErrorKind.INTERNAL

    def __init__(self, message: str):
        super().__init__(f"{message} (this is a bug in synthgen, please report it)")


def require(condition: bool, message: str, error: type[SynthgenError] = InvalidInputError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds; keeps validation one line each."""
    if not condition:
        raise error(message)
