"""``synthgen budget``: the owner asks for a raise, a privacy officer approves it (local database)."""

from __future__ import annotations

import pytest

from api_helpers import PASSWORD

from app.cli.main import main


def _run(monkeypatch, env, user, *argv):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SYNTHGEN_USERNAME", user)
    monkeypatch.setenv("SYNTHGEN_PASSWORD", PASSWORD)
    return main(["budget", *argv])


def test_a_raise_asked_on_the_cli_waits_for_an_officer(world, platform, monkeypatch, capsys):
    owner = platform.login("owner", PASSWORD).actor
    ds = next(d for d in platform.list_datasets(owner) if d.name == "other")
    before = ds.budget.total.epsilon(ds.delta)
    assert _run(monkeypatch, world.env, "owner", "set", str(ds.id), str(before + 1)) == 0
    out = capsys.readouterr().out
    assert "waits for a privacy officer" in out
    raise_id = platform.budget_summary(owner, ds.id).pending_raise.id
    assert _run(monkeypatch, world.env, "owner", "approve", str(raise_id)) == 3  # not an officer
    capsys.readouterr()
    assert _run(monkeypatch, world.env, "officer", "approve", str(raise_id)) == 0
    assert f"lifetime epsilon {before + 1:.4g}" in capsys.readouterr().out
    assert platform.budget_summary(owner, ds.id).total.epsilon(ds.delta) == pytest.approx(before + 1, rel=1e-6)
