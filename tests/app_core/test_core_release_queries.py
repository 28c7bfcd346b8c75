"""list_releases reads in bulk (no query per release); card and risk-report views are audited
once per sign-in session and release, not once per dashboard rerun."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from app.core import jobs
from app.core.authz import PermissionDeniedError

from core_helpers import PASSWORD, make_team, tiny_pipeline, upload_titanic


class CountStatements:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _on(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on)


def add_releases(platform, team, ds_ids, n, *, evaluate_every=2):
    for k in range(n):
        platform.request_release(team.owner, ds_ids[k % len(ds_ids)], synthesizer="mst", epsilon=0.05, rows=20)
        if k % evaluate_every == 0:
            assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"


def test_list_releases_uses_a_fixed_number_of_queries(platform):
    team = make_team(platform)
    ds_ids = [upload_titanic(platform, team, epsilon=50, name=f"titanic {i}").id for i in range(3)]
    add_releases(platform, team, ds_ids, 4)
    counts = {}
    for label in ("few", "many"):
        if label == "many":
            add_releases(platform, team, ds_ids, 20)
        for who in ("owner", "officer", "ml", "admin"):
            with CountStatements(platform.engine) as c:
                found = platform.list_releases(getattr(team, who))
            counts[(label, who)] = (c.count, len(found))
    for who in ("owner", "officer", "ml", "admin"):
        (few, n_few), (many, n_many) = counts[("few", who)], counts[("many", who)]
        assert many == few, (who, counts)  # independent of the number of releases
    assert counts[("many", "owner")][1] == 24 and counts[("many", "ml")][1] == 0
    # the bulk-built infos match what a single read returns
    listed = {r.id: r for r in platform.list_releases(team.owner)}
    for rid in list(listed)[:5]:
        assert platform.get_release(team.owner, rid) == listed[rid]


def _evaluated(platform, team):
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    return rel.id


def views(platform, team, action, rid):
    return [(e.actor, e.outcome, e.details.get("audience"), e.details.get("session"))
            for e in platform.audit_log(team.admin, action=action, target=f"release:{rid}")]


def test_card_views_are_recorded_once_per_session_and_release(platform):
    team = make_team(platform)
    rid = _evaluated(platform, team)
    officer = team.officer  # one sign-in session (as the dashboard holds it)
    for _ in range(5):  # five reruns of the Review page
        assert "full card" in platform.get_release_card(officer, rid, "full")
        platform.get_risk_report(officer, rid)
    full = views(platform, team, "view_risk_report", rid)
    assert len(full) == 2 and {a for a, _o, _au, _s in full} == {"officer"}
    assert {s for *_x, s in full} == {officer.session_id} and officer.session_id is not None
    # a new sign-in session records a new first view
    again = platform.login("officer", PASSWORD).actor
    platform.get_release_card(again, rid, "full")
    assert len(views(platform, team, "view_risk_report", rid)) == 3
    # the session re-resolved from its token (every dashboard rerun) is the same session
    token = platform.login("owner", PASSWORD).token
    for _ in range(3):
        platform.get_release_card(platform.actor_for_session(token), rid, "full")
    assert [v for v in views(platform, team, "view_risk_report", rid) if v[0] == "owner"] == [
        ("owner", "ok", "full", platform.actor_for_session(token).session_id)]


def test_api_token_views_are_recorded_every_time_and_refusals_always(platform):
    team = make_team(platform)
    rid = _evaluated(platform, team)
    platform.approve(team.officer, rid, "fine")
    token = platform.create_api_token(team.ml).token
    for _ in range(2):
        platform.get_release_card(platform.actor_for_api_token(token), rid, "ml")
    assert [(a, o) for a, o, _au, _s in views(platform, team, "view_release_card", rid)] == [("ml", "ok")] * 2
    for _ in range(2):
        with pytest.raises(PermissionDeniedError):
            platform.get_release_card(team.ml, rid, "full")
    denied = [v for v in views(platform, team, "view_risk_report", rid) if v[1] == "denied"]
    assert len(denied) == 2


def test_a_logged_out_session_views_nothing_more(platform):
    from app.core.services import AuthenticationError

    team = make_team(platform)
    rid = _evaluated(platform, team)
    info = platform.login("officer", PASSWORD)
    platform.get_release_card(info.actor, rid, "full")
    platform.logout(info.token)
    # an Actor kept by a caller after logout is refused (issue #14): the session it names ended
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            platform.get_release_card(info.actor, rid, "full")
    recorded = [v for v in views(platform, team, "view_risk_report", rid) if v[0] == "officer"]
    assert [v[1] for v in recorded] == ["ok", "failed", "failed"]