"""Token lifecycle against the live API: created, used, expired, revoked, wrong scope.

Every refused case answers with the right status, a JSON error body (never data) and leaves an
audit entry."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from api_helpers import PASSWORD, create_token, open_platform
from app.core.store import utcnow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"] and "\n" not in body["error"]["message"]
    return body["error"]


def audit_entries(platform, world, action: str, since: int) -> list:
    admin = platform.login("admin", PASSWORD).actor
    return [e for e in platform.audit_log(admin, action=action, since_seq=since)]


def head_seq(platform, world) -> int:
    admin = platform.login("admin", PASSWORD).actor
    entries = platform.audit_log(admin, limit=10_000)
    return entries[-1].seq if entries else 0


def test_token_created_by_password_and_used(server, world, platform):
    since = head_seq(platform, world)
    created = httpx.post(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD), json={"ttl_days": 2})
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["token"].startswith("sgt_") and info["user"] == "ml" and not info["revoked"]
    assert info["token"].startswith(info["prefix"])
    # the secret is shown once: listing never returns it
    listed = httpx.get(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD)).json()["tokens"]
    assert any(t["id"] == info["id"] for t in listed) and all(t["token"] is None for t in listed)

    r = httpx.get(f"{server.url}/api/v1/releases", headers=bearer(info["token"]))
    assert r.status_code == 200
    ids = {rel["id"] for rel in r.json()["releases"]}
    assert world.approved in ids and world.published in ids
    assert world.unapproved not in ids and world.revoked not in ids  # an ML engineer never sees those

    d = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download", params={"format": "csv"},
                  headers=bearer(info["token"]))
    assert d.status_code == 200
    assert d.headers["x-content-type-options"] == "nosniff"
    import hashlib

    assert d.headers["etag"] == f'"{hashlib.sha256(d.content).hexdigest()}"'
    created_entries = audit_entries(platform, world, "create_api_token", since)
    assert [e.outcome for e in created_entries] == ["ok"] and created_entries[0].actor == "ml"
    downloads = [e for e in audit_entries(platform, world, "download", since) if e.details.get("format") == "csv"]
    assert downloads and downloads[-1].outcome == "ok" and downloads[-1].actor == "ml"
    assert downloads[-1].details["sha256"] == hashlib.sha256(d.content).hexdigest()


def test_expired_token_is_refused_and_audited(server, world, platform):
    p = open_platform(world.env)
    try:
        actor = p.login("ml", PASSWORD).actor
        p.now = lambda: utcnow() - timedelta(days=2)  # issued two days ago, valid for one
        token = p.create_api_token(actor, timedelta(days=1)).token
    finally:
        p.close()
    since = head_seq(platform, world)
    err = error_of(httpx.get(f"{server.url}/api/v1/releases", headers=bearer(token)), 401)
    assert err["code"] == "invalid_token"
    entries = audit_entries(platform, world, "api_auth", since)
    assert [(e.actor, e.outcome, e.details["reason"]) for e in entries] == [("ml", "denied", "expired")]
    assert entries[0].target == f"api_token:{token[:12]}"


def test_revoked_token_is_refused_and_audited(server, world, platform):
    info = httpx.post(f"{server.url}/api/v1/tokens", auth=("ml", PASSWORD), json={"ttl_days": 1}).json()
    token = info["token"]
    assert httpx.get(f"{server.url}/api/v1/releases/{world.approved}", headers=bearer(token)).status_code == 200
    revoked = httpx.delete(f"{server.url}/api/v1/tokens/{info['id']}", auth=("ml", PASSWORD))
    assert revoked.status_code == 204
    since = head_seq(platform, world)
    for path in ("/releases", f"/releases/{world.approved}/download", f"/releases/{world.approved}/manifest"):
        err = error_of(httpx.get(f"{server.url}/api/v1{path}", headers=bearer(token)), 401)
        assert err["code"] == "invalid_token"
    entries = audit_entries(platform, world, "api_auth", since)
    assert [(e.actor, e.details["reason"]) for e in entries] == [("ml", "revoked")] * 3
    # revoking someone else's token needs manage_users: refused and audited by the service
    mine = create_token(world.env, "ml2")
    ml2_tokens = httpx.get(f"{server.url}/api/v1/tokens", auth=("ml2", PASSWORD)).json()["tokens"]
    other = error_of(httpx.delete(f"{server.url}/api/v1/tokens/{ml2_tokens[-1]['id']}", auth=("ml", PASSWORD)), 403)
    assert other["code"] == "forbidden"
    assert httpx.get(f"{server.url}/api/v1/releases", headers=bearer(mine)).status_code == 200


def test_wrong_scope_token_cannot_manage_tokens(server, world, platform, ml_token):
    since = head_seq(platform, world)
    for method, path in (("POST", "/tokens"), ("GET", "/tokens"), ("DELETE", "/tokens/1")):
        err = error_of(httpx.request(method, f"{server.url}/api/v1{path}", headers=bearer(ml_token)), 403)
        assert err["code"] == "insufficient_scope"
    entries = audit_entries(platform, world, "api_auth", since)
    assert [(e.actor, e.outcome, e.details["reason"]) for e in entries] == [("ml", "denied", "insufficient_scope")] * 3
    assert not audit_entries(platform, world, "create_api_token", since)
    # and release endpoints do not take a password
    err = error_of(httpx.get(f"{server.url}/api/v1/releases", auth=("ml", PASSWORD)), 401)
    assert "API token" in err["message"]
    # writing to a release with a token is not even routable
    err = error_of(httpx.delete(f"{server.url}/api/v1/releases/{world.approved}", headers=bearer(ml_token)), 405)
    assert err["code"] == "method_not_allowed"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer sgt_short", "Bearer " + "sgt_" + "A" * 43,
                                    "Token abc", "Bearer not-a-token"])
def test_missing_malformed_and_unknown_tokens(server, world, platform, header):
    since = head_seq(platform, world)
    headers = {"Authorization": header} if header else {}
    err = error_of(httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download", headers=headers), 401)
    assert err["code"] in ("unauthenticated", "invalid_token")
    entries = audit_entries(platform, world, "api_auth", since)
    assert len(entries) == 1 and entries[0].outcome == "denied" and entries[0].actor == "anonymous"
    assert not audit_entries(platform, world, "download", since)  # nothing reached the service


def test_disabled_account_token_stops_working(server, world, platform):
    p = open_platform(world.env)
    try:
        admin = p.login("admin", PASSWORD).actor
        p.create_user(admin, "leaver", PASSWORD, "ml_engineer")
        token = create_token(world.env, "leaver")
        assert httpx.get(f"{server.url}/api/v1/releases", headers=bearer(token)).status_code == 200
        leaver = next(u for u in p.list_users(admin) if u.username == "leaver")
        p.disable_user(admin, leaver.id)
    finally:
        p.close()
    since = head_seq(platform, world)
    error_of(httpx.get(f"{server.url}/api/v1/releases", headers=bearer(token)), 401)
    entries = audit_entries(platform, world, "api_auth", since)
    assert [(e.actor, e.details["reason"]) for e in entries] == [("leaver", "account_disabled")]


def test_refused_releases_never_give_data(server, world, platform, ml_token):
    """Unapproved, revoked, another dataset's, or missing: 404 without revealing existence."""
    ml2 = create_token(world.env, "ml2")  # not a member of dataset "other"
    since = head_seq(platform, world)
    cases = [(ml_token, world.unapproved), (ml_token, world.revoked), (ml2, world.other_dataset),
             (ml_token, 999_999)]
    for token, rid in cases:
        for suffix in ("", "/card", "/manifest", "/download?format=parquet", "/download?format=csv"):
            err = error_of(httpx.get(f"{server.url}/api/v1/releases/{rid}{suffix}", headers=bearer(token)), 404)
            assert err["code"] == "not_found" and f"release {rid}" in err["message"]
    denied = [e for e in audit_entries(platform, world, "download", since)]
    assert denied and all(e.outcome in ("denied", "failed") for e in denied)
    # a data owner sees the revoked release but may not download it: 403
    owner = create_token(world.env, "owner")
    err = error_of(httpx.get(f"{server.url}/api/v1/releases/{world.revoked}/download", headers=bearer(owner)), 403)
    assert "revoked" in err["message"]
    # the admin lists releases but is not a data consumer
    admin = create_token(world.env, "admin")
    assert httpx.get(f"{server.url}/api/v1/releases/{world.approved}", headers=bearer(admin)).status_code == 200
    error_of(httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download", headers=bearer(admin)), 403)


def test_card_manifest_latest_and_health(server, world, ml_token):
    h = bearer(ml_token)
    card = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/card", headers=h).json()
    assert card["release"]["id"] == world.approved and "ML card" in card["card_html"]
    assert card["privacy"]["epsilon"] == 1.0
    manifest = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/manifest", headers=h).json()
    assert set(manifest["files"]) == {"synthetic.csv", "synthetic.parquet", "release_card.html"}
    parquet = httpx.get(f"{server.url}/api/v1/releases/{world.approved}/download", headers=h)
    assert parquet.headers["x-checksum-sha256"] == manifest["files"]["synthetic.parquet"]["sha256"]
    assert parquet.headers["content-disposition"] == f'attachment; filename="release-{world.approved}-synthetic.parquet"'
    latest = httpx.get(f"{server.url}/api/v1/releases/latest", params={"dataset": "titanic"}, headers=h).json()
    assert latest["id"] == max(world.approved, world.published)
    error_of(httpx.get(f"{server.url}/api/v1/releases/latest", params={"dataset": "nope"}, headers=h), 404)
    error_of(httpx.get(f"{server.url}/api/v1/releases/abc", headers=h), 422)
    error_of(httpx.get(f"{server.url}/api/v1/releases/1/download", params={"format": "xlsx"}, headers=h), 422)
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/openapi.json").json()["info"]["title"] == "synthgen API"
