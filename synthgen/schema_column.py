"""A column of a schema and the privacy unit: the parts of a schema that describe one column or
who is protected (synthgen.schema assembles them; its docstring states the binning convention)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Sequence

from synthgen.codelists import resolve_code_list
from synthgen.errors import SchemaError
from synthgen.schema_review import READABLE_PROPERTIES
from synthgen.schema_values import _is_number_text
from synthgen.topk import parse_top_k

SCHEMA_VERSION = 1

Kind = Literal["categorical", "numeric", "datetime", "boolean"]
Role = Literal["identifier", "quasi_identifier", "sensitive", "attribute"]
KINDS: tuple[str, ...] = ("categorical", "numeric", "datetime", "boolean")
ROLES: tuple[str, ...] = ("identifier", "quasi_identifier", "sensitive", "attribute")
GRANULARITIES: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
IDENTIFIER_OUTPUTS = ("drop", "token")

#: Properties of a column whose values a draft can read off the private table. A column lists
#: the ones it holds in ``read_from_data`` until a recorded review confirms or replaces them.
READABLE_PROPERTIES: tuple[str, ...] = ("categories", "lower", "upper", "cuts", "codes")

#: Guard against domains so large that a marginal model cannot be fitted in memory.
MAX_CATEGORIES = 1000
MAX_BINS = 256


def normalise_category(value: Any) -> str | None:
    """Canonical text of a category value, so that 1, 1.0 and "1" name the same category.

    Returns None for missing values (None, NaN, empty string).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        return normalise_category(value.item())
    text = str(value)
    if text == "":
        return None
    return text


