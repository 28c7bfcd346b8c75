"""The rules behind the release journey, without a browser: which decision a release admits,
the reason shown beside each verdict, the budget bar's scale, the card frame, and the values a
schema still holds from the data."""

from __future__ import annotations

import json

import pytest

from app.core.decisions import decision_rule
from app.ui.components import verdicts
from app.ui.components.budget import used_share
from app.ui.components.card import card_frame, md
from app.ui.components.schema_review import data_derived_values, describe, field_words
from synthgen.budget import PrivacyBudget
from tests.app_ui.ui_helpers import TITANIC_SCHEMA


@pytest.mark.parametrize("dp, verdict, policy, kind", [
    (True, "pass", {}, "approve"),
    (True, "inconclusive", {}, "approve_with_reason"),  # the default policy allows it
    (True, "inconclusive", {"allow_inconclusive": False}, "reject_only"),
    (True, "fail", {}, "reject_only"),
    (True, "fail", {"allow_override": True}, "approve_with_reason"),
    (False, "pass", {}, "reject_only"),  # no formal privacy: evaluation-only
    (False, "pass", {"allow_override": True}, "reject_only"),  # whatever the policy says
])
def test_every_evaluated_release_has_a_decision(dp, verdict, policy, kind):
    rule = decision_rule(dp=dp, verdict=verdict, policy=policy)
    assert rule.kind == kind
    assert rule.needs_override == (kind == "approve_with_reason")
    assert "privacy officer" in rule.next_step and "not the person who requested it" in rule.next_step
    if kind == "reject_only":
        assert "only be rejected" in rule.next_step


def test_a_failed_release_never_promises_a_review_that_could_approve_it():
    rule = decision_rule(dp=True, verdict="fail", policy={"allow_override": False})
    assert "approve" not in rule.next_step and "ε stays spent" in rule.next_step


def _metric(verdict, value, interval=None, on="interval", bound=0.05, op="<=", flags=None):
    return {"name": "singling_out_multivariate", "group": "risk", "value": value, "interval": interval,
            "threshold": {"op": op, "value": bound, "on": on}, "verdict": verdict,
            "details": {"flags": flags} if flags else {}}


def test_each_verdict_has_its_reason_in_words():
    assert "whole 95 % interval [0, 0.03] is within the limit (at most 0.05)" in verdicts.reason(
        _metric("pass", 0.01, [0.0, 0.03]))
    assert "reaches 0.07: too uncertain to certify" in verdicts.reason(_metric("inconclusive", 0.02, [0.0, 0.07]))
    assert "the estimate 0.08 itself breaks the limit" in verdicts.reason(_metric("fail", 0.08, [0.05, 0.1]))
    assert "could not be measured reliably (too few attacks)" in verdicts.reason(
        _metric("inconclusive", 0.0, [0.0, 0.01], flags=["too few attacks"]))
    assert "the value 0.07 breaks the limit (at most 0.05)" in verdicts.reason(
        {"name": "tvd_1way_mean", "value": 0.07, "threshold": {"op": "<=", "value": 0.05, "on": "value"},
         "verdict": "fail"})
    assert "at least 0.75" in verdicts.reason(
        {"name": "tstr_auc_ratio", "value": 0.9, "threshold": {"op": ">=", "value": 0.75}, "verdict": "pass"})


def test_the_evaluations_own_reason_is_shown_as_it_is():
    m = _metric("inconclusive", 0.02, [0.0, 0.07])
    m["details"] = {"verdict_reason": "estimate 0.02, 95 % interval [0, 0.07]: the interval straddles the limit <= 0.05"}
    assert verdicts.reason(m) == m["details"]["verdict_reason"]


def test_metric_names_are_shown_in_plain_words():
    assert verdicts.label("tvd_2way_worst10")[0] == "Pairs of columns (worst 10)"
    assert verdicts.label("inference:Age")[0] == "Attribute inference (Age)"
    assert verdicts.label("singling_out_univariate")[0] == "Singling out (univariate)"
    assert verdicts.label("tvd_1way_max_excess")[0] == "Single-column distributions (largest, beyond real-sample noise)"
    assert verdicts.label("tvd_1way_mean")[0] != verdicts.label("tvd_1way_max")[0]
    assert verdicts.label("association_diff_excess_associated")[0] == (
        "Correlations (beyond real-sample noise, associated pairs)")
    assert verdicts.label("exact_copy_excess")[0] == "Copied real rows (beyond real-sample noise)"
    for name in ("tvd_1way_mean", "dcr_share", "linkability", "epsilon", "tstr_auc_ratio", "tstr_auc_skill_ratio",
                 "ks_max", "nndr_train_mean", "association_diff_excess", "sdmetrics_quality", "trtr_auc"):
        short, what = verdicts.label(name)
        assert "_" not in short and what


