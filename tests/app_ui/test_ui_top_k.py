"""Top-k categories chosen with DP from the Datasets page: the pending columns and k are shown,
the click charges the budget through the service and the result is the draft to review; a
release of a schema whose top-k is not chosen is refused, pointing at the control."""

from __future__ import annotations

import json

import pytest

from synthgen.budget import PrivacyBudget
from tests.app_ui.ui_helpers import open_page, texts, upload_titanic

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")

BUTTON = "Choose top-k categories (spends ε)"


def _declare_top_k(platform, team, ds_id, column="Embarked", k=2):
    schema = json.loads(platform.get_dataset(team.owner, ds_id).schema_json)
    for col in schema["columns"]:
        if col["name"] == column:
            col.pop("categories", None)
            col["top_k"] = {"k": k}
            col["nullable"] = True
    platform.update_schema(team.owner, ds_id, json.dumps(schema))


def test_owner_chooses_top_k_categories_from_the_datasets_page(platform, team):
    ds = upload_titanic(platform, team)
    at = open_page(platform, "owner", "datasets")
    assert not any(b.label == BUTTON for b in at.button)  # no top-k declared: no control
    _declare_top_k(platform, team, ds.id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Top-k categories to choose" in shown and "After choosing the top-k categories the dataset keeps" in shown
    table = at.table[0].value
    assert list(table["Column"]) == ["Embarked"] and list(table["k"]) == [2]
    assert "reviewed — top-k to choose" in at.dataframe[0].value.to_string()
    before = platform.budget_summary(team.owner, ds.id)
    at.number_input(key=f"top_k_eps_{ds.id}").set_value(1.0).run()
    next(b for b in at.button if b.label == BUTTON).click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    after = platform.budget_summary(team.owner, ds.id)
    assert after.spent.rho - before.spent.rho == pytest.approx(PrivacyBudget.from_epsilon(1.0, ds.delta).rho)
    info = platform.get_dataset(team.owner, ds.id)
    embarked = {c["name"]: c for c in json.loads(info.schema_draft_json)["columns"]}["Embarked"]
    assert embarked["categories"][-1] == "<other>" and embarked["top_k"]["k"] == 2
    # the draft is on screen for review through the existing discovered-draft flow
    shown = texts(at)
    assert "waiting for your review" in shown and "Editing the DP-discovered draft" in shown
    assert "<other>" in at.data_editor(key=f"schema_editor_{ds.id}_1_1").value.to_string()
    assert not any(b.label == BUTTON for b in at.button)  # the saved schema is unchanged, the draft waits
    assert "Save or discard the draft waiting for your review first" in shown


def test_over_budget_top_k_is_one_line_and_charges_nothing(platform, team):
    ds = upload_titanic(platform, team)
    _declare_top_k(platform, team, ds.id)
    at = open_page(platform, "owner", "datasets")
    before = platform.budget_summary(team.owner, ds.id)
    platform.set_budget(team.owner, ds.id, 1.0)
    at.number_input(key=f"top_k_eps_{ds.id}").set_value(2.0).run()
    assert any("more than the remaining budget" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == BUTTON).disabled
    assert platform.budget_summary(team.owner, ds.id).spent == before.spent


def test_release_of_a_schema_with_top_k_pending_names_the_control(platform, team):
    from synthgen.errors import InvalidInputError

    ds = upload_titanic(platform, team)
    _declare_top_k(platform, team, ds.id)
    before = platform.budget_summary(team.owner, ds.id)
    with pytest.raises(InvalidInputError, match=r"'Embarked'.*Choose top-k categories \(spends ε\)"):
        platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert platform.budget_summary(team.owner, ds.id) == before
    at = open_page(platform, "owner", "new_release")
    assert "Choose top-k categories (spends ε)" in texts(at)
    assert next(b for b in at.button if b.label == "Start release").disabled
