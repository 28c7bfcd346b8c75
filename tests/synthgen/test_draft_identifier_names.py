"""Names that look like identifiers (``*_id``, ``*_nbr``) are decided by content: codes stay
categorical attributes, repeated identifiers become the proposed person column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.draft import DEFAULT_PERSON_MAX_ROWS, draft_schema_with_report

N = 600


def _table() -> pd.DataFrame:
    i = np.arange(N)
    return pd.DataFrame({
        "encounter_id": i * 7 + 1000,                     # unique: a row identifier
        "patient_nbr": (i // 3) * 11 + 500,               # each person 3 rows: a repeated identifier
        "admission_type_id": (i * 5) % 8 + 1,             # 8 integer codes over 600 rows
        "discharge_disposition_id": (i * 7) % 26 + 1,     # 26 codes: more than SMALL_INTEGER_DOMAIN
        "ward_id": pd.Series([f"W{k % 5}" for k in i], dtype=object),  # 5 text codes
        "user_email": pd.Series([f"u{k % 4}@x.org" for k in i], dtype=object),  # few values, still PII
        "age": (i * 13) % 90,
    })


def _draft():
    schema, decisions = draft_schema_with_report(_table(), name="t")
    return schema, {d.column: d for d in decisions}


def test_low_cardinality_id_named_columns_are_coded_attributes():
    schema, why = _draft()
    for name, k in (("admission_type_id", 8), ("discharge_disposition_id", 26)):
        col = schema.column(name)
        assert (col.role, col.kind) == ("attribute", "categorical"), name
        assert len(col.categories) == k and col.read_from_data == ("categories",)
        text = " ".join(why[name].reasons)
        assert "looks like an identifier" in text and f"{k} distinct" in text
    ward = schema.column("ward_id")
    assert (ward.role, ward.kind) == ("attribute", "categorical") and len(ward.categories) == 5
    assert schema.column("encounter_id").role == "identifier"
    assert schema.column("user_email").role == "identifier"


def test_repeated_identifier_is_the_proposed_person_column():
    schema, why = _draft()
    assert schema.column("patient_nbr").role == "identifier"
    assert schema.privacy_unit.person_column == "patient_nbr"
    # the default bound, not the data's per-person count (3 here)
    assert schema.privacy_unit.max_rows == DEFAULT_PERSON_MAX_ROWS != 3
    d = why["patient_nbr"]
    assert d.needs_attention and "person column" in d.decision
    text = " ".join(d.reasons)
    assert "not read off the data" in text and f"{N // 3} of {N} rows would be set aside" in text
    assert why["encounter_id"].decision == "identifier (never synthesized)"


def test_no_person_column_without_a_repeated_identifier():
    schema, _ = draft_schema_with_report(_table().drop(columns=["patient_nbr"]), name="t")
    assert schema.privacy_unit.person_column is None and schema.privacy_unit.max_rows == 1
