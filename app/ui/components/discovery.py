"""DP schema discovery form: the owner's public declarations (which columns are numeric with
which public bounds, which are identifiers) as an editable table, converted to the arguments
of :meth:`app.core.services.Platform.discover_schema` (which validates them)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

KINDS = ("categorical", "numeric", "identifier")


def declarations_frame(columns: list[str] | tuple[str, ...], schema_json: str | None) -> pd.DataFrame:
    """One row per column; kinds and bounds prefilled from the current schema (public by
    construction), everything else categorical."""
    known: dict[str, dict[str, Any]] = {}
    if schema_json:
        try:
            known = {c["name"]: c for c in json.loads(schema_json).get("columns", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            known = {}
    rows = []
    for name in columns:
        c = known.get(name, {})
        kind = "identifier" if c.get("role") == "identifier" else ("numeric" if c.get("kind") == "numeric" else "categorical")
        rows.append({"Column": name, "Kind": kind,
                     "Lower": c.get("lower") if kind == "numeric" else None,
                     "Upper": c.get("upper") if kind == "numeric" else None,
                     "Integer": bool(c.get("integer", True)) if kind == "numeric" else True})
    return pd.DataFrame(rows, columns=["Column", "Kind", "Lower", "Upper", "Integer"])


def _number(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value  # the service names the bad value
    return int(f) if f.is_integer() else f


def declarations_from_frame(frame: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(numeric, identifiers) for ``discover_schema``."""
    numeric: dict[str, dict[str, Any]] = {}
    identifiers: list[str] = []
    for row in frame.to_dict("records"):
        name, kind = str(row["Column"]), row.get("Kind")
        if kind == "identifier":
            identifiers.append(name)
        elif kind == "numeric":
            numeric[name] = {"lower": _number(row.get("Lower")), "upper": _number(row.get("Upper")),
                             "integer": bool(row.get("Integer", True))}
    return numeric, identifiers
