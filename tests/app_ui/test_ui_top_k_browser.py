"""Top-k categories chosen with DP in a real headless browser (Debian chromium via Playwright):
the owner of a 2,000-row Adult sample whose schema declares ``native-country`` top-5 sees the
control on the Datasets page, spends ε 1 and gets the draft to review. Screenshots go to
``test-artifacts/top_k/``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.app_ui.browser_helpers import (Dashboard, dashboard_env, launch, login, main_text, require_chromium, shot,
                                          wait_idle)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "top_k"
PASSWORD = "correct horse battery staple 42"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


def test_owner_chooses_top_k_in_a_browser(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from app.core.config import Settings
    from app.core.services import Platform
    from synthgen.budget import PrivacyBudget

    env = dashboard_env(tmp_path)
    platform = Platform.open(Settings.from_env(env))
    dashboard = None
    try:
        platform.create_first_admin("admin", PASSWORD)
        admin = platform.login("admin", PASSWORD).actor
        platform.create_user(admin, "alice", PASSWORD, "data_owner")
        alice = platform.login("alice", PASSWORD).actor
        sample = pd.read_csv(REPO / "datasets" / "adult.csv").sample(n=2000, random_state=3)
        schema = json.loads((REPO / "datasets" / "adult.schema.json").read_text())
        for col in schema["columns"]:
            if col["name"] == "native-country":  # 42 public codes; keep the 5 most frequent, chosen with DP
                col.pop("categories")
                col["top_k"] = {"k": 5}
                col["nullable"] = True
        ds = platform.upload_dataset(alice, "adult.csv", sample.to_csv(index=False).encode(), name="adult top-k",
                                     classification="internal", budget_epsilon=5.0, delta=1e-6,
                                     schema_json=json.dumps(schema))
        dashboard = Dashboard(env, tmp_path / "launcher.log").wait_ready()
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            login(page, dashboard.url, "alice", PASSWORD)
            page.locator('[data-testid="stSidebarNav"]').get_by_text("Datasets", exact=True).click()
            page.get_by_role("button", name="Choose top-k categories (spends ε)").wait_for(timeout=60_000)
            wait_idle(page)
            text = main_text(page)
            assert "Top-k categories to choose" in text and "native-country" in text
            assert "After choosing the top-k categories the dataset keeps" in text
            eps = page.get_by_label("ε to spend on choosing the top-k categories", exact=True)
            eps.fill("1")
            eps.press("Enter")
            wait_idle(page)
            page.get_by_role("button", name="Choose top-k categories (spends ε)").scroll_into_view_if_needed()
            shot(page, ARTIFACTS, "01_top_k_control")
            before = platform.budget_summary(alice, ds.id)
            page.get_by_role("button", name="Choose top-k categories (spends ε)").click()
            page.get_by_text("Editing the DP-discovered draft").wait_for(timeout=120_000)
            wait_idle(page)
            shot(page, ARTIFACTS, "02_top_k_draft")
            after = platform.budget_summary(alice, ds.id)
            assert after.spent.rho - before.spent.rho == pytest.approx(PrivacyBudget.from_epsilon(1.0, ds.delta).rho)
            draft = {c["name"]: c for c in json.loads(platform.get_dataset(alice, ds.id).schema_draft_json)["columns"]}
            assert draft["native-country"]["categories"][-1] == "<other>"
            assert 1 <= len(draft["native-country"]["categories"]) - 1 <= 5
            assert "<other>" in main_text(page) or page.locator('[data-testid="stDataFrame"]').count() > 0
            browser.close()
    finally:
        if dashboard is not None:
            dashboard.stop()
        platform.close()
