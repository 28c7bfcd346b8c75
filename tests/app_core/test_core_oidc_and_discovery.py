"""OIDC identities linked by an administrator; DP schema discovery charged to the ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.core import ledger
from app.core.authz import PermissionDeniedError
from app.core.services import AuthenticationError
from app.core.store import Dataset, transaction
from synthgen.budget import PrivacyBudget
from synthgen.errors import BudgetExceededError, InvalidInputError

from core_helpers import make_team, upload_titanic

ISS = "https://login.example.org/"


# -- OIDC ---------------------------------------------------------------------------------------


def test_linked_identity_signs_in_with_its_role_and_unknown_is_refused_and_audited(platform):
    team = make_team(platform)
    u = platform.link_oidc_identity(team.admin, team.officer.user_id, ISS, "sub-123")
    assert (u.oidc_issuer, u.oidc_subject) == (ISS, "sub-123")
    info = platform.login_oidc(ISS, "sub-123", authenticated_at=platform.now())
    assert (info.actor.username, info.actor.role) == ("officer", "privacy_officer")
    assert platform.actor_for_session(info.token).username == "officer"
    with pytest.raises(AuthenticationError, match=r"^no account is linked to this login; ask an administrator$"):
        platform.login_oidc(ISS, "sub-unknown")
    logins = [(e.actor, e.outcome, e.details) for e in platform.audit_log(team.admin, action="login")
              if e.details.get("method") == "oidc"]
    assert logins[0][:2] == ("officer", "ok")
    assert logins[1] == ("anonymous", "failed", {"method": "oidc", "reason": "unknown_identity", "issuer": ISS,
                                                   "subject": "sub-unknown"})
    links = platform.audit_log(team.admin, action="link_oidc")
    assert [(e.actor, e.outcome, e.details["subject"]) for e in links] == [("admin", "ok", "sub-123")]


def test_stale_disabled_and_unlinked_identities_are_refused(platform):
    team = make_team(platform)
    platform.link_oidc_identity(team.admin, team.ml.user_id, ISS, "m")
    with pytest.raises(AuthenticationError, match="older than 5 minutes; sign in again"):
        platform.login_oidc(ISS, "m", authenticated_at=platform.now() - timedelta(minutes=6))
    platform.disable_user(team.admin, team.ml.user_id)
    with pytest.raises(AuthenticationError, match="the account linked to this login is disabled"):
        platform.login_oidc(ISS, "m")
    platform.enable_user(team.admin, team.ml.user_id)
    platform.unlink_oidc_identity(team.admin, team.ml.user_id)
    with pytest.raises(AuthenticationError, match="no account is linked"):
        platform.login_oidc(ISS, "m")
    reasons = [e.details.get("reason") for e in platform.audit_log(team.admin, action="login") if e.outcome == "failed"]
    assert reasons == ["stale_identity", "disabled", "unknown_identity"]


def test_a_logged_out_provider_sign_in_opens_no_other_session(platform):
    """Streamlit's identity cookie can outlive a logout (its clearing redirect interrupted):
    the sign-in behind a logged-out session is spent, a fresh provider sign-in is not."""
    team = make_team(platform)
    platform.link_oidc_identity(team.admin, team.officer.user_id, ISS, "sub-o")
    signed_in_at = platform.now() - timedelta(seconds=30)
    first = platform.login_oidc(ISS, "sub-o", authenticated_at=signed_in_at)
    second_tab = platform.login_oidc(ISS, "sub-o", authenticated_at=signed_in_at)  # not logged out: allowed
    platform.logout(first.token)
    with pytest.raises(AuthenticationError, match="you signed out of this sign-in") as refused:
        platform.login_oidc(ISS, "sub-o", authenticated_at=signed_in_at)
    assert refused.value.reason == "signed_out_identity"
    assert platform.actor_for_session(second_tab.token).username == "officer"  # other sessions are untouched
    again = platform.login_oidc(ISS, "sub-o", authenticated_at=platform.now())
    assert platform.actor_for_session(again.token).username == "officer"
    outcomes = [(e.outcome, e.details.get("reason")) for e in platform.audit_log(team.admin, action="login")
                if e.details.get("method") == "oidc"]
    assert outcomes == [("ok", None), ("ok", None), ("failed", "signed_out_identity"), ("ok", None)]


def test_only_admins_link_identities_and_links_are_unique_and_validated(platform):
    team = make_team(platform)
    with pytest.raises(PermissionDeniedError):
        platform.link_oidc_identity(team.officer, team.officer.user_id, ISS, "self-service")
    assert [e.outcome for e in platform.audit_log(team.admin, action="link_oidc")] == ["denied"]
    platform.link_oidc_identity(team.admin, team.owner.user_id, ISS, "x")
    with pytest.raises(InvalidInputError, match="already linked to user 'owner'"):
        platform.link_oidc_identity(team.admin, team.ml.user_id, ISS, "x")
    with pytest.raises(InvalidInputError, match=r"oidc_issuer \('ftp://x'\) must be an https URL"):
        platform.link_oidc_identity(team.admin, team.ml.user_id, "ftp://x", "y")
    with pytest.raises(InvalidInputError, match="oidc_subject must be"):
        platform.link_oidc_identity(team.admin, team.ml.user_id, ISS, "")
    # http is accepted on the loopback interface only (local test providers)
    platform.link_oidc_identity(team.admin, team.ml.user_id, "http://127.0.0.1:8080", "y")
    with pytest.raises(InvalidInputError, match="must be an https URL"):
        platform.link_oidc_identity(team.admin, team.ml.user_id, "http://idp.example.org", "y")


def test_cli_links_an_identity(platform, settings, monkeypatch, capsys):
    from app.cli import main

    team = make_team(platform)
    for k, v in settings.to_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SYNTHGEN_USERNAME", "admin")
    monkeypatch.setenv("SYNTHGEN_PASSWORD", "correct horse battery staple 42")
    assert main(["user", "link-oidc", "ml", "--issuer", ISS, "--subject", "cli-sub"]) == 0
    assert "user ml now signs in with issuer" in capsys.readouterr().err
    assert platform.login_oidc(ISS, "cli-sub").actor.username == "ml"
    assert main(["user", "unlink-oidc", "ml"]) == 0
    with pytest.raises(AuthenticationError):
        platform.login_oidc(ISS, "cli-sub")
    assert main(["user", "link-oidc", "ml", "--issuer", "nope", "--subject", "s"]) == 2
    assert "oidc_issuer ('nope') must be an https URL" in capsys.readouterr().err
    del team


# -- DP schema discovery -------------------------------------------------------------------------

NUMERIC = {"Age": {"lower": 0, "upper": 100, "integer": False}, "SibSp": {"lower": 0, "upper": 10},
           "Parch": {"lower": 0, "upper": 10}, "Fare": {"lower": 0, "upper": 600, "integer": False}}
IDENTIFIERS = ["PassengerId", "Name", "Ticket", "Cabin"]


def _draft(platform, ds_id):
    with transaction(platform._factory) as s:
        return s.get(Dataset, ds_id).schema_draft_json


@pytest.mark.slow
def test_discovery_debits_the_ledger_by_exactly_its_spend_and_stores_a_draft(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=5.0)
    before = platform.budget_summary(team.owner, ds.id)
    info = platform.discover_schema(team.owner, ds.id, 2.0, numeric=NUMERIC, identifiers=IDENTIFIERS, bins=4)
    after = platform.budget_summary(team.owner, ds.id)
    cost = PrivacyBudget.from_epsilon(2.0, ds.delta).rho
    assert after.spent.rho - before.spent.rho == pytest.approx(cost, rel=1e-12)
    assert after.reserved.rho == before.reserved.rho == 0
    # key thresholding's δ is not part of ρ: the ledger keeps it, and the guarantee's δ grows by it
    assert before.extra_delta == 0 and after.extra_delta == pytest.approx(ds.delta, rel=1e-12)
    assert after.guarantee_delta == pytest.approx(2 * ds.delta, rel=1e-12)
    assert after.to_dict()["guarantee_delta"] == after.guarantee_delta
    draft = json.loads(info.schema_draft_json)
    cols = {c["name"]: c for c in draft["columns"]}
    assert cols["Name"]["role"] == "identifier" and cols["Age"]["kind"] == "numeric"
    assert set(cols["Sex"]["categories"]) <= {"male", "female"} and cols["Sex"]["categories"]
    assert draft.get("derived_from_private_data", False) is False and "differential privacy" in draft["notes"]
    assert json.loads(info.schema_json) == json.loads(ds.schema_json)  # the reviewed schema is untouched
    entries = platform.audit_log(team.admin, action="discover_schema")
    assert [(e.actor, e.outcome, e.details["stage"]) for e in entries] == [("owner", "ok", "charged"),
                                                                            ("owner", "ok", "stored")]
    assert entries[0].details["rho"] == pytest.approx(cost) and entries[0].details["epsilon"] == 2.0
    assert entries[0].details["threshold_delta"] == ds.delta
    # saving the reviewed draft clears it; the officer (a member) may not discover
    platform.update_schema(team.owner, ds.id, info.schema_draft_json, clear_draft=True)
    assert _draft(platform, ds.id) is None
    with pytest.raises(PermissionDeniedError):
        platform.discover_schema(team.officer, ds.id, 0.5, numeric=NUMERIC, identifiers=IDENTIFIERS)


def test_overspending_discovery_is_refused_with_nothing_written(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0)
    with transaction(platform._factory) as s:
        entries_before = ledger.entry_count(s, ds.id)
    before = platform.budget_summary(team.owner, ds.id)
    with pytest.raises(BudgetExceededError, match=r"exceeded: requested ε = 1.5 .* remaining ε = 1 "):
        platform.discover_schema(team.owner, ds.id, 1.5, numeric=NUMERIC, identifiers=IDENTIFIERS)
    with transaction(platform._factory) as s:
        assert ledger.entry_count(s, ds.id) == entries_before
    assert platform.budget_summary(team.owner, ds.id) == before
    assert _draft(platform, ds.id) is None
    failed = platform.audit_log(team.admin, action="discover_schema")
    assert [(e.outcome, e.details.get("error")) for e in failed] == [("failed", "BudgetExceededError")]


def test_bad_declarations_are_refused_before_any_budget_is_touched(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    before = platform.budget_summary(team.owner, ds.id)
    cases = [({"Nope": {"lower": 0, "upper": 1}}, [], r"numeric column \('Nope'\) must be a column of the table"),
             ({"Age": {"lower": "0", "upper": 100}}, [], r"numeric\['Age'\]\.lower \('0'\) must be a finite number"),
             ({"SibSp": {"lower": 0.5, "upper": 10}}, [], r"must be a whole number for an integer column"),
             ({"Age": {"lower": 0, "upper": 100}}, ["Age"], "must not be both numeric and an identifier"),
             ({}, ["Ghost"], r"identifier column \('Ghost'\) must be a column")]
    for numeric, identifiers, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            platform.discover_schema(team.owner, ds.id, 0.5, numeric=numeric, identifiers=identifiers)
    assert platform.budget_summary(team.owner, ds.id) == before


def test_a_failure_after_the_charge_keeps_the_spend_and_is_audited(platform, monkeypatch):
    import synthgen.discovery

    team = make_team(platform)
    ds = upload_titanic(platform, team)

    def boom(*a, **k):
        raise InvalidInputError("column 'Sex': no category is frequent enough to be released at this budget")

    monkeypatch.setattr(synthgen.discovery, "discover_schema", boom)
    before = platform.budget_summary(team.owner, ds.id)
    with pytest.raises(InvalidInputError, match="no category is frequent enough"):
        platform.discover_schema(team.owner, ds.id, 0.5, numeric=NUMERIC, identifiers=IDENTIFIERS)
    after = platform.budget_summary(team.owner, ds.id)
    assert after.spent.rho - before.spent.rho == pytest.approx(PrivacyBudget.from_epsilon(0.5, ds.delta).rho)
    stages = [(e.outcome, e.details.get("stage")) for e in platform.audit_log(team.admin, action="discover_schema")]
    assert stages == [("ok", "charged"), ("failed", "computing")]
