"""Schema editor: a table of columns (role, kind, categories, bounds, bins, nullability) that is
converted back to schema JSON. Pure presentation: validation is done by the service
(``update_schema`` → ``Schema.from_json``), whose messages are shown as they are."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from synthgen.schema import KINDS, ROLES

_LIST_SEP = ", "


def _join(values: Any) -> str:
    if not values:
        return ""
    return _LIST_SEP.join(str(v) for v in values)


def _split(text: Any, numeric: bool) -> list[Any] | None:
    if text is None or (isinstance(text, float) and pd.isna(text)) or not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).split(",")]
    parts = [p for p in parts if p != ""]
    if not numeric:
        return parts
    out = []
    for p in parts:
        try:
            f = float(p)
        except ValueError:
            out.append(p)  # the service names the bad value
            continue
        out.append(int(f) if f.is_integer() else f)
    return out


def _scalar(v: Any) -> Any:
    if v is None or (isinstance(v, float) and pd.isna(v)) or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, str):
        try:
            f = float(v)
            return int(f) if f.is_integer() else f
        except ValueError:
            return v.strip()  # datetime bounds (ISO text)
    return v


def schema_to_frame(schema: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for c in schema.get("columns", []):
        rows.append({
            "name": c["name"],
            "role": c.get("role", "attribute"),
            "kind": c.get("kind", "categorical"),
            "nullable": bool(c.get("nullable", False)),
            "categories": _join(c.get("categories")),
            "lower": "" if c.get("lower") is None else str(c.get("lower")),
            "upper": "" if c.get("upper") is None else str(c.get("upper")),
            "cuts (bin edges)": _join(c.get("cuts")),
            "integer": bool(c.get("integer", False)),
        })
    return pd.DataFrame(rows)


def frame_to_schema(base: dict[str, Any], frame: pd.DataFrame, *, reviewed: bool) -> str:
    by_name = {c["name"]: c for c in base.get("columns", [])}
    columns = []
    for row in frame.to_dict("records"):
        col = dict(by_name.get(row["name"], {"name": row["name"]}))
        col["role"] = row["role"]
        col["kind"] = row["kind"]
        col["nullable"] = bool(row["nullable"])
        for key in ("categories", "lower", "upper", "cuts", "integer"):
            col.pop(key, None)
        if row["kind"] == "categorical":
            col["categories"] = _split(row["categories"], numeric=False) or []
        elif row["kind"] in ("numeric", "datetime"):
            col["lower"] = _scalar(row["lower"])
            col["upper"] = _scalar(row["upper"])
            col["cuts"] = _split(row["cuts (bin edges)"], numeric=row["kind"] == "numeric") or []
            if row["kind"] == "numeric":
                col["integer"] = bool(row["integer"])
        columns.append(col)
    out = dict(base)
    out["columns"] = columns
    out["derived_from_private_data"] = not reviewed
    return json.dumps(out)


def schema_editor(schema_json: str, *, key: str, draft: bool,
                  marks: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Render the editor; returns (edited frame, base schema dict). ``marks``: per column, the
    values read off the private table (shown in a read-only column, see schema_review)."""
    base = json.loads(schema_json)
    if draft:
        st.warning("**Derived from private data, visible to you only.** This draft was computed from your table: "
                   "its categories and bounds reveal private values. Replace them with public knowledge "
                   "(code lists, documented ranges, round-number bins) before you mark it reviewed.", icon=":material/lock:")
    frame = schema_to_frame(base)
    if marks:
        from app.ui.components.schema_review import field_words

        frame.insert(1, "from data", [("⚠ " + field_words(marks[n]) if n in marks else "") for n in frame["name"]])
    edited = st.data_editor(
        frame, key=key, hide_index=True, width="stretch", num_rows="fixed",
        column_config={
            "name": st.column_config.TextColumn("Column", disabled=True),
            "from data": st.column_config.TextColumn(
                "Read off the data", disabled=True,
                help="values of this column that the draft read off the private table"),
            "role": st.column_config.SelectboxColumn(
                "Role", options=list(ROLES), required=True,
                help="identifier: never synthesized; quasi_identifier: could re-identify in combination; "
                     "sensitive: what an attacker wants to learn; attribute: anything else"),
            "kind": st.column_config.SelectboxColumn("Kind", options=list(KINDS), required=True),
            "nullable": st.column_config.CheckboxColumn("Nullable"),
            "categories": st.column_config.TextColumn("Categories (comma-separated)", width="large"),
            "lower": st.column_config.TextColumn("Lower bound"),
            "upper": st.column_config.TextColumn("Upper bound"),
            "cuts (bin edges)": st.column_config.TextColumn("Bin cuts (comma-separated)", width="medium"),
            "integer": st.column_config.CheckboxColumn("Integer"),
        },
    )
    return edited, base
