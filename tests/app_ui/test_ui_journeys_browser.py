"""Acceptance: the four journeys the platform exists for, end to end in headless Chromium.

One platform (launcher: worker + dashboard + HTTP API) serves the four journeys in order, each
signed in as the person who would take it, and each asserting what that person sees on screen:

1. the data owner uploads a table (a duplicate name is refused next to the form), reads a budget
   meter whose bar and numbers agree, types an invalid ε and sees why, requests a release and
   watches it finish without reloading, then reloads and is still signed in on the same page;
2. the privacy officer reviews the release (ε and δ explained, a reason beside every verdict,
   the gate charts and the release card drawn), approves it with a written reason, rejects a
   failed release that cannot be approved, and, as an officer who requested a release while a
   data owner, is refused the decision on it;
3. the ML engineer downloads the approved release through the page and through the HTTP API
   with a token created on the My account page;
4. the administrator creates and changes a user (no role is preselected) and verifies the
   audit log.

Two releases besides the owner's are prepared through the service before the browser starts
(a failed one and one requested by a later officer), with a fast stand-in pipeline: their
decisions are what the journeys check, not their fitting. The owner's release is fitted and
evaluated for real by the launcher's worker. Screenshots: ``test-artifacts/journeys/``.
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.request

import pandas as pd
import pytest

from tests.app_ui.browser_helpers import (
    Dashboard,
    charts_drawn,
    choose_classification,
    dashboard_env,
    free_port,
    goto,
    launch,
    login,
    logout,
    main_text,
    require_chromium,
    shot,
    wait_idle,
)
from tests.app_ui.ui_helpers import PASSWORD, REPO, TITANIC_CSV, TITANIC_SCHEMA, tiny_pipeline

ARTIFACTS = REPO / "test-artifacts" / "journeys"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from app.core import jobs
    from app.core.config import Settings
    from app.core.services import Platform

    tmp = tmp_path_factory.mktemp("journeys")
    env = dashboard_env(tmp)
    platform = Platform.open(Settings.from_env(env))
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    for name, role in (("alice", "data_owner"), ("oscar", "privacy_officer"), ("mia", "ml_engineer"),
                       ("dave", "data_owner")):
        platform.create_user(admin, name, PASSWORD, role)
    # Dave's dataset with two evaluated releases, fitted by a stand-in pipeline before the worker
    # starts: one whose gate failed under a policy without override, and one Dave requested
    # while he was a data owner (he becomes a privacy officer below).
    dave = platform.login("dave", PASSWORD).actor
    seeded = platform.upload_dataset(dave, "titanic.csv", TITANIC_CSV.read_bytes(), name="titanic (dave)",
                                     classification="public", budget_epsilon=5.0, delta=1e-6, schema_json=TITANIC_SCHEMA.read_text())
    failed = platform.request_release(dave, seeded.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline("fail")) == "succeeded"
    own = platform.request_release(dave, seeded.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline("pass")) == "succeeded"
    platform.set_role(admin, dave.user_id, "privacy_officer")

    dash = Dashboard(env, tmp / "launcher.log", api_port=free_port()).wait_ready()
    dash.wait_api()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        world = {"url": dash.url, "api": dash.api_url, "platform": platform, "admin": admin, "page": page,
                 "tmp": tmp, "failed": failed.id, "daves": own.id, "started": started}
        try:
            yield world
        finally:
            (ARTIFACTS / "timings.json").write_text(json.dumps({"suite_s": round(time.monotonic() - started, 1)}))
            browser.close()
            dash.stop()
            platform.close()


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label`` (typing filters the list,
    which only draws the options in view)."""
    box = page.get_by_role("combobox", name=label, exact=True).first
    box.click()
    box.fill(option.split(" (")[0])
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_idle(page)


def alert(page, text: str) -> str:
    """Wait for an alert (error, warning, info, success) showing ``text``; its whole text."""
    box = page.locator('[data-testid="stAlertContainer"]').filter(has_text=text).first
    box.wait_for(timeout=60_000)
    return box.inner_text()


def meter(page) -> tuple[float, float, int]:
    """(remaining ε, lifetime ε, % used) as the budget bar's text shows them."""
    text = page.locator('[data-testid="stProgress"]').first.inner_text()
    m = re.search(r"ε ([\d.]+) of ε ([\d.]+) remaining \((\d+)% of the lifetime budget used\)", text)
    assert m, text
    return float(m.group(1)), float(m.group(2)), int(m.group(3))


