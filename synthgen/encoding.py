"""Encode a table into the integer codes a marginal model works on, and decode codes back.

Encoding is a row-by-row map driven only by the public schema: each row is encoded without
looking at any other row. A row-wise map is 1-stable (neighbouring tables stay neighbouring),
so applying it before a DP measurement costs no privacy and leaks nothing by itself.

Values that do not fit the schema are handled by one fixed rule (``coerce``), never by an error
that would reveal their existence to someone who is not allowed to see the data:

* numbers outside ``[lower, upper]`` (±inf included) are clipped to the nearest bound;
* a missing value (empty, NaN, None) or an unknown category becomes the column's ``<missing>``
  value when the column is nullable; otherwise the row is left out of the measurement.

Leaving a row out is also a row-wise operation (a filter), so it keeps the same privacy unit.
``strict`` mode instead raises on the first such value; it is for the data owner's own CLI runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from synthgen.errors import InvalidInputError, SchemaError
from synthgen.schema import GRANULARITIES, Column, PrivacyUnit, Schema, normalise_category

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class SchemaViolation(InvalidInputError):
    """A value of the table lies outside the declared schema (strict mode only)."""


@dataclass(frozen=True)
class EncodedTable:
    """Integer codes of the synthesized columns (one ``int64`` array each, all of equal length)."""

    codes: dict[str, np.ndarray]

    @property
    def columns(self) -> list[str]:
        return list(self.codes)


def check_columns_present(frame: pd.DataFrame, schema: Schema) -> None:
    """The table must have every synthesized column of the schema (identifier columns may be
    absent, as in released synthetic tables); extra columns are an error, because a column the
    schema does not describe would otherwise be silently ignored."""
    check_column_names([str(c) for c in frame.columns], schema)


def check_column_names(table_cols: list[str], schema: Schema) -> None:
    """:func:`check_columns_present` on the table's column names (for engines that never hold
    the table in pandas)."""
    missing = [c.name for c in schema.synthesized_columns if c.name not in table_cols]
    if missing:
        raise SchemaError(f"the table has no column {missing[0]!r} declared in the schema")
    extra = [n for n in table_cols if n not in schema.names]
    if extra:
        raise SchemaError(f"unknown column {extra[0]!r}: it is in the table but not in the schema")


def _factorized(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``(inverse, distinct values)`` with ``-1`` for missing rows, or None when pandas'
    factorize would merge values that ``normalise_category`` tells apart: ``True`` equals ``1``
    to factorize but normalises to ``"true"`` (``1`` and ``1.0`` both normalise to ``"1"``)."""
    arr = values.to_numpy()
    if arr.dtype == object and any(isinstance(v, (bool, np.bool_)) for v in arr):
        return None
    inverse, uniques = pd.factorize(arr, use_na_sentinel=True)
    return inverse, np.asarray(uniques, dtype=object)


def normalised(values: pd.Series) -> pd.Series:
    """``normalise_category`` of every value (object dtype, None for missing, ``values``' index),
    computed once per distinct value: a Python call per row costs seconds per column on large
    tables. The results are the row-wise ones exactly (see :func:`_factorized`)."""
    grouped = _factorized(values)
    if grouped is None:
        return values.map(normalise_category, na_action=None).astype(object)
    inverse, uniques = grouped
    out = np.array([normalise_category(u) for u in uniques] + [None], dtype=object)[inverse]
    missing = inverse < 0
    if missing.any():  # the kinds of missing value (None, NaN, NaT, pd.NA) normalise row by row
        out[missing] = [normalise_category(v) for v in values.to_numpy()[missing]]
    return pd.Series(out, index=values.index, dtype=object)


