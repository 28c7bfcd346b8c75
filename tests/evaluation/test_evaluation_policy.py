import json

import pytest

from evaluation import EvaluationError, Metric, default_policy, load_policy
from evaluation.policy import judge
from evaluation.policy import Policy
from evaluation.report import combine_verdicts


def load_policy_from_dict(data):
    return Policy.from_dict(data, source="test policy")


def test_default_policy_has_the_issue_thresholds():
    p = default_policy()
    assert p.rule_for("epsilon").bound == 3.0
    assert p.rule_for("singling_out_multivariate").on == "interval"
    assert p.rule_for("inference:income").bound == 0.1
    assert p.rule_for("dcr_share").bound == 0.55
    assert p.rule_for("dcr_share").on == "interval"
    assert p.rule_for("exact_copy_excess").bound == 0.002
    assert p.rule_for("exact_copy_rate") is None  # reported: real tables share rows by nature
    # utility is gated on excess over an independent real sample and on the TSTR skill ratio
    # (calibration in benchmarks/README.md); raw TVDs and the plain AUC ratio are reported only
    assert p.rule_for("tstr_auc_skill_ratio").op == ">="
    assert p.rule_for("tvd_1way_max_excess").op == "<="
    assert p.rule_for("association_diff_excess_associated").bound == 0.15
    assert p.rule_for("association_diff_excess") is None  # v4 gate, now reported only
    for reported in ("tvd_3way_mean", "tstr_auc_ratio", "tstr_auc", "trtr_auc", "nndr_train_mean"):
        assert p.rule_for(reported) is None, reported


def test_judge_uses_interval_end_and_flags():
    p = default_policy()
    m = Metric("linkability", 0.01, (0.0, 0.06), group="risk")
    assert judge(m, p).verdict == "inconclusive"  # estimate under 0.05, upper CI above: too wide to certify
    # an estimate over the limit with an interval reaching under it is not evidence of a breach
    # (a DP release's inference on 171 control rows scored 0.12 [0.0, 0.3]): inconclusive
    assert judge(Metric("linkability", 0.07, (0.03, 0.11)), p).verdict == "inconclusive"
    assert judge(Metric("linkability", 0.09, (0.06, 0.12)), p).verdict == "fail"  # the whole interval breaks it
    assert judge(Metric("linkability", 0.01, (0.0, 0.04)), p).verdict == "pass"
    upper_only = load_policy_from_dict({"rules": {"linkability": {"max": 0.05, "on": "upper"}}})
    assert judge(m, upper_only).verdict == "fail"
    flagged = Metric("linkability", 0.01, (0.0, 0.04), details={"flags": ["only 37 linkability attacks could be made"]})
    assert judge(flagged, p).verdict == "inconclusive"
    assert "only 37" in judge(flagged, p).details["verdict_reason"]
    # a flagged measurement whose estimate breaks the limit still fails: the breach is evidence
    assert judge(Metric("linkability", 0.3, (0.2, 0.4), details={"flags": ["x"]}), p).verdict == "fail"
    assert judge(Metric("linkability", 0.3, (0.0, 0.6), details={"flags": ["x"]}), p).verdict == "inconclusive"
    assert judge(Metric("epsilon", None), p).verdict == "inconclusive"
    assert judge(Metric("nndr_train_mean", 0.3), p).verdict == "info"


def test_no_advantage_over_baseline_is_a_pass_with_its_warning_kept():
    """A zero risk with interval [0, 0.0027] under 0.05 and anonymeter's baseline warning: the
    attack found nothing, which is evidence of no advantage, not a failed measurement."""
    p = default_policy()
    warning = "Attack is as good or worse as baseline model. Estimated rates: attack = 0.01, baseline = 0.02."
    m = judge(Metric("linkability", 0.0, (0.0, 0.0027), group="risk", details={"warnings": [warning], "flags": []}), p)
    assert m.verdict == "pass"
    assert m.details["warnings"] == [warning]
    assert "whole interval" in m.details["verdict_reason"]
    straddles = judge(Metric("inference:capital-gain", 0.02, (0.0, 0.12), group="risk", details={"warnings": [warning]}), p)
    assert straddles.verdict == "inconclusive" and "straddles" in straddles.details["verdict_reason"]


def test_anonymeter_messages_are_split_into_flags_and_warnings():
    from evaluation.risk import classify_messages

    flags, warns = classify_messages([
        "Attack is as good or worse as baseline model. Estimated rates: attack = 0.0, baseline = 0.1.",
        "Success of control attack is 100%. Cannot measure residual privacy risk.",
        "Attack is as good or worse as baseline model. Estimated rates: attack = 0.0, baseline = 0.1.",
    ])
    assert flags == ["Success of control attack is 100%. Cannot measure residual privacy risk."]
    assert len(warns) == 1 and warns[0].startswith("Attack is as good or worse")


def test_combine_verdicts():
    assert combine_verdicts(["pass", "info"]) == "pass"
    assert combine_verdicts(["pass", "inconclusive"]) == "inconclusive"
    assert combine_verdicts(["inconclusive", "fail"]) == "fail"
    assert combine_verdicts(["info"]) == "inconclusive"


def test_load_policy_toml_and_json(tmp_path):
    t = tmp_path / "p.toml"
    t.write_text('name = "strict"\n[rules.linkability]\nmax = 0.01\non = "upper"\n', encoding="utf-8")
    assert load_policy(t).rule_for("linkability").bound == 0.01
    j = tmp_path / "p.json"
    j.write_text(json.dumps({"rules": {"tstr_*": {"min": 0.9}}}), encoding="utf-8")
    assert load_policy(j).rule_for("tstr_auc_ratio").bound == 0.9


@pytest.mark.parametrize("text,match", [
    ('[rules.x]\nmax = 1\nmin = 0\n', "exactly one of"),
    ('[rules.x]\nmax = "a"\n', "must be a number"),
    ('[rules.x]\nmax = 1\non = "middle"\n', "on"),
    ('colour = 1\n[rules.x]\nmax = 1\n', "unknown field"),
    ('[rules\n', "not valid TOML"),
])
def test_bad_policies_give_clear_errors(tmp_path, text, match):
    f = tmp_path / "p.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(EvaluationError, match=match):
        load_policy(f)
