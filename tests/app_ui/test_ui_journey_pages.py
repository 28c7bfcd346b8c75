"""The release journey on each page (AppTest): a schema drafted from the data needs an explicit
review whatever was ticked before; every evaluated release shows its decision; errors sit next
to the control; admin forms preselect nothing dangerous; the owner is told what happens next."""

from __future__ import annotations

import json

import pytest

from app.ui.components.card import md
from tests.app_ui.ui_helpers import PAGE_FILES, TITANIC_CSV, app_test, evaluated_release, texts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")


def _page(platform, user, page):
    at = app_test(platform, user)
    at.run()
    if page != "datasets" or user == "admin":
        at.switch_page(PAGE_FILES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _review_box(at):
    return next(c for c in at.checkbox if c.key.startswith("schema_reviewed_"))


def test_a_data_drafted_schema_never_inherits_the_review_tick(platform, team, world):
    ds = world["dataset"]  # its schema was uploaded and is reviewed
    at = _page(platform, "owner", "datasets")
    assert not _review_box(at).value  # a reviewed schema is shown unticked, and unchanged it is not re-saved
    assert at.button(key=f"schema_save_{ds.id}").disabled
    at.button(key=f"draft_btn_{ds.id}").click().run()
    assert not at.exception
    box = _review_box(at)
    assert not box.value and not box.disabled
    shown = texts(at)
    assert "Values read off the data" in shown and "Age" in shown and "upper bound" in shown
    # saving without the tick keeps it a draft: releases refuse it
    at.button(key=f"schema_save_{ds.id}").click().run()
    assert not at.exception
    assert not platform.get_dataset(team.owner, ds.id).schema_reviewed


def test_saving_data_values_as_reviewed_needs_a_confirmation_listing_them(platform, team):
    ds = platform.upload_dataset(team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name="fresh",
                                 classification="public", budget_epsilon=3.0, delta=1e-6)
    at = _page(platform, "owner", "datasets")
    at.button(key=f"draft_btn_{ds.id}").click().run()
    _review_box(at).check().run()
    at.button(key=f"schema_save_{ds.id}").click().run()
    assert not at.exception
    assert platform.get_dataset(team.owner, ds.id).schema_json is None  # nothing saved yet
    shown = texts(at)
    assert "Confirm: these values were read off the private table" in shown
    assert md("Fare: lower bound") in shown  # the markdown source of the rendered "Fare: lower bound"
    at.button(key=f"schema_confirm_{ds.id}").click().run()
    assert not at.exception
    info = platform.get_dataset(team.owner, ds.id)
    assert info.schema_reviewed and not json.loads(info.schema_json)["derived_from_private_data"]


@pytest.mark.parametrize("verdict, allow_override, decision, approvable", [
    ("pass", False, "approve or reject", True),
    ("inconclusive", False, "approve with a written reason, or reject", True),
    ("fail", False, "reject only", False),
    ("fail", True, "approve with a written reason, or reject", True),
])
def test_every_evaluated_release_shows_its_decision(platform, team, world, verdict, allow_override, decision,
                                                    approvable):
    rel = platform.request_release(team.owner, world["dataset"].id, synthesizer="mst", epsilon=0.5,
                                   policy={"allow_override": allow_override})
    from app.core import jobs
    from tests.app_ui.ui_helpers import tiny_pipeline

    assert jobs.run_one(platform, tiny_pipeline(verdict)) == "succeeded"
    at = _page(platform, "officer", "review")
    at.selectbox(key="review_select").select(rel.id).run()
    shown = texts(at)
    assert f"What you can decide:** {decision}" in shown
    reason_box = at.text_area(key=f"reason_{rel.id}")
    reason_box.input("reviewed the gates and the card").run()
    if approvable and verdict != "pass":
        assert at.button(key=f"approve_{rel.id}").disabled  # until the override is ticked
        at.checkbox(key=f"override_{rel.id}").check().run()
    assert at.button(key=f"approve_{rel.id}").disabled == (not approvable)
    if approvable:
        at.button(key=f"approve_{rel.id}").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert platform.get_release(team.officer, rel.id).state == "approved"
        assert f"Release {rel.id} approved." in texts(at)
    else:
        assert "This release cannot be approved" in shown
        at.button(key=f"reject_{rel.id}").click().run()
        assert platform.get_release(team.officer, rel.id).state == "rejected"


def test_a_refused_decision_is_shown_beside_the_buttons(platform, team, world):
    at = _page(platform, "officer", "review")
    rid = world["pending"]
    at.button(key=f"approve_{rid}").click().run()
    assert not at.exception
    assert any("reason must not be empty" in e.value for e in at.error)


def test_owner_is_told_which_decision_applies_and_who_takes_it(platform, team, world):
    failed = evaluated_release(platform, team, world["dataset"].id, verdict="fail")
    at = _page(platform, "owner", "new_release")
    at.session_state["u:watch_release"] = failed.id
    at.run()
    shown = texts(at)
    assert f"Release {failed.id} is evaluated: verdict FAIL" in shown
    assert "it can only be rejected" in shown and "a privacy officer can now review it" not in shown


def test_invalid_epsilon_is_explained_next_to_the_field(platform, team, world):
    at = _page(platform, "owner", "new_release")
    at.radio(key="rel_synth").set_value("mst").run()
    at.number_input(key="rel_eps").set_value(-1.0).run()
    assert "ε = -1 cannot be spent: epsilon (-1.0) must be positive" in texts(at)
    assert at.button(key="rel_start").disabled


def test_admin_forms_preselect_no_role_no_user_and_never_the_owner(platform, team, world):
    at = _page(platform, "admin", "admin")
    role = next(s for s in at.selectbox if s.label == "Role")
    assert role.value is None
    assert at.selectbox(key="admin_user").value is None
    at.selectbox(key="admin_ds").select(world["dataset"].id).run()
    removable = at.selectbox(key="admin_rm_member")
    assert removable.value is None and "owner" not in removable.options and "officer" in removable.options
    next(t for t in at.text_input if t.label == "User name").input("nina")
    next(b for b in at.button if b.label == "Create user").click().run()
    assert "Choose the new user's role first." in texts(at)
    assert "nina" not in [u.username for u in platform.list_users(team.admin)]
