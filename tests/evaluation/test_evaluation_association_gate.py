"""The association gate judges the pairs the real table associates: on a wide table whose
columns are mostly independent, a release with every column shuffled must fail it, although
the mean over every pair (the v4 gate) barely moves."""

import numpy as np
import pandas as pd
import pytest

from evaluation import default_policy, evaluate
from synthgen.schema import Schema

N_INDEPENDENT = 22


def _schema() -> Schema:
    columns = [{"name": f"x{i}", "kind": "categorical", "categories": ["a", "b", "c"]} for i in range(N_INDEPENDENT)]
    columns += [{"name": "p", "kind": "categorical", "categories": ["a", "b", "c"]},
                {"name": "q", "kind": "categorical", "categories": ["a", "b", "c"]},
                {"name": "u", "kind": "numeric", "lower": -10, "upper": 10, "cuts": [-1, 0, 1]},
                {"name": "v", "kind": "numeric", "lower": -10, "upper": 10, "cuts": [-1, 0, 1]}]
    return Schema.from_dict({"schema_version": 1, "name": "wide", "derived_from_private_data": False,
                             "columns": columns})


def _table(rows: int, seed: int) -> pd.DataFrame:
    """Two associated pairs (p~q, u~v) among 22 independent columns: 2 of 325 pairs."""
    rng = np.random.default_rng(seed)
    frame = {f"x{i}": rng.choice(["a", "b", "c"], rows) for i in range(N_INDEPENDENT)}
    p = rng.choice(["a", "b", "c"], rows)
    q = np.where(rng.random(rows) < 0.9, p, rng.choice(["a", "b", "c"], rows))
    u = rng.normal(size=rows)
    v = 0.9 * u + 0.3 * rng.normal(size=rows)
    return pd.DataFrame({**frame, "p": p, "q": q, "u": u, "v": v})


@pytest.fixture(scope="module")
def reports():
    schema = _schema()
    train, control, fresh = _table(3000, 1), _table(1500, 2), _table(3000, 3)
    rng = np.random.default_rng(4)
    shuffled = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    run = lambda syn: evaluate(train, syn, control, schema, rng=np.random.default_rng(5), policy=default_policy(),
                               n_attacks=200)
    return run(fresh), run(shuffled)


def test_a_shuffle_of_a_wide_table_fails_the_association_gate(reports):
    fresh, shuffled = reports
    gate = shuffled.metric("association_diff_excess_associated")
    assert gate.verdict == "fail" and gate.value > 0.5
    assert (gate.details["pairs"], gate.details["of_pairs"]) == (2, 325)
    # the v4 gate (mean over every pair, limit 0.1) would have passed it: 2 pairs of 325 moved
    assert shuffled.metric("association_diff_excess").value < 0.1
    assert shuffled.metric("association_diff_excess").verdict == "info"


def test_an_independent_real_sample_passes_it(reports):
    fresh, _ = reports
    gate = fresh.metric("association_diff_excess_associated")
    assert gate.verdict == "pass" and abs(gate.value) < 0.05


def test_the_count_of_associated_pairs_stays_out_of_the_ml_card(reports):
    from evaluation.card import render_html

    _, shuffled = reports
    gate = shuffled.metric("association_diff_excess_associated")
    ml = render_html(shuffled, "ml_team")
    assert "associated in the real table" in ml  # the gate is named, with its verdict
    # neither its value nor how many pairs the real table associates (2) is shown
    assert f"{gate.value:.3g}" not in ml and f"{gate.value:.4g}" not in ml
    assert "2 pairs" not in ml and "pairs associated: 2" not in ml
    full = render_html(shuffled, "full")
    assert f"{gate.value:.4g}" in full
