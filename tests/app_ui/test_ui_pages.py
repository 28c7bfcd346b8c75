"""AppTest of every page for every role: what each role sees, that forbidden pages are absent
(not registered in the navigation), and that forbidden actions are refused by the service even
when invoked directly."""

from __future__ import annotations

import time

import pytest

from app.ui.app_pages import PAGES, ROLE_PAGES
from tests.app_ui.ui_helpers import PAGE_FILES, app_test, texts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")

USER_OF_ROLE = {"data_owner": "owner", "privacy_officer": "officer", "ml_engineer": "ml", "admin": "admin"}
ROLE_LABEL = {"data_owner": "Data owner", "privacy_officer": "Privacy officer", "ml_engineer": "ML engineer",
              "admin": "Administrator"}

#: the dataset's label, shown on every page that shows the dataset or a release of it
CLASSIFICATION = "**Classification:** public (max ε 100; one privacy officer approves; published for 365 days)"

# What each role must (and must not) see on each of its pages.
EXPECT = {
    ("data_owner", "datasets"): (["titanic", "Privacy budget", "Lifetime budget", "Schema", CLASSIFICATION], []),
    ("data_owner", "new_release"): (["What ε = 1 at δ", "After this release", "Your recent releases", CLASSIFICATION],
                                    []),
    ("data_owner", "releases"): (["Release #", "approved", CLASSIFICATION], []),
    ("privacy_officer", "review"): ([CLASSIFICATION, "Waiting for a decision (1)", "Privacy risk", "Singling out (risk)", "Why:",
                                    "What ε = 0.5 and δ = 1e-06 promise", "Decision"], ["singling_out_risk"]),
    ("privacy_officer", "audit"): (["Audit log", "Chain verification"], []),
    ("ml_engineer", "releases"): (["Release #", "approved by officer", CLASSIFICATION], ["Not (yet) approved"]),
    ("admin", "admin"): (["Administration", "owner"], []),
    ("admin", "datasets"): (["titanic"], ["Upload a table", "Draft a schema"]),
    ("admin", "audit"): (["Audit log"], []),
}


def _signed_in(platform, role):
    at = app_test(platform, USER_OF_ROLE[role])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_login_page_without_session(platform, team):
    at = app_test(platform, None)
    at.run()
    assert not at.exception
    assert [t.value for t in at.subheader] == ["Sign in"]
    for name in PAGE_FILES.values():  # no page is registered before sign-in
        with pytest.raises(ValueError):
            at.switch_page(name)