def test_meter_bar_is_on_the_epsilon_scale_of_its_numbers():
    from app.core.services import BudgetSummary

    delta = 1e-6
    total = PrivacyBudget.from_epsilon(10, delta)
    spent = PrivacyBudget.from_epsilon(1.44, delta)
    b = BudgetSummary(1, delta, total, spent, PrivacyBudget(0.0), PrivacyBudget(total.rho - spent.rho))
    share = used_share(b)
    assert share == pytest.approx(1 - b.epsilon("remaining") / 10)
    # on the ρ scale this budget would read about 3 % used; the numbers say about 1.6 %
    assert round(100 * share) == round(100 * (1 - b.epsilon("remaining") / b.epsilon("total")))
    assert abs(share - spent.rho / total.rho) > 0.005


def test_card_frame_has_no_size_limit_and_gives_the_card_no_permissions():
    card = "<html><body><h1>Card \"quoted\" & <b>bold</b></h1><script>alert(1)</script>" + "x" * 3_000_000
    frame = card_frame(card, height=500)
    assert "data:" not in frame  # Chromium refuses data URLs over 2 MB
    assert "<iframe sandbox title='Release card'" in frame  # no allow-* token: no scripts, opaque origin
    assert "<script>" not in frame and "&lt;script&gt;alert(1)&lt;/script&gt;" in frame
    assert "&quot;quoted&quot;" in frame


def test_markdown_escape_keeps_column_names_literal():
    assert md("inference:*age*") == "inference\\:\\*age\\*"


def test_values_read_off_the_data_are_named_per_column():
    drafted = {"columns": [
        {"name": "Age", "kind": "numeric", "lower": 0, "upper": 80, "cuts": [10, 20]},
        {"name": "Sex", "kind": "categorical", "categories": ["female", "male"]},
        {"name": "PassengerId", "kind": "numeric", "role": "identifier"},
    ]}
    edited = json.loads(json.dumps(drafted))
    edited["columns"][0]["upper"] = 120  # replaced by a public limit
    marks = data_derived_values(drafted, edited)
    assert marks == {"Age": ["lower bound 0", "bin cuts [10, 20]"], "Sex": ["categories [female, male]"]}
    assert describe(marks) == ["Age: lower bound 0; bin cuts [10, 20]", "Sex: categories [female, male]"]
    assert field_words(marks["Age"]) == "lower bound, bin cuts"
    assert data_derived_values(None, edited) == {}  # a schema that did not come from the data


def test_the_shipped_schema_compared_with_itself_marks_every_value():
    schema = json.loads(TITANIC_SCHEMA.read_text())
    marks = data_derived_values(schema, schema)
    assert "Age" in marks and "PassengerId" not in marks


def test_gate_chart_puts_every_gate_on_one_scale():
    from app.ui.components.charts import gate_frame

    report = {"metrics": [
        {"name": "tvd_1way_mean", "group": "utility", "value": 0.1, "threshold": {"op": "<=", "value": 0.05},
         "verdict": "fail"},
        {"name": "tstr_auc_ratio", "group": "utility", "value": 0.9, "threshold": {"op": ">=", "value": 0.75},
         "verdict": "pass"},
        {"name": "linkability", "group": "risk", "value": 0.01, "interval": [0.0, 0.1],
         "threshold": {"op": "<=", "value": 0.05, "on": "interval"}, "verdict": "inconclusive"},
        {"name": "exact_copy_rate", "group": "risk", "value": 0.0, "threshold": {"op": "<=", "value": 0.0},
         "verdict": "pass"},
        {"name": "sdmetrics_quality", "group": "utility", "value": 0.8, "threshold": None, "verdict": "info"},
    ]}
    frame = gate_frame(report).set_index("Gate")
    assert list(frame.index) == ["Single-column distributions (mean)", "Model trained on synthetic data (AUC)",
                                 "Linkability", "Copied real rows"]  # the ungated metric is not drawn
    assert frame.loc["Single-column distributions (mean)", "Share of limit"] == pytest.approx(2.0)  # twice the limit
    assert frame.loc["Model trained on synthetic data (AUC)", "Share of limit"] == pytest.approx(0.75 / 0.9)
    assert (frame.loc["Linkability", "Low"], frame.loc["Linkability", "High"]) == (0.0, pytest.approx(2.0))
    assert frame.loc["Copied real rows", "Share of limit"] == 0.0
