"""Authorization, four-eyes, the release state machine and identity, through the facade."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core import jobs
from app.core.authz import PermissionDeniedError, SelfApprovalError
from app.core.releases import DOWNLOADABLE, STATES, TRANSITIONS, IllegalTransitionError
from app.core.services import ApprovalRefusedError, AuthenticationError, NotFoundError, Platform
from synthgen.errors import BudgetExceededError, InvalidInputError

from core_helpers import PASSWORD, make_team, tiny_pipeline, upload_titanic


def evaluated_release(platform, team, ds, *, verdict="pass", **kw):
    kw.setdefault("synthesizer", "mst")
    kw.setdefault("epsilon", 0.5)
    rel = platform.request_release(team.owner, ds.id, **kw)
    assert jobs.run_one(platform, tiny_pipeline(verdict)) == "succeeded"
    return platform.get_release(team.owner, rel.id)


def test_happy_path_and_state_machine(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert rel.state == "draft"
    assert platform.budget_summary(team.owner, ds.id).reserved.rho == pytest.approx(rel.rho)
    with pytest.raises(IllegalTransitionError, match=rf"release {rel.id} is 'draft'; approve needs 'evaluated'"):
        platform.approve(team.officer, rel.id, "too early")
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    budget = platform.budget_summary(team.owner, ds.id)
    assert budget.spent.rho == pytest.approx(rel.rho) and budget.reserved.rho == 0
    rel = platform.approve(team.officer, rel.id, "gate passed")
    assert rel.state == "approved" and rel.approver == "officer"
    with pytest.raises(IllegalTransitionError, match="reject needs 'evaluated'"):
        platform.reject(team.officer2, rel.id, "late")
    rel = platform.publish(team.officer, rel.id)
    assert rel.state == "published"
    rel = platform.revoke(team.owner, rel.id, "withdrawn")
    assert rel.state == "revoked"
    with pytest.raises(PermissionDeniedError):
        platform.download(team.ml, rel.id, "csv")


def test_transition_table_is_explicit():
    assert TRANSITIONS["approve"] == (("evaluated",), "approved")
    assert TRANSITIONS["publish"] == (("approved",), "published")
    # a release of confidential or restricted data waits in second_review, where nothing is downloadable
    assert TRANSITIONS["approve_first"] == (("evaluated",), "second_review")
    assert TRANSITIONS["approve_second"] == (("second_review",), "approved")
    assert "second_review" not in DOWNLOADABLE
    assert all(target in STATES for _, target in TRANSITIONS.values())


def test_self_approval_refused(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    # the requester is made a privacy officer afterwards: still may not approve their own request
    rel = evaluated_release(platform, team, ds)
    platform.set_role(team.admin, team.owner.user_id, "privacy_officer")
    with pytest.raises(SelfApprovalError):
        platform.approve(team.owner, rel.id, "my own")
    assert platform.get_release(team.officer, rel.id).state == "evaluated"
    denials = [e for e in platform.audit_log(team.admin, action="approve") if e.outcome == "denied"]
    assert len(denials) == 1 and denials[0].actor == "owner"


def test_approval_requires_a_privacy_officer_of_the_review_pool(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, members=False)
    rel = evaluated_release(platform, team, ds)
    for who in (team.owner, team.ml, team.admin):
        with pytest.raises(PermissionDeniedError):
            platform.approve(who, rel.id, "ok")
    # privacy officers review every dataset (app/core/reviewers.py): no membership needed
    assert platform.approve(team.officer, rel.id, "ok").state == "approved"


def test_failed_gate_and_non_dp_need_explicit_override(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    failed = evaluated_release(platform, team, ds, verdict="fail")
    with pytest.raises(ApprovalRefusedError, match="does not allow an override"):
        platform.approve(team.officer, failed.id, "ship it", override=True)
    allowed = evaluated_release(platform, team, ds, verdict="inconclusive", policy={"allow_override": True})
    with pytest.raises(ApprovalRefusedError, match="override=True"):
        platform.approve(team.officer, allowed.id, "ship it")
    with pytest.raises(InvalidInputError, match="reason"):
        platform.approve(team.officer, allowed.id, "   ", override=True)
    rel = platform.approve(team.officer, allowed.id, "accepted risk: reviewed the attack CIs", override=True)
    assert rel.state == "approved" and rel.override
    nondp = evaluated_release(platform, team, ds, synthesizer="gaussian_copula", epsilon=None)
    assert not nondp.dp and nondp.rho is None
    # never approved, whatever the policy: evaluation-only
    with pytest.raises(ApprovalRefusedError, match="no formal privacy guarantee.*evaluation-only"):
        platform.approve(team.officer, nondp.id, "baseline", override=True)
    assert platform.reject(team.officer, nondp.id, "not DP").state == "rejected"


def test_ml_engineer_never_reaches_raw_data_or_unapproved_release(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    evaluated = evaluated_release(platform, team, ds)
    approved = evaluated_release(platform, team, ds)
    platform.approve(team.officer, approved.id, "ok")
    ml = team.ml
    visible = platform.list_releases(ml)
    assert [r.id for r in visible] == [approved.id]
    assert platform.list_releases(ml, dataset_id=ds.id)[0].id == approved.id
    assert platform.get_release_card(ml, approved.id, "ml").startswith("<html>")
    assert platform.download(ml, approved.id, "csv").data.startswith(b"PassengerId")

    # Every service call that could expose raw data or an unapproved release is refused.
    attempts = {
        "draft_schema": lambda: platform.draft_schema(ml, ds.id),
        "get_dataset": lambda: platform.get_dataset(ml, ds.id),
        "budget_summary": lambda: platform.budget_summary(ml, ds.id),
        "get_release": lambda: platform.get_release(ml, evaluated.id),
        "card_ml": lambda: platform.get_release_card(ml, evaluated.id, "ml"),
        "card_full": lambda: platform.get_release_card(ml, approved.id, "full"),
        "risk_report": lambda: platform.get_risk_report(ml, approved.id),
        "download_csv": lambda: platform.download(ml, evaluated.id, "csv"),
        "download_parquet": lambda: platform.download(ml, evaluated.id, "parquet"),
        "download_bundle": lambda: platform.download(ml, evaluated.id, "bundle"),
        "manifest": lambda: platform.manifest(ml, evaluated.id),
        "update_schema": lambda: platform.update_schema(ml, ds.id, "{}"),
        "request_release": lambda: platform.request_release(ml, ds.id, synthesizer="mst", epsilon=0.1),
        "upload": lambda: platform.upload_dataset(ml, "t.csv", b"a\n1\n", name="x", classification="public", budget_epsilon=1, delta=1e-6),
        "audit_log": lambda: platform.audit_log(ml),
        "approve": lambda: platform.approve(ml, evaluated.id, "x"),
        "delete": lambda: platform.delete_dataset(ml, ds.id),
        "set_budget": lambda: platform.set_budget(ml, ds.id, 10.0),
        "add_member": lambda: platform.add_member(ml, ds.id, ml.user_id),
        "rotate_keys": lambda: platform.rotate_keys(ml),
    }
    for name, call in attempts.items():
        with pytest.raises(PermissionDeniedError):
            call()
            pytest.fail(f"{name} was allowed for an ml_engineer")
    assert platform.list_datasets(ml) == []
    # a release that is not approved is invisible whatever filter is used
    assert platform.list_releases(ml, states=("evaluated", "draft", "running", "failed", "rejected")) == []
    denied = [e for e in platform.audit_log(team.admin) if e.actor == "ml" and e.outcome == "denied"]
    assert len(denied) == len(attempts)  # every refusal is in the audit log


def test_outsider_and_admin_limits(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    with pytest.raises(PermissionDeniedError):
        platform.draft_schema(team.outsider, ds.id)
    with pytest.raises(PermissionDeniedError):
        platform.draft_schema(team.admin, ds.id)  # admin sees no raw data
    assert [d.id for d in platform.list_datasets(team.admin)] == [ds.id]
    assert platform.list_datasets(team.outsider) == []
    draft = platform.draft_schema(team.owner, ds.id)
    assert draft.derived_from_private_data and '"derived_from_private_data": true' in draft.schema_json
    platform.update_schema(team.owner, ds.id, draft.schema_json)
    with pytest.raises(InvalidInputError, match="derived_from_private_data"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)


def test_budget_exceeded_on_request_stores_nothing(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0)
    platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.9)
    with pytest.raises(BudgetExceededError, match="requested ε = 0.5"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert len(platform.list_releases(team.owner, dataset_id=ds.id)) == 1
    with pytest.raises(Exception):
        platform.set_budget(team.owner, ds.id, 0.5)  # below what is reserved
    asked = platform.set_budget(team.owner, ds.id, 2.0)  # a raise waits for a privacy officer
    assert asked.total.epsilon(1e-6) == pytest.approx(1.0, rel=1e-6) and asked.pending_raise.epsilon == 2.0
    approved = platform.approve_budget_raise(team.officer, asked.pending_raise.id)
    assert approved.total.epsilon(1e-6) == pytest.approx(2.0, rel=1e-6) and approved.pending_raise is None


def test_login_throttling_sessions_disable_and_role_change(platform):
    team = make_team(platform)
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="user name or password is wrong"):
            platform.login("ml", "wrong password!!")
    with pytest.raises(AuthenticationError, match="too many failed sign-ins"):
        platform.login("ml", PASSWORD)  # even the right password is not checked while throttled
    with pytest.raises(AuthenticationError):
        platform.login("nobody", PASSWORD)

    session = platform.login("owner", PASSWORD)
    assert platform.actor_for_session(session.token).role == "data_owner"
    platform.set_role(team.admin, team.owner.user_id, "ml_engineer")
    assert platform.actor_for_session(session.token).role == "ml_engineer"
    with pytest.raises(PermissionDeniedError):  # a stale Actor object grants nothing
        platform.upload_dataset(team.owner, "t.csv", b"a\n1\n", name="x", classification="public", budget_epsilon=1, delta=1e-6)
    platform.disable_user(team.admin, team.owner.user_id)
    with pytest.raises(AuthenticationError):
        platform.actor_for_session(session.token)
    with pytest.raises(AuthenticationError):
        platform.list_releases(team.owner)
    with pytest.raises(AuthenticationError):
        platform.login("owner", PASSWORD)

    s2 = platform.login("officer", PASSWORD)
    real_now = platform.now
    try:
        platform.now = lambda: real_now() + timedelta(minutes=31)
        with pytest.raises(AuthenticationError, match="idle"):
            platform.actor_for_session(s2.token)
    finally:
        platform.now = real_now
    with pytest.raises(AuthenticationError):  # an expired session stays dead
        platform.actor_for_session(s2.token)
    s3 = platform.login("officer", PASSWORD)
    platform.logout(s3.token)
    with pytest.raises(AuthenticationError):
        platform.actor_for_session(s3.token)


def test_api_tokens(platform):
    team = make_team(platform)
    tok = platform.create_api_token(team.ml, timedelta(days=1))
    assert tok.token.startswith("sgt_") and tok.prefix in tok.token
    assert platform.actor_for_api_token(tok.token).username == "ml"
    platform.revoke_api_token(team.ml, tok.id)
    with pytest.raises(AuthenticationError):
        platform.actor_for_api_token(tok.token)
    tok2 = platform.create_api_token(team.ml, timedelta(days=1))
    platform.disable_user(team.admin, team.ml.user_id)
    with pytest.raises(AuthenticationError):
        platform.actor_for_api_token(tok2.token)


def test_not_found_and_password_policy(platform):
    team = make_team(platform)
    with pytest.raises(NotFoundError):
        platform.get_release(team.owner, 999)
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        platform.create_user(team.admin, "shorty", "short", "ml_engineer")
    generated = platform.create_user(team.admin, "gen", None, "ml_engineer")
    assert generated.generated_password and platform.login("gen", generated.generated_password)


def test_api_token_actors_are_read_only_in_the_service_layer(platform):
    """Token scope is enforced where every operation passes, not only in the HTTP layer."""
    team = make_team(platform)
    owner_token = platform.create_api_token(team.owner, timedelta(days=1))
    actor = platform.actor_for_api_token(owner_token.token)
    assert actor.via == "api_token"
    platform.list_releases(actor)  # reading releases is the token's purpose
    with pytest.raises(PermissionDeniedError, match="API token may not upload"):
        platform.upload_dataset(actor, "t.csv", b"a,b\n1,2\n", name="x", classification="public", budget_epsilon=1.0, delta=1e-9)
    with pytest.raises(PermissionDeniedError, match="API token may not create_api_token"):
        platform.create_api_token(actor, timedelta(days=1))
    denied = [e for e in platform.audit_log(team.admin) if e.outcome == "denied" and e.action == "upload"]
    assert denied
