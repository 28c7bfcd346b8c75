"""The record of a data owner's review of a drafted schema, kept apart from the schema's columns.

``READABLE_PROPERTIES`` are the properties of a column that a draft can read off the private
table; a :class:`Review` names which of them the owner confirmed or replaced. The review process
itself (comparing a draft with the edited schema) is synthgen.review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthgen.errors import SchemaError

#: Properties of a column whose values a draft can read off the private table. A column lists
#: the ones it holds in ``read_from_data`` until a recorded review confirms or replaces them.
READABLE_PROPERTIES: tuple[str, ...] = ("categories", "lower", "upper", "cuts", "codes")


@dataclass(frozen=True)
class Review:
    """The record of a data owner's review of a drafted schema (``synthgen schema review``).

    ``confirmed`` names, per column, the values read off the data that the reviewer confirmed as
    public knowledge (they stay in the schema, knowingly); ``replaced`` names the data-read values
    the reviewer replaced with public ones. ``fingerprint`` is the schema's content fingerprint at
    review time: editing the schema afterwards voids the review, so confirming data-read values
    cannot be done by editing one JSON field.

    Privacy: a reviewed schema is public (it ships in release manifests), so the record holds no
    value of the draft (no draft categories, counts, bounds or draft fingerprint, all of which
    depend on the private table); the owner-only details go to the owner's review log.
    """

    reviewer: str
    reviewed_at: str
    fingerprint: str
    confirmed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    replaced: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("reviewer", "reviewed_at", "fingerprint"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise SchemaError(f"review.{name} ({value!r}) must be non-empty text")
        for name in ("confirmed", "replaced"):
            value = getattr(self, name)
            if not isinstance(value, dict) or any(
                not isinstance(v, (list, tuple)) or any(p not in READABLE_PROPERTIES for p in v) for v in value.values()
            ):
                raise SchemaError(f"review.{name} must map column names to lists among {', '.join(READABLE_PROPERTIES)}")
            object.__setattr__(self, name, {str(k): tuple(v) for k, v in value.items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "reviewed_at": self.reviewed_at,
            "fingerprint": self.fingerprint,
            "confirmed": {k: list(v) for k, v in self.confirmed.items()},
            "replaced": {k: list(v) for k, v in self.replaced.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Review":
        if not isinstance(data, dict):
            raise SchemaError("schema.review must be an object")
        allowed = {"reviewer", "reviewed_at", "fingerprint", "confirmed", "replaced"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SchemaError(f"review: unknown field(s) {', '.join(unknown)}")
        missing = sorted({"reviewer", "reviewed_at", "fingerprint"} - set(data))
        if missing:
            raise SchemaError(f"review: field(s) {', '.join(missing)} required")
        return cls(**data)

