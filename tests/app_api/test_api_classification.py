"""The dataset's classification travels with its releases: in the API's release JSON and in
the manifest (the card: tests/app_core/test_core_classification.py)."""

from __future__ import annotations

import httpx


def _get(server, token, path):
    r = httpx.get(f"{server.url}/api/v1/releases{path}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_release_json_manifest_and_card_carry_the_label(server, world, ml_token):
    approved = _get(server, ml_token, f"/{world.approved}")
    assert (approved["classification"], approved["approvals_required"], approved["expires_at"]) == ("public", 1, None)
    published = _get(server, ml_token, f"/{world.published}")
    assert published["expires_at"] is not None  # a year after publishing (the label's window)
    manifest = _get(server, ml_token, f"/{world.published}/manifest")
    assert manifest["classification"] == "public"
    assert manifest["approval"]["expires_at"][:19] == published["expires_at"][:19]
    assert all(r["classification"] == "public" for r in _get(server, ml_token, "")["releases"])

