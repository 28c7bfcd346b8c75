"""Schema drafting on small constructed tables, the recorded review, and `schema check`."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from synthgen.codelists import builtin_code_lists
from synthgen.draft import draft_schema, draft_schema_with_report
from synthgen.encoding import decode, encode
from synthgen.errors import SchemaError
from synthgen.review import review_schema, review_with_log, schema_problems, table_problems
from synthgen.schema import Column, Schema

from .helpers import DATASETS

N = 400
DIAG = ["250.01", "428", "V57", "E888", "8", "414.01", "786", "996.5"] + [str(150 + 3 * k) for k in range(20)]


def _table() -> pd.DataFrame:
    i = np.arange(N)
    income = [str(v) if v % 7 else "N" for v in (i * 37) % 9000]  # numbers plus the code N
    return pd.DataFrame({
        "patient_nbr": (i // 2) * 13 + 100000,           # integers, 50% distinct, record-number name
        "serial": i * 3 + 7,                              # unnamed near-unique integers
        "first-name": (i * 11) % 40,                      # integer-coded first names
        "admission_type_code": (i * 7) % 30,              # 30 integer codes: more than 20
        "income": pd.Series(income, dtype=object),
        "diag_1": pd.Series([DIAG[k % len(DIAG)] for k in i], dtype=object),  # 28 ICD-9-CM codes
        "sex": pd.Series(["F", "M"] * (N // 2), dtype=object),
        "age": (i * 13) % 90,
    })


def _decisions():
    schema, decisions = draft_schema_with_report(_table(), name="t")
    return schema, {d.column: d for d in decisions}


def test_identifiers_are_found_by_content_and_name():
    schema, why = _decisions()
    for name in ("patient_nbr", "serial", "first-name"):
        assert schema.column(name).role == "identifier", name
        assert why[name].reasons, name
    assert "near-unique" in " ".join(why["serial"].reasons)
    assert schema.column("age").role == "attribute"


def test_mixed_column_is_a_nullable_numeric_that_keeps_its_codes():
    schema, why = _decisions()
    col = schema.column("income")
    assert col.kind == "numeric" and col.role == "attribute"
    assert col.codes == ("N",)
    assert set(col.read_from_data) == {"lower", "upper", "cuts", "codes"}
    assert "'N'" in " ".join(why["income"].reasons) and why["income"].needs_attention
    frame = _table()
    encoded = encode(frame, replace(schema, derived_from_private_data=False))
    n_bins = len(col.cuts) + 1
    is_code = (frame["income"] == "N").to_numpy()
    assert (encoded.codes["income"][is_code] == n_bins).all()
    assert (encoded.codes["income"][~is_code] < n_bins).all()
    back = decode({c: encoded.codes[c] for c in encoded.columns}, schema, np.random.default_rng(0))["income"]
    assert (back[is_code] == "N").all()
    assert all(isinstance(v, str) and col.lower <= int(v) <= col.upper for v in back[~is_code])


def test_integer_codes_stay_categorical_with_their_values_marked():
    schema, _ = _decisions()
    col = schema.column("admission_type_code")
    assert col.kind == "categorical" and len(col.categories) == 30
    assert col.read_from_data == ("categories",)
    assert schema.column("sex").read_from_data == ("categories",)


def test_icd9_codes_use_the_public_chapter_list_and_read_nothing_off_the_data():
    schema, _ = _decisions()
    col = schema.column("diag_1")
    assert col.code_list is builtin_code_lists()["icd9-cm-chapters"]
    assert col.read_from_data == ()
    encoded = encode(_table(), replace(schema, derived_from_private_data=False)).codes["diag_1"]
    labels = [col.categories[c] for c in encoded[:8]]
    assert labels[0].startswith("240-279") and labels[1].startswith("390-459") and labels[2].startswith("V01")
    assert labels[3].startswith("E000") and labels[4].startswith("001-139") and labels[7].startswith("800-999")


def test_inline_code_list_round_trips_and_rejects_bad_groups():
    col = Column.from_dict({"name": "age_band", "kind": "categorical", "code_list": {
        "name": "bands", "groups": [{"label": "child", "range": [0, 17]}, {"label": "adult", "range": [18, 120]}]}})
    assert col.categories == ("child", "adult")
    assert Column.from_dict(col.to_dict()) == col
    with pytest.raises(SchemaError, match="exactly one of 'prefix' or 'range'"):
        Column.from_dict({"name": "x", "kind": "categorical", "code_list": {"groups": [{"label": "a"}]}})
    with pytest.raises(SchemaError, match="built-in lists"):
        Column.from_dict({"name": "x", "kind": "categorical", "code_list": "icd-11"})


def test_existing_schemas_load_unchanged():
    for path in DATASETS.glob("*.schema.json"):
        raw = json.loads(path.read_text())
        schema = Schema.load(path)
        assert schema.to_dict() == {**raw, "schema_version": raw.get("schema_version", 1)}
        assert schema.unconfirmed_data_reads() == {}


def _edited(draft: Schema) -> Schema:
    """The owner's edit: public bounds for age and income, the documented 40 codes for admission."""
    age, income = draft.column("age"), draft.column("income")
    return (
        replace(draft, derived_from_private_data=False)
        .replace_column(replace(age, lower=0, upper=120, cuts=(18, 30, 45, 65)))
        .replace_column(replace(income, lower=0, upper=10000, cuts=(1000, 5000)))
        .replace_column(replace(draft.column("admission_type_code"), categories=tuple(range(40))))
    )


NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def test_review_refuses_unconfirmed_values_and_lists_them_all():
    draft = draft_schema(_table(), name="t")
    with pytest.raises(SchemaError) as err:
        review_schema(draft, _edited(draft), reviewer="owner", now=NOW)
    listed = str(err.value).split(": ", 1)[1].split(". Replace")[0].split("; ")
    # age's public lower bound equals the one read off the data (0), so it still needs confirming
    assert sorted(listed) == ["age (lower)", "income (codes)", "sex (categories)"]
    assert str(err.value).startswith("3 value(s)")


def test_review_records_who_when_and_what_changed():
    draft = draft_schema(_table(), name="t")
    reviewed, log = review_with_log(draft, _edited(draft), reviewer="owner", confirm=["sex", "income", "age"], now=NOW)
    record = reviewed.review
    assert record.reviewer == "owner" and record.reviewed_at == NOW.isoformat(timespec="seconds")
    assert record.confirmed == {"sex": ("categories",), "income": ("codes",), "age": ("lower",)}
    assert record.replaced == {"age": ("upper", "cuts"), "income": ("lower", "upper", "cuts"), "admission_type_code": ("categories",)}
    changed = {(c["column"], c["field"]) for c in log["changes"]}
    assert ("age", "lower") not in changed
    assert {("age", "upper"), ("age", "cuts"), ("income", "upper"), ("admission_type_code", "categories")} <= changed
    assert log["draft_fingerprint"] == draft.content_fingerprint()
    assert reviewed.column("age").read_from_data == ("lower",)
    assert reviewed.unconfirmed_data_reads() == {}
    reviewed.require_reviewed()
    again = Schema.from_json(reviewed.to_json())
    assert again == reviewed and again.unconfirmed_data_reads() == {}


def test_the_reviewed_schema_does_not_depend_on_the_private_rows_it_replaced():
    """Neighbouring tables (one row differs: a new category and an extreme age) give different
    drafts; after the same public edit the reviewed schemas, which are published, are identical."""
    table = _table()
    neighbour = table.copy()
    neighbour.loc[0, "sex"] = "X"
    neighbour.loc[0, "age"] = 119
    drafts = [draft_schema(t, name="t") for t in (table, neighbour)]
    assert drafts[0].column("sex") != drafts[1].column("sex") and drafts[0].column("age") != drafts[1].column("age")

    def edit(draft: Schema) -> Schema:
        public = _edited(draft).replace_column(replace(draft.column("sex"), categories=("F", "M", "X", "U")))
        return public.replace_column(replace(public.column("age"), lower=0, upper=120, cuts=(18, 30, 45, 65)))

    reviewed = [review_schema(d, edit(d), reviewer="owner", confirm=["income", "age"], now=NOW).to_json() for d in drafts]
    assert "draft" not in reviewed[0]
    assert reviewed[0] == reviewed[1]


