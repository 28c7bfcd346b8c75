"""Top-k categories chosen with DP on the platform: charged to the ledger like a discovery,
before the table is read; bad declarations refused before any budget is touched."""

from __future__ import annotations

import json

import pytest

from app.core.authz import PermissionDeniedError
from app.core.store import Dataset, transaction
from synthgen.budget import PrivacyBudget
from synthgen.errors import InvalidInputError

from core_helpers import make_team, upload_titanic


def _with_top_k(platform, team, ds, column: str, k: int):
    schema = json.loads(ds.schema_json)
    for col in schema["columns"]:
        if col["name"] == column:
            col.pop("categories", None)
            col["top_k"] = {"k": k}
            col["nullable"] = True
    platform.update_schema(team.owner, ds.id, json.dumps(schema))


def test_top_k_selection_is_charged_like_a_discovery_and_stored_as_a_draft(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=5.0)
    _with_top_k(platform, team, ds, "Embarked", 2)
    before = platform.budget_summary(team.owner, ds.id)
    info = platform.select_top_k(team.owner, ds.id, 1.0)
    after = platform.budget_summary(team.owner, ds.id)
    cost = PrivacyBudget.from_epsilon(1.0, ds.delta).rho
    assert after.spent.rho - before.spent.rho == pytest.approx(cost, rel=1e-12)
    assert after.extra_delta - before.extra_delta == pytest.approx(ds.delta, rel=1e-12)
    draft = {c["name"]: c for c in json.loads(info.schema_draft_json)["columns"]}
    embarked = draft["Embarked"]
    assert embarked["categories"][-1] == "<other>" and 1 <= len(embarked["categories"]) - 1 <= 2
    assert embarked["top_k"]["rho"] <= cost and embarked["top_k"]["epsilon"] > 0
    entries = platform.audit_log(team.admin, action="discover_schema")
    assert [(e.details["purpose"], e.details["stage"]) for e in entries] == [("top_k", "charged"), ("top_k", "stored")]
    assert entries[0].details["rho"] == pytest.approx(cost)
    # the owner saves the draft; the schema can then be fitted
    platform.update_schema(team.owner, ds.id, info.schema_draft_json, clear_draft=True)
    with transaction(platform._factory) as s:
        assert s.get(Dataset, ds.id).schema_draft_json is None
    with pytest.raises(PermissionDeniedError):
        platform.select_top_k(team.officer, ds.id, 0.5, columns={"Sex": 1})


def test_bad_top_k_requests_are_refused_before_any_budget_is_touched(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    before = platform.budget_summary(team.owner, ds.id)
    cases = [(1.0, None, "no column declares a top_k"), (1.0, {"Sex": 0}, "k of column 'Sex'"),
             (1.0, {"Ghost": 3}, "unknown column 'Ghost'"), (0.0, {"Sex": 1}, r"epsilon \(0.0\) must be a number > 0"),
             (1.0, {"Age": 3}, "must be a synthesized categorical column")]
    for epsilon, columns, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            platform.select_top_k(team.owner, ds.id, epsilon, columns=columns)
    assert platform.budget_summary(team.owner, ds.id) == before
