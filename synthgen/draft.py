"""Drafting a schema from the private table itself, for the data owner to review.

This *looks at the data*: categories, bounds, cuts and codes are read off the table, so the draft
is flagged ``derived_from_private_data`` and every column names the values it read in
``read_from_data``. The owner replaces them with public knowledge (code lists, legal or physical
limits) or confirms them in a recorded review (``synthgen schema review``); only then may the
schema be used for a release. The platform shows a draft and its report to the data owner only.

Each column's decision comes with the reasons for it (:class:`ColumnDecision`), so the owner can
see why a column was made an identifier, a mixed numeric, a coded category or a code list:

* identifiers by name (id, email, name, patient_nbr, ...) and by content (near-unique integers or
  text), so that patient numbers never reach a synthesizer; content beats a ``*_id``/``*_nbr``
  name: a few codes over many rows (``admission_type_id``) stay a categorical attribute, and a
  repeated identifier (``patient_nbr``) is proposed as the privacy unit's person column;
* mixed columns (numbers plus a few codes such as ``N``) become numeric columns whose codes stay
  values of their own, instead of a huge category list or a silently dropped column;
* integer codes (few distinct values, or a name such as ``*_code``/``*_type``) stay categorical;
* codes that look like ICD-9-CM diagnoses use the public chapter list, so hundreds of codes can be
  synthesised at chapter level without listing the codes seen in the data;
* other text columns with many values (more than ``TOP_K_ABOVE``) declare a top-k: the most
  frequent values are chosen later with DP (synthgen.topk), the rest become ``<other>``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgen.codelists import ICD9_CODE
from synthgen.errors import InvalidInputError
from synthgen.topk import MAX_TOP_K
from synthgen.schema import Column, PrivacyUnit, Schema, is_identifier_name, normalise_category, quantile_cuts

#: An integer column with at most this many distinct values is drafted as categorical.
SMALL_INTEGER_DOMAIN = 20
#: An integer column whose name says "code" keeps up to this many codes as categories.
CODED_INTEGER_DOMAIN = 200
#: Text that is numeric in at least this share of its values, plus a few codes, is a mixed column.
MIXED_NUMERIC_SHARE = 0.5
MAX_MIXED_CODES = 20
#: A text column with more distinct values than this is drafted as top-k (synthgen.topk).
TOP_K_ABOVE = 50
DRAFT_TOP_K = 30
#: Share of distinct values above which a column is treated as an identifier by content.
NEAR_UNIQUE = 0.9
LIKELY_ID_SHARE = 0.5
#: Below this many rows, content-based identifier rules are not trusted.
MIN_ROWS_FOR_CONTENT_RULES = 50
#: A column named like a record number (``*_id``, ``*_nbr``) whose distinct values are at most this
#: share of the rows (at least 20 rows per value) holds codes, not identifiers: content beats the name.
CODE_SHARE = 0.05
#: A record-number column with repeated values and at least this share distinct is a person column.
PERSON_SHARE = 0.1
#: The draft's person-level bound: a default, not read off the data (see _person_column).
DEFAULT_PERSON_MAX_ROWS = 2

#: names ending in a record-number word (patient_nbr, account_no); "number_inpatient" is a count
_ID_LIKE_NAME = re.compile(r"(^|[_\W])(nbr|num|number|no|mrn|acct|account|key)$", re.IGNORECASE)
_ID_TOKEN_NAME = re.compile(r"(^|[_\W])id($|[_\W])", re.IGNORECASE)
_CODE_LIKE_NAME = re.compile(r"(code|type|status|class|category|cat|kind|group|flag|level|source|disposition|_id)$", re.IGNORECASE)


@dataclass
class ColumnDecision:
    """What the draft decided for one column, and why (shown to the data owner)."""

    column: str
    decision: str
    reasons: list[str] = field(default_factory=list)
    read_from_data: list[str] = field(default_factory=list)
    needs_attention: bool = False
    #: a repeated identifier: the draft may propose it as the privacy unit's person column
    person_candidate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column, "decision": self.decision, "reasons": list(self.reasons),
            "read_from_data": list(self.read_from_data), "needs_attention": self.needs_attention,
        }


def _round_out(value: float, up: bool) -> float:
    """Round a bound outwards to a "nice" number, so the draft does not expose the exact min/max."""
    if value == 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(abs(value)))
    step = magnitude if abs(value) >= 10 else 1
    return float((math.ceil if up else math.floor)(value / step) * step)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _numeric_column(name: str, numbers: pd.Series, bins: int, nullable: bool, codes: tuple[str, ...] | None = None) -> Column:
    integer = bool((numbers % 1 == 0).all())
    lower = _round_out(float(numbers.min()), up=False)
    upper = _round_out(float(numbers.max()), up=True)
    if lower == upper:
        upper = lower + 1
    cuts = quantile_cuts(numbers.tolist(), bins, integer, lower, upper)
    if integer:
        lower, upper = int(lower), int(upper)
    read = ("lower", "upper", "cuts") + (("codes",) if codes else ())
    return Column(
        name=name, kind="numeric", nullable=nullable, lower=lower, upper=upper, cuts=tuple(cuts), integer=integer,
        codes=codes, read_from_data=read,
    )


def _identifier(name: str, kind: str, decision: ColumnDecision, reason: str) -> Column:
    decision.decision = "identifier (never synthesized)"
    decision.reasons.append(reason)
    return Column(name=name, kind=kind, role="identifier")


def _other_identifier_name(name: str) -> bool:
    """An identifier word other than ``id`` (email, name, phone, ssn, ...)."""
    return is_identifier_name(re.sub(r"(^|[_\W])id($|[_\W])", "_", name, flags=re.IGNORECASE))


def _record_number_name(name: str) -> bool:
    """Names such as ``*_id`` or ``*_nbr`` that an identifier *or* a code column may carry; names
    such as email, name, phone or ssn are identifiers whatever they hold."""
    return bool(_ID_TOKEN_NAME.search(name) or _ID_LIKE_NAME.search(name))


def _by_record_number_name(name: str, kind: str, values: pd.Series, d: ColumnDecision) -> Column | None:
    """Decide a column whose name looks like a record number from its content: ``None`` when it
    holds few codes (the caller drafts it as a coded attribute), an identifier otherwise; a repeated
    identifier is proposed as the person column (``person_candidate``)."""
    n, distinct = len(values), int(values.nunique())
    share = distinct / n if n else 1.0
    if n > MIN_ROWS_FOR_CONTENT_RULES and distinct <= CODED_INTEGER_DOMAIN and share <= CODE_SHARE:
        d.reasons.append(
            f"the name looks like an identifier, but it holds only {distinct} distinct values in {n} rows: "
            "codes of a categorical attribute, not an identifier"
        )
        d.needs_attention = True
        return None
    if n > MIN_ROWS_FOR_CONTENT_RULES and distinct < n and share >= PERSON_SHARE:
        col = _identifier(name, kind, d, f"the name looks like an identifier and it has {distinct} distinct values "
                          f"in {n} rows: values repeat, so it identifies persons with several rows")
        d.person_candidate = True
        return col
    reason = "the name looks like an identifier"
    if n > MIN_ROWS_FOR_CONTENT_RULES:
        reason += f" ({distinct} distinct values in {n} rows)"
    return _identifier(name, kind, d, reason)


def _draft_text(name: str, values: pd.Series, non_null: pd.Series, nullable: bool, bins: int, d: ColumnDecision) -> Column:
    as_text = non_null.map(normalise_category).dropna()
    nullable = nullable or len(as_text) < len(non_null)
    distinct = sorted(set(as_text))
    n = len(as_text)
    if distinct and {x.lower() for x in distinct} <= {"true", "false"}:
        d.decision = "boolean"
        d.reasons.append("only true/false values")
        return Column(name=name, kind="boolean", nullable=nullable)
    if _record_number_name(name) and not _other_identifier_name(name):
        decided = _by_record_number_name(name, "categorical", as_text, d)
        if decided is not None:
            return decided
    elif is_identifier_name(name) or _ID_LIKE_NAME.search(name):
        return _identifier(name, "categorical", d, "the name looks like an identifier")
    numeric_mask = as_text.map(_is_number)
    numeric_share = float(numeric_mask.mean()) if n else 0.0
    if n and numeric_share < 1 and not numeric_mask.any():
        dates = pd.to_datetime(as_text, errors="coerce", format="mixed")
        if dates.notna().mean() > 0.95:
            lo, hi = dates.min().floor("D"), dates.max().ceil("D") + pd.Timedelta(days=1)
            edges = pd.date_range(lo, hi, periods=min(bins, 16) + 1)[1:-1]
            d.decision = "datetime"
            d.reasons.append("over 95% of the values parse as dates; bounds and cuts read off the data")
            d.read_from_data = ["lower", "upper", "cuts"]
            return Column(
                name=name, kind="datetime", nullable=nullable, lower=lo.isoformat(), upper=hi.isoformat(),
                cuts=tuple(e.floor("D").isoformat() for e in edges if lo < e.floor("D") < hi), granularity="day",
                read_from_data=("lower", "upper", "cuts"),
            )
    icd_share = float(as_text.map(lambda v: bool(ICD9_CODE.match(v))).mean()) if n else 0.0
    icd_hint = bool(re.search(r"diag|icd|dx", name, re.IGNORECASE)) or any(x[:1].upper() in "VE" for x in distinct)
    if n and icd_share >= 0.95 and icd_hint and len(distinct) > SMALL_INTEGER_DOMAIN:
        d.decision = "categorical, public code list icd9-cm-chapters"
        d.reasons.append(
            f"{len(distinct)} distinct codes, {icd_share:.0%} shaped like ICD-9-CM codes: grouped by the public "
            "chapter list, so the synthetic column holds chapters, not codes (no value read off the data)"
        )
        d.needs_attention = True
        return Column(name=name, kind="categorical", nullable=True, code_list="icd9-cm-chapters")
    non_numeric = sorted(set(as_text[~numeric_mask]))
    if numeric_share >= MIXED_NUMERIC_SHARE and 0 < len(non_numeric) <= MAX_MIXED_CODES:
        numbers = as_text[numeric_mask].astype(float)
        if len(set(numbers)) > SMALL_INTEGER_DOMAIN:
            d.decision = "numeric with codes"
            d.reasons.append(
                f"mixed column: {numeric_share:.0%} numbers plus the code(s) {', '.join(map(repr, non_numeric))}, "
                "kept as values of their own beside the numeric bins"
            )
            d.read_from_data = ["lower", "upper", "cuts", "codes"]
            d.needs_attention = True
            return _numeric_column(name, numbers, bins, nullable, codes=tuple(non_numeric))
    if n > MIN_ROWS_FOR_CONTENT_RULES and len(distinct) > LIKELY_ID_SHARE * n:
        return _identifier(name, "categorical", d, f"near-unique text: {len(distinct)} distinct values in {n} rows")
    if len(distinct) > TOP_K_ABOVE:
        # too many values to list (and listing them would read them off the data): the k most
        # frequent are chosen later with DP and paid from the budget; the rest become <other>
        k = min(DRAFT_TOP_K, MAX_TOP_K)
        d.decision = f"categorical, top {k} values chosen with DP, the rest as <other>"
        d.reasons.append(
            f"{len(distinct)} distinct values: too many to list; 'synthgen schema top-k' chooses the {k} most "
            "frequent with DP (it spends budget), or declare a public code_list instead (no value read off the data)"
        )
        d.needs_attention = True
        return Column(name=name, kind="categorical", nullable=True, top_k={"k": k})
    d.decision = "categorical"
    d.reasons.append(f"text with {len(distinct)} distinct values; the categories are the values present in the data")
    if any(_is_number(x) for x in distinct):
        d.reasons.append("some categories look like numeric codes; add the documented codes that are absent")
    d.read_from_data = ["categories"]
    return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(distinct), read_from_data=("categories",))


def draft_column_with_reason(name: str, values: pd.Series, bins: int) -> tuple[Column, ColumnDecision]:
    """The drafted column and the decision record behind it."""
    d = ColumnDecision(column=name, decision="")
    non_null = values.dropna()
    nullable = bool(values.isna().any())
    if nullable:
        d.reasons.append(f"{int(values.isna().sum())} missing value(s): nullable")
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return _draft_text(name, values, non_null, nullable, bins, d), d
    if values.dtype == bool:
        d.decision = "boolean"
        return Column(name=name, kind="boolean", nullable=nullable), d
    numbers = pd.to_numeric(non_null, errors="coerce").dropna()
    if numbers.empty:
        raise InvalidInputError(f"column {name!r} has no values to draft a schema from; describe it by hand")
    integer = bool((numbers % 1 == 0).all())
    distinct = np.unique(numbers.to_numpy())
    n = len(numbers)
    share = len(distinct) / n
    if integer and _record_number_name(name) and not _other_identifier_name(name) and n > MIN_ROWS_FOR_CONTENT_RULES:
        decided = _by_record_number_name(name, "numeric", numbers, d)
        if decided is not None:
            return decided, d
        d.decision = "categorical (integer codes)"
        d.reasons.append("add the documented codes that are absent")
        d.read_from_data = ["categories"]
        return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(int(v) for v in distinct),
                      read_from_data=("categories",)), d
    if is_identifier_name(name) and (integer or share > NEAR_UNIQUE):
        return _identifier(name, "numeric", d, "the name looks like an identifier" + (" (integer codes)" if integer else "")), d
    if integer and _ID_LIKE_NAME.search(name) and len(distinct) > SMALL_INTEGER_DOMAIN:
        return _identifier(name, "numeric", d, f"the name looks like a record number and it has {len(distinct)} distinct integers"), d
    if integer and n > MIN_ROWS_FOR_CONTENT_RULES and share > NEAR_UNIQUE:
        return _identifier(name, "numeric", d, f"near-unique integers: {len(distinct)} distinct values in {n} rows"), d
    if integer and len(distinct) <= SMALL_INTEGER_DOMAIN:
        d.decision = "categorical (integer codes)"
        d.reasons.append(f"{len(distinct)} distinct integers: treated as codes; add the documented codes that are absent")
        d.read_from_data = ["categories"]
        return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(int(v) for v in distinct),
                      read_from_data=("categories",)), d
    if integer and _CODE_LIKE_NAME.search(name) and len(distinct) <= CODED_INTEGER_DOMAIN:
        d.decision = "categorical (integer codes)"
        d.reasons.append(f"the name says codes and it has {len(distinct)} distinct integers: kept categorical, not ordered numbers")
        d.read_from_data = ["categories"]
        d.needs_attention = True
        return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(int(v) for v in distinct),
                      read_from_data=("categories",)), d
    d.decision = "numeric"
    d.reasons.append(f"{'integers' if integer else 'numbers'} with {len(distinct)} distinct values: quantile bins")
    if integer and n > MIN_ROWS_FOR_CONTENT_RULES and share > LIKELY_ID_SHARE:
        d.reasons.append(f"{share:.0%} of the values are distinct: check that this is not an identifier")
        d.needs_attention = True
    d.read_from_data = ["lower", "upper", "cuts"]
    return _numeric_column(name, numbers, bins, nullable), d


def draft_column(name: str, values: pd.Series, bins: int) -> Column:
    return draft_column_with_reason(name, values, bins)[0]


_DRAFT_NOTES = (
    "DRAFT derived from the private table: the values each column lists in read_from_data were read "
    "off the data. Visible to the data owner only. Replace them with public knowledge (code lists, "
    "legal or physical limits) or confirm them with 'synthgen schema review', which records the review."
)


def draft_schema_with_report(frame: pd.DataFrame, *, name: str = "table", bins: int = 16) -> tuple[Schema, list[ColumnDecision]]:
    """A first schema for ``frame``, read off the data and flagged as such, with one decision per column."""
    if frame.shape[1] == 0:
        raise InvalidInputError("the table has no columns")
    if len(frame) == 0:
        raise InvalidInputError("the table has no rows to draft a schema from")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 64:
        raise InvalidInputError(f"bins ({bins}) must be between 2 and 64")
    drafted = [draft_column_with_reason(str(col), frame[col], bins) for col in frame.columns]
    schema = Schema(
        columns=tuple(c for c, _ in drafted),
        name=name,
        privacy_unit=_person_unit(frame, [d for _, d in drafted]),
        derived_from_private_data=True,
        notes=_DRAFT_NOTES,
    )
    return schema, [d for _, d in drafted]


def _person_unit(frame: pd.DataFrame, decisions: list[ColumnDecision]) -> PrivacyUnit:
    """The privacy unit the draft proposes: the first repeated identifier as the person column.

    A person with several rows (a patient's encounters) must be protected as one person, or the
    guarantee covers single rows only. The bound ``max_rows`` is a default, not read off the
    data: a bound taken from the largest per-person count would tell that count; a person's rows
    beyond the bound are set aside before anything is measured, so any bound is safe and the owner
    tunes it from public knowledge. The rows it would set aside are counted for the owner's report
    only (the report is owner-only, like the draft); nothing of them enters the schema.
    """
    candidates = [d for d in decisions if d.person_candidate]
    if not candidates:
        return PrivacyUnit()
    chosen = candidates[0]
    per_person = frame[chosen.column].dropna().value_counts()
    set_aside = int((per_person - DEFAULT_PERSON_MAX_ROWS).clip(lower=0).sum())
    chosen.decision = "identifier (never synthesized), proposed as the person column"
    chosen.needs_attention = True
    chosen.reasons.append(
        f"proposed privacy unit: one person per value of {chosen.column!r}, at most {DEFAULT_PERSON_MAX_ROWS} rows "
        "per person kept before anything is measured (a default, not read off the data; more rows per person "
        "mean more noise, fewer mean more rows set aside: set it from what is publicly known)"
    )
    chosen.reasons.append(f"with this bound {set_aside} of {len(frame)} rows would be set aside (read off the data, owner-only)")
    for other in candidates[1:]:
        other.reasons.append(f"also repeated, but {chosen.column!r} was proposed as the person column; swap if it is the person")
    return PrivacyUnit(person_column=chosen.column, max_rows=DEFAULT_PERSON_MAX_ROWS)


def draft_schema(frame: pd.DataFrame, *, name: str = "table", bins: int = 16) -> Schema:
    """A first schema for ``frame``, read off the data and flagged as such."""
    return draft_schema_with_report(frame, name=name, bins=bins)[0]


def format_report(decisions: list[ColumnDecision]) -> str:
    """The per-column report as text, one block per column, attention first marked with '!'."""
    lines = []
    for d in decisions:
        mark = "!" if d.needs_attention else " "
        read = f" [read off the data: {', '.join(d.read_from_data)}]" if d.read_from_data else ""
        lines.append(f"{mark} {d.column}: {d.decision}{read}")
        lines.extend(f"      - {r}" for r in d.reasons)
    return "\n".join(lines)
