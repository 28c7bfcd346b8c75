"""Errors raised by the evaluation package (one subclass of the platform hierarchy)."""

from __future__ import annotations

from synthgen.errors import InvalidInputError


class EvaluationError(InvalidInputError):
    """The inputs of an evaluation break a documented rule (overlap, size, schema mismatch...)."""
