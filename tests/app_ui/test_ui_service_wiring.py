"""Dashboard wiring of the service operations added for issue #5: OIDC sign-in button and
identity linking, DP schema discovery from the Datasets page, audit export and card views that
are not re-recorded on every rerun."""

from __future__ import annotations

import json

import pytest

from tests.app_ui.ui_helpers import app_test, open_page, texts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")

ISS = "https://login.example.org/"


def test_login_page_offers_the_provider_only_when_configured(platform, team, monkeypatch):
    at = app_test(platform, None)
    at.run()
    assert not any(b.label.startswith("Sign in with") for b in at.button)
    monkeypatch.setenv("SYNTHGEN_OIDC_METADATA_URL", "https://login.example.org/.well-known/openid-configuration")
    monkeypatch.setenv("SYNTHGEN_OIDC_CLIENT_ID", "dash")
    monkeypatch.setenv("SYNTHGEN_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("SYNTHGEN_OIDC_PROVIDER", "Example SSO")
    at = app_test(platform, None)
    at.run()
    assert not at.exception
    assert [b.label for b in at.button if b.label.startswith("Sign in with")] == ["Sign in with Example SSO"]
    assert "Sign in" in [s.value for s in at.subheader]  # the local-account form is still there
    monkeypatch.delenv("SYNTHGEN_OIDC_CLIENT_SECRET")  # half configured: a message, not a crash
    at = app_test(platform, None)
    at.run()
    assert not at.exception and "SYNTHGEN_OIDC_CLIENT_SECRET missing" in texts(at)


def test_admin_links_an_identity_on_the_admin_page(platform, team):
    at = open_page(platform, "admin", "admin")
    ml_id = team.ml.user_id
    at.selectbox(key="admin_user").select(ml_id).run()
    form_inputs = [t for t in at.text_input if t.label in ("Issuer (iss)", "Subject (sub)")]
    form_inputs[0].input(ISS)
    form_inputs[1].input("ml-at-idp")
    next(b for b in at.button if b.label == "Link this login to the user").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert platform.login_oidc(ISS, "ml-at-idp").actor.username == "ml"
    assert "signs in with issuer" in texts(at)


@pytest.mark.slow
def test_owner_discovers_a_schema_with_dp_from_the_datasets_page(platform, team, world):
    ds = world["dataset"]
    before = platform.budget_summary(team.owner, ds.id)
    at = open_page(platform, "owner", "datasets")
    assert "After this discovery the dataset keeps" in texts(at)
    assert "DP schema discovery also used" not in texts(at)
    button = next(b for b in at.button if b.label.startswith("Discover schema with DP (costs ε 0.5)"))
    button.click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    after = platform.budget_summary(team.owner, ds.id)
    from synthgen.budget import PrivacyBudget

    assert after.spent.rho - before.spent.rho == pytest.approx(PrivacyBudget.from_epsilon(0.5, ds.delta).rho)
    info = platform.get_dataset(team.owner, ds.id)
    assert info.schema_draft_json and "differential privacy" in json.loads(info.schema_draft_json)["notes"]
    assert "waiting for your review" in texts(at) and "Editing the DP-discovered draft" in texts(at)
    # the meter says that key thresholding's δ adds to the guarantee's δ
    assert f"DP schema discovery also used δ = {ds.delta:.0e}" in texts(at) and "zCDP" not in texts(at)


def test_rendering_the_audit_page_exports_nothing_and_reruns_do_not_repeat_card_views(platform, team, world):
    at = open_page(platform, "officer", "audit")
    at.run()
    assert any(b.label == "Export CSV" for b in at.get("download_button"))
    assert platform.audit_log(team.admin, action="export_audit") == []  # only a click exports (deferred)
    target = f"release:{world['pending']}"
    seen = len(platform.audit_log(team.admin, action="view_risk_report", target=target))  # the audit session's
    review = open_page(platform, "officer", "review")  # a new sign-in session: Review is also its start page
    for _ in range(3):
        review.run()
    views = platform.audit_log(team.admin, action="view_risk_report", target=target)[seen:]
    assert len(views) == 1  # the risk report, once for this session; the full card is not even loaded
    review.toggle(key=f"full_card_{world['pending']}").set_value(True).run()
    review.run()
    views = platform.audit_log(team.admin, action="view_risk_report", target=target)[seen:]
    assert [e.details.get("audience") for e in views] == [None, "full"]


def test_launcher_writes_the_streamlit_auth_secrets_only_when_configured(tmp_path):
    import stat
    import tomllib

    from app.core.config import Settings
    from app.launcher import write_dashboard_secrets

    env = {"SYNTHGEN_DATA_DIR": str(tmp_path / "data"), "SYNTHGEN_KEY_DIR": str(tmp_path / "keys"),
           "SYNTHGEN_OIDC_METADATA_URL": "https://idp.example.org/.well-known/openid-configuration",
           "SYNTHGEN_OIDC_CLIENT_ID": "dash", "SYNTHGEN_OIDC_CLIENT_SECRET": 'se"cret\\'}
    settings = Settings.from_env(env)
    assert "se\"cret" not in repr(settings)  # secrets stay out of reprs and logs
    path = write_dashboard_secrets(settings)
    assert path == tmp_path / "keys" / "dashboard-secrets.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auth = tomllib.loads(path.read_text())["auth"]
    assert auth["client_secret"] == 'se"cret\\' and auth["client_id"] == "dash"
    assert auth["redirect_uri"] == "http://localhost:{port}/oauth2callback" and len(auth["cookie_secret"]) >= 32
    assert set(auth) == {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"}
    # OIDC switched off again: the stale file goes away
    for k in [k for k in env if k.startswith("SYNTHGEN_OIDC_")]:
        del env[k]
    assert write_dashboard_secrets(Settings.from_env(env)) is None and not path.exists()
    from synthgen.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="SYNTHGEN_OIDC_METADATA_URL .* must be an https URL"):
        Settings.from_env({**env, "SYNTHGEN_OIDC_METADATA_URL": "http://idp.example.org/x",
                           "SYNTHGEN_OIDC_CLIENT_ID": "a", "SYNTHGEN_OIDC_CLIENT_SECRET": "b"})
