"""The per-distinct-value shortcuts give exactly the row-wise results."""

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from evaluation.values import encode, normalised
from synthgen.encoding import encode_column
from synthgen.schema import Column, normalise_category

MESSY = st.one_of(
    st.none(), st.just(float("nan")), st.just(pd.NA), st.booleans(), st.integers(-3, 3),
    st.sampled_from([1.0, 2.5, -0.0, 0.1]), st.sampled_from(["1", "a", "", "None", "nan", "true", "2.5"]),
    st.sampled_from([np.int64(1), np.float64(2.5), np.bool_(True)]),
)


def _same(a, b) -> bool:
    return all((x is None and y is None) or x == y for x, y in zip(a, b)) and len(a) == len(b)


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=30))
def test_normalised_equals_row_wise(values):
    series = pd.Series(values, dtype=object, index=np.arange(len(values)) + 7)
    assert _same(list(normalised(series)), [normalise_category(v) for v in values])


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=30), st.booleans())
def test_encode_equals_encode_column(values, nullable):
    col = Column(name="x", kind="categorical", nullable=nullable, categories=("1", "a", "2.5", "true"))
    series = pd.Series(values, dtype=object)
    codes, fitted = encode(col, series)
    want_codes, want_fitted = encode_column(col, series)
    assert codes.tolist() == want_codes.tolist() and fitted.tolist() == want_fitted.tolist()


def test_typed_columns_and_code_lists():
    ints = pd.Series([3, 1, 3, 2] * 5)
    assert list(normalised(ints)) == [normalise_category(v) for v in ints]
    floats = pd.Series([1.0, math.nan, 2.5, 1.0])
    assert list(normalised(floats)) == ["1", None, "2.5", "1"]
    col = Column.from_dict({"name": "d", "kind": "categorical", "nullable": True, "code_list": "icd9-cm-chapters"})
    diag = pd.Series(["250.83", "V57", "?", None, "250.83", "8"], dtype=object)
    got, want = encode(col, diag), encode_column(col, diag)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
