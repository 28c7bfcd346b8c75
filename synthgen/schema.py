"""The schema: the public description of a table.

A schema is the only knowledge about the private table that a synthesizer may use without
paying privacy budget. Everything in it (categories, bounds, bin cuts) must therefore come from
public knowledge or a reviewed decision of the data owner, never silently from the data. A
schema drafted by looking at the data (``draft_schema``) is flagged ``derived_from_private_data``
and must not be shipped with a release.

Binning convention (decided once, here; see KNOWN-PITFALLS #4 and #5): numeric bins are
right-open ``[edge_i, edge_{i+1})`` over ``edges = [lower, *cuts, upper]``, except the last bin,
which is closed ``[last_cut, upper]``. Values outside ``[lower, upper]`` are clipped (a row-wise
map, so it costs no privacy). For integer columns every bin must contain at least one integer.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from synthgen.errors import SchemaError
# moved to modules of their own; imported here so that ``from synthgen.schema import ...`` keeps working
from synthgen.schema_column import (  # noqa: F401
    GRANULARITIES, IDENTIFIER_OUTPUTS, KINDS, MAX_BINS, MAX_CATEGORIES, MAX_COLUMN_NAME_CHARS, MAX_DESCRIPTION_CHARS,
    MAX_NOTES_CHARS, ROLES, SCHEMA_VERSION, Column, Kind, PrivacyUnit, Role, check_visible_text, normalise_category,
)
from synthgen.schema_review import READABLE_PROPERTIES, Review  # noqa: F401
from synthgen.schema_values import is_identifier_name, quantile_cuts  # noqa: F401


@dataclass(frozen=True)
class Schema:
    """The public description of a table: its columns, privacy unit and provenance."""

    columns: tuple[Column, ...]
    name: str = "table"
    privacy_unit: PrivacyUnit = field(default_factory=PrivacyUnit)
    derived_from_private_data: bool = False
    notes: str = ""
    review: Review | None = None

    def __post_init__(self) -> None:
        cols = tuple(self.columns)
        object.__setattr__(self, "columns", cols)
        if not cols:
            raise SchemaError("columns must list at least one column")
        if not isinstance(self.notes, str) or len(self.notes) > MAX_NOTES_CHARS:
            raise SchemaError(f"notes ({len(self.notes) if isinstance(self.notes, str) else type(self.notes).__name__}"
                              f" characters) must be text of at most {MAX_NOTES_CHARS} characters")
        names = [c.name for c in cols]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"column names must be unique; {', '.join(map(repr, duplicates))} repeated")
        if not any(c.synthesized for c in cols):
            raise SchemaError("at least one column must have a role other than identifier")
        person = self.privacy_unit.person_column
        if person is not None:
            if person not in names:
                raise SchemaError(f"privacy_unit.person_column ({person!r}) is not a column of the schema")
            if self.column(person).role != "identifier":
                raise SchemaError(
                    f"privacy_unit.person_column ({person!r}) must have role identifier, "
                    "so that it never reaches a synthesizer"
                )

    # -- access ---------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def synthesized_columns(self) -> list[Column]:
        return [c for c in self.columns if c.synthesized]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"unknown column {name!r}; the schema has {', '.join(map(repr, self.names))}")

    def with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    def replace_column(self, column: Column) -> "Schema":
        self.column(column.name)
        return replace(self, columns=tuple(column if c.name == column.name else c for c in self.columns))

    def content_fingerprint(self) -> str:
        """Fingerprint of everything but the review record: what a review vouches for."""
        return replace(self, review=None).fingerprint()

    def unconfirmed_data_reads(self) -> dict[str, tuple[str, ...]]:
        """Per column, the values read off the private table that no valid review confirmed.

        A review is valid only while the schema is unchanged since it was recorded. Old schemas
        without ``read_from_data`` have nothing to confirm.
        """
        review = self.review
        valid = review is not None and review.fingerprint == self.content_fingerprint()
        out: dict[str, tuple[str, ...]] = {}
        for col in self.columns:
            confirmed = set(review.confirmed.get(col.name, ())) if valid else set()
            left = tuple(p for p in col.read_from_data if p not in confirmed)
            if left:
                out[col.name] = left
        return out

    def require_reviewed(self) -> None:
        """Refuse a schema that still carries data-read values nobody confirmed (before a DP fit)."""
        if self.derived_from_private_data:
            raise SchemaError(
                "schema is flagged derived_from_private_data: review it with 'synthgen schema review' "
                "(public categories, bounds and cuts) before a DP fit"
            )
        self.require_top_k_selected()
        pending = self.unconfirmed_data_reads()
        if pending:
            shown = "; ".join(f"{c} ({', '.join(p)})" for c, p in pending.items())
            raise SchemaError(
                f"schema has values read off the private table that no recorded review confirmed: {shown}. "
                "Replace them with public values or confirm them with 'synthgen schema review'"
            )

    def pending_top_k(self) -> list[str]:
        """Columns declaring a top_k whose categories were not selected yet."""
        return [c.name for c in self.columns if c.top_k_pending]

    def require_top_k_selected(self) -> None:
        pending = self.pending_top_k()
        if pending:
            raise SchemaError(
                f"column(s) {', '.join(map(repr, pending))} declare top_k but their categories were not selected yet: "
                "run 'synthgen schema top-k SCHEMA --data DATA --epsilon E' (it spends budget) before a fit"
            )

    def domain_size(self) -> float:
        """Number of cells in the full contingency table (a float: it can be astronomically large)."""
        return math.prod(float(c.cardinality) for c in self.synthesized_columns)

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "derived_from_private_data": self.derived_from_private_data,
            "privacy_unit": self.privacy_unit.to_dict(),
            "notes": self.notes,
            "columns": [c.to_dict() for c in self.columns],
            **({"review": self.review.to_dict()} if self.review is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: ties a model or release to the exact schema used."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: Any) -> "Schema":
        if not isinstance(data, dict):
            raise SchemaError("schema must be a JSON object")
        if "tables" in data or isinstance(data.get("columns"), dict):  # SDV metadata
            return from_sdv_metadata(data)
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaError(f"schema_version ({version!r}) must be {SCHEMA_VERSION}")
        unknown = sorted(set(data) - {"schema_version", "name", "derived_from_private_data", "privacy_unit", "notes", "columns", "review"})
        if unknown:
            raise SchemaError(f"schema: unknown field(s) {', '.join(unknown)}")
        columns = data.get("columns")
        if not isinstance(columns, list):
            raise SchemaError("schema.columns must be a list of column objects")
        unit = data.get("privacy_unit") or {}
        if not isinstance(unit, dict):
            raise SchemaError("schema.privacy_unit must be an object")
        unknown_unit = sorted(set(unit) - {"person_column", "max_rows"})
        if unknown_unit:
            raise SchemaError(f"privacy_unit: unknown field(s) {', '.join(unknown_unit)}")
        derived = data.get("derived_from_private_data", False)
        if not isinstance(derived, bool):
            raise SchemaError(f"derived_from_private_data ({derived!r}) must be true or false")
        return cls(
            columns=tuple(Column.from_dict(c) for c in columns),
            name=str(data.get("name", "table")),
            privacy_unit=PrivacyUnit(**unit),
            derived_from_private_data=derived,
            notes=str(data.get("notes", "")),
            review=Review.from_dict(data["review"]) if data.get("review") is not None else None,
        )

    @classmethod
    def from_json(cls, text: str) -> "Schema":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> "Schema":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SchemaError(f"schema file {str(path)!r} does not exist") from None
        except (UnicodeDecodeError, IsADirectoryError):
            raise SchemaError(f"schema file {str(path)!r} is not a UTF-8 JSON file") from None
        return cls.from_json(text)

    def save(self, path: str | Path) -> None:
        from synthgen.io import atomic_write_text

        atomic_write_text(Path(path), self.to_json() + "\n")


def from_sdv_metadata(data: dict[str, Any]) -> Schema:
    """Import SDV single-table metadata (``{"columns": {name: {"sdtype": ...}}}`` or the
    multi-table form with exactly one table).

    SDV metadata carries no categories or bounds, so numeric and categorical columns without
    them cannot become a usable schema: the error names every column that needs completing.
    """
    if "tables" in data:
        tables = data["tables"]
        if not isinstance(tables, dict) or len(tables) != 1:
            raise SchemaError("SDV metadata must describe exactly one table")
        (table_name, table), = tables.items()
    else:
        table_name, table = "table", data
    cols = table.get("columns")
    if not isinstance(cols, dict):
        raise SchemaError("SDV metadata must have a 'columns' object")
    primary_key = table.get("primary_key")
    out: list[Column] = []
    missing: list[str] = []
    for name, spec in cols.items():
        if not isinstance(spec, dict) or "sdtype" not in spec:
            raise SchemaError(f"SDV column {name!r} must be an object with an 'sdtype'")
        sdtype = spec["sdtype"]
        extra = spec.get("synthgen", {})
        if sdtype == "id" or name == primary_key or spec.get("pii"):
            out.append(Column(name=name, kind="categorical", role="identifier"))
            continue
        kind = {"numerical": "numeric", "categorical": "categorical", "boolean": "boolean", "datetime": "datetime"}.get(sdtype)
        if kind is None:
            raise SchemaError(f"SDV column {name!r}: sdtype ({sdtype!r}) is not supported; use numerical, categorical, boolean, datetime or id")
        fields = {k: v for k, v in extra.items()}
        if kind == "numeric" and "computer_representation" in spec:
            fields.setdefault("integer", str(spec["computer_representation"]).startswith(("Int", "UInt")))
        if kind == "datetime":
            fields.setdefault("granularity", "day")
        needs = {"categorical": ("categories",), "numeric": ("lower", "upper"), "datetime": ("lower", "upper")}.get(kind, ())
        if any(k not in fields for k in needs):
            missing.append(f"{name} ({', '.join(needs)})")
            continue
        for seq in ("categories", "cuts"):
            if seq in fields:
                fields[seq] = tuple(fields[seq])
        out.append(Column(name=name, kind=kind, **fields))
    if missing:
        raise SchemaError(
            "SDV metadata has no public categories or bounds for: " + "; ".join(missing)
            + ". Add them under a 'synthgen' key of each column, or edit the imported schema"
        )
    return Schema(columns=tuple(out), name=str(table_name))
