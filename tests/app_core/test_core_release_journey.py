"""Service rules of the release journey: every evaluated release reaches a decision, every
dataset has a reviewer, separation of duties whatever the role is now, dataset names are unique,
a schema is reviewed only when the owner says so, and the budget history adds up."""

from __future__ import annotations

import json

import pytest

from app.core import jobs
from app.core.authz import SelfApprovalError
from app.core.reviewers import NoReviewerError
from app.core.services import ApprovalRefusedError
from synthgen.errors import ConflictError, InvalidInputError
from tests.app_core.core_helpers import TITANIC_CSV, TITANIC_SCHEMA, make_team, tiny_pipeline, upload_titanic


def evaluated(platform, team, ds, verdict, **kw):
    kw.setdefault("synthesizer", "mst")
    kw.setdefault("epsilon", 0.5)
    rel = platform.request_release(team.owner, ds.id, **kw)
    assert jobs.run_one(platform, tiny_pipeline(verdict)) == "succeeded"
    return platform.get_release(team.owner, rel.id)


def test_inconclusive_is_approvable_with_a_reason_under_the_default_policy(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = evaluated(platform, team, ds, "inconclusive")
    assert rel.policy.get("allow_override") is False
    with pytest.raises(ApprovalRefusedError, match="written reason"):
        platform.approve(team.officer, rel.id, "fine")  # an override must be explicit
    done = platform.approve(team.officer, rel.id, "attack interval too wide on 600 rows; accepted", override=True)
    assert done.state == "approved" and done.override


def test_inconclusive_can_be_closed_to_approval_by_policy(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = evaluated(platform, team, ds, "inconclusive", policy={"allow_inconclusive": False})
    with pytest.raises(ApprovalRefusedError, match="can only be rejected"):
        platform.approve(team.officer, rel.id, "fine", override=True)
    assert platform.reject(team.officer, rel.id, "policy").state == "rejected"


def test_fail_is_only_rejectable_unless_the_policy_allows_an_override(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    failed = evaluated(platform, team, ds, "fail")
    with pytest.raises(ApprovalRefusedError, match="can only be rejected"):
        platform.approve(team.officer, failed.id, "ship it", override=True)
    allowed = evaluated(platform, team, ds, "fail", policy={"allow_override": True})
    assert platform.approve(team.officer, allowed.id, "known utility loss", override=True).override


def test_bad_policy_switch_is_refused_by_name(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    with pytest.raises(InvalidInputError, match="allow_inconclusive"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5,
                                 policy={"allow_inconclusive": "yes"})


def test_officers_review_every_dataset_without_membership(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, members=False)  # only the owner is a member
    rel = evaluated(platform, team, ds, "pass")
    assert [r.id for r in platform.list_releases(team.officer) if r.state == "evaluated"] == [rel.id]
    assert platform.get_risk_report(team.officer, rel.id)
    assert platform.approve(team.officer, rel.id, "gates pass").state == "approved"
    # the pool reviews; it does not read raw data or consume releases
    from app.core.authz import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        platform.draft_schema(team.officer, ds.id)
    with pytest.raises(PermissionDeniedError):
        platform.download(team.officer, rel.id, "csv")


def test_a_request_nobody_could_review_is_refused_before_any_budget_is_spent(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    before = platform.budget_summary(team.owner, ds.id)
    for officer in (team.officer, team.officer2):
        platform.disable_user(team.admin, officer.user_id)
    with pytest.raises(NoReviewerError, match="Ask an administrator to create or re-enable a privacy-officer"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    after = platform.budget_summary(team.owner, ds.id)
    assert after.spent.rho == before.spent.rho and after.reserved.rho == before.reserved.rho
    assert platform.list_releases(team.owner) == []
    platform.enable_user(team.admin, team.officer.user_id)
    assert platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5).state == "draft"


def test_nobody_publishes_a_release_they_requested_whatever_their_role_now(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = evaluated(platform, team, ds, "pass")
    platform.approve(team.officer, rel.id, "gates pass")
    platform.set_role(team.admin, team.owner.user_id, "privacy_officer")
    with pytest.raises(SelfApprovalError):
        platform.publish(team.owner, rel.id)
    assert platform.get_release(team.officer, rel.id).state == "approved"
    assert platform.publish(team.officer2, rel.id).state == "published"


def test_duplicate_dataset_names_are_refused(platform):
    team = make_team(platform)
    upload_titanic(platform, team)
    with pytest.raises(ConflictError, match="already has a dataset named 'Titanic'"):
        platform.upload_dataset(team.outsider, "t.csv", TITANIC_CSV.read_bytes(), name="Titanic ", classification="public", budget_epsilon=1,
                                delta=1e-6)
    assert [d.name for d in platform.list_datasets(team.admin)] == ["titanic"]
    # a deleted dataset's name is free again
    ds = platform.list_datasets(team.admin)[0]
    platform.delete_dataset(team.owner, ds.id)
    assert platform.upload_dataset(team.owner, "t.csv", TITANIC_CSV.read_bytes(), name="titanic", classification="public", budget_epsilon=1,
                                   delta=1e-6).name == "titanic"


def test_schema_is_reviewed_only_when_the_owner_says_so(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    schema = json.loads(TITANIC_SCHEMA.read_text())
    schema["columns"][1]["role"] = "attribute"  # a changed schema (Survived no longer sensitive)
    text = json.dumps(schema)
    # the JSON claims it is reviewed, but the save says it is not: stored as a draft
    info = platform.update_schema(team.owner, ds.id, text, reviewed=False)
    assert not info.schema_reviewed
    with pytest.raises(InvalidInputError, match="derived_from_private_data"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    # a draft read off the data, saved with an explicit review
    draft = json.loads(platform.draft_schema(team.owner, ds.id).schema_json)
    assert draft["derived_from_private_data"] is True
    assert platform.update_schema(team.owner, ds.id, json.dumps(draft), reviewed=True).schema_reviewed


def test_budget_history_ends_at_the_meter_figure(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    assert platform.budget_history(team.owner, ds.id) == []
    evaluated(platform, team, ds, "pass", epsilon=0.5)
    evaluated(platform, team, ds, "pass", epsilon=1.0)
    points = platform.budget_history(team.owner, ds.id)
    assert len(points) == 2 and points[0][1] == pytest.approx(0.5, rel=1e-6)
    assert points[0][0] <= points[1][0]
    summary = platform.budget_summary(team.owner, ds.id)
    used = summary.spent.rho + summary.reserved.rho
    from synthgen.budget import PrivacyBudget

    assert points[-1][1] == pytest.approx(PrivacyBudget(used).epsilon(ds.delta), rel=1e-9)
    # what an ML engineer may not see, they may not chart either
    from app.core.authz import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        platform.budget_history(team.ml, ds.id)


def test_over_budget_refusal_speaks_epsilon_only(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0)
    from synthgen.errors import BudgetExceededError

    with pytest.raises(BudgetExceededError) as err:
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=2.0)
    message = str(err.value)
    assert "ε = 2 at δ = 1e-06" in message and "ρ" not in message and "zCDP" not in message


def test_an_aim_release_is_weighted_towards_its_target(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    aim = platform.request_release(team.owner, ds.id, synthesizer="aim", epsilon=0.5, target="Survived")
    assert aim.config["target"] == "Survived" and aim.target == "Survived"
    mst = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5, target="Survived")
    assert "target" not in mst.config  # MST measures a spanning tree of every column; no workload to weight
    before = platform.budget_summary(team.owner, ds.id).remaining.rho
    for bad, why in (("PassengerId", "synthesized column"), ("Nope", "synthesized column")):
        with pytest.raises(InvalidInputError, match=why):
            platform.request_release(team.owner, ds.id, synthesizer="aim", epsilon=0.5, target=bad)
    with pytest.raises(InvalidInputError, match="config target"):
        platform.request_release(team.owner, ds.id, synthesizer="aim", epsilon=0.5, config={"target": "PassengerId"})
    assert platform.budget_summary(team.owner, ds.id).remaining.rho == before  # refused before any reservation
