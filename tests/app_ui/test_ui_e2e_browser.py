"""End to end in a real headless browser (Debian chromium via Playwright, no browser download):
the owner uploads Adult and requests an ε=1 release, the worker runs it, the officer approves,
the ML engineer downloads the CSV, whose rows match the schema. Screenshots of every step go to
``test-artifacts/e2e/``.

To keep CI time sane the owner uploads a 5,000-row sample of Adult; the full-size timing figure
is in ``benchmarks/bench_dashboard.py``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.app_ui.browser_helpers import choose_classification, dashboard_env, require_chromium, free_port, goto, launch, login, logout, shot, wait_idle

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
PASSWORD = "correct horse battery staple 42"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def served(tmp_path):
    """The launcher (worker + dashboard) on a free port against a temp data dir, with one user per role."""
    require_chromium()
    env = dashboard_env(tmp_path)
    from app.core.config import Settings
    from app.core.services import Platform

    platform = Platform.open(Settings.from_env(env))
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    users = {}
    for name, role in (("alice", "data_owner"), ("oscar", "privacy_officer"), ("mia", "ml_engineer")):
        users[name] = platform.create_user(admin, name, PASSWORD, role)
    port = free_port()
    log = open(tmp_path / "launcher.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.launcher", "--no-demo", "--no-api", "--port", str(port),
                             "--address", "127.0.0.1"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the dashboard did not start:\n" + (tmp_path / "launcher.log").read_text())
            time.sleep(0.5)
        yield {"url": url, "platform": platform, "admin": admin, "users": users, "tmp": tmp_path}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        platform.close()


def test_owner_to_officer_to_ml_engineer_in_a_browser(served):
    from playwright.sync_api import sync_playwright

    url, platform, tmp = served["url"], served["platform"], served["tmp"]
    sample = pd.read_csv(REPO / "datasets" / "adult.csv").sample(n=5000, random_state=7)
    csv_path = tmp / "adult_sample.csv"
    sample.to_csv(csv_path, index=False)
    schema_path = REPO / "datasets" / "adult.schema.json"
    schema = json.loads(schema_path.read_text())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    timings = {}

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(60_000)
        page.goto(url)
        wait_idle(page)
        shot(page, ARTIFACTS, "01_login")

        # 1. the data owner uploads the table with its reviewed schema
        login(page, url, "alice", PASSWORD)
        inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        inputs.nth(0).set_input_files(str(csv_path))
        page.get_by_label("Dataset name", exact=True).fill("adult sample")
        choose_classification(page, "internal")
        inputs.nth(1).set_input_files(str(schema_path))
        wait_idle(page)
        page.get_by_role("button", name="Upload", exact=True).click()
        page.get_by_text("Dataset “adult sample” uploaded").wait_for(timeout=120_000)
        wait_idle(page)
        shot(page, ARTIFACTS, "02_owner_uploaded")
        ds = platform.list_datasets(served["admin"])[0]
        for name in ("oscar", "mia"):
            platform.add_member(served["admin"], ds.id, served["users"][name].id)

        # 2. the owner requests an ε=1 MST release and watches the progress bar
        goto(page, "New release")
        page.get_by_text("MST — differentially private").click()
        wait_idle(page)
        eps = page.get_by_label("ε to spend on this release", exact=True)
        eps.fill("1")
        eps.press("Enter")
        wait_idle(page)
        page.get_by_text("Policy: allow a privacy officer").click()
        wait_idle(page)
        shot(page, ARTIFACTS, "03_owner_new_release")
        started = time.monotonic()
        page.get_by_role("button", name="Start release").click()
        bar = page.locator('[data-testid="stProgress"]').last
        bar.wait_for(timeout=60_000)
        seen = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            text = page.locator('[data-testid="stProgress"]').last.inner_text(timeout=10_000)
            seen.add(text)
            if page.get_by_text("is evaluated").count() or page.get_by_text("failed:").count():
                break
            if len(seen) == 2:
                shot(page, ARTIFACTS, "04_owner_progress")
            page.wait_for_timeout(1000)
        timings["start_to_evaluated_s"] = round(time.monotonic() - started, 1)
        shot(page, ARTIFACTS, "05_owner_evaluated")
        assert page.get_by_text("is evaluated").count(), seen
        assert len(seen) >= 2, f"the progress bar never moved: {seen}"
        logout(page)

        # 3. the privacy officer reviews and approves
        login(page, url, "oscar", PASSWORD)
        goto(page, "Review")
        page.get_by_text("Waiting for a decision (1)").wait_for()
        shot(page, ARTIFACTS, "06_officer_review")
        page.get_by_label("Reason (required, kept in the audit log)", exact=True).fill("ε = 1 within policy; risk gates reviewed")
        page.keyboard.press("Tab")
        wait_idle(page)
        override = page.get_by_text("I approve although not every gate passed")
        if override.count():
            override.click()
            wait_idle(page)
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("Waiting for a decision (0)").wait_for(timeout=60_000)
        wait_idle(page)
        shot(page, ARTIFACTS, "07_officer_approved")
        logout(page)

        # 4. the ML engineer downloads the CSV
        login(page, url, "mia", PASSWORD)
        goto(page, "Releases")
        shot(page, ARTIFACTS, "08_ml_releases")
        with page.expect_download(timeout=120_000) as dl:
            page.get_by_role("button", name="Download CSV").click()
        path = tmp / "downloaded.csv"
        dl.value.save_as(str(path))
        shot(page, ARTIFACTS, "09_ml_downloaded")
        browser.close()

    frame = pd.read_csv(io.BytesIO(path.read_bytes()), dtype=str, keep_default_na=False)
    assert len(frame) > 0
    columns = {c["name"]: c for c in schema["columns"] if c.get("role") != "identifier"}
    assert list(frame.columns) == list(columns)
    for name, col in columns.items():
        values = frame[name]
        if col["kind"] == "categorical":
            allowed = {str(v) for v in col["categories"]} | ({""} if col.get("nullable") else set())
            assert set(values) <= allowed, (name, set(values) - allowed)
        elif col["kind"] == "numeric":
            nums = pd.to_numeric(values[values != ""])
            assert nums.between(col["lower"], col["upper"]).all(), name
    downloads = [e for e in platform.audit_log(served["admin"], action="download") if e.outcome == "ok"]
    assert any(e.actor == "mia" and e.details.get("format") == "csv" for e in downloads)
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2))