def test_editing_after_the_review_voids_it():
    draft = draft_schema(_table(), name="t")
    reviewed = review_schema(draft, _edited(draft), reviewer="owner", confirm=["sex", "income", "age"], now=NOW)
    tampered = reviewed.replace_column(replace(reviewed.column("sex"), categories=("F", "M", "X")))
    assert tampered.unconfirmed_data_reads() == {"income": ("codes",), "sex": ("categories",), "age": ("lower",)}
    with pytest.raises(SchemaError, match="no recorded review confirmed: income"):
        tampered.require_reviewed()
    # clearing the flag by hand is not a review either
    with pytest.raises(SchemaError, match="no recorded review confirmed"):
        replace(draft, derived_from_private_data=False).require_reviewed()


def test_schema_check_lists_every_problem_with_counts():
    data = {"columns": [
        {"name": "a", "kind": "numeric", "lower": 5, "upper": 1},
        {"name": "b", "kind": "categorical", "categories": []},
        {"name": "c", "kind": "categorical", "categories": ["x"]},
    ]}
    schema, problems = schema_problems(data)
    assert schema is None and [p.where for p in problems] == ["column 'a'", "column 'b'"]
    schema = Schema(columns=(
        Column(name="n", kind="numeric", lower=0, upper=10, cuts=(5,)),
        Column(name="c", kind="categorical", categories=("x", "y")),
    ))
    frame = pd.DataFrame({"n": [1, 20, 30, -1, None], "c": ["x", "z", "z", "z", None], "extra": 1})
    found = {(p.where, p.message.split(" (")[0].split(";")[0], p.count) for p in table_problems(frame, schema)}
    assert ("column 'extra'", "in the table but not in the schema", None) in found
    assert ("column 'n'", "values above upper", 2) in found
    assert ("column 'n'", "values below lower", 1) in found
    assert ("column 'n'", "missing values in a column that is not nullable", 1) in found
    assert ("column 'c'", "values that are not among the categories", 3) in found


@pytest.mark.slow
def test_cli_draft_review_check_and_fit(tmp_path):
    data = tmp_path / "t.csv"
    _table().to_csv(data, index=False)
    run = lambda *a: subprocess.run([sys.executable, "-m", "synthgen.cli", *map(str, a)], capture_output=True, text=True)
    out = run("schema", "draft", data, "-o", tmp_path / "draft.json", "--report", tmp_path / "report.json")
    assert out.returncode == 0, out.stderr
    assert "! income: numeric with codes" in out.stderr
    report = {r["column"]: r for r in json.loads((tmp_path / "report.json").read_text())}
    assert report["patient_nbr"]["decision"].startswith("identifier")
    check = run("schema", "check", tmp_path / "draft.json")
    assert check.returncode == 2 and check.stdout.count("problem:") >= 4
    draft = Schema.load(tmp_path / "draft.json")
    _edited(draft).save(tmp_path / "edited.json")
    refused = run("fit", data, "--schema", tmp_path / "edited.json", "--rho", "0.5", "-o", tmp_path / "m.zip")
    assert refused.returncode == 2 and "no recorded review confirmed" in refused.stderr
    rev = run("schema", "review", tmp_path / "edited.json", "--draft", tmp_path / "draft.json", "--reviewer", "owner",
              "--confirm", "sex", "--confirm", "income", "--confirm", "age", "-o", tmp_path / "reviewed.json",
              "--log", tmp_path / "review-log.json")
    assert rev.returncode == 0, rev.stderr
    assert json.loads((tmp_path / "review-log.json").read_text())["changes"]
    check = run("schema", "check", tmp_path / "reviewed.json", "--data", data)
    assert check.returncode == 0 and "ok" in check.stdout, check.stdout
    fitted = run("fit", data, "--schema", tmp_path / "reviewed.json", "--rho", "0.5", "-o", tmp_path / "m.zip")
    assert fitted.returncode == 0, fitted.stderr
    sampled = run("sample", tmp_path / "m.zip", "--rows", "300", "--seed", "1", "-o", tmp_path / "s.csv")
    assert sampled.returncode == 0, sampled.stderr
    synth = pd.read_csv(tmp_path / "s.csv", dtype=str, keep_default_na=False)
    assert "N" in set(synth["income"])
    # diag_1 holds chapter labels (its <missing> slot may get a few rows from the DP noise)
    chapters = synth["diag_1"][synth["diag_1"] != ""]
    assert len(chapters) > 0.5 * len(synth) and chapters.str.contains(" ").all()
    assert set(chapters) <= set(builtin_code_lists()["icd9-cm-chapters"].labels)
