"""Dashboard-test fixtures: each test gets its own data dir, key dir and SQLite database."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SYNTHGEN_FAST_HASH", "1")


@pytest.fixture
def ui_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHGEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTHGEN_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("SYNTHGEN_FAST_HASH", "1")
    for var in ("SYNTHGEN_DATABASE_URL", "SYNTHGEN_MASTER_KEY", "SYNTHGEN_AUDIT_KEY", "SYNTHGEN_CREATE_KEYS",
                "SYNTHGEN_DEMO"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def platform(ui_env):
    from app.core.config import Settings
    from app.core.services import Platform

    p = Platform.open(Settings.from_env())
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def team(platform):
    from tests.app_ui.ui_helpers import make_team

    return make_team(platform)


@pytest.fixture
def world(platform, team):
    """A dataset of the owner (members: officer, ml) with one evaluated and one approved release."""
    from tests.app_ui.ui_helpers import evaluated_release, upload_titanic

    ds = upload_titanic(platform, team)
    approved = evaluated_release(platform, team, ds.id)
    platform.approve(team.officer, approved.id, "looks fine")
    pending = evaluated_release(platform, team, ds.id)
    return {"dataset": ds, "approved": approved.id, "pending": pending.id}
