import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from synthgen.encoding import SchemaViolation, bound_contributions, decode, encode
from synthgen.schema import Column, PrivacyUnit, Schema

from tests.synthgen.helpers import titanic

AGE = Column(name="age", kind="numeric", lower=0, upper=100, cuts=(18, 65), integer=True)
SEX = Column(name="sex", kind="categorical", categories=("F", "M"), nullable=True)
WHEN = Column(name="when", kind="datetime", lower="2020-01-01", upper="2021-01-01", cuts=("2020-07-01",), granularity="day")
FLAG = Column(name="flag", kind="boolean")
SCHEMA = Schema(columns=(AGE, SEX, WHEN, FLAG))


def test_bins_are_right_open_with_a_closed_last_bin():
    frame = pd.DataFrame({"age": [0, 17, 18, 64, 65, 100, 250, -5], "sex": ["F"] * 8, "when": ["2020-03-01"] * 8, "flag": [True] * 8})
    codes = encode(frame, SCHEMA).codes["age"]
    assert codes.tolist() == [0, 0, 1, 1, 2, 2, 2, 0]  # out-of-range values are clipped


def test_unknown_categories_and_missing_values_follow_the_coerce_rule():
    frame = pd.DataFrame({
        "age": [30, 30, np.nan, 30], "sex": ["F", "X", None, ""], "when": ["2020-03-01"] * 4, "flag": [True, "yes", False, "no"],
    })
    encoded = encode(frame, SCHEMA)
    # the NaN age row is left out (age is not nullable); novel/missing sex become <missing> (code 2)
    assert encoded.codes["sex"].tolist() == [0, 2, 2]
    assert encoded.codes["flag"].tolist() == [1, 1, 0]


def test_strict_mode_names_the_column():
    frame = pd.DataFrame({"age": [30], "sex": ["X"], "when": ["2020-03-01"], "flag": [True]})
    with pytest.raises(SchemaViolation, match="column 'sex'"):
        encode(frame, SCHEMA, strict=True)
    frame = pd.DataFrame({"age": [300], "sex": ["F"], "when": ["2020-03-01"], "flag": [True]})
    with pytest.raises(SchemaViolation, match="outside the declared bounds"):
        encode(frame, SCHEMA, strict=True)


def test_extra_or_missing_columns_are_refused():
    with pytest.raises(Exception, match="unknown column 'zip'"):
        encode(pd.DataFrame({"age": [1], "sex": ["F"], "when": ["2020-01-02"], "flag": [True], "zip": [1]}), SCHEMA)
    with pytest.raises(Exception, match="no column 'flag'"):
        encode(pd.DataFrame({"age": [1], "sex": ["F"], "when": ["2020-01-02"]}), SCHEMA)


@given(st.lists(st.integers(0, 2), min_size=1, max_size=50), st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_decode_stays_inside_the_bins_and_reencodes_to_the_same_codes(age_codes, seed):
    n = len(age_codes)
    codes = {"age": np.array(age_codes), "sex": np.array([i % 3 for i in range(n)]), "when": np.array([i % 2 for i in range(n)]), "flag": np.array([i % 2 for i in range(n)])}
    frame = decode(codes, SCHEMA, np.random.default_rng(seed))
    assert frame["age"].dtype == np.int64
    assert frame["sex"].isna().tolist() == [i % 3 == 2 for i in range(n)]
    again = encode(frame, SCHEMA)
    for name in ("age", "sex", "when", "flag"):
        assert again.codes[name].tolist() == codes[name].tolist()


def test_identifier_columns_become_fresh_tokens_or_disappear():
    frame, schema = titanic()
    encoded = encode(frame, schema)
    assert set(encoded.codes) == {c.name for c in schema.synthesized_columns}
    out = decode(encoded.codes, schema, np.random.default_rng(0))
    assert "Name" not in out.columns and "Ticket" not in out.columns
    assert out["PassengerId"].str.startswith("syn-").all()
    assert not set(out["PassengerId"]) & set(frame["PassengerId"].astype(str))


def test_contributions_are_bounded_per_person():
    schema = Schema(
        columns=(Column(name="pid", kind="categorical", role="identifier"), FLAG),
        privacy_unit=PrivacyUnit("pid", 2),
    )
    frame = pd.DataFrame({"pid": ["a"] * 5 + ["b"] * 1 + ["c"] * 3, "flag": [True] * 9})
    kept = bound_contributions(frame, schema)
    assert kept["pid"].value_counts().to_dict() == {"a": 2, "b": 1, "c": 2}
