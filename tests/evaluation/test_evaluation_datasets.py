"""The shipped wide, person-level table (Diabetes 130-US hospitals) and its reviewed schema, on
small samples: it reads, every value fits the schema, the person column bounds contributions,
the ICD-9 columns come out as chapters, and a 48-column evaluation runs end to end."""

import numpy as np
import pytest

from evaluation import evaluate
from synthgen.encoding import bound_rows_per_person, encode, encode_column
from synthgen.io import read_table
from synthgen.schema import Schema

from tests.evaluation.conftest import ROOT


@pytest.fixture(scope="module")
def diabetes():
    return read_table(ROOT / "datasets" / "diabetes130.parquet")


@pytest.fixture(scope="module")
def diabetes_schema():
    return Schema.load(ROOT / "datasets" / "diabetes130.schema.json")


def test_diabetes_table_and_reviewed_schema(diabetes, diabetes_schema):
    assert diabetes.shape == (101_766, 50)
    schema = diabetes_schema
    assert not schema.derived_from_private_data and schema.unconfirmed_data_reads() == {}
    assert schema.privacy_unit.person_column == "patient_nbr" and schema.privacy_unit.max_rows == 2
    assert set(schema.with_role("identifier")) == {"encounter_id", "patient_nbr"}
    assert len(schema.synthesized_columns) == 48
    # the draft took the three *_id code columns for identifiers; the review made them codes
    assert schema.column("admission_type_id").categories == tuple(range(1, 9))
    sample = diabetes.sample(3000, random_state=0)
    # every value fits the reviewed schema; only the diagnosis columns' '?' (unknown) is missing
    for col in schema.synthesized_columns:
        _, fitted = encode_column(col, sample[col.name])
        unknown = (sample[col.name] == "?").to_numpy()
        assert fitted[~unknown].all(), col.name
        assert fitted.all() or col.name.startswith("diag_"), col.name
    encoded = encode(sample, schema)
    assert len(encoded.codes["diag_1"]) == len(sample)


def test_diabetes_icd9_columns_become_chapters(diabetes_schema):
    import pandas as pd

    col = diabetes_schema.column("diag_1")
    codes, fitted = encode_column(col, pd.Series(["250.83", "V57", "E909", "8", "?"], dtype=object))
    labels = [col.categories[c] if ok else None for c, ok in zip(codes, fitted)]
    assert labels[:4] == ["240-279 Endocrine, nutritional, metabolic and immunity disorders",
                          "V01-V91 Supplementary factors influencing health status",
                          "E000-E999 External causes of injury", "001-139 Infectious and parasitic diseases"]
    assert labels[4] is None


def test_diabetes_person_unit_keeps_two_encounters_per_patient(diabetes, diabetes_schema):
    many = diabetes["patient_nbr"].value_counts()
    people = many[many >= 3].index[:50]
    rows = diabetes[diabetes["patient_nbr"].isin(people)]
    kept = bound_rows_per_person(rows, diabetes_schema.privacy_unit)
    assert kept.rows_over_limit == len(rows) - 2 * len(people)


def test_diabetes_evaluation_runs_on_a_small_sample(diabetes, diabetes_schema):
    """48 columns, three ICD-9 chapter columns, a 3-class target: every metric is computed."""
    people = diabetes["patient_nbr"].unique()
    rng = np.random.default_rng(0)
    pick = rng.permutation(people)
    train = diabetes[diabetes["patient_nbr"].isin(pick[:1200])].reset_index(drop=True)
    control = diabetes[diabetes["patient_nbr"].isin(pick[1200:1800])].reset_index(drop=True)
    syn = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    report = evaluate(train, syn, control, diabetes_schema, rng=np.random.default_rng(1), target="readmitted",
                      n_attacks=100, privacy={"epsilon": 1.0, "delta": 1e-9})
    names = {m.name: m for m in report.metrics}
    assert names["tstr_auc"].details["task"] == "classification"
    assert names["trtr_auc"].value > 0.5
    # a release with every column shuffled independently keeps its marginals, loses its relations
    assert names["tstr_auc_skill_ratio"].verdict == "fail"
    assert len(report.figures["association"]["columns"]) >= 40


def test_bank_marketing_table_and_reviewed_schema():
    """The fourth calibration table: its schema is the documented code lists and round bounds,
    every value of the table fits it, and the review left nothing read off the data unconfirmed."""
    bank = read_table(ROOT / "datasets" / "bank_marketing.csv")
    schema = Schema.load(ROOT / "datasets" / "bank_marketing.schema.json")
    assert bank.shape == (45_211, 17)
    assert bank["y"].value_counts().to_dict() == {"no": 39_922, "yes": 5_289}  # as UCI documents
    assert not schema.derived_from_private_data and schema.unconfirmed_data_reads() == {}
    assert schema.column("month").categories[:3] == ("jan", "feb", "mar")  # bank-names.txt's lists
    for col in schema.synthesized_columns:
        _, fitted = encode_column(col, bank[col.name])
        assert fitted.all(), col.name
