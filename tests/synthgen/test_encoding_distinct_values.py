"""Normalising and encoding once per distinct value give exactly the row-wise results.

The reference below applies the encoding rules to one value at a time, as they are written in
the schema: normalise, then the code list or the category lookup, unknown values to the top-k
"other" or outside the schema, missing values to the missing code."""

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from synthgen.encoding import encode_column, normalised
from synthgen.schema import Column, normalise_category

MESSY = st.one_of(
    st.none(), st.just(float("nan")), st.just(pd.NA), st.booleans(), st.integers(-3, 3),
    st.sampled_from([1.0, 2.5, -0.0, 0.1]), st.sampled_from(["1", "a", "", "None", "nan", "true", "2.5"]),
    st.sampled_from([np.int64(1), np.float64(2.5), np.bool_(True)]),
)


def _row_wise(col: Column, values: list) -> tuple[list[int], list[bool]]:
    lookup = {normalise_category(c): i for i, c in enumerate(col.categories or ())}
    missing_code = len(col.categories or ()) if col.nullable else -1
    codes, fitted = [], []
    for value in values:
        norm = normalise_category(value)
        if norm is None:
            code = -3
        elif col.code_list is not None:
            group = col.code_list.group_index(norm)
            code = -2 if group is None else group
        else:
            code = lookup.get(norm, -2)
        if code == -2 and col.top_k is not None:
            code = len(col.categories) - 1
        codes.append(code if code >= 0 else missing_code)
        fitted.append(code >= 0)
    return codes, fitted


def _same(a, b) -> bool:
    return all((x is None and y is None) or x == y for x, y in zip(a, b)) and len(a) == len(b)


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=30))
def test_normalised_equals_row_wise(values):
    series = pd.Series(values, dtype=object, index=np.arange(len(values)) + 7)
    assert _same(list(normalised(series)), [normalise_category(v) for v in values])


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=30), st.booleans())
def test_encode_column_equals_row_wise(values, nullable):
    col = Column(name="x", kind="categorical", nullable=nullable, categories=("1", "a", "2.5", "true"))
    codes, fitted = encode_column(col, pd.Series(values, dtype=object))
    assert (codes.tolist(), fitted.tolist()) == _row_wise(col, values)


def test_typed_columns_and_code_lists():
    ints = pd.Series([3, 1, 3, 2] * 5)
    assert list(normalised(ints)) == [normalise_category(v) for v in ints]
    floats = pd.Series([1.0, math.nan, 2.5, 1.0])
    assert list(normalised(floats)) == ["1", None, "2.5", "1"]
    col = Column.from_dict({"name": "d", "kind": "categorical", "nullable": True, "code_list": "icd9-cm-chapters"})
    diag = pd.Series(["250.83", "V57", "?", None, "250.83", "8"], dtype=object)
    codes, fitted = encode_column(col, diag)
    assert (codes.tolist(), fitted.tolist()) == _row_wise(col, list(diag))


@settings(max_examples=100, deadline=None)
@given(st.lists(MESSY, max_size=30))
def test_selected_top_k_column_equals_row_wise(values):
    from synthgen.topk import OTHER_LABEL, TopK

    selected = TopK(k=2, rho=0.01, delta=1e-9, epsilon=0.5)  # as select_top_k records it
    col = Column(name="x", kind="categorical", nullable=True, categories=("1", "a", OTHER_LABEL), top_k=selected)
    codes, fitted = encode_column(col, pd.Series(values, dtype=object))
    assert (codes.tolist(), fitted.tolist()) == _row_wise(col, values)
