"""One error hierarchy for the whole platform.

User mistakes (bad input, an illegal state move, an exhausted budget) are ``SynthgenError``
subclasses whose messages name the field, the value and the rule, e.g.
``epsilon (-1.0) must be positive``. Bugs in synthgen itself are ``InternalError``: the
message says so, so that nobody mistakes them for something the user did wrong.
"""

from __future__ import annotations


class SynthgenError(Exception):
    """Base class for every error the platform raises on purpose."""


class InvalidInputError(SynthgenError, ValueError):
    """A value supplied by the user breaks a documented constraint."""


class SchemaError(InvalidInputError):
    """A schema is malformed or does not fit the table it is used with."""


class TableReadError(InvalidInputError):
    """A file could not be read as a table."""


class BudgetError(SynthgenError):
    """A privacy budget is invalid or would be overspent."""


class BudgetExceededError(BudgetError):
    """A request needs more privacy budget than remains.

    The message follows the "Requested / Remaining / Difference" convention so that the
    person asking can see how far over they are.
    """

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

    def __init__(self, message: str):
        super().__init__(f"{message} (this is a bug in synthgen, please report it)")


def require(condition: bool, message: str, error: type[SynthgenError] = InvalidInputError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds; keeps validation one line each."""
    if not condition:
        raise error(message)
