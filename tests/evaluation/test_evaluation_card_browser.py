"""The release card as a reviewer sees it: opened offline in headless Chromium, charts drawn as
SVG, no code or JSON printed as text, a screenshot kept under test-artifacts/evaluation/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from evaluation import evaluate
from evaluation.card import AUDIENCES, render_card
from evaluation.errors import EvaluationError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "evaluation"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PRIVACY = {"epsilon": 1.0, "delta": 1e-9, "rho": 0.015, "total_epsilon": 3.0, "mechanism": "mst"}
# text that must never be visible on the page: script, JSON, escaped markup, template syntax
CODE = re.compile(r"<script|</|function\s*\(|=>|\{\s*\"|\"\s*:\s*[\[{\"\d]|&lt;|&gt;|\{\{|\}\}|Plotly|var |\bnull\b")


@pytest.fixture(scope="module")
def report(adult_split, adult_schema):
    train, control, other = adult_split
    synthetic = other.copy()
    synthetic["age"] = np.random.default_rng(0).integers(17, 91, len(synthetic))  # one broken column to look at
    return evaluate(train.iloc[:1500], synthetic.iloc[:1500], control.iloc[:1500], adult_schema,
                    rng=np.random.default_rng(5), target="income", privacy=PRIVACY, n_attacks=200)


def test_card_is_static_and_self_contained(report):
    for audience in AUDIENCES:
        html = render_card(report, audience)
        assert "<script" not in html.lower()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html), "the card must load nothing"
        assert html.count("<svg") >= 1
    full, ml = render_card(report, "full"), render_card(report, "ml_team")
    # every column drawn (worst first), three association matrices, the risk chart, the budget
    assert full.count("<svg") == len(report.inputs["columns"]) + 3 + 1 + 1
    assert ml.count("<svg") == 1  # the ε budget only: nothing measured on the real table
    assert render_card(report, "ml") == ml  # the older name of the ML-team audience
    with pytest.raises(EvaluationError, match="audience"):
        render_card(report, "public")


def test_an_inconclusive_card_says_what_it_means_and_the_way_forward(report):
    from dataclasses import replace

    softened = tuple(replace(m, verdict="inconclusive") if m.verdict == "fail" else m for m in report.metrics)
    inconclusive = replace(report, metrics=softened, overall_verdict="inconclusive")
    full, ml = render_card(inconclusive, "full"), render_card(inconclusive, "ml_team")
    for html in (full, ml):
        assert "Inconclusive is not a failure" in html and "approve such a release with a written reason" in html
    control_rows = f"{report.inputs['control_rows']:,} control rows"
    assert control_rows in full
    assert control_rows not in ml  # the split's size is a statistic of the real table
    assert "Inconclusive is not a failure" not in render_card(report, "full")  # this report fails


def test_column_charts_are_worst_first_and_show_the_broken_column(report):
    columns = report.figures["columns"]
    assert [c["tvd"] for c in columns] == sorted((c["tvd"] for c in columns), reverse=True)
    assert columns[0]["column"] == "age" and columns[0]["tvd"] > 0.2
    assert report.metric("tvd_1way_max").details["column"] == "age"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("audience", AUDIENCES)
def test_card_draws_in_headless_chromium_offline(report, audience, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("SYNTHGEN_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and SYNTHGEN_REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    path = tmp_path / f"card_{audience}.html"
    path.write_text(render_card(report, audience), encoding="utf-8")
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                    env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            drawn = page.evaluate("""() => [...document.querySelectorAll('svg')].map(s => {
                const b = s.getBoundingClientRect();
                return {w: b.width, h: b.height, marks: s.querySelectorAll('rect, circle, line').length};
            })""")
            text = page.evaluate("() => document.body.innerText")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"card_{audience}.png"), full_page=True)
        finally:
            browser.close()
    assert requested == [path.as_uri()], "the card must not request anything but itself"
    assert drawn and all(d["w"] > 100 and d["h"] > 50 and d["marks"] >= 2 for d in drawn), drawn
    assert not CODE.search(text), CODE.search(text).group(0)
    assert f"Overall verdict: {report.overall_verdict}" in text
    if audience == "full":
        assert len(drawn) == len(report.inputs["columns"]) + 5
        assert "Column distributions" in text and "Associations" in text and "Privacy risk" in text
    else:
        assert len(drawn) == 1
        assert "Column distributions" not in text and "Privacy risk" not in text and "real training rows" not in text