def _encode_categorical(col: Column, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    missing_code = len(col.categories or ()) if col.nullable else -1
    # every rule below is a row-wise map of the normalised value, so it is applied once per
    # distinct normalised value and spread back over the rows (index -1, a missing value, -> -3)
    inverse, distinct = pd.factorize(normalised(values).to_numpy(), use_na_sentinel=True)
    if col.code_list is not None:
        # a public grouping rule applied to each value on its own
        groups = [col.code_list.group_index(v) for v in distinct]
        distinct_codes = [-2 if g is None else g for g in groups]
    else:
        lookup = {normalise_category(c): i for i, c in enumerate(col.categories or ())}
        distinct_codes = [lookup.get(v, -2) for v in distinct]
    codes = np.append(np.asarray(distinct_codes, dtype=np.int64), -3)[inverse]
    if col.top_k is not None:
        # a selected top-k column: any present value outside the chosen ones is "other", its last
        # category (the categories are fixed, so this is still a row-wise map)
        codes = np.where(codes == -2, len(col.categories or ()) - 1, codes)
    valid = codes >= 0
    codes = np.where(valid, codes, missing_code)
    return codes, valid


def _encode_boolean(col: Column, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    def one(v) -> int:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return -3
        if isinstance(v, (bool, np.bool_)):
            return int(bool(v))
        text = str(v).strip().lower()
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
        if text == "":
            return -3
        return -2

    codes = np.fromiter((one(v) for v in values), dtype=np.int64, count=len(values))
    valid = codes >= 0
    return np.where(valid, codes, 2 if col.nullable else -1), valid


def _to_seconds(values: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    seconds = np.full(len(values), np.nan)
    ok = parsed.notna().to_numpy()
    seconds[ok] = parsed[ok].astype("int64").to_numpy() / 1e9
    return seconds


def _encode_binned(col: Column, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if col.kind == "datetime":
        numbers = _to_seconds(values)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    edges = col.edges()
    n_bins = len(edges) - 1
    present = ~np.isnan(numbers)
    clipped = np.clip(np.where(present, numbers, edges[0]), edges[0], edges[-1])
    interior = np.asarray(edges[1:-1], dtype=float)
    codes = np.searchsorted(interior, clipped, side="right").astype(np.int64)
    special = list(col.codes or ()) if col.kind == "numeric" else []
    missing_code = n_bins + len(special) if col.nullable else -1
    codes = np.where(present, codes, missing_code)
    if special:
        # codes such as "N" (not applicable) are values of their own, after the bins
        text = values.map(normalise_category, na_action=None)
        for j, code in enumerate(special):
            hit = (text == code).to_numpy()
            codes[hit] = n_bins + j
            present = present | hit
    return codes, present


def encode_column(col: Column, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of one column and a mask of which raw values fitted the schema as they were."""
    if col.kind == "categorical":
        return _encode_categorical(col, values)
    if col.kind == "boolean":
        return _encode_boolean(col, values)
    return _encode_binned(col, values)


def encode(frame: pd.DataFrame, schema: Schema, *, strict: bool = False) -> EncodedTable:
    """Encode the synthesized columns of ``frame`` under ``schema`` (see module docstring)."""
    schema.require_top_k_selected()
    check_columns_present(frame, schema)
    keep = np.ones(len(frame), dtype=bool)
    codes: dict[str, np.ndarray] = {}
    for col in schema.synthesized_columns:
        values = frame[col.name]
        col_codes, fitted = encode_column(col, values)
        if strict:
            if col.kind in ("numeric", "datetime"):
                nums = _to_seconds(values) if col.kind == "datetime" else pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
                edges = col.edges()
                outside = fitted & ((nums < edges[0]) | (nums > edges[-1]))
                if outside.any():
                    raise SchemaViolation(
                        f"column {col.name!r}: value outside the declared bounds [{col.lower}, {col.upper}]"
                    )
            bad = ~fitted
            if not col.nullable and bad.any():
                raise SchemaViolation(f"column {col.name!r}: value missing or outside the declared schema, and the column is not nullable")
            if col.kind in ("categorical", "boolean") and col.nullable:
                raw_missing = values.map(normalise_category).isna().to_numpy()
                if (bad & ~raw_missing).any():
                    raise SchemaViolation(f"column {col.name!r}: value not among the declared categories")
        keep &= col_codes >= 0
        codes[col.name] = col_codes
    return EncodedTable({name: c[keep] for name, c in codes.items()})


def _decode_binned(col: Column, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
    edges = np.asarray(col.edges(), dtype=float)
    n_bins = len(edges) - 1
    if col.kind == "numeric" and col.codes:
        return _decode_with_codes(col, codes, n_bins, rng)
    is_missing = codes >= n_bins
    safe = np.where(is_missing, 0, codes)
    if col.kind == "numeric" and col.integer:
        ranges = np.array([col.integer_range(i) for i in range(n_bins)], dtype=np.int64)
        lo, hi = ranges[safe, 0], ranges[safe, 1]
        values = lo + np.floor(rng.random(len(codes)) * (hi - lo + 1)).astype(np.int64)
        values = np.minimum(values, hi)
        if col.nullable:
            return pd.Series(pd.array(np.where(is_missing, 0, values), dtype="Int64")).mask(is_missing)
        return pd.Series(values, dtype="int64")
    lo, hi = edges[safe], edges[safe + 1]
    values = lo + rng.random(len(codes)) * (hi - lo)
    if col.kind == "datetime":
        step = GRANULARITIES[col.granularity or "second"]
        seconds = np.floor(values / step) * step
        out = pd.Series(pd.to_datetime(seconds.astype(np.int64), unit="s"))
        return out.mask(is_missing) if col.nullable else out
    values = np.clip(values, edges[0], edges[-1])
    return pd.Series(np.where(is_missing, np.nan, values), dtype="float64")


def _decode_with_codes(col: Column, codes: np.ndarray, n_bins: int, rng: np.random.Generator) -> pd.Series:
    """A mixed column comes back as it came in: text holding numbers or the declared codes (so
    that CSV and Parquet can hold it and it encodes back to the same codes), or missing."""
    from dataclasses import replace

    special = list(col.codes or ())
    in_bins = codes < n_bins
    plain = replace(col, codes=None, nullable=False)
    numbers = _decode_binned(plain, np.where(in_bins, codes, 0), rng).to_numpy()
    out: list[object] = []
    for code, number in zip(codes, numbers):
        if code < n_bins:
            out.append(str(int(number)) if col.integer else repr(float(number)))
        elif code < n_bins + len(special):
            out.append(special[code - n_bins])
        else:
            out.append(None)
    return pd.Series(out, dtype=object)


def _category_dtype(col: Column) -> str:
    cats = col.categories or ()
    if all(isinstance(c, int) and not isinstance(c, bool) for c in cats):
        return "Int64" if col.nullable else "int64"
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cats):
        return "float64"
    return "object"


def decode_column(col: Column, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
    codes = np.asarray(codes, dtype=np.int64)
    if col.kind == "categorical":
        cats = list(col.categories or ())
        is_missing = codes >= len(cats)
        dtype = _category_dtype(col)
        # one vectorised lookup, missing as an extra last slot: decoding millions of rows is fast
        safe = np.where(is_missing, len(cats), codes)
        if dtype == "object":
            lookup = np.empty(len(cats) + 1, dtype=object)
            lookup[: len(cats)] = cats
            return pd.Series(lookup[safe], dtype=object)
        numbers = np.asarray(list(cats) + [0], dtype="int64" if dtype in ("Int64", "int64") else "float64")[safe]
        if dtype == "Int64":
            return pd.Series(pd.arrays.IntegerArray(numbers, is_missing.copy()))
        if dtype == "float64":
            return pd.Series(np.where(is_missing, np.nan, numbers), dtype="float64")
        return pd.Series(numbers, dtype="int64")
    if col.kind == "boolean":
        if col.nullable:
            return pd.Series(pd.array([None if c >= 2 else bool(c) for c in codes], dtype="boolean"))
        return pd.Series(codes.astype(bool))
    return _decode_binned(col, codes, rng)


def fresh_tokens(column: str, n: int, rng: np.random.Generator) -> pd.Series:
    """Random tokens for an identifier column: they identify synthetic rows, never real people."""
    raw = rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)
    return pd.Series([f"syn-{int(v):016x}" for v in raw], dtype=object)


def in_schema_order(schema: Schema, n: int, rng: np.random.Generator,
                    synthesized: Callable[[Column], pd.Series]) -> pd.DataFrame:
    """A table of ``n`` rows with the schema's columns in order: ``synthesized(col)`` for each
    synthesized column; identifier columns dropped or filled with fresh tokens, as declared."""
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if not col.synthesized:
            if col.identifier_output == "token":
                out[col.name] = fresh_tokens(col.name, n, rng)
            continue
        out[col.name] = synthesized(col).reset_index(drop=True)
    return pd.DataFrame(out)


def decode(codes: dict[str, np.ndarray], schema: Schema, rng: np.random.Generator) -> pd.DataFrame:
    """Turn sampled codes back into a table with the schema's columns, order and dtypes.

    Numeric values are drawn uniformly inside their bin (integers among the bin's integers),
    datetimes likewise then floored to the granularity; identifier columns are dropped or
    filled with fresh random tokens. All of this randomness is non-DP and comes from ``rng``.
    """
    n = len(next(iter(codes.values()))) if codes else 0
    return in_schema_order(schema, n, rng, lambda col: decode_column(col, codes[col.name], rng))


@dataclass(frozen=True)
class BoundedRows:
    """The table after the person-level bound, and how many rows the bound set aside.

    The two counts are exact statistics of the private table: they are for the data owner and
    the privacy officers reviewing the dataset only, and must never reach a model file, a
    manifest, an ML-team card or a log line.
    """

    frame: pd.DataFrame
    rows_over_limit: int  # rows beyond max_rows of their person
    rows_without_person: int  # rows whose person id is missing (left out, never pooled)

    @property
    def rows_set_aside(self) -> int:
        return self.rows_over_limit + self.rows_without_person


def bound_rows_per_person(frame: pd.DataFrame, unit: PrivacyUnit) -> BoundedRows:
    """Keep at most ``unit.max_rows`` rows per person, before anything is measured.

    The first rows of each person in table order are kept. Which rows of one person are kept
    depends only on that person's own rows, so adding or removing a person changes at most
    ``max_rows`` rows of the result: exactly the symmetric distance the accounting declares.

    Rows whose person id is missing (None, NaN, empty) are left out. Pooling them as one
    "person" would break the bound: which of the pooled rows are kept would depend on other
    people's rows, so adding one person could swap a kept row for another (a distance of 2 where
    OpenDP is told 1). Treating each as its own person would be unsound too, since nothing
    says the rows are not one person's. Leaving them out is a row-wise filter on the person's
    own data, so the declared distance still holds.
    """
    if unit.person_column is None:
        return BoundedRows(frame, 0, 0)
    person = frame[unit.person_column].map(normalise_category).reset_index(drop=True)
    identified = person.notna().to_numpy()
    rank = np.zeros(len(person), dtype=np.int64)
    rank[identified] = person[identified].groupby(person[identified], sort=False).cumcount().to_numpy()
    within = identified & (rank < unit.max_rows)
    return BoundedRows(
        frame=frame[within],
        rows_over_limit=int((identified & ~within).sum()),
        rows_without_person=int((~identified).sum()),
    )


def bound_contributions(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The table under the schema's person-level bound (see :func:`bound_rows_per_person`)."""
    return bound_rows_per_person(frame, schema.privacy_unit).frame
