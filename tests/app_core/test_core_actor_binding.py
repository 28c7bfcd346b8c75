"""Services trust no Actor object by itself: the session or API token it names must be live."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core import jobs
from app.core.services import Actor, AuthenticationError
from core_helpers import PASSWORD, make_team, tiny_pipeline, upload_titanic


def _approved(platform, team):
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    platform.approve(team.officer, rel.id, "gate passed")
    return ds, rel


def test_an_actor_kept_after_logout_downloads_nothing(platform):
    team = make_team(platform)
    _ds, rel = _approved(platform, team)
    session = platform.login("ml", PASSWORD)
    assert platform.download(session.actor, rel.id, "csv").data
    platform.logout(session.token)
    with pytest.raises(AuthenticationError, match="session ended"):
        platform.download(session.actor, rel.id, "csv")
    denied = [e for e in platform.audit_log(team.admin, action="download") if e.outcome != "ok"]
    assert denied and denied[-1].actor == "ml"


def test_a_forged_actor_without_a_session_reads_nothing(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    forged = Actor(team.owner.user_id, "owner", "data_owner")  # no session_id
    with pytest.raises(AuthenticationError):
        platform.draft_schema(forged, ds.id)
    borrowed = Actor(team.owner.user_id, "owner", "data_owner", session_id=team.ml.session_id)  # ml's session
    with pytest.raises(AuthenticationError):
        platform.draft_schema(borrowed, ds.id)
    assert platform.draft_schema(team.owner, ds.id).derived_from_private_data


def test_an_expired_session_actor_is_refused(platform):
    team = make_team(platform)
    real_now = platform.now
    platform.now = lambda: real_now() + timedelta(hours=13)
    try:
        with pytest.raises(AuthenticationError, match="expired"):
            platform.list_datasets(team.owner)
    finally:
        platform.now = real_now


def test_an_api_token_actor_stops_with_its_token(platform):
    team = make_team(platform)
    _ds, rel = _approved(platform, team)
    info = platform.create_api_token(team.ml)
    token_actor = platform.actor_for_api_token(info.token)
    assert platform.get_release(token_actor, rel.id).id == rel.id
    platform.revoke_api_token(team.ml, info.id)
    with pytest.raises(AuthenticationError, match="not valid"):
        platform.get_release(token_actor, rel.id)


def test_an_aborted_streamed_download_is_audited_as_aborted(platform):
    team = make_team(platform)
    _ds, rel = _approved(platform, team)
    stream = platform.open_download(team.ml, rel.id, "csv")
    chunks = iter(stream)
    assert next(chunks)
    chunks.close()  # the client went away before the end
    entries = [e for e in platform.audit_log(team.admin, action="download") if e.details.get("release_id") == rel.id
               or e.target == f"release:{rel.id}"]
    assert [e.outcome for e in entries][-2:] == ["ok", "failed"]
    assert entries[-1].details["error"] == "aborted" and 0 < entries[-1].details["bytes_sent"] <= stream.size
    complete = platform.open_download(team.ml, rel.id, "csv")
    assert b"".join(complete)
    after = [e for e in platform.audit_log(team.admin, action="download") if e.target == f"release:{rel.id}"]
    assert [e.outcome for e in after][-1] == "ok"  # a complete download leaves no abort entry


def test_the_role_in_an_actor_grants_nothing_the_database_does_not(platform):
    """An Actor claiming a higher role over its own live session acts with the stored role."""
    from app.core.authz import PermissionDeniedError

    team = make_team(platform)
    promoted = Actor(team.owner.user_id, "owner", "admin", session_id=team.owner.session_id)
    with pytest.raises(PermissionDeniedError):
        platform.list_users(promoted)
    system = Actor(team.admin.user_id, "admin", "admin", via="system", session_id=team.admin.session_id)
    with pytest.raises(AuthenticationError):  # "system" names no credential: refused
        platform.list_users(system)


def test_only_the_service_layer_builds_actors():
    """The edges (HTTP API, dashboard, CLI, launcher) get an Actor only from a secret, through
    actor_for_session / actor_for_api_token / login: none constructs one. Session ids are
    sequential, not secret, so an Actor built from an id would be a forgery the live check
    cannot tell from the real thing; this keeps that door shut outside app/core/services."""
    import ast
    from pathlib import Path

    app_dir = Path(__file__).resolve().parents[2] / "app"
    built = []
    for path in app_dir.rglob("*.py"):
        if "services" in path.relative_to(app_dir).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Actor":
                built.append(f"{path.relative_to(app_dir)}:{node.lineno}")
    assert built == []
