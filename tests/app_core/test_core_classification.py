"""Data classification: the label is required at upload, caps the initial budget, asks for a
second privacy officer on confidential and restricted data, and ends publication windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core import jobs
from app.core.classification import POLICIES
from app.core.services.decisions import SeparationOfDutiesError
from app.core.jobs import runtime_of
from core_helpers import PASSWORD, TITANIC_CSV, TITANIC_SCHEMA, make_team, tiny_pipeline, upload_titanic
from synthgen.errors import ConflictError, InvalidInputError


def _upload(platform, team, **kw):
    return platform.upload_dataset(team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name="t", delta=1e-6,
                                   schema_json=TITANIC_SCHEMA.read_text(), **kw)


def test_the_label_is_required_and_validated(platform):
    team = make_team(platform)
    with pytest.raises(TypeError):
        _upload(platform, team, budget_epsilon=1.0)
    with pytest.raises(InvalidInputError, match="classification .* must be one of public, internal, confidential, "
                                                "restricted"):
        _upload(platform, team, budget_epsilon=1.0, classification="secret")
    assert platform.list_datasets(team.owner) == []  # nothing half-written
    ds = _upload(platform, team, budget_epsilon=1.0, classification="Confidential")
    assert ds.classification == "confidential"
    assert platform.get_dataset(team.owner, ds.id).classification == "confidential"


@pytest.mark.parametrize("label, cap", [("restricted", 1.0), ("confidential", 3.0), ("internal", 10.0)])
def test_the_initial_budget_may_not_exceed_the_labels_maximum(platform, label, cap):
    team = make_team(platform)
    with pytest.raises(InvalidInputError, match=rf"budget_epsilon \({cap * 1.5:g}\) is above the maximum "
                                                rf"ε = {cap:g} for {label} data"):
        _upload(platform, team, budget_epsilon=cap * 1.5, classification=label)
    assert platform.list_datasets(team.owner) == []
    ds = _upload(platform, team, budget_epsilon=cap, classification=label)
    # above the maximum, the owner asks for a raise that a privacy officer approves
    platform.add_member(team.admin, ds.id, team.officer.user_id)
    summary = platform.set_budget(team.owner, ds.id, cap * 2)
    assert summary.pending_raise is not None and summary.epsilon("total") == pytest.approx(cap, rel=1e-3)
    after = platform.approve_budget_raise(team.officer, summary.pending_raise.id)
    assert after.epsilon("total") == pytest.approx(cap * 2, rel=1e-3)


def _evaluated(platform, team, ds):
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    return rel


@pytest.mark.parametrize("label", ["confidential", "restricted"])
def test_sensitive_labels_need_a_second_different_officer(platform, label):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0, classification=label)
    rel = _evaluated(platform, team, ds)
    first = platform.approve(team.officer, rel.id, "ok")
    assert (first.state, first.approver, first.approvals_required) == ("second_review", "officer", 2)
    assert first.classification == label
    with pytest.raises(Exception, match="approved|'approved' or 'published'"):
        platform.publish(team.officer, rel.id)  # not yet publishable
    with pytest.raises(Exception):
        platform.download(team.ml, rel.id, "csv")  # nor downloadable
    with pytest.raises(SeparationOfDutiesError, match="second, different privacy officer"):
        platform.approve(team.officer, rel.id, "again")
    # an officer who had raw access to the dataset may not be the second one either
    seer = platform.create_user(team.admin, "seer", PASSWORD, "data_owner")
    platform.add_member(team.admin, ds.id, seer.id)
    platform.draft_schema(platform.login("seer", PASSWORD).actor, ds.id)  # raw access
    platform.set_role(team.admin, seer.id, "privacy_officer")
    with pytest.raises(SeparationOfDutiesError, match="raw data of dataset"):
        platform.approve(platform.login("seer", PASSWORD).actor, rel.id, "ok")
    second = platform.approve(team.officer2, rel.id, "ok")
    assert (second.state, second.second_approver) == ("approved", "officer2")
    assert platform.publish(team.officer, rel.id).state == "published"


def test_a_second_officer_may_reject_instead(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0, classification="restricted")
    rel = _evaluated(platform, team, ds)
    platform.approve(team.officer, rel.id, "ok")
    assert platform.reject(team.officer2, rel.id, "not convinced").state == "rejected"


@pytest.mark.parametrize("label", ["public", "internal"])
def test_other_labels_need_one_officer(platform, label):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0, classification=label)
    rel = _evaluated(platform, team, ds)
    assert platform.approve(team.officer, rel.id, "ok").state == "approved"


def test_a_publication_expires_after_the_labels_window(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0, classification="internal")
    rel = _evaluated(platform, team, ds)
    platform.approve(team.officer, rel.id, "ok")
    rt = runtime_of(platform)
    start = rt.now()
    rt.now = lambda: start
    published = platform.publish(team.officer, rel.id)
    window = timedelta(days=POLICIES["internal"].publication_days)
    assert published.expires_at == start + window
    rt.now = lambda: start + window - timedelta(seconds=1)
    assert platform.expire_publications() == []
    signed_in = lambda name: platform.login(name, PASSWORD).actor  # noqa: E731 - sessions expire with the clock
    assert platform.download(signed_in("ml"), rel.id, "csv").data
    rt.now = lambda: start + window
    with pytest.raises(ConflictError, match="publication window ended"):  # even before the sweep ran
        platform.download(signed_in("ml"), rel.id, "csv")
    assert platform.expire_publications() == [rel.id]
    assert platform.get_release(signed_in("officer"), rel.id).state == "revoked"
    with pytest.raises(Exception):
        platform.download(signed_in("ml"), rel.id, "csv")
    entries = platform.audit_log(signed_in("admin"), action="expire")
    assert [(e.actor, e.target) for e in entries] == [("system", f"release:{rel.id}")]


def test_the_worker_revokes_expired_publications(platform, settings):
    from app.core.worker import run_worker

    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0, classification="public")
    rel = _evaluated(platform, team, ds)
    platform.approve(team.officer, rel.id, "ok")
    published = platform.publish(team.officer, rel.id)
    rt = runtime_of(platform)
    rt.now = lambda: published.expires_at + timedelta(minutes=1)
    run_worker(settings, once=True, platform=platform)
    assert platform.get_release(platform.login("officer", PASSWORD).actor, rel.id).state == "revoked"
