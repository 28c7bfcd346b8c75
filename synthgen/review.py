"""Recording the data owner's review of a drafted schema, and listing every problem of a schema.

``review_schema`` compares the owner's edited schema with the draft it came from. Every value the
draft read off the private table (``read_from_data``) must be either *replaced* (the edited value
differs: the owner wrote in a public value) or *confirmed* by naming the column (the owner vouches
that the value is public knowledge, e.g. the documented code list happens to equal the codes seen).
Anything else is refused, listing every such column. The result carries a :class:`Review` record
(who, when, which data-read values were replaced and which confirmed) tied to the reviewed content
by its fingerprint, so editing the schema afterwards voids the review. The reviewed schema is
public, so the record holds nothing of the draft's values; what changed from the draft, value by
value, is returned separately as the owner's review log (owner-only, like the draft).

``schema_problems`` and ``table_problems`` collect every problem instead of stopping at the first,
with counts; they serve ``synthgen schema check``. Counts of a private table are shown to the data
owner only (the CLI runs on the owner's machine).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from synthgen.errors import SchemaError, SynthgenError
from synthgen.schema import Column, Review, Schema, normalise_category


#: properties whose values form a set: listing the same values in another order keeps them
_SET_PROPERTIES = ("categories", "codes")


def _canonical(value: Any, as_set: bool) -> Any:
    """One spelling per value, so that 1, 1.0 and "1" or a reordered category list compare equal."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        items = [normalise_category(v) for v in value]
        return sorted(items, key=lambda v: (v is None, v or "")) if as_set else items
    return normalise_category(value)


def _differs(draft: Column, edited: Column, prop: str) -> bool:
    """Whether the owner replaced the draft's value of ``prop``. Only the value counts: a new
    role (attribute -> quasi_identifier) or a reordered list keeps every value read off the data,
    so it must still be confirmed (it used to count as replaced, which let data-read categories
    through unconfirmed)."""
    if draft.kind != edited.kind:
        return True
    as_set = prop in _SET_PROPERTIES
    return _canonical(getattr(draft, prop), as_set) != _canonical(getattr(edited, prop), as_set)


def _summary(col: Column, prop: str) -> str:
    value = getattr(col, prop)
    if isinstance(value, tuple):
        return f"{len(value)} value(s)"
    return "set" if value is not None else "unset"


def review_schema(
    draft: Schema, edited: Schema, *, reviewer: str, confirm: list[str] | tuple[str, ...] = (), now: datetime | None = None
) -> Schema:
    """The edited schema with a recorded review; refuses unconfirmed data-read values."""
    return review_with_log(draft, edited, reviewer=reviewer, confirm=confirm, now=now)[0]


def review_with_log(
    draft: Schema, edited: Schema, *, reviewer: str, confirm: list[str] | tuple[str, ...] = (), now: datetime | None = None
) -> tuple[Schema, dict[str, Any]]:
    """The reviewed schema and the owner-only log of what changed from the draft."""
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise SchemaError(f"reviewer ({reviewer!r}) must name the person reviewing")
    if not draft.derived_from_private_data and not any(c.read_from_data for c in draft.columns):
        raise SchemaError("the draft has nothing read off the data to review (derived_from_private_data is false)")
    draft_names, edited_names = set(draft.names), set(edited.names)
    if draft_names != edited_names:
        gone, new = sorted(draft_names - edited_names), sorted(edited_names - draft_names)
        raise SchemaError(
            "the reviewed schema must have the draft's columns"
            + (f"; missing: {', '.join(gone)}" if gone else "") + (f"; not in the draft: {', '.join(new)}" if new else "")
        )
    unknown = sorted(set(confirm) - draft_names)
    if unknown:
        raise SchemaError(f"--confirm names unknown column(s): {', '.join(unknown)}")
    confirmed: dict[str, tuple[str, ...]] = {}
    replaced: dict[str, list[str]] = {}
    changes: list[dict[str, Any]] = []
    unconfirmed: list[str] = []
    columns: list[Column] = []
    for d_col in draft.columns:
        e_col = edited.column(d_col.name)
        for prop in ("kind", "role", "nullable", "integer", "granularity", "identifier_output"):
            if getattr(d_col, prop) != getattr(e_col, prop):
                changes.append({"column": d_col.name, "field": prop, "draft": getattr(d_col, prop), "reviewed": getattr(e_col, prop)})
        if (d_col.code_list is None) != (e_col.code_list is None) or (
            d_col.code_list is not None and e_col.code_list is not None and d_col.code_list.to_json_value() != e_col.code_list.to_json_value()
        ):
            changes.append({"column": d_col.name, "field": "code_list", "draft": _json(d_col.code_list), "reviewed": _json(e_col.code_list)})
        still_read: list[str] = []
        for prop in d_col.read_from_data:
            if not e_col.synthesized:
                changes.append({"column": d_col.name, "field": prop, "draft": _summary(d_col, prop), "reviewed": "not synthesized"})
                replaced.setdefault(d_col.name, []).append(prop)
            elif _differs(d_col, e_col, prop):
                changes.append({"column": d_col.name, "field": prop, "draft": _summary(d_col, prop), "reviewed": _summary(e_col, prop)})
                replaced.setdefault(d_col.name, []).append(prop)
            elif d_col.name in confirm:
                still_read.append(prop)
            else:
                unconfirmed.append(f"{d_col.name} ({prop})")
        # what stays marked is exactly what was read and confirmed as is
        extra = [p for p in e_col.read_from_data if p not in d_col.read_from_data]
        marked = tuple(dict.fromkeys(still_read + extra))
        if extra and d_col.name not in confirm:
            unconfirmed.extend(f"{d_col.name} ({p})" for p in extra)
        if still_read or (extra and d_col.name in confirm):
            confirmed[d_col.name] = marked
        columns.append(replace(e_col, read_from_data=marked))
    if unconfirmed:
        raise SchemaError(
            f"{len(unconfirmed)} value(s) read off the private table were neither replaced nor confirmed: "
            + "; ".join(unconfirmed)
            + ". Replace them with public values in the edited schema, or confirm the column with --confirm NAME"
        )
    reviewed = replace(edited, columns=tuple(columns), derived_from_private_data=False, review=None)
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    record = Review(
        reviewer=reviewer.strip(), reviewed_at=stamp, fingerprint=reviewed.content_fingerprint(),
        confirmed=confirmed, replaced={k: tuple(v) for k, v in replaced.items()},
    )
    log = {
        "owner_only": "derived from the private table: do not publish",
        "reviewer": record.reviewer, "reviewed_at": stamp,
        "draft_fingerprint": draft.content_fingerprint(), "reviewed_fingerprint": record.fingerprint,
        "changes": changes, "confirmed": {k: list(v) for k, v in confirmed.items()},
    }
    return replace(reviewed, review=record), log


