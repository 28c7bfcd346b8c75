"""Schema review as a recorded act: who saved a dataset's schema as reviewed, when, what it was
drafted from and which fields they changed.

Why an act and not a flag: clearing ``derived_from_private_data`` on a draft read off the table
shipped its exact category sets and cuts to ML teams in every manifest, free of charge, and
nothing showed that it had happened. Now:

* every reviewed schema a dataset holds has a :class:`app.core.store.SchemaReview` (by
  fingerprint), written where the schema is saved (upload, ``update_schema``);
* the review lists the fields changed from the draft it started from, and the fields whose
  values equal what the private table itself shows (its own draft, recomputed at review time).
  Only column and field names are recorded, never values: the record is read by privacy
  officers, who may not see the private table;
* a release can only be requested with a reviewed schema, and a manifest carries the schema
  only together with its review (who, when, from what), otherwise it withholds it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.store import SchemaReview, User
from synthgen.schema import Schema

SOURCES = ("private_draft", "dp_discovery", "previous_schema", "none")
#: the fields of a column that carry knowledge about the data (roles and names do not)
_DATA_FIELDS = ("kind", "nullable", "categories", "lower", "upper", "cuts", "integer", "granularity")


def _columns(schema: Schema | None) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in (schema.to_dict()["columns"] if schema is not None else [])}


def changed_fields(draft: Schema | None, reviewed: Schema) -> list[dict[str, str]]:
    """``[{"column", "field"}]`` where ``reviewed`` differs from ``draft`` (every field of a
    column the draft did not have). Names only, no values."""
    before, after = _columns(draft), _columns(reviewed)
    out = []
    for name, col in after.items():
        old = before.get(name, {})
        for field in ("role", *_DATA_FIELDS):
            if col.get(field) != old.get(field):
                out.append({"column": name, "field": field})
    if draft is not None and draft.privacy_unit != reviewed.privacy_unit:
        out.append({"column": "", "field": "privacy_unit"})
    return out


def fields_equal_to_private(private_draft: Schema | None, reviewed: Schema) -> list[dict[str, str]]:
    """``[{"column", "field"}]`` of categories, bounds and cuts that equal what the private table
    shows (its own draft). Such a value may still be public (a code list that every category
    of the table happens to use), which is for the reviewing officer to judge."""
    if private_draft is None:
        return []
    private = _columns(private_draft)
    out = []
    for name, col in _columns(reviewed).items():
        if col.get("role") == "identifier" or name not in private:
            continue
        for field in ("categories", "lower", "upper", "cuts"):
            value = col.get(field)
            if value is None or private[name].get(field) is None:
                continue
            same = sorted(map(str, value)) == sorted(map(str, private[name][field])) if field == "categories" \
                else value == private[name][field]
            if same:
                out.append({"column": name, "field": field})
    return out


def record(s: Session, *, dataset_id: int, reviewer_id: int, schema: Schema, source: str, draft: Schema | None,
           private_draft: Schema | None, now) -> SchemaReview:
    """Write the review act of ``schema`` (which must not be flagged derived_from_private_data)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} must be one of {SOURCES}")
    review = SchemaReview(
        dataset_id=dataset_id, reviewer_id=reviewer_id, reviewed_at=now, fingerprint=schema.fingerprint(),
        source=source,
        changes_json=json.dumps({"changed": changed_fields(draft, schema),
                                 "equal_to_private_table": fields_equal_to_private(private_draft, schema)},
                                sort_keys=True))
    s.add(review)
    s.flush()
    return review


def latest(s: Session, dataset_id: int, fingerprint: str) -> SchemaReview | None:
    return s.execute(select(SchemaReview).where(SchemaReview.dataset_id == dataset_id,
                                                SchemaReview.fingerprint == fingerprint)
                     .order_by(SchemaReview.id.desc()).limit(1)).scalars().first()


def for_schema_json(s: Session, dataset_id: int, schema_json: str | None) -> SchemaReview | None:
    if not schema_json:
        return None
    return latest(s, dataset_id, Schema.from_json(schema_json).fingerprint())


def public_record(s: Session, review: SchemaReview) -> dict[str, Any]:
    """What a manifest says about the review: who, when, from what, how many fields changed."""
    changes = json.loads(review.changes_json)
    reviewer = s.get(User, review.reviewer_id)
    return {"reviewed_by": reviewer.username if reviewer else "?", "reviewed_at": review.reviewed_at.isoformat(),
            "source": review.source, "fields_changed": len(changes["changed"])}


def full_record(s: Session, review: SchemaReview) -> dict[str, Any]:
    """The whole act, for the data owner and the reviewing privacy officers."""
    return {**public_record(s, review), "fingerprint": review.fingerprint, **json.loads(review.changes_json)}
