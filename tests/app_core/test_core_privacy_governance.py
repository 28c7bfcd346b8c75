"""Privacy governance around the DP core: baselines stay evaluation-only, ML teams read listed
approval reasons, budget raises need a privacy officer, schema reviews are recorded acts."""

from __future__ import annotations

import json

import pytest

from app.core import jobs
from app.core.authz import PermissionDeniedError, SelfApprovalError
from app.core.services import ApprovalRefusedError
from app.core.services.decisions import APPROVAL_REASONS
from synthgen.errors import ConflictError, InvalidInputError

from core_helpers import TITANIC_SCHEMA, make_team, tiny_pipeline, upload_titanic


def _evaluated(platform, team, ds, verdict="pass", **kw):
    kw.setdefault("synthesizer", "mst")
    kw.setdefault("epsilon", 0.5)
    rel = platform.request_release(team.owner, ds.id, **kw)
    assert jobs.run_one(platform, tiny_pipeline(verdict)) == "succeeded"
    return rel


def test_a_baseline_is_never_approved_from_a_dataset_with_a_dp_budget(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = _evaluated(platform, team, ds, synthesizer="gaussian_copula", epsilon=None, policy={"allow_override": True})
    with pytest.raises(ApprovalRefusedError, match="evaluation-only"):
        platform.approve(team.officer, rel.id, "I accept the risk", override=True)
    assert platform.get_release(team.owner, rel.id).state == "evaluated"  # the owner still compares its card
    assert [r.id for r in platform.list_releases(team.ml)] == []


def test_ml_teams_read_a_listed_reason_and_the_note_stays_in_the_audit_log(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = _evaluated(platform, team, ds)
    note = "attack CI upper bound 0.031 on the 891-row table"  # could quote real-side figures
    with pytest.raises(InvalidInputError, match="reason_code"):
        platform.approve(team.officer, rel.id, note, reason_code="because")
    with pytest.raises(InvalidInputError, match="does not match the decision"):
        platform.approve(team.officer, rel.id, note, reason_code="override_reviewed")
    platform.approve(team.officer, rel.id, note)
    shown = platform.get_release(team.ml, rel.id).reason
    manifest = platform.manifest(team.ml, rel.id)
    assert shown == APPROVAL_REASONS["gates_passed"] == manifest["approval"]["reason"]
    assert "0.031" not in json.dumps(manifest)
    entry = [e for e in platform.audit_log(team.admin, action="approve") if e.outcome == "ok"][-1]
    assert entry.details["note"] == note and entry.details["reason_code"] == "gates_passed"
    overridden = _evaluated(platform, team, ds, verdict="fail", policy={"allow_override": True})
    platform.approve(team.officer, overridden.id, "utility gate only", override=True, reason_code="override_utility")
    assert platform.get_release(team.ml, overridden.id).reason == APPROVAL_REASONS["override_utility"]


def test_a_budget_raise_needs_a_privacy_officer_and_is_audited(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0)
    asked = platform.set_budget(team.owner, ds.id, 100.0)
    assert asked.total.epsilon(ds.delta) == pytest.approx(1.0, rel=1e-6)  # nothing changed yet
    raise_id = asked.pending_raise.id
    assert asked.pending_raise.epsilon == 100.0
    for who in (team.owner, team.ml, team.admin):
        with pytest.raises(PermissionDeniedError):
            platform.approve_budget_raise(who, raise_id)
    platform.set_role(team.admin, team.owner.user_id, "privacy_officer")
    with pytest.raises(SelfApprovalError):  # four eyes: not the person who asked
        platform.approve_budget_raise(team.owner, raise_id)
    rejected = platform.reject_budget_raise(team.officer, raise_id)
    assert rejected.pending_raise is None and rejected.total.epsilon(ds.delta) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ConflictError, match="'rejected'"):
        platform.approve_budget_raise(team.officer2, raise_id)
    platform.set_role(team.admin, team.owner.user_id, "data_owner")
    owner = platform.login("owner", "correct horse battery staple 42").actor
    second = platform.set_budget(owner, ds.id, 3.0).pending_raise
    approved = platform.approve_budget_raise(team.officer2, second.id)
    assert approved.total.epsilon(ds.delta) == pytest.approx(3.0, rel=1e-6)
    lowered = platform.set_budget(owner, ds.id, 2.0)  # lowering only reduces exposure: at once
    assert lowered.total.epsilon(ds.delta) == pytest.approx(2.0, rel=1e-6) and lowered.pending_raise is None
    stages = [(e.action, e.outcome, e.details.get("stage")) for e in platform.audit_log(team.admin)
              if e.action in ("set_budget", "approve_budget_raise", "reject_budget_raise") and e.outcome == "ok"]
    assert stages == [("set_budget", "ok", "raise_requested"), ("reject_budget_raise", "ok", None),
                      ("set_budget", "ok", "raise_requested"), ("approve_budget_raise", "ok", None),
                      ("set_budget", "ok", "applied")]


def test_schema_review_is_an_act_and_the_manifest_ships_only_reviewed_schemas(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    review = platform.schema_review(team.officer, ds.id)
    assert review["reviewed_by"] == "owner" and review["source"] == "none"
    with pytest.raises(PermissionDeniedError):
        platform.schema_review(team.ml, ds.id)

    # the owner copies the table's own draft, clears the flag and saves it
    draft = json.loads(platform.draft_schema(team.owner, ds.id).schema_json)
    copied = dict(draft, derived_from_private_data=False)
    platform.update_schema(team.owner, ds.id, json.dumps(copied), draft_json=json.dumps(draft))
    review = platform.schema_review(team.officer, ds.id)
    assert review["source"] == "private_draft" and review["changed"] == []
    equal = {(f["column"], f["field"]) for f in review["equal_to_private_table"]}
    assert ("Sex", "categories") in equal and ("Embarked", "categories") in equal
    assert "male" not in json.dumps(review)  # names of columns and fields only, never values

    # the shipped schema, edited from that draft: the act records what changed
    public = json.loads(TITANIC_SCHEMA.read_text())
    platform.update_schema(team.owner, ds.id, json.dumps(public), draft_json=json.dumps(draft))
    review = platform.schema_review(team.officer, ds.id)
    assert {"column": "Age", "field": "cuts"} in review["changed"]
    rel = _evaluated(platform, team, ds)
    platform.approve(team.officer, rel.id, "ok")
    manifest = platform.manifest(team.ml, rel.id)
    assert manifest["schema"]["columns"] and manifest["schema_review"]["reviewed_by"] == "owner"
    assert manifest["schema_review"]["source"] == "private_draft"
    assert "equal_to_private_table" not in json.dumps(manifest)


def test_a_schema_without_a_recorded_review_is_neither_used_nor_shipped(platform):
    from app.core.store import SchemaReview, transaction

    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = _evaluated(platform, team, ds)
    platform.approve(team.officer, rel.id, "ok")
    with transaction(platform.runtime.factory) as s:
        s.query(SchemaReview).delete()  # a database from before reviews were recorded
    manifest = platform.manifest(team.ml, rel.id)
    assert manifest["schema"] is None and manifest["schema_review"].startswith("withheld")
    with pytest.raises(InvalidInputError, match="no recorded review"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.1)
    assert not platform.get_dataset(team.owner, ds.id).schema_reviewed


@pytest.mark.slow
def test_discovery_measures_with_the_datasets_privacy_unit(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=5.0)
    numeric = {"Age": {"lower": 0, "upper": 100}, "Fare": {"lower": 0, "upper": 600, "integer": False},
               "SibSp": {"lower": 0, "upper": 10}, "Parch": {"lower": 0, "upper": 10}}
    identifiers = ["Name", "Ticket", "Cabin"]
    before = platform.budget_summary(team.owner, ds.id).spent.rho
    with pytest.raises(InvalidInputError, match="person_column"):  # refused before any budget is touched
        platform.discover_schema(team.owner, ds.id, 1.0, numeric=numeric, identifiers=identifiers,
                                 privacy_unit={"person_column": "Age", "max_rows": 3})
    assert platform.budget_summary(team.owner, ds.id).spent.rho == before
    info = platform.discover_schema(team.owner, ds.id, 1.0, numeric=numeric, identifiers=identifiers, bins=4,
                                    privacy_unit={"person_column": "PassengerId", "max_rows": 3})
    draft = json.loads(info.schema_draft_json)
    assert draft["privacy_unit"] == {"person_column": "PassengerId", "max_rows": 3}
    charged = [e for e in platform.audit_log(team.admin, action="discover_schema") if e.details.get("stage") == "charged"]
    assert charged[-1].details["contributions"] == 3