def metric_value(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_owner_uploads_and_requests_a_release(site):
    page, url = site["page"], site["url"]
    login(page, url, "alice", PASSWORD)
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    inputs.nth(0).set_input_files(str(TITANIC_CSV))
    page.get_by_label("Dataset name", exact=True).fill("titanic")
    choose_classification(page, "internal")
    inputs.nth(1).set_input_files(str(TITANIC_SCHEMA))
    wait_idle(page)
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_text("Dataset “titanic” uploaded").wait_for(timeout=120_000)
    wait_idle(page)
    alert(page, "Releases are reviewed by the platform's privacy officers")
    remaining, total, used = meter(page)
    assert (remaining, total, used) == (10.0, 10.0, 0)
    shot(page, ARTIFACTS, "01_owner_uploaded")

    # the same name again: refused, in full, right under the form
    page.get_by_role("button", name="Upload", exact=True).click()
    alert(page, "the platform already has a dataset named 'titanic'; choose another name")
    shot(page, ARTIFACTS, "02_owner_duplicate_name_refused")
    ds = next(d for d in site["platform"].list_datasets(site["admin"]) if d.name == "titanic")
    site["dataset"] = ds.id
    site["platform"].add_member(site["admin"], ds.id, site["platform"].login("mia", PASSWORD).actor.user_id)

    goto(page, "New release")
    choose(page, "Dataset", f"titanic (#{ds.id})")
    page.get_by_text("MST — differentially private").click()
    wait_idle(page)
    eps = page.get_by_label("ε to spend on this release", exact=True)
    eps.fill("-1")
    eps.press("Enter")
    wait_idle(page)
    alert(page, "ε = -1 cannot be spent: epsilon (-1.0) must be positive")
    assert page.get_by_role("button", name="Start release").is_disabled()
    shot(page, ARTIFACTS, "03_owner_invalid_epsilon")
    eps.fill("1")
    eps.press("Enter")
    wait_idle(page)
    alert(page, "After this release the dataset keeps")
    page.get_by_text("Policy: allow a privacy officer to approve despite a failed gate").click()
    wait_idle(page)
    assert page.get_by_text("it can be approved with a written reason (allowed by the policy above)").count()
    page.get_by_role("button", name="Start release").click()

    # the page follows the job and shows the outcome without a reload
    outcome = page.locator('[data-testid="stAlert"]').filter(has_text="is evaluated: verdict")
    outcome.wait_for(timeout=240_000)
    wait_idle(page)
    text = outcome.inner_text()
    assert "Next:" in text and "privacy officer" in text
    remaining, total, used = meter(page)
    assert remaining < total and used == round(100 * (1 - remaining / total))
    assert metric_value(page, "Remaining") == f"ε {remaining:.3g}"
    shot(page, ARTIFACTS, "04_owner_release_evaluated")
    alice = site["platform"].login("alice", PASSWORD).actor
    site["release"] = max(r.id for r in site["platform"].list_releases(alice))

    # the budget over time, and the session survives a reload on the page's own URL
    goto(page, "Datasets")
    choose(page, "Dataset", f"titanic (#{ds.id})")
    assert f"dataset={ds.id}" in page.url and "/datasets" in page.url
    page.reload()
    page.get_by_text("Log out").wait_for(timeout=30_000)
    wait_idle(page)
    assert page.get_by_role("heading", name="titanic").count()
    assert charts_drawn(page) >= 1
    shot(page, ARTIFACTS, "05_owner_budget_over_time_after_reload")
    logout(page)


def test_officer_reviews_the_card_and_decides(site):
    page, url, rid = site["page"], site["url"], site["release"]
    login(page, url, "oscar", PASSWORD)
    goto(page, "Review")
    page.get_by_text("Waiting for a decision (3)").wait_for()
    page.goto(f"{url}/review?release={rid}")
    page.get_by_text(f"Release #{rid} of “titanic”").wait_for()
    wait_idle(page)
    body = main_text(page)
    assert "What ε = 1 and δ = 1e-09 promise" in body
    report = site["platform"].get_risk_report(site["platform"].login("oscar", PASSWORD).actor, rid)
    judged = [m for m in report["metrics"] if m["verdict"] != "info" or m.get("threshold")]
    assert body.count("Why:") == len(report["metrics"]) and len(judged) > 3
    assert charts_drawn(page) >= 1  # every gate against its limit
    page.get_by_text("Show the release card").click()
    wait_idle(page)
    outer = page.frame_locator('[data-testid="stIFrame"]').first
    inner = outer.frame_locator("iframe[title='Release card']")
    inner.locator("body").wait_for()
    assert len(inner.locator("body").inner_text()) > 200
    assert inner.locator("svg").count() > 0, "the card's charts are drawn"
    assert "function(" not in inner.locator("body").inner_text()  # no code shown as text
    shot(page, ARTIFACTS, "06_officer_review_with_card")
    page.get_by_role("tab", name="ML-team card (what consumers will see)").click()
    ml_card = page.frame_locator('[data-testid="stIFrame"]').nth(1).frame_locator("iframe[title='Release card']")
    ml_card.locator("svg").first.wait_for()
    page.get_by_role("tab", name="Full card (reviewers)").click()

    decision = page.locator("p", has_text="What you can decide:").first.inner_text()
    assert "approve" in decision
    page.get_by_label("Reason (required, kept in the audit log)", exact=True).fill(
        "ε = 1 within policy; failed utility gates accepted for exploratory use")
    page.keyboard.press("Tab")
    wait_idle(page)
    override = page.get_by_text("I approve although not every gate passed")
    if override.count():
        override.click()
        wait_idle(page)
    page.get_by_role("button", name="Approve").click()
    page.get_by_text(f"Release {rid} approved.").wait_for()
    wait_idle(page)
    shot(page, ARTIFACTS, "07_officer_approved")

    # a failed release whose policy allows no override: it can only be rejected
    failed = site["failed"]
    page.goto(f"{url}/review?release={failed}")
    page.get_by_text(f"Release #{failed} of").wait_for()
    wait_idle(page)
    alert(page, "This release cannot be approved: at least one gate failed")
    assert page.get_by_role("button", name="Approve").is_disabled()
    page.get_by_label("Reason (required, kept in the audit log)", exact=True).fill("utility gates failed")
    page.keyboard.press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Reject").click()
    page.get_by_text(f"Release {failed} rejected.").wait_for()
    wait_idle(page)
    shot(page, ARTIFACTS, "08_officer_rejected_failed_release")
    logout(page)

    # Dave requested a release as a data owner and is a privacy officer now: refused
    login(page, url, "dave", PASSWORD)
    page.goto(f"{url}/review?release={site['daves']}")
    page.get_by_text(f"Release #{site['daves']} of").wait_for()
    wait_idle(page)
    alert(page, f"You requested release #{site['daves']} yourself, so you cannot approve or publish it")
    assert page.get_by_role("button", name="Approve").count() == 0
    shot(page, ARTIFACTS, "09_officer_self_approval_refused")
    logout(page)


def test_ml_engineer_downloads_through_the_page_and_the_api(site):
    page, url, rid, tmp = site["page"], site["url"], site["release"], site["tmp"]
    login(page, url, "mia", PASSWORD)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Admin" not in nav and "Releases" in nav
    goto(page, "Releases")
    page.get_by_text(f"Release #{rid} of “titanic”").wait_for()
    page.locator('[data-testid="stIFrame"]').first.wait_for()
    shot(page, ARTIFACTS, "10_ml_release_page")
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp / "release.csv"
    dl.value.save_as(str(path))
    from_page = pd.read_csv(path)
    assert len(from_page) > 0

    goto(page, "My account")
    page.get_by_role("button", name="Create a token").click()
    page.get_by_text("Copy this token now").wait_for()
    token = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
    shot(page, ARTIFACTS, "11_ml_token_created")
    headers = {"Authorization": f"Bearer {token}"}
    req = urllib.request.Request(f"{site['api']}/api/v1/releases/latest?dataset=titanic", headers=headers)
    latest = json.load(urllib.request.urlopen(req, timeout=30))
    assert latest["id"] == rid
    req = urllib.request.Request(f"{site['api']}/api/v1/releases/{rid}/download?format=parquet", headers=headers)
    from_api = pd.read_parquet(io.BytesIO(urllib.request.urlopen(req, timeout=60).read()))
    assert list(from_api.columns) == list(from_page.columns) and len(from_api) == len(from_page)
    logout(page)


def test_admin_manages_users_and_verifies_the_audit_log(site):
    page, url = site["page"], site["url"]
    login(page, url, "admin", PASSWORD)
    goto(page, "Admin")
    page.get_by_label("User name", exact=True).fill("nina")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text("Choose the new user's role first.").wait_for()
    shot(page, ARTIFACTS, "12_admin_role_required")
    page.get_by_label("User name", exact=True).fill("nina")
    choose(page, "Role", "ML engineer")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text("Created nina (ML engineer).").wait_for()
    wait_idle(page)
    choose(page, "User", "nina (ML engineer)")
    choose(page, "New role", "Data owner")
    page.get_by_role("button", name="Set role").click()
    page.get_by_text("nina is now Data owner.").wait_for()
    wait_idle(page)
    users = {u.username: u for u in site["platform"].list_users(site["admin"])}
    assert users["nina"].role == "data_owner"
    shot(page, ARTIFACTS, "13_admin_users")

    # captions are legible: contrast against the page at least 4.5:1
    ratio = page.evaluate("""() => {
        const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => v / 255)
            .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const el = document.querySelector('[data-testid="stCaptionContainer"] p, [data-testid="stCaptionContainer"]');
        const fg = lum(getComputedStyle(el).color), bg = lum(getComputedStyle(document.body).backgroundColor);
        return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05); }""")
    assert ratio >= 4.5, ratio

    goto(page, "Audit")
    page.get_by_label("Action", exact=True).fill("approve")
    page.keyboard.press("Enter")
    wait_idle(page)
    shown = page.get_by_text(re.compile(r"\d+ entries shown")).inner_text()
    assert int(shown.split()[0]) >= 1
    page.get_by_role("button", name="Verify the whole chain").click()
    page.get_by_text("Chain intact").wait_for()
    shot(page, ARTIFACTS, "14_admin_audit_verified")
    decided = [e for e in site["platform"].audit_log(site["admin"], action="approve") if e.outcome == "ok"]
    assert [e.actor for e in decided] == ["oscar"]
    logout(page)
    assert time.monotonic() - site["started"] < 360, "the acceptance suite must stay under 6 minutes"
