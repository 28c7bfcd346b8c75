"""Sign-in with an OpenID Connect provider, for real: Streamlit's st.login() against a fake
provider served on 127.0.0.1 inside the test (discovery, JWKS, authorize, token with an RS256
ID token), driven in headless chromium. A linked identity lands signed in with its account's
role; an unlinked one sees the refusal (and the attempt is audited) until an administrator
links it."""

from __future__ import annotations

import stat

import pytest

from tests.app_ui.browser_helpers import (
    Dashboard,
    dashboard_env,
    require_chromium,
    free_port,
    goto,
    launch,
    shot,
    wait_idle,
)
from tests.app_ui.fake_oidc import FakeOidcProvider
from tests.app_ui.ui_helpers import REPO

ARTIFACTS = REPO / "test-artifacts" / "oidc"
PASSWORD = "correct horse battery staple 42"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def oidc_world(tmp_path):
    require_chromium()
    provider = FakeOidcProvider().start()
    port = free_port()
    env = dashboard_env(tmp_path, SYNTHGEN_OIDC_PROVIDER="Fake IdP", SYNTHGEN_OIDC_METADATA_URL=provider.metadata_url,
                        SYNTHGEN_OIDC_CLIENT_ID=provider.client_id, SYNTHGEN_OIDC_CLIENT_SECRET=provider.client_secret,
                        SYNTHGEN_OIDC_REDIRECT_URI="http://127.0.0.1:{port}/oauth2callback")  # the launcher fills {port}
    from app.core.config import Settings
    from app.core.services import Platform

    settings = Settings.from_env(env)
    platform = Platform.open(settings)
    platform.create_first_admin("admin", PASSWORD)
    admin = platform.login("admin", PASSWORD).actor
    olga = platform.create_user(admin, "olga", None, "privacy_officer", oidc_issuer=provider.issuer,
                                oidc_subject="olga-at-idp")
    dash = Dashboard(env, tmp_path / "launcher.log", port=port).wait_ready()
    try:
        yield {"provider": provider, "platform": platform, "admin": admin, "olga": olga, "url": dash.url,
               "settings": settings, "tmp": tmp_path}
    finally:
        dash.stop()
        provider.stop()
        platform.close()


def wait_for_cookie_gone(page, name: str, timeout_s: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while any(c["name"] == name for c in page.context.cookies()):
        assert time.monotonic() < deadline, f"cookie {name} still set {timeout_s} s after logging out"
        page.wait_for_timeout(100)


def sign_in_with_provider(page, url: str) -> None:
    page.goto(url)
    wait_idle(page)
    page.get_by_role("button", name="Sign in with Fake IdP").click()
    # the browser goes to /auth/login → the provider → /oauth2callback → back to the app
    page.wait_for_url(f"{url}/**", timeout=30_000)
    wait_idle(page)


def test_linked_identity_signs_in_unlinked_is_refused_until_linked(oidc_world):
    from playwright.sync_api import sync_playwright

    w = oidc_world
    provider, platform, url = w["provider"], w["platform"], w["url"]
    # the launcher wrote the [auth] secrets outside the repository, readable by the owner only
    secrets_file = w["settings"].dashboard_secrets_file
    assert secrets_file.exists() and stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert not (REPO / ".streamlit" / "secrets.toml").exists()

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(30_000)

        # 1. a linked identity lands signed in as its account, with its role's pages
        provider.next_subject = "olga-at-idp"
        sign_in_with_provider(page, url)
        page.get_by_text("Log out").wait_for()
        shot(page, ARTIFACTS, "01_linked_signed_in")
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "olga" in sidebar.inner_text() and "Privacy officer" in sidebar.inner_text()
        goto(page, "Review")
        assert "POST /token" in provider.requests and "GET /jwks" in provider.requests
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Sign in with Fake IdP").wait_for()
        # st.logout() clears the identity cookie by a redirect through /auth/logout: navigating
        # before it lands would abort it (the service then refuses the cookie's spent sign-in,
        # tested in tests/app_core); here the test waits for the redirect, as a person would
        wait_for_cookie_gone(page, "_streamlit_user")
        wait_idle(page)

        # 2. an identity linked to no account is refused with a clear message
        provider.next_subject = "stranger-at-idp"
        sign_in_with_provider(page, url)
        page.get_by_text("no account is linked to this login; ask an administrator").wait_for()
        page.get_by_text("stranger-at-idp").first.wait_for()
        shot(page, ARTIFACTS, "02_unlinked_refused")
        assert page.get_by_text("Log out").count() == 0

        # 3. the administrator links it; signing in again now works, with that account's role
        mia = platform.create_user(w["admin"], "mia", PASSWORD, "ml_engineer")
        platform.link_oidc_identity(w["admin"], mia.id, provider.issuer, "stranger-at-idp")
        page.get_by_role("button", name="Sign in with Fake IdP").click()
        page.wait_for_url(f"{url}/**", timeout=30_000)
        wait_idle(page)
        page.get_by_text("Log out").wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "mia" in sidebar.inner_text() and "ML engineer" in sidebar.inner_text()
        shot(page, ARTIFACTS, "03_linked_after_admin")
        browser.close()

    logins = [(e.actor, e.outcome, e.details.get("reason"), e.details.get("subject"))
              for e in platform.audit_log(w["admin"], action="login") if e.details.get("method") == "oidc"]
    assert logins == [("olga", "ok", None, None), ("anonymous", "failed", "unknown_identity", "stranger-at-idp"),
                      ("mia", "ok", None, None)]
