"""In headless Chromium: the dashboard's session cookie is HttpOnly and SameSite=Strict, a reload
stays signed in, ``document.cookie`` never shows the token, and logging out clears the cookie
(a reload then shows the sign-in page). Screenshots: ``test-artifacts/session-cookie/``."""

from __future__ import annotations

import time

import pytest

from tests.app_ui.browser_helpers import (
    Dashboard,
    dashboard_env,
    launch,
    login,
    logout,
    require_chromium,
    shot,
    wait_idle,
)
from tests.app_ui.ui_helpers import PASSWORD, REPO

ARTIFACTS = REPO / "test-artifacts" / "session-cookie"
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "synthgen_session"), None)


def wait_for(predicate, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_session_cookie_is_httponly_survives_a_reload_and_logout_clears_it(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    from app.core.config import Settings
    from app.core.services import Platform

    env = dashboard_env(tmp_path)
    platform = Platform.open(Settings.from_env(env))
    platform.create_first_admin("admin", PASSWORD)
    platform.close()
    dash = Dashboard(env, tmp_path / "launcher.log").wait_ready()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            page = context.new_page()
            page.set_default_timeout(60_000)
            login(page, dash.url, "admin", PASSWORD)
            wait_for(lambda: session_cookie(context) is not None, "no session cookie after signing in")
            cookie = session_cookie(context)
            assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
            assert "synthgen_session" not in page.evaluate("document.cookie")
            assert cookie["value"] not in page.evaluate("document.cookie")
            shot(page, ARTIFACTS, "01_signed_in")

            page.reload()
            page.get_by_text("Log out").wait_for(timeout=30_000)  # still signed in
            wait_idle(page)
            assert "synthgen_session" not in page.evaluate("document.cookie")
            shot(page, ARTIFACTS, "02_after_reload_still_signed_in")

            logout(page)
            wait_for(lambda: session_cookie(context) is None, "the session cookie outlived the logout")
            page.reload()
            page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
            wait_idle(page)
            assert page.get_by_text("Log out").count() == 0
            shot(page, ARTIFACTS, "03_after_logout_and_reload")
            browser.close()
    finally:
        dash.stop()