def _parse_datetime(name: str, field_name: str, value: Any) -> float:
    """Seconds since the epoch (UTC) of an ISO-8601 value."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise SchemaError(f"column '{name}': {field_name} ({value!r}) must be an ISO-8601 date or datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True)
class Column:
    """One column of a schema.

    ``kind`` decides the encoding: ``categorical`` needs ``categories``; ``numeric`` needs
    ``lower``/``upper`` and interior ``cuts``; ``datetime`` needs ISO ``lower``/``upper``, ``cuts``
    and a ``granularity``; ``boolean`` needs nothing. ``role`` decides how the column is treated:
    ``identifier`` columns never reach a synthesizer; the other roles steer the risk evaluation.
    """

    name: str
    kind: str
    role: str = "attribute"
    nullable: bool = False
    categories: tuple[Any, ...] | None = None
    lower: Any = None
    upper: Any = None
    cuts: tuple[Any, ...] | None = None
    integer: bool = False
    granularity: str | None = None
    identifier_output: str = "drop"
    description: str = ""
    #: numeric columns only: non-numeric codes that share the column with numbers (``"N"`` for
    #: "not applicable" in census data). Each code is one more encoded value after the bins.
    codes: tuple[str, ...] | None = None
    #: categorical columns only: a public code list or hierarchy (see synthgen.codelists); the
    #: raw codes are mapped to its groups and the groups are the categories.
    code_list: Any = None
    #: categorical columns only: keep the k most frequent values, chosen with DP and paid from the
    #: budget (synthgen.topk), every other value mapped to one more category (``<other>``).
    #: Declared as ``{"k": 30}``; the categories are filled in by ``synthgen schema top-k``.
    top_k: Any = None
    #: which of READABLE_PROPERTIES were read off the private table by a draft (empty when every
    #: value is public knowledge). Only a recorded review (``synthgen schema review``) confirms them.
    read_from_data: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.strip():
            raise SchemaError(f"column name ({name!r}) must be a non-empty string")
        check_visible_text(name, "column name", MAX_COLUMN_NAME_CHARS)
        if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION_CHARS:
            raise SchemaError(f"column '{name[:64]}': description must be text of at most {MAX_DESCRIPTION_CHARS} "
                              "characters")
        if self.kind not in KINDS:
            raise SchemaError(f"column '{name}': kind ({self.kind!r}) must be one of {', '.join(KINDS)}")
        if self.role not in ROLES:
            raise SchemaError(f"column '{name}': role ({self.role!r}) must be one of {', '.join(ROLES)}")
        if not isinstance(self.nullable, bool):
            raise SchemaError(f"column '{name}': nullable ({self.nullable!r}) must be true or false")
        if self.identifier_output not in IDENTIFIER_OUTPUTS:
            raise SchemaError(
                f"column '{name}': identifier_output ({self.identifier_output!r}) must be one of "
                f"{', '.join(IDENTIFIER_OUTPUTS)}"
            )
        read = self.read_from_data
        if isinstance(read, str) or not isinstance(read, (list, tuple)) or any(p not in READABLE_PROPERTIES for p in read):
            raise SchemaError(
                f"column '{name}': read_from_data ({read!r}) must list properties among {', '.join(READABLE_PROPERTIES)}"
            )
        object.__setattr__(self, "read_from_data", tuple(dict.fromkeys(read)))
        if self.codes is not None and self.kind != "numeric":
            raise SchemaError(f"column '{name}': codes are only for numeric columns; list categories instead")
        if self.code_list is not None:
            if self.kind != "categorical":
                raise SchemaError(f"column '{name}': code_list is only for categorical columns")
            code_list = resolve_code_list(name, self.code_list)
            object.__setattr__(self, "code_list", code_list)
            if self.categories is None:
                object.__setattr__(self, "categories", code_list.labels)
            elif tuple(str(c) for c in self.categories) != code_list.labels:
                raise SchemaError(
                    f"column '{name}': categories must be the group labels of code_list {code_list.name!r} "
                    "(or be left out, and they are filled in)"
                )
        if self.top_k is not None:
            self._check_top_k()
        if self.role == "identifier":
            return  # identifiers are never encoded, so kind-specific fields are not needed
        if self.kind == "categorical":
            self._check_categorical()
        elif self.kind == "numeric":
            self._check_numeric()
        elif self.kind == "datetime":
            self._check_datetime()

    # -- validation ---------------------------------------------------------------------
    def _check_top_k(self) -> None:
        name = self.name
        if self.kind != "categorical" or self.code_list is not None:
            raise SchemaError(f"column '{name}': top_k is only for categorical columns without a code_list")
        top_k = parse_top_k(name, self.top_k)
        object.__setattr__(self, "top_k", top_k)
        if not top_k.selected:
            if self.categories is not None and len(self.categories) == 0:
                object.__setattr__(self, "categories", None)  # an editor's empty list: nothing chosen yet
            if self.categories is not None:
                raise SchemaError(
                    f"column '{name}': top_k is declared but not selected yet; leave categories out "
                    "(they are chosen with DP by 'synthgen schema top-k')"
                )
            return
        cats = tuple(str(c) for c in self.categories or ())
        if not cats or cats[-1] != top_k.other or len(cats) - 1 > top_k.k:
            raise SchemaError(
                f"column '{name}': categories of a selected top_k must be at most {top_k.k} values followed by "
                f"{top_k.other!r}"
            )

    @property
    def top_k_pending(self) -> bool:
        """A top-k column whose categories have not been selected yet (it cannot be fitted)."""
        return self.top_k is not None and not self.top_k.selected and self.synthesized

    def _check_categorical(self) -> None:
        name = self.name
        if self.top_k_pending:
            return  # categories come from the DP selection
        if self.categories is None or len(self.categories) == 0:
            raise SchemaError(f"column '{name}': categories must list at least one value for a categorical column")
        cats = tuple(self.categories)
        object.__setattr__(self, "categories", cats)
        if len(cats) > MAX_CATEGORIES:
            raise SchemaError(f"column '{name}': categories ({len(cats)} values) must be at most {MAX_CATEGORIES}")
        seen: set[str] = set()
        for cat in cats:
            if isinstance(cat, (dict, list)):
                raise SchemaError(f"column '{name}': category ({cat!r}) must be a string, number or boolean")
            norm = normalise_category(cat)
            if norm is None:
                raise SchemaError(
                    f"column '{name}': category ({cat!r}) must not be empty or missing; set nullable instead"
                )
            if norm in seen:
                raise SchemaError(f"column '{name}': category ({cat!r}) is listed twice")
            seen.add(norm)

    def _check_bounds_and_cuts(self, lower: float, upper: float, cuts: Sequence[float]) -> None:
        name = self.name
        # An integer column may cut at its upper bound, so that the top value gets a bin of its own.
        top_ok = self.kind == "numeric" and self.integer
        if not (math.isfinite(lower) and math.isfinite(upper)):
            raise SchemaError(f"column '{name}': lower ({self.lower}) and upper ({self.upper}) must be finite")
        if not lower < upper:
            raise SchemaError(f"column '{name}': lower ({self.lower}) must be less than upper ({self.upper})")
        if len(cuts) + 1 > MAX_BINS:
            raise SchemaError(f"column '{name}': cuts ({len(cuts)}) must define at most {MAX_BINS} bins")
        previous = lower
        for cut in cuts:
            inside = previous < cut < upper or (top_ok and previous < cut == upper)
            if not math.isfinite(cut) or not inside:
                raise SchemaError(
                    f"column '{name}': cuts must be strictly increasing and strictly inside "
                    f"(lower, upper) = ({self.lower}, {self.upper}); {cut!r} is not"
                )
            previous = cut

    def _check_numeric(self) -> None:
        name = self.name
        for field_name in ("lower", "upper"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SchemaError(f"column '{name}': {field_name} ({value!r}) must be a number for a numeric column")
        cuts = tuple(self.cuts or ())
        for cut in cuts:
            if isinstance(cut, bool) or not isinstance(cut, (int, float)):
                raise SchemaError(f"column '{name}': cut ({cut!r}) must be a number")
        object.__setattr__(self, "cuts", cuts)
        self._check_bounds_and_cuts(float(self.lower), float(self.upper), [float(c) for c in cuts])
        if self.codes is not None:
            codes = tuple(self.codes)
            object.__setattr__(self, "codes", codes)
            seen: set[str] = set()
            for code in codes:
                if not isinstance(code, str) or not code.strip():
                    raise SchemaError(f"column '{name}': code ({code!r}) must be non-empty text")
                if _is_number_text(code):
                    raise SchemaError(f"column '{name}': code ({code!r}) is a number; numbers belong in the bins")
                if code in seen:
                    raise SchemaError(f"column '{name}': code ({code!r}) is listed twice")
                seen.add(code)
        if self.integer:
            edges = self.edges()
            for i in range(len(edges) - 1):
                lo, hi = self.integer_range(i)
                if lo > hi:
                    raise SchemaError(
                        f"column '{name}': bin [{edges[i]}, {edges[i + 1]}) contains no integer; "
                        "move or remove the cut"
                    )

    def _check_datetime(self) -> None:
        name = self.name
        if self.granularity not in GRANULARITIES:
            raise SchemaError(
                f"column '{name}': granularity ({self.granularity!r}) must be one of {', '.join(GRANULARITIES)}"
            )
        if self.lower is None or self.upper is None:
            raise SchemaError(f"column '{name}': lower and upper must be set for a datetime column")
        lower = _parse_datetime(name, "lower", self.lower)
        upper = _parse_datetime(name, "upper", self.upper)
        cuts = tuple(self.cuts or ())
        object.__setattr__(self, "cuts", cuts)
        self._check_bounds_and_cuts(lower, upper, [_parse_datetime(name, "cut", c) for c in cuts])

    # -- encoding helpers ---------------------------------------------------------------
    @property
    def synthesized(self) -> bool:
        """Whether the column is modelled by a synthesizer (identifiers never are)."""
        return self.role != "identifier"

    def edges(self) -> list[float]:
        """Bin edges ``[lower, *cuts, upper]`` as floats (epoch seconds for datetimes)."""
        if self.kind == "datetime":
            return [_parse_datetime(self.name, "bound", v) for v in (self.lower, *self.cuts, self.upper)]
        return [float(v) for v in (self.lower, *(self.cuts or ()), self.upper)]

    def integer_range(self, bin_index: int) -> tuple[int, int]:
        """Smallest and largest integer inside bin ``bin_index`` of an integer column."""
        edges = self.edges()
        lo = math.ceil(edges[bin_index])
        last = bin_index == len(edges) - 2
        hi = math.floor(edges[bin_index + 1]) if last else math.ceil(edges[bin_index + 1]) - 1
        return lo, hi

    def value_labels(self) -> list[str]:
        """Human-readable label of each encoded value (bins, categories, missing)."""
        if self.kind == "categorical":
            labels = [str(c) for c in self.categories or ()]
        elif self.kind == "boolean":
            labels = ["false", "true"]
        else:
            edges = self.edges()
            shown = [self.lower, *self.cuts, self.upper] if self.kind == "datetime" else edges
            labels = [
                f"[{shown[i]}, {shown[i + 1]}{']' if i == len(edges) - 2 else ')'}" for i in range(len(edges) - 1)
            ]
            labels += list(self.codes or ())
        if self.nullable:
            labels.append("<missing>")
        return labels

    @property
    def cardinality(self) -> int:
        """Number of encoded values, including the missing value of a nullable column."""
        return len(self.value_labels())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "role": self.role, "nullable": self.nullable}
        if self.role == "identifier":
            out["identifier_output"] = self.identifier_output
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.kind in ("numeric", "datetime"):
            if self.lower is not None:
                out["lower"] = self.lower
            if self.upper is not None:
                out["upper"] = self.upper
            if self.cuts is not None:
                out["cuts"] = list(self.cuts)
        if self.kind == "numeric":
            out["integer"] = self.integer
        if self.granularity is not None:
            out["granularity"] = self.granularity
        if self.description:
            out["description"] = self.description
        # New fields are written only when used, so older schemas keep their JSON and fingerprint.
        if self.codes is not None:
            out["codes"] = list(self.codes)
        if self.code_list is not None:
            out["code_list"] = self.code_list.to_json_value()
        if self.top_k is not None:
            out["top_k"] = self.top_k.to_dict()
        if self.read_from_data:
            out["read_from_data"] = list(self.read_from_data)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Column":
        if not isinstance(data, dict):
            raise SchemaError(f"column entry ({data!r}) must be an object")
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - allowed)
        name = data.get("name", "?")
        if unknown:
            raise SchemaError(f"column '{name}': unknown field(s) {', '.join(unknown)}")
        if "name" not in data or "kind" not in data:
            raise SchemaError(f"column '{name}': fields 'name' and 'kind' are required")
        kwargs = dict(data)
        for seq in ("categories", "cuts", "codes", "read_from_data"):
            if kwargs.get(seq) is not None:
                if not isinstance(kwargs[seq], list):
                    raise SchemaError(f"column '{name}': {seq} ({kwargs[seq]!r}) must be a list")
                kwargs[seq] = tuple(kwargs[seq])
        return cls(**kwargs)


@dataclass(frozen=True)
class PrivacyUnit:
    """Who is protected. Without a person column each row is one person; with one, a person may
    contribute up to ``max_rows`` rows and synthgen keeps at most that many before measuring."""

    person_column: str | None = None
    max_rows: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int) or self.max_rows < 1:
            raise SchemaError(f"privacy_unit.max_rows ({self.max_rows!r}) must be a positive integer")
        if self.person_column is None and self.max_rows != 1:
            raise SchemaError(
                f"privacy_unit.max_rows ({self.max_rows}) needs privacy_unit.person_column; "
                "without it each row is one person"
            )
        if self.max_rows > 1000:
            raise SchemaError(f"privacy_unit.max_rows ({self.max_rows}) must be at most 1000")

    def to_dict(self) -> dict[str, Any]:
        return {"person_column": self.person_column, "max_rows": self.max_rows}


MAX_COLUMN_NAME_CHARS = 128
MAX_DESCRIPTION_CHARS = 2_000
MAX_NOTES_CHARS = 20_000


def check_visible_text(value: str, what: str, max_chars: int) -> None:
    """Refuse names that would display differently from what they are: control and format
    characters (right-to-left overrides such as U+202E, zero-width joiners, BOMs), line and
    paragraph separators, unpaired surrogates; and names longer than ``max_chars``."""
    import unicodedata

    if len(value) > max_chars:
        raise SchemaError(f"{what} ({value[:40]!r}...) must be at most {max_chars} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            shown = value.encode("ascii", "backslashreplace").decode("ascii")[:80]
            raise SchemaError(f"{what} ({shown}) must not contain control or direction-changing characters "
                              f"(found U+{ord(ch):04X})")
