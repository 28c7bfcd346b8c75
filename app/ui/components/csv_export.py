"""CSV export of audit entries: a thin wrapper over the service layer's exporter.

The Audit page calls :meth:`app.core.services.Platform.export_audit`, which authorizes and
records the export; these names remain for code that formats entries it already holds."""

from __future__ import annotations

from typing import Any, Iterable

from app.core.audit import CSV_COLUMNS as COLUMNS
from app.core.audit import entries_to_csv
from app.core.uploads import escape_formula

__all__ = ["COLUMNS", "audit_csv", "escape_cell"]


def escape_cell(value: Any) -> str:
    """Any value as text that a spreadsheet shows as text (the core's :func:`escape_formula`)."""
    return escape_formula("" if value is None else str(value))


def audit_csv(entries: Iterable[Any]) -> bytes:
    return entries_to_csv(list(entries))
