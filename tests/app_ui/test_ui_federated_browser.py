"""A federated fit in the real dashboard (headless Debian chromium): the officer's Review page
shows "federated across 3 sites" with each site's part; screenshots in test-artifacts/federated/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_ui.browser_helpers import Dashboard, dashboard_env, goto, launch, login, main_text, require_chromium, shot
from tests.federated_model import SITES, model_bytes

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "federated"
PASSWORD = "correct horse battery staple 42"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_officer_sees_each_sites_part_in_the_browser(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from app.core.config import Settings
    from app.core.services import Platform

    env = dashboard_env(tmp_path)
    platform = Platform.open(Settings.from_env(env))
    try:
        platform.create_first_admin("admin", PASSWORD)
        admin = platform.login("admin", PASSWORD).actor
        platform.create_user(admin, "alice", PASSWORD, "data_owner")
        platform.create_user(admin, "oscar", PASSWORD, "privacy_officer")
        alice = platform.login("alice", PASSWORD).actor
        platform.register_federated(alice, "hospitals.zip", model_bytes(epsilon=1.0, colluding=1), name="hospitals union",
                                    classification="internal")
    finally:
        platform.close()
    dash = Dashboard(env, tmp_path / "launcher.log").wait_ready()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            login(page, dash.url, "oscar", PASSWORD)
            goto(page, "Review")
            page.get_by_text("hospital-c", exact=True).first.wait_for(timeout=30_000)
            shot(page, ARTIFACTS, "review-federated")
            text = main_text(page)
            assert "Federated across 3 sites" in text and "not measured" in text
            assert all(site in text for site in SITES)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            login(page, dash.url, "alice", PASSWORD)
            goto(page, "Datasets")
            page.get_by_text("hospital-c", exact=True).first.wait_for(timeout=30_000)
            shot(page, ARTIFACTS, "dataset-federated")
            text = main_text(page)
            assert "Federated across 3 sites" in text and "Register a federated fit" in text
            browser.close()
    finally:
        dash.stop()
