"""Audit CSV export through the service: authorized, formula-escaped and itself audited."""

from __future__ import annotations

import csv
import io

import pytest

from app.core.authz import PermissionDeniedError
from synthgen.errors import InvalidInputError

from core_helpers import make_team


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_export_is_recorded_with_filters_and_row_count(platform):
    team = make_team(platform)
    before = [e.seq for e in platform.audit_log(team.admin, limit=10_000)]
    data = platform.export_audit(team.officer, action="login", outcomes=["ok"])
    rows = _rows(data)
    assert rows[0] == ["seq", "at", "actor", "action", "outcome", "target", "details", "entry_hash", "signature"]
    assert len(rows) > 1 and {r[3] for r in rows[1:]} == {"login"} and {r[4] for r in rows[1:]} == {"ok"}
    exports = platform.audit_log(team.admin, action="export_audit")
    assert len(exports) == 1
    entry = exports[0]
    assert entry.actor == "officer" and entry.outcome == "ok" and entry.seq > max(before)
    assert entry.details["rows"] == len(rows) - 1
    assert entry.details["filters"]["action"] == "login" and entry.details["filters"]["outcomes"] == ["ok"]
    import hashlib

    assert entry.details["sha256"] == hashlib.sha256(data).hexdigest()
    # the chain still verifies with the export entry in it
    assert platform.verify_audit_chain().ok


@pytest.mark.parametrize("who", ["owner", "ml"])
def test_data_owner_and_ml_engineer_are_refused_and_the_refusal_is_audited(platform, who):
    team = make_team(platform)
    with pytest.raises(PermissionDeniedError):
        platform.export_audit(getattr(team, who))
    refused = platform.audit_log(team.admin, action="export_audit")
    assert [(e.actor, e.outcome) for e in refused] == [(who, "denied")]


def test_export_escapes_spreadsheet_formulas(platform):
    team = make_team(platform)
    # record() takes any actor/target text (the API writes what a client sent); a spreadsheet
    # would run these cells as formulas
    platform.record(actor='=HYPERLINK("http://evil")', action="api_auth", outcome="denied", target="-2+3",
                    details={"reason": "=cmd|' /C calc'!A0"})
    data = platform.export_audit(team.officer, action="api_auth")
    rows = _rows(data)[1:]
    assert len(rows) == 1
    row = dict(zip(_rows(data)[0], rows[0]))
    assert row["actor"] == """'=HYPERLINK("http://evil")"""
    assert row["target"] == "'-2+3"
    assert not [c for c in rows[0] if c.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "|", "%"))]
    import json

    assert json.loads(row["details"]) == {"reason": "=cmd|' /C calc'!A0"}  # details cells are JSON objects


def test_export_rejects_bad_filters_naming_the_field(platform):
    team = make_team(platform)
    with pytest.raises(InvalidInputError, match=r"outcomes \('nope'\) must be among ok, denied, failed"):
        platform.export_audit(team.admin, outcomes=["nope"])
    with pytest.raises(InvalidInputError, match=r"limit \(0\) must be an integer between 1 and 100000"):
        platform.export_audit(team.admin, limit=0)
    failed = platform.audit_log(team.admin, action="export_audit")
    assert [e.outcome for e in failed] == ["failed", "failed"]


def test_api_token_cannot_export(platform):
    team = make_team(platform)
    token = platform.create_api_token(team.officer).token
    with pytest.raises(PermissionDeniedError, match="an API token may not export_audit"):
        platform.export_audit(platform.actor_for_api_token(token))
