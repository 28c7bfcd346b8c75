"""Separation of duties per dataset: whoever had raw access to a dataset never approves its
releases, even after a role change."""

from __future__ import annotations

import pytest

from app.core import jobs
from app.core.authz import PermissionDeniedError
from app.core.services.decisions import SeparationOfDutiesError
from core_helpers import PASSWORD, make_team, tiny_pipeline, upload_titanic


def _evaluated(platform, team, ds):
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    return rel


def test_a_data_owner_who_read_the_raw_data_cannot_approve_after_becoming_officer(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    colleague = platform.create_user(team.admin, "colleague", PASSWORD, "data_owner")
    platform.add_member(team.admin, ds.id, colleague.id)
    colleague_actor = platform.login("colleague", PASSWORD).actor
    platform.draft_schema(colleague_actor, ds.id)  # derived from the private table
    platform.set_role(team.admin, colleague.id, "privacy_officer")
    rel = _evaluated(platform, team, ds)
    with pytest.raises(SeparationOfDutiesError, match="raw data of dataset"):
        platform.approve(platform.login("colleague", PASSWORD).actor, rel.id, "looks fine")
    assert platform.get_release(team.owner, rel.id).state == "evaluated"
    assert platform.approve(team.officer, rel.id, "gate passed").state == "approved"


def test_the_dataset_owner_made_officer_cannot_approve_a_colleagues_release(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    requester = platform.create_user(team.admin, "requester", PASSWORD, "data_owner")
    platform.add_member(team.admin, ds.id, requester.id)
    rel = platform.request_release(platform.login("requester", PASSWORD).actor, ds.id, synthesizer="mst",
                                   epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    platform.set_role(team.admin, team.owner.user_id, "privacy_officer")
    with pytest.raises(PermissionDeniedError):
        platform.approve(platform.login("owner", PASSWORD).actor, rel.id, "mine to judge")
    denied = [e for e in platform.audit_log(team.admin, action="approve") if e.outcome == "denied"]
    assert denied and denied[-1].actor == "owner"


def test_raw_access_to_another_dataset_does_not_count(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    other = upload_titanic(platform, team, name="titanic 2")  # names are unique
    colleague = platform.create_user(team.admin, "colleague", PASSWORD, "data_owner")
    platform.add_member(team.admin, other.id, colleague.id)
    platform.draft_schema(platform.login("colleague", PASSWORD).actor, other.id)
    platform.set_role(team.admin, colleague.id, "privacy_officer")
    platform.add_member(team.admin, ds.id, colleague.id)
    rel = _evaluated(platform, team, ds)
    assert platform.approve(platform.login("colleague", PASSWORD).actor, rel.id, "gate passed").state == "approved"