def test_login_form_signs_in_and_wrong_password_is_a_message(platform, team):
    at = app_test(platform, None)
    at.run()
    at.text_input(key="login_username").input("owner")
    at.text_input(key="login_password").input("wrong password wrong")
    at.button[0].click().run()
    assert "user name or password is wrong" in texts(at)
    assert not at.exception
    at.text_input(key="login_password").input("correct horse battery staple 42")
    at.button[0].click().run()
    assert not at.exception
    assert "owner" in texts(at) and "Data owner" in "\n".join(c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_role_sees_its_pages_and_only_them(platform, team, world, role):
    at = _signed_in(platform, role)
    side = "\n".join(m.value for m in at.sidebar.markdown) + "\n".join(c.value for c in at.sidebar.caption)
    assert USER_OF_ROLE[role] in side and ROLE_LABEL[role] in side
    assert any(b.label == "Log out" for b in at.sidebar.button)
    for page in ROLE_PAGES[role]:
        started = time.perf_counter()
        at.switch_page(PAGE_FILES[page]).run()
        elapsed = time.perf_counter() - started
        assert not at.exception, (role, page, [e.value for e in at.exception])
        assert not at.error, (role, page, [e.value for e in at.error])
        assert elapsed < 5, (role, page, elapsed)
        shown = texts(at)
        must, must_not = EXPECT.get((role, page), ([], []))
        for text in must:
            assert text in shown, (role, page, text)
        for text in must_not:
            assert text not in shown, (role, page, text)
    for page in set(PAGES) - set(ROLE_PAGES[role]):
        with pytest.raises(ValueError):  # not registered: absent from the navigation
            at.switch_page(PAGE_FILES[page])


def test_privacy_officer_approves_with_reason(platform, team, world):
    at = _signed_in(platform, "privacy_officer")
    at.switch_page(PAGE_FILES["review"]).run()
    rid = world["pending"]
    at.button(key=f"approve_{rid}").click().run()
    assert "reason must not be empty" in texts(at)  # the service's message, no traceback
    assert not at.exception
    at.text_area(key=f"reason_{rid}").input("gates pass; ε = 0.5 is within policy")
    at.button(key=f"approve_{rid}").click().run()
    assert not at.exception
    assert platform.get_release(team.officer, rid).state == "approved"


def test_privacy_officer_rejects(platform, team, world):
    at = _signed_in(platform, "privacy_officer")
    at.switch_page(PAGE_FILES["review"]).run()
    rid = world["pending"]
    at.text_area(key=f"reason_{rid}").input("too risky for this use")
    at.button(key=f"reject_{rid}").click().run()
    assert not at.exception
    assert platform.get_release(team.officer, rid).state == "rejected"


def test_self_approval_button_absent_and_service_refuses(platform, team, world):
    from app.core.services import SelfApprovalError

    # the requester later becomes a privacy officer: the only way a requester can hold approve rights
    platform.set_role(team.admin, team.owner.user_id, "privacy_officer")
    at = _signed_in(platform, "privacy_officer")  # the officer sees the button
    at.switch_page(PAGE_FILES["review"]).run()
    assert any(b.key == f"approve_{world['pending']}" for b in at.button)
    at = app_test(platform, "owner")
    at.run()
    at.switch_page(PAGE_FILES["review"]).run()
    assert not at.exception
    assert not any(b.key == f"approve_{world['pending']}" for b in at.button)
    assert f"You requested release #{world['pending']} yourself, so you cannot approve or publish it" in texts(at)
    with pytest.raises(SelfApprovalError):
        platform.approve(team.owner, world["pending"], "I approve my own release")


def test_role_change_applies_on_next_rerun(platform, team, world):
    at = _signed_in(platform, "data_owner")
    assert "Data owner" in "\n".join(c.value for c in at.sidebar.caption)
    platform.set_role(team.admin, team.owner.user_id, "ml_engineer")
    at.run()
    assert "ML engineer" in "\n".join(c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError):
        at.switch_page(PAGE_FILES["datasets"])


def test_disabled_user_is_signed_out_on_next_rerun(platform, team, world):
    at = _signed_in(platform, "ml_engineer")
    platform.disable_user(team.admin, team.ml.user_id)
    at.run()
    assert [t.value for t in at.subheader] == ["Sign in"]
    assert "signed out" in texts(at)


def test_logout_ends_the_session(platform, team):
    from app.ui.state import TOKEN_KEY

    at = _signed_in(platform, "data_owner")
    token = at.session_state[TOKEN_KEY]
    at.sidebar.button(key="logout").click().run()
    assert [t.value for t in at.subheader] == ["Sign in"]
    from app.core.services import AuthenticationError

    with pytest.raises(AuthenticationError):
        platform.actor_for_session(token)


def test_owner_requests_release_and_sees_progress(platform, team, world):
    at = _signed_in(platform, "data_owner")
    at.switch_page(PAGE_FILES["new_release"]).run()
    at.radio(key="rel_synth").set_value("mst").run()
    at.number_input(key="rel_eps").set_value(1.0).run()
    assert "After this release the dataset keeps" in texts(at)
    at.button(key="rel_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Progress" == s.value for s in at.subheader)
    assert len(platform.list_releases(team.owner)) == 3


def test_new_release_preselects_the_default_synthesizer_and_says_what_it_keeps(platform, team, world):
    from synthgen.synthesizers import registry

    at = _signed_in(platform, "data_owner")
    at.switch_page(PAGE_FILES["new_release"]).run()
    assert at.radio(key="rel_synth").value == "aim"  # the demo table is narrow
    assert registry.facts("aim").tradeoff in texts(at)
    at.radio(key="rel_synth").set_value("mst").run()
    assert registry.facts("mst").tradeoff in texts(at)


def test_overspend_is_refused_with_a_message(platform, team, world):
    at = _signed_in(platform, "data_owner")
    at.switch_page(PAGE_FILES["new_release"]).run()
    at.radio(key="rel_synth").set_value("mst").run()
    at.number_input(key="rel_eps").set_value(40.0).run()
    assert "more than the remaining budget" in texts(at)
    assert "ask for at most ε" in texts(at)  # in ε terms, next to the field, with what to do
    assert at.button(key="rel_start").disabled
    assert not at.exception
    assert len(platform.list_releases(team.owner)) == 2


def test_baseline_is_marked_no_formal_privacy(platform, team, world):
    at = _signed_in(platform, "data_owner")
    at.switch_page(PAGE_FILES["new_release"]).run()
    at.radio(key="rel_synth").set_value("gaussian_copula").run()
    assert "No formal privacy" in texts(at)
    assert not any(n.key == "rel_eps" for n in at.number_input)


def test_owner_uploads_drafts_and_saves_schema(platform, team):
    from tests.app_ui.ui_helpers import TITANIC_CSV

    ds = platform.upload_dataset(team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name="fresh",
                                 classification="public", budget_epsilon=3.0, delta=1e-6)
    at = _signed_in(platform, "data_owner")
    assert "no schema yet" in texts(at)
    at.button(key=f"draft_btn_{ds.id}").click().run()
    assert not at.exception
    assert "Derived from private data, visible to you only" in texts(at)
    at.button(key=f"schema_save_{ds.id}").click().run()  # saved, still flagged as a draft
    assert not at.exception
    info = platform.get_dataset(team.owner, ds.id)
    assert info.schema_json and not info.schema_reviewed


def test_owner_sets_budget(platform, team, world):
    ds = world["dataset"]
    at = _signed_in(platform, "data_owner")
    at.number_input(key=f"budget_total_{ds.id}").set_value(12.0)
    at.button[[b.label for b in at.button].index("Set budget")].click().run()
    assert not at.exception
    # a raise waits for a privacy officer; the page says so
    pending = platform.budget_summary(team.owner, ds.id).pending_raise
    assert pending is not None and pending.epsilon == 12.0
    assert "waiting for a privacy officer" in texts(at)
    platform.approve_budget_raise(team.officer, pending.id)
    assert abs(platform.budget_summary(team.owner, ds.id).epsilon("total") - 12.0) < 1e-6


def test_owner_deletes_dataset_with_confirmation(platform, team, world):
    ds = world["dataset"]
    at = _signed_in(platform, "data_owner")
    assert at.button(key=f"delete_{ds.id}").disabled
    at.text_input(key=f"delete_confirm_{ds.id}").input(ds.name).run()
    at.button(key=f"delete_{ds.id}").click().run()
    assert not at.exception
    assert platform.list_datasets(team.owner) == []


def test_audit_page_verify_and_export(platform, team, world):
    at = _signed_in(platform, "privacy_officer")
    at.switch_page(PAGE_FILES["audit"]).run()
    at.button(key="audit_verify").click().run()
    assert "Chain intact" in texts(at)


def test_admin_creates_user_and_rotates_keys(platform, team, world):
    at = _signed_in(platform, "admin")
    at.checkbox(key="rotate_confirm").check().run()
    at.button(key="rotate_btn").click().run()
    assert not at.exception
    assert "rewrapped 1 data keys" in texts(at)
    assert platform.list_datasets(team.admin)[0].name == "titanic"


def test_account_creates_api_token_shown_once(platform, team):
    at = _signed_in(platform, "ml_engineer")
    at.switch_page(PAGE_FILES["account"]).run()
    at.button(key="token_create").click().run()
    assert not at.exception
    assert any(c.value.startswith(("sg", "syn")) or len(c.value) > 20 for c in at.code)
    at.run()
    assert not at.code  # shown once


# --- forbidden actions are refused by the service even when invoked directly ---------------

def test_forbidden_actions_refused_by_service(platform, team, world):
    from app.core.authz import PermissionDeniedError
    from app.core.services import SelfApprovalError
    from tests.app_ui.ui_helpers import TITANIC_CSV

    ds, pending, approved = world["dataset"].id, world["pending"], world["approved"]
    refused = [
        lambda: platform.approve(team.owner, pending, "owner approving"),            # data owner cannot approve
        lambda: platform.approve(team.ml, pending, "ml approving"),
        lambda: platform.approve(team.admin, pending, "admin approving"),
        lambda: platform.request_release(team.officer, ds, synthesizer="mst", epsilon=0.1),
        lambda: platform.request_release(team.ml, ds, synthesizer="mst", epsilon=0.1),
        lambda: platform.draft_schema(team.officer, ds),                              # raw data: owner only
        lambda: platform.draft_schema(team.admin, ds),
        lambda: platform.draft_schema(team.ml, ds),
        lambda: platform.set_budget(team.officer, ds, 50.0),
        lambda: platform.download(team.officer, approved, "csv"),                     # officers are not consumers
        lambda: platform.download(team.admin, approved, "csv"),
        lambda: platform.download(team.ml, pending, "csv"),                           # unapproved: nobody
        lambda: platform.download(team.owner, pending, "csv"),
        lambda: platform.get_risk_report(team.ml, pending),
        lambda: platform.audit_log(team.owner),
        lambda: platform.audit_log(team.ml),
        lambda: platform.list_users(team.owner),
        lambda: platform.create_user(team.officer, "mallory", "a very long password 123", "admin"),
        lambda: platform.rotate_keys(team.owner),
        lambda: platform.upload_dataset(team.ml, "t.csv", TITANIC_CSV.read_bytes(), name="x", classification="public", budget_epsilon=1,
                                        delta=1e-6),
        lambda: platform.delete_dataset(team.outsider, ds),                           # not a member
        lambda: platform.get_dataset(team.outsider, ds),
    ]
    for i, fn in enumerate(refused):
        with pytest.raises((PermissionDeniedError, SelfApprovalError)):
            fn()
    denied = [e for e in platform.audit_log(team.admin, limit=10_000) if e.outcome == "denied"]
    assert len(denied) >= len(refused)


def test_upload_form_asks_for_the_classification(platform, team):
    from app.core.classification import LABELS

    at = _signed_in(platform, "data_owner")  # no dataset yet: the upload form is open
    box = at.selectbox(key="upload_classification")
    assert box.value is None  # no label is preselected: the owner chooses one
    assert list(box.options) == [
        "public (max ε 100; one privacy officer approves; published for 365 days)",
        "internal (max ε 10; one privacy officer approves; published for 180 days)",
        "confidential (max ε 3; two privacy officers approve; published for 90 days)",
        "restricted (max ε 1; two privacy officers approve; published for 30 days)"] and len(LABELS) == 4
    next(b for b in at.button if b.label == "Upload").click().run()
    assert not at.exception
    assert "classification: choose the data's classification" in texts(at)
    assert platform.list_datasets(team.owner) == []


def test_second_officer_sees_and_completes_a_restricted_release(platform, team):
    from tests.app_ui.ui_helpers import PASSWORD, TITANIC_CSV, TITANIC_SCHEMA, evaluated_release

    ds = platform.upload_dataset(team.owner, "titanic.csv", TITANIC_CSV.read_bytes(), name="records",
                                 classification="restricted", budget_epsilon=1.0, delta=1e-6,
                                 schema_json=TITANIC_SCHEMA.read_text())
    second = platform.create_user(team.admin, "officer2", PASSWORD, "privacy_officer")
    for user_id in (team.officer.user_id, team.ml.user_id, second.id):
        platform.add_member(team.admin, ds.id, user_id)
    rel = evaluated_release(platform, team, ds.id)
    assert platform.approve(team.officer, rel.id, "first look").state == "second_review"
    at = _signed_in(platform, "data_owner")
    at.switch_page(PAGE_FILES["releases"]).run()
    assert "a second privacy officer decides" in texts(at)
    at = _signed_in(platform, "privacy_officer")  # the first approver: no second approval by the same person
    at.switch_page(PAGE_FILES["review"]).run()
    assert "nothing (you gave the first approval)" in texts(at)
    assert not any(b.key == f"approve_{rel.id}" for b in at.button)
    at = app_test(platform, "officer2")
    at.run()
    at.switch_page(PAGE_FILES["review"]).run()
    assert not at.exception
    shown = texts(at)
    assert "restricted (max ε 1; two privacy officers approve; published for 30 days)" in shown
    assert "Approved by officer; the classification asks for a second privacy officer" in shown
    assert "1 of 2" in shown
    at.text_area(key=f"reason_{rel.id}").input("second look: gates pass")
    at.button(key=f"approve_{rel.id}").click().run()
    assert not at.exception
    assert platform.get_release(team.officer, rel.id).state == "approved"
    at = app_test(platform, "ml")
    at.run()
    at.switch_page(PAGE_FILES["releases"]).run()
    assert "approved by officer and officer2" in texts(at)
