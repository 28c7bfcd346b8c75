"""Drafting a schema from the private table itself, for the data owner to review.

This *looks at the data*: categories, bounds and quantile cuts are read off the table, so the
draft is marked ``derived_from_private_data`` and must be reviewed (categories replaced by the
public code list, bounds by public limits) before it is used for a release. The platform never
ships such a schema with a release and shows it to the data owner only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from synthgen.errors import InvalidInputError
from synthgen.schema import MAX_CATEGORIES, Column, Schema, is_identifier_name, normalise_category, quantile_cuts

#: An integer column with at most this many distinct values is drafted as categorical.
SMALL_INTEGER_DOMAIN = 20


def _round_out(value: float, up: bool) -> float:
    """Round a bound outwards to a "nice" number, so the draft does not expose the exact min/max."""
    if value == 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(abs(value)))
    step = magnitude if abs(value) >= 10 else 1
    return float((math.ceil if up else math.floor)(value / step) * step)


def draft_column(name: str, values: pd.Series, bins: int) -> Column:
    non_null = values.dropna()
    nullable = bool(values.isna().any())
    if values.dtype == object:
        as_text = non_null.map(normalise_category).dropna()
        nullable = nullable or len(as_text) < len(non_null)
        distinct = sorted(set(as_text))
        lowered = {d.lower() for d in distinct}
        if distinct and lowered <= {"true", "false"}:
            return Column(name=name, kind="boolean", nullable=nullable)
        dates = pd.to_datetime(as_text, errors="coerce", format="mixed") if len(as_text) else None
        if dates is not None and len(as_text) and dates.notna().mean() > 0.95 and not as_text.str.fullmatch(r"-?\d+(\.\d+)?").any():
            lo, hi = dates.min().floor("D"), dates.max().ceil("D") + pd.Timedelta(days=1)
            edges = pd.date_range(lo, hi, periods=min(bins, 16) + 1)[1:-1]
            return Column(
                name=name, kind="datetime", nullable=nullable, lower=lo.isoformat(), upper=hi.isoformat(),
                cuts=tuple(e.floor("D").isoformat() for e in edges if lo < e.floor("D") < hi), granularity="day",
            )
        if is_identifier_name(name) or len(distinct) > MAX_CATEGORIES or (len(non_null) > 50 and len(distinct) > 0.5 * len(non_null)):
            return Column(name=name, kind="categorical", role="identifier")
        return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(distinct))
    if values.dtype == bool:
        return Column(name=name, kind="boolean", nullable=nullable)
    numbers = pd.to_numeric(non_null, errors="coerce").dropna()
    if numbers.empty:
        raise InvalidInputError(f"column {name!r} has no values to draft a schema from; describe it by hand")
    integer = bool((numbers % 1 == 0).all())
    distinct = np.unique(numbers.to_numpy())
    if is_identifier_name(name) and len(distinct) > 0.9 * len(numbers):
        return Column(name=name, kind="numeric", role="identifier")
    if integer and len(distinct) <= SMALL_INTEGER_DOMAIN:
        return Column(name=name, kind="categorical", nullable=nullable, categories=tuple(int(v) for v in distinct))
    lower = _round_out(float(numbers.min()), up=False)
    upper = _round_out(float(numbers.max()), up=True)
    if lower == upper:
        upper = lower + 1
    cuts = quantile_cuts(numbers.tolist(), bins, integer, lower, upper)
    if integer:
        lower, upper = int(lower), int(upper)
    return Column(name=name, kind="numeric", nullable=nullable, lower=lower, upper=upper, cuts=tuple(cuts), integer=integer)


def draft_schema(frame: pd.DataFrame, *, name: str = "table", bins: int = 16) -> Schema:
    """A first schema for ``frame``, read off the data and flagged as such."""
    if frame.shape[1] == 0:
        raise InvalidInputError("the table has no columns")
    if len(frame) == 0:
        raise InvalidInputError("the table has no rows to draft a schema from")
    if not 2 <= bins <= 64:
        raise InvalidInputError(f"bins ({bins}) must be between 2 and 64")
    columns = [draft_column(str(col), frame[col], bins) for col in frame.columns]
    return Schema(
        columns=tuple(columns),
        name=name,
        derived_from_private_data=True,
        notes=(
            "DRAFT derived from the private table: categories, bounds and cuts were read off the data. "
            "Visible to the data owner only. Review every column against public knowledge (code lists, "
            "legal or physical limits) and set derived_from_private_data to false only when nothing "
            "here depends on the data any more."
        ),
    )
