"""Hostile text in names and notes: right-to-left overrides, zero-width characters, 50 MB notes."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from app.core.uploads import UploadLimits, UploadRejected, validate_upload
from synthgen.errors import SchemaError
from synthgen.schema import Schema

RLO = "\u202e"
HOSTILE_NAMES = [f"salary{RLO}txt.exe", "a\u200db", "\ufeffage", "x\u2028y", "tab\tname", "nul\x00"]


def _schema(**overrides) -> dict:
    data = {"schema_version": 1, "name": "t", "columns": [{"name": "sex", "kind": "categorical",
                                                            "role": "quasi_identifier", "nullable": False,
                                                            "categories": ["female", "male"]}]}
    data.update(overrides)
    return data


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_csv_header_with_invisible_characters_is_rejected(name):
    data = f'"{name}",b\n1,2\n'.encode()
    with pytest.raises(UploadRejected) as info:
        validate_upload("t.csv", data, UploadLimits())
    assert info.value.reason == ("binary" if "\x00" in name else "invisible_characters")


def test_parquet_column_with_rtl_override_is_rejected():
    buf = io.BytesIO()
    pd.DataFrame({f"name{RLO}gpj": [1, 2], "b": [3, 4]}).to_parquet(buf)
    with pytest.raises(UploadRejected) as info:
        validate_upload("t.parquet", buf.getvalue(), UploadLimits())
    assert info.value.reason == "invisible_characters" and RLO not in str(info.value)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_schema_column_names_with_invisible_characters_are_rejected(name):
    data = _schema()
    data["columns"][0]["name"] = name
    with pytest.raises(SchemaError, match="column name"):
        Schema.from_dict(data)


def test_schema_notes_of_50_mb_are_rejected():
    with pytest.raises(SchemaError, match="notes"):
        Schema.from_dict(_schema(notes="x" * (50 * 1024 * 1024)))
    assert Schema.from_dict(_schema(notes="reviewed by the data owner, bounds from the codebook")).notes


def test_ordinary_unicode_names_still_pass():
    data = _schema()
    data["columns"][0]["name"] = "âge (années) — Größe"
    assert Schema.from_dict(data).names == ["âge (années) — Größe"]
