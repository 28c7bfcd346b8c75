"""CSV export of audit entries, escaped against spreadsheet formula injection."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
COLUMNS = ("seq", "at", "actor", "action", "outcome", "target", "details", "entry_hash", "signature")


def escape_cell(value: Any) -> str:
    """Text that a spreadsheet shows as text: a cell starting with = + - @ (or a control
    character / pipe / percent) is prefixed with a single quote (OWASP CSV injection advice)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def audit_csv(entries: Iterable[Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        row = {c: getattr(e, c) for c in COLUMNS}
        row["details"] = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
        writer.writerow([escape_cell(row[c]) for c in COLUMNS])
    return buf.getvalue().encode("utf-8")