def _json(value: Any) -> Any:
    return None if value is None else value.to_json_value()


# -- listing every problem ------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    where: str
    message: str
    count: int | None = None

    def __str__(self) -> str:
        counted = f" ({self.count:,} row(s))" if self.count is not None else ""
        return f"{self.where}: {self.message}{counted}"


def schema_problems(data: Any) -> tuple[Schema | None, list[Problem]]:
    """Every problem of a schema JSON object: each column is checked on its own, then the whole."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return None, [Problem("schema", "must be a JSON object")]
    columns = data.get("columns")
    if isinstance(columns, list):
        for i, entry in enumerate(columns):
            try:
                Column.from_dict(entry)
            except SynthgenError as exc:
                where = f"column {entry.get('name', i + 1)!r}" if isinstance(entry, dict) else f"column {i + 1}"
                problems.append(Problem(where, str(exc)))
    if problems:
        return None, problems
    try:
        schema = Schema.from_dict(data)
    except SynthgenError as exc:
        return None, [Problem("schema", str(exc))]
    if schema.derived_from_private_data:
        problems.append(Problem("schema", "flagged derived_from_private_data: review it before a DP fit"))
    if schema.review is not None and schema.review.fingerprint != schema.content_fingerprint():
        problems.append(Problem("review", "the schema changed after its recorded review; the review no longer applies"))
    for col in schema.pending_top_k():
        problems.append(Problem(f"column {col!r}", "top_k declared but its categories were not selected yet "
                                "(synthgen schema top-k, which spends budget)"))
    for col, props in schema.unconfirmed_data_reads().items():
        problems.append(Problem(f"column {col!r}", f"values read off the private table, not confirmed by a review: {', '.join(props)}"))
    return schema, problems


def table_problems(frame: pd.DataFrame, schema: Schema) -> list[Problem]:
    """Every way the table does not fit the schema, with row counts (owner-only output)."""
    from synthgen.encoding import _to_seconds, encode_column

    problems: list[Problem] = []
    table_cols = [str(c) for c in frame.columns]
    for col in schema.synthesized_columns:
        if col.name not in table_cols:
            problems.append(Problem(f"column {col.name!r}", "declared in the schema but not in the table"))
    for name in table_cols:
        if name not in schema.names:
            problems.append(Problem(f"column {name!r}", "in the table but not in the schema"))
    for col in schema.synthesized_columns:
        if col.name not in table_cols:
            continue
        values = frame[col.name]
        raw_missing = values.map(normalise_category).isna().to_numpy()
        _codes, fitted = encode_column(col, values)
        where = f"column {col.name!r}"
        if not col.nullable and raw_missing.any():
            problems.append(Problem(where, "missing values in a column that is not nullable", int(raw_missing.sum())))
        unknown = ~fitted & ~raw_missing
        if unknown.any():
            what = "values that are not among the categories" if col.kind in ("categorical", "boolean") else "values that are neither numbers nor declared codes"
            problems.append(Problem(where, what, int(unknown.sum())))
        if col.kind in ("numeric", "datetime"):
            nums = _to_seconds(values) if col.kind == "datetime" else pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            edges = col.edges()
            with np.errstate(invalid="ignore"):
                below, above = int(np.sum(nums < edges[0])), int(np.sum(nums > edges[-1]))
            if below:
                problems.append(Problem(where, f"values below lower ({col.lower}); they would be clipped", below))
            if above:
                problems.append(Problem(where, f"values above upper ({col.upper}); they would be clipped", above))
    return problems
