"""CSV export of audit entries, escaped against spreadsheet formula injection."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

from app.core.uploads import escape_formula

COLUMNS = ("seq", "at", "actor", "action", "outcome", "target", "details", "entry_hash", "signature")


def escape_cell(value: Any) -> str:
    """Any value as text that a spreadsheet shows as text (the core's :func:`escape_formula`)."""
    return escape_formula("" if value is None else str(value))


def audit_csv(entries: Iterable[Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        row = {c: getattr(e, c) for c in COLUMNS}
        row["details"] = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
        writer.writerow([escape_cell(row[c]) for c in COLUMNS])
    return buf.getvalue().encode("utf-8")
