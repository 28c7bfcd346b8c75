import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from synthgen.errors import SchemaError
from synthgen.schema import Column, PrivacyUnit, Schema, from_sdv_metadata

from tests.synthgen.helpers import DATASETS


def test_shipped_schemas_load_and_are_reviewed():
    for name in ("adult", "titanic"):
        schema = Schema.load(DATASETS / f"{name}.schema.json")
        assert not schema.derived_from_private_data
        assert schema.synthesized_columns
    titanic = Schema.load(DATASETS / "titanic.schema.json")
    assert set(titanic.with_role("identifier")) == {"PassengerId", "Name", "Ticket", "Cabin"}


def test_json_round_trip_and_fingerprint_of_shipped_schema():
    schema = Schema.load(DATASETS / "adult.schema.json")
    again = Schema.from_json(schema.to_json())
    assert again == schema
    assert again.fingerprint() == schema.fingerprint()
    changed = schema.replace_column(Column(name="sex", kind="categorical", categories=("F", "M")))
    assert changed.fingerprint() != schema.fingerprint()


# column names are visible text: control and direction-changing characters are refused
names = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp")), min_size=1,
                max_size=12).filter(lambda s: s.strip())


@st.composite
def columns(draw, name):
    kind = draw(st.sampled_from(["categorical", "numeric", "boolean", "datetime"]))
    nullable = draw(st.booleans())
    role = draw(st.sampled_from(["quasi_identifier", "sensitive", "attribute"]))
    if kind == "categorical":
        cats = draw(st.lists(st.one_of(st.text(min_size=1, max_size=5), st.integers(-5, 5)), min_size=1, max_size=6, unique_by=lambda v: str(v)))
        cats = [c for c in cats if str(c).strip() != ""] or ["a"]
        return Column(name=name, kind=kind, role=role, nullable=nullable, categories=tuple(cats))
    if kind == "numeric":
        lower = draw(st.integers(-1000, 1000))
        width = draw(st.integers(2, 1000))
        cuts = sorted(set(draw(st.lists(st.integers(lower + 1, lower + width - 1), max_size=5))))
        return Column(name=name, kind=kind, role=role, nullable=nullable, lower=lower, upper=lower + width, cuts=tuple(cuts), integer=True)
    if kind == "datetime":
        return Column(name=name, kind=kind, nullable=nullable, lower="2020-01-01", upper="2021-01-01", cuts=("2020-06-01",), granularity="day")
    return Column(name=name, kind=kind, role=role, nullable=nullable)


@st.composite
def schemas(draw):
    col_names = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    return Schema(columns=tuple(draw(columns(n)) for n in col_names), name=draw(names))


@given(schemas())
@settings(max_examples=60, deadline=None)
def test_schema_json_round_trip_property(schema):
    assert Schema.from_json(schema.to_json()) == schema


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="x", kind="numeric", lower=5, upper=1), "lower (5) must be less than upper (1)"),
        (dict(name="x", kind="numeric", lower=0, upper=10, cuts=(5, 3)), "strictly increasing"),
        (dict(name="x", kind="numeric", lower=0, upper=math.inf), "must be finite"),
        (dict(name="x", kind="categorical"), "categories must list at least one value"),
        (dict(name="x", kind="categorical", categories=("a", "a")), "listed twice"),
        (dict(name="x", kind="categorical", categories=("a", "")), "must not be empty"),
        (dict(name="x", kind="text"), "kind ('text') must be one of"),
        (dict(name="x", kind="boolean", role="secret"), "role ('secret') must be one of"),
        (dict(name="x", kind="numeric", lower=0, upper=2, cuts=(1,), integer=True), None),
        (dict(name="x", kind="numeric", lower=0, upper=3, cuts=(1.2, 1.5), integer=True), "contains no integer"),
        (dict(name="x", kind="datetime", lower="2020-01-01", upper="2021-01-01"), "granularity"),
        (dict(name="x", kind="datetime", lower="yesterday", upper="2021-01-01", granularity="day"), "ISO-8601"),
    ],
)
def test_column_validation_messages(kwargs, message):
    if message is None:
        Column(**kwargs)
        return
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Column(**kwargs)


def test_schema_level_validation():
    a = Column(name="a", kind="boolean")
    with pytest.raises(SchemaError, match="repeated"):
        Schema(columns=(a, a))
    with pytest.raises(SchemaError, match="role other than identifier"):
        Schema(columns=(Column(name="id", kind="categorical", role="identifier"),))
    with pytest.raises(SchemaError, match="must have role identifier"):
        Schema(columns=(a, Column(name="p", kind="categorical", categories=("x",))), privacy_unit=PrivacyUnit("p", 3))
    with pytest.raises(SchemaError, match="max_rows"):
        PrivacyUnit(None, 3)
    with pytest.raises(SchemaError, match="unknown field"):
        Schema.from_dict({"columns": [{"name": "a", "kind": "boolean", "colour": "red"}]})
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema.from_json("{")


def test_integer_bins_follow_the_documented_convention():
    col = Column(name="n", kind="numeric", lower=1, upper=16, cuts=tuple(range(2, 17)), integer=True)
    assert col.integer_range(0) == (1, 1)
    assert col.integer_range(14) == (15, 15)
    assert col.integer_range(15) == (16, 16)
    assert col.cardinality == 16


def test_sdv_metadata_import():
    meta = {
        "columns": {
            "id": {"sdtype": "id"},
            "age": {"sdtype": "numerical", "computer_representation": "Int64", "synthgen": {"lower": 0, "upper": 100, "cuts": [18, 65]}},
            "sex": {"sdtype": "categorical", "synthgen": {"categories": ["F", "M"]}},
            "ok": {"sdtype": "boolean"},
        },
        "primary_key": "id",
    }
    schema = Schema.from_dict(meta)
    assert schema.column("id").role == "identifier"
    assert schema.column("age").integer and schema.column("age").cuts == (18, 65)
    with pytest.raises(SchemaError, match="no public categories or bounds for: sex"):
        from_sdv_metadata({"columns": {"sex": {"sdtype": "categorical"}}})
    json.dumps(schema.to_dict())
