"""The person-level bound: at most ``max_rows`` rows per person, missing ids never pooled, and
the count of rows set aside kept for the data owner (never in the model file)."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.encoding import bound_rows_per_person
from synthgen.schema import Column, PrivacyUnit, Schema
from synthgen.synthesizers import MST, fit

UNIT = PrivacyUnit("pid", 1)


def _rows(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["tag"].tolist())


def _distance(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Symmetric difference of two bounded tables, as multisets of their rows."""
    left, right = pd.Series(_rows(a)).value_counts(), pd.Series(_rows(b)).value_counts()
    both = left.index.union(right.index)
    return int((left.reindex(both, fill_value=0) - right.reindex(both, fill_value=0)).abs().sum())


@pytest.mark.parametrize("missing", [None, np.nan, ""], ids=["None", "NaN", "empty"])
def test_a_person_without_id_changes_the_bounded_table_by_at_most_max_rows(missing):
    """D' is D plus one person whose id is missing. Pooling missing ids as one "person" kept the
    newcomer's row instead of the old one: a distance of 2 where OpenDP is told 1."""
    d = pd.DataFrame({"pid": ["a", missing, "b"], "tag": ["a1", "old", "b1"]})
    d_prime = pd.concat([pd.DataFrame({"pid": [missing], "tag": ["new"]}), d], ignore_index=True)
    bounded, bounded_prime = bound_rows_per_person(d, UNIT), bound_rows_per_person(d_prime, UNIT)
    assert _distance(bounded.frame, bounded_prime.frame) <= UNIT.max_rows
    assert _rows(bounded.frame) == ["a1", "b1"]  # rows without a person id are left out
    assert bounded.rows_without_person == 1 and bounded_prime.rows_without_person == 2


def test_the_bound_counts_what_it_sets_aside():
    frame = pd.DataFrame({"pid": ["a"] * 5 + [None, "", np.nan] + ["b"] * 2 + ["c"],
                          "tag": [f"r{i}" for i in range(11)]})
    bounded = bound_rows_per_person(frame, PrivacyUnit("pid", 2))
    assert bounded.frame["pid"].value_counts().to_dict() == {"a": 2, "b": 2, "c": 1}
    assert _rows(bounded.frame) == sorted(["r0", "r1", "r8", "r9", "r10"])  # first rows in table order
    assert (bounded.rows_over_limit, bounded.rows_without_person, bounded.rows_set_aside) == (3, 3, 6)


def test_a_row_level_unit_sets_nothing_aside():
    frame = pd.DataFrame({"pid": [None, None], "tag": ["x", "y"]})
    bounded = bound_rows_per_person(frame, PrivacyUnit())
    assert _rows(bounded.frame) == ["x", "y"] and bounded.rows_set_aside == 0


@pytest.mark.slow
def test_rows_set_aside_reach_the_owner_facts_never_the_model_file(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "pid": [f"p{i % 100}" for i in range(n)],
        "colour": rng.choice(["red", "green"], size=n),
        "flag": rng.choice([True, False], size=n),
    })
    frame.loc[:9, "pid"] = None
    schema = Schema(
        columns=(Column("pid", "categorical", role="identifier"),
                 Column("colour", "categorical", categories=("red", "green")), Column("flag", "boolean")),
        privacy_unit=PrivacyUnit("pid", 2),
    )
    model = fit(frame, schema, MST(estimation_iters=20), PrivacyBudget.from_epsilon(1.0, 1e-9))
    # 10 rows without id; 90 identified persons with 2 or 3 rows left, of which 2 are kept
    expected = {"rows_without_person_id": 10, "rows_over_person_limit": int((frame["pid"].value_counts() - 2).clip(0).sum())}
    assert {k: model.data_owner_facts[k] for k in expected} == expected
    assert model.data_owner_facts["rows_set_aside_by_person_bound"] == sum(expected.values())
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        header = zf.read("model.json").decode()
    assert "set_aside" not in header and "without_person" not in header and "over_person" not in header
    json.loads(header)


@pytest.mark.slow
def test_the_owner_running_fit_is_told_what_the_bound_set_aside(tmp_path, capsys):
    from synthgen.cli import main

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"pid": [f"p{i % 50}" for i in range(200)], "colour": rng.choice(["red", "green"], size=200),
                          "flag": rng.choice([True, False], size=200)})
    frame.loc[:4, "pid"] = None
    frame.to_csv(tmp_path / "t.csv", index=False)
    Schema(columns=(Column("pid", "categorical", role="identifier"),
                    Column("colour", "categorical", categories=("red", "green")), Column("flag", "boolean")),
           privacy_unit=PrivacyUnit("pid", 2)).save(tmp_path / "s.json")
    code = main(["fit", str(tmp_path / "t.csv"), "--schema", str(tmp_path / "s.json"), "--epsilon", "1",
                 "-o", str(tmp_path / "m.zip")])
    err = capsys.readouterr().err
    assert code == 0, err
    over = int((frame["pid"].value_counts() - 2).clip(0).sum())
    assert f"set aside {over + 5} rows ({over} beyond the rows allowed per person, 5 without a person id)" in err
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        assert "set_aside" not in zf.read("model.json").decode()
