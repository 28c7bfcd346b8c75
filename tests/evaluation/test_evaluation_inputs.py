"""Input handling: overlap, sizes, schema mismatches, odd column names, degenerate columns."""

import numpy as np
import pandas as pd
import pytest

from evaluation import EvaluationError, EvaluationReport, evaluate
from evaluation.core import check_overlap
from synthgen.errors import SynthgenError
from synthgen.schema import Column, Schema


def small_schema(**names):
    a = names.get("a", "a")
    b = names.get("b", "b")
    return Schema(columns=(
        Column(name=a, kind="categorical", role="quasi_identifier", categories=("x", "y", "z")),
        Column(name=b, kind="numeric", role="quasi_identifier", lower=0, upper=100, cuts=(25, 50, 75), integer=True),
        Column(name="s", kind="categorical", role="sensitive", categories=("p", "q")),
        Column(name="id", kind="categorical", role="identifier"),
    ))


def small_table(n, seed, a="a", b="b"):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        a: rng.choice(["x", "y", "z"], n),
        b: rng.integers(0, 101, n),
        "s": rng.choice(["p", "q"], n),
        "id": [f"id{seed}-{i}" for i in range(n)],
    })


def test_control_overlapping_training_rows_is_refused(adult, adult_schema):
    train = adult.iloc[:2000]
    control = adult.iloc[1000:2600]  # 1000 of 1600 control rows are training rows
    with pytest.raises(EvaluationError, match="control overlaps the training table"):
        evaluate(train.reset_index(drop=True), train, control.reset_index(drop=True), adult_schema, rng=np.random.default_rng(0))


def test_index_overlap_is_refused(adult, adult_schema):
    train = adult.sample(2000, random_state=0)
    rest = adult.drop(index=train.index)
    control = pd.concat([rest.iloc[:600], train.iloc[[3]]])
    with pytest.raises(EvaluationError, match=f"index label {train.index[3]}"):
        check_overlap(train, control, adult_schema.synthesized_columns)


def test_correct_70_30_split_of_adult_is_accepted(adult, adult_schema):
    perm = np.random.default_rng(0).permutation(len(adult))
    n = int(round(0.7 * len(adult)))
    train, control = adult.iloc[perm[:n]], adult.iloc[perm[n:]]
    info = check_overlap(train, control, adult_schema.synthesized_columns)  # index-based and content checks
    assert info["control_in_train_share"] <= info["limit"]


def test_insufficient_control_is_reported(adult, adult_schema):
    train, syn, control = adult.iloc[:800], adult.iloc[800:1600], adult.iloc[1600:1900]
    r = evaluate(train, syn, control, adult_schema, rng=np.random.default_rng(0), n_attacks=50)
    assert any("insufficient control" in n for n in r.notes)
    for m in r.by_group("risk"):
        if m.name.startswith(("singling_out", "linkability", "inference")):
            assert m.verdict == "inconclusive"
    assert r.overall_verdict != "pass"


@pytest.mark.parametrize("n", [1, 10])
def test_tiny_tables_give_clear_errors(n):
    schema = small_schema()
    with pytest.raises(EvaluationError, match=rf"real \({n} rows\) must have at least 50 rows"):
        evaluate(small_table(n, 0), small_table(600, 1), small_table(600, 2), schema, rng=np.random.default_rng(0))


def test_mismatched_schema_gives_clear_error():
    schema = small_schema()
    syn = small_table(600, 1).rename(columns={"b": "B"})
    with pytest.raises(EvaluationError, match="synthetic: .*'b'"):
        evaluate(small_table(600, 0), syn, small_table(600, 2), schema, rng=np.random.default_rng(0))
    with pytest.raises(EvaluationError, match="control: unknown column 'extra'"):
        evaluate(small_table(600, 0), small_table(600, 1), small_table(600, 2).assign(extra=1), schema, rng=np.random.default_rng(0))


def test_bad_arguments_are_synthgen_errors():
    schema = small_schema()
    t = small_table(600, 0)
    with pytest.raises(EvaluationError, match="rng must be a numpy.random.Generator"):
        evaluate(t, t, t, schema, rng=0)
    with pytest.raises(EvaluationError, match="target .*'id'.* identifier"):
        evaluate(t, small_table(600, 1), small_table(600, 2), schema, rng=np.random.default_rng(0), target="id")
    with pytest.raises(SynthgenError):
        evaluate(t, small_table(600, 1), small_table(600, 2), schema, rng=np.random.default_rng(0), target="nope")


@pytest.mark.slow
def test_spaces_non_ascii_constant_and_all_null_columns_work():
    a, b = "pays d'origine é", "âge en années"
    schema = Schema(columns=(
        *small_schema(a=a, b=b).columns,
        Column(name="constant col", kind="categorical", role="attribute", categories=("only",)),
        Column(name="vide ø", kind="numeric", role="attribute", nullable=True, lower=0, upper=10, cuts=(5,)),
    ))

    def table(n, seed):
        t = small_table(n, seed, a=a, b=b)
        t["constant col"] = "only"
        t["vide ø"] = np.nan
        return t

    r = evaluate(table(600, 0), table(600, 1), table(600, 2), schema, rng=np.random.default_rng(0), target="s", n_attacks=100)
    assert any("constant or all-missing" in n and "vide ø" in n for n in r.notes)
    assert r.metric("tvd_1way_mean").value is not None
    assert r.metric("linkability").details["aux_columns"] == [[b], [a]]
    assert "id" not in r.inputs["columns"]
    assert EvaluationReport.from_json(r.to_json()) == r


def test_report_json_round_trip():
    from evaluation.report import Metric

    r = EvaluationReport(
        metrics=(Metric("x", 0.25, (0.1, 0.4), {"op": "<=", "value": 0.5, "on": "upper"}, "pass", {"flags": [], "k": [1, 2]}, "risk"),
                 Metric("y", None, group="utility", details={"flags": ["why"]}, verdict="inconclusive")),
        overall_verdict="inconclusive", policy={"name": "p"}, privacy={"epsilon": 1.0},
        figures={"association": {"columns": ["a"], "real": [[1.0]]}}, notes=("n",), timings={"total": 1.5},
    )
    again = EvaluationReport.from_json(r.to_json())
    assert again == r
    assert again.to_json() == r.to_json()
    with pytest.raises(EvaluationError, match="ML-team"):
        EvaluationReport.from_json(r.ml_json())
