"""Neighbouring tables that differ only by values the schema cannot hold: no output of the
evaluation (full report, full card, ML-team card) shows such a value or a cell for it, so none
reveals that out-of-schema values exist (README: privacy model)."""

from __future__ import annotations

import json

import numpy as np

import pytest

from evaluation import evaluate
from evaluation.card import render_card


def _reports(adult_split, adult_schema):
    train, control, other = (f.iloc[:1200].reset_index(drop=True) for f in adult_split)
    neighbour = train.copy()
    rows = np.arange(0, 1200, 40)  # 30 rows
    neighbour.loc[rows, "workclass"] = "Martian-Navy"  # not a schema category
    neighbour.loc[rows, "hours-per-week"] = 400  # above the schema bound (99)
    run = lambda real: evaluate(real, other, control, adult_schema, rng=np.random.default_rng(4), target="income", n_attacks=100)
    return run(train), run(neighbour)


@pytest.mark.slow
def test_out_of_schema_values_never_reach_an_output(adult_split, adult_schema):
    base, neighbour = _reports(adult_split, adult_schema)
    for report in (base, neighbour):
        texts = [report.to_json(), report.ml_json(), render_card(report, "full"), render_card(report, "ml_team")]
        for text in texts:
            assert "Martian" not in text
            assert "outside" not in text.lower()
        cells = {f["column"]: f["labels"] for f in report.figures["columns"]}
        # a categorical column's cells are the schema's categories, nothing else
        assert set(cells["workclass"]) <= set(adult_schema.column("workclass").value_labels())
        # numbers are clipped to the schema bounds before they are cut: no cell beyond 99 hours
        hours = report.figures["columns"][[f["column"] for f in report.figures["columns"]].index("hours-per-week")]
        assert not any("400" in label for label in hours["labels"])
    # the neighbour's cells are the base table's cells: the extra values made no cell of their own
    labels = lambda r: {f["column"]: f["labels"] for f in r.figures["columns"]}
    assert labels(neighbour)["workclass"] == labels(base)["workclass"]
    assert json.loads(neighbour.ml_json()).keys() == json.loads(base.ml_json()).keys()
