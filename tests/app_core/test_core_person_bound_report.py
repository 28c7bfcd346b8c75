"""What the person-level bound set aside reaches the data owner's full report and card only."""

from app.core.jobs import with_data_owner_facts
from evaluation.card import render_html
from evaluation.report import EvaluationReport, Metric

FACTS = {"rows_set_aside_by_person_bound": 417, "rows_over_person_limit": 400, "rows_without_person_id": 17}


def _report() -> EvaluationReport:
    return EvaluationReport(metrics=(Metric("tvd_1way_mean", 0.02, verdict="pass"),), overall_verdict="pass",
                            policy={}, sampling={"real": {"rows": 1000}}, timings={"total": 12.5})


def test_rows_set_aside_are_in_the_full_report_and_card_only():
    report = with_data_owner_facts(_report(), FACTS)
    full = report.to_dict(include_timings=False)
    assert full["sampling"]["person_bound"] == FACTS
    assert any("417 training rows set aside" in n for n in full["notes"])
    assert "417" in render_html(report, audience="full")
    ml_card, ml_json = render_html(report, audience="ml"), report.ml_json()
    for text in (ml_card, ml_json):
        assert "417" not in text and "set aside" not in text and "person_bound" not in text


def test_no_facts_leave_the_report_unchanged_and_stored_reports_hold_no_timings():
    report = with_data_owner_facts(_report(), {})
    assert report == _report()
    assert "timings" not in report.to_dict(include_timings=False)
