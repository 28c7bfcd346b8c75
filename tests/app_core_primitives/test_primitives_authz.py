"""Authorization matrix: every cell of the TOML against authorize(), and strict loading."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.core.authz import (
    ACTIONS,
    DATASET_ACTIONS,
    GLOBAL_ACTIONS,
    ROLES,
    SCOPES,
    AuthzMatrixError,
    PermissionDeniedError,
    SelfApprovalError,
    authorize,
    four_eyes_check,
    load_matrix,
    scope_for,
)
from synthgen.errors import SynthgenError

TOML_PATH = Path(__file__).resolve().parents[2] / "app" / "core" / "authz_matrix.toml"
RAW = tomllib.loads(TOML_PATH.read_text(encoding="utf-8"))  # read independently of authz.py


def _file_cells():
    for role, scopes in RAW["roles"].items():
        for scope, actions in scopes.items():
            for action, allowed in actions.items():
                yield pytest.param(role, action, scope, allowed, id=f"{role}-{scope}-{action}")


FILE_CELLS = list(_file_cells())


def test_file_covers_the_whole_vocabulary():
    expected = len(ROLES) * (2 * len(DATASET_ACTIONS) + len(GLOBAL_ACTIONS))
    assert len(FILE_CELLS) == expected
    assert set(RAW["roles"]) == set(ROLES)


@pytest.mark.parametrize("role,action,scope,allowed", FILE_CELLS)
def test_authorize_matches_every_cell_of_the_file(role, action, scope, allowed):
    matrix = load_matrix()
    assert matrix.allows(role, action, scope) is allowed
    if allowed:
        assert authorize(matrix, role=role, action=action, scope=scope) is None
    else:
        with pytest.raises(PermissionDeniedError) as info:
            authorize(matrix, role=role, action=action, scope=scope)
        assert role in str(info.value) and action in str(info.value)


def test_cells_iterator_agrees_with_file():
    from_matrix = {(r, a, s): v for r, a, s, v in load_matrix().cells()}
    from_file = {(p.values[0], p.values[1], p.values[2]): p.values[3] for p in FILE_CELLS}
    assert from_matrix == from_file


def test_denial_message_names_role_action_and_scope():
    matrix = load_matrix()
    with pytest.raises(PermissionDeniedError, match="^role ml_engineer may not view_raw on a dataset it belongs to$"):
        authorize(matrix, role="ml_engineer", action="view_raw", scope="own")
    with pytest.raises(PermissionDeniedError, match="^role data_owner may not view_raw on a dataset it does not belong to$"):
        authorize(matrix, role="data_owner", action="view_raw", scope="other")
    with pytest.raises(PermissionDeniedError, match="^role ml_engineer may not view_audit$"):
        authorize(matrix, role="ml_engineer", action="view_audit", scope="global")


@pytest.mark.parametrize(
    "role,action,scope",
    [
        ("superuser", "view_raw", "own"),
        ("ADMIN", "manage_users", "global"),
        ("", "list_datasets", "own"),
        (None, "list_datasets", "own"),
        ("admin", "drop_tables", "global"),
        ("admin", "Manage_users", "global"),
        ("data_owner", "view_raw", "everywhere"),
        ("data_owner", "view_raw", None),
        ("data_owner", "view_raw", "global"),  # dataset action asked as global
        ("admin", "manage_users", "own"),  # global action asked with a dataset scope
        (["admin"], "manage_users", "global"),  # unhashable junk
    ],
)
def test_unknown_or_mismatched_requests_are_denied(role, action, scope):
    matrix = load_matrix()
    assert matrix.allows(role, action, scope) is False
    with pytest.raises(PermissionDeniedError):
        authorize(matrix, role=role, action=action, scope=scope)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("scope", SCOPES)
def test_download_unapproved_always_denied(role, scope):
    matrix = load_matrix()
    assert not matrix.allows(role, "download_unapproved", scope)
    with pytest.raises(PermissionDeniedError):
        authorize(matrix, role=role, action="download_unapproved", scope=scope)


def test_separation_of_duties_in_the_shipped_matrix():
    m = load_matrix()
    for scope in ("own", "other"):
        assert not m.allows("admin", "view_raw", scope)
        assert not m.allows("admin", "approve", scope)
        assert not m.allows("ml_engineer", "view_raw", scope)
        assert not m.allows("privacy_officer", "view_raw", scope)
        assert not m.allows("data_owner", "approve", scope)
    # no role can both request and approve
    for role in ROLES:
        assert not (m.allows(role, "request_release", "own") and m.allows(role, "approve", "own"))
    # without membership: the admin's metadata housekeeping, and the privacy officers' review pool
    other_allowed = {(r, a) for r, a, s, v in m.cells() if s == "other" and v}
    assert {r for r, _ in other_allowed} <= {"admin", "privacy_officer"}
    assert {a for r, a in other_allowed if r == "admin"} <= {"list_datasets", "view_dataset", "delete_dataset",
                                                             "list_releases", "view_release_card"}
    assert m.allowed_actions("privacy_officer", "other") == m.allowed_actions("privacy_officer", "own") == {
        "list_datasets", "view_dataset", "list_releases", "view_release_card", "view_risk_report", "approve",
        "reject", "publish", "revoke"}
    assert m.allowed_actions("ml_engineer", "own") == {"list_releases", "view_release_card", "download_approved"}


def test_load_matrix_default_is_cached_and_path_loads_fresh():
    assert load_matrix() is load_matrix()
    explicit = load_matrix(TOML_PATH)
    assert explicit is not load_matrix() and explicit.allowed == load_matrix().allowed


def _write(tmp_path, text):
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = TOML_PATH.read_text(encoding="utf-8")


def _replace_once(text, old, new):
    assert text.count(old) >= 1
    return text.replace(old, new, 1)


def test_matrix_with_download_unapproved_true_fails_to_load(tmp_path):
    bad = _replace_once(BASE, "download_unapproved = false", "download_unapproved = true")
    with pytest.raises(AuthzMatrixError, match="download_unapproved"):
        load_matrix(_write(tmp_path, bad))


@pytest.mark.parametrize(
    "old,new,fragment",
    [
        ("view_raw = false", 'view_raw = "no"', "must be a boolean"),
        ("view_raw = false", "view_raw = 0", "must be a boolean"),
        ("view_raw = false\n", "", "does not list action(s) ['view_raw']"),
        ("view_raw = false", "view_raw = false\nexport_all = true", "unknown or misplaced action(s) ['export_all']"),
        ("[roles.ml_engineer.global]", "[roles.ml_engineer.globl]", "scopes"),
        ("[roles.admin.own]", "[roles.root.own]", "roles"),
        ("view_audit = true", "view_audit = true\nview_raw = true", "misplaced"),
        ("[roles.admin.own]", "[roles.admin.own\n", "not valid TOML"),
    ],
)
def test_malformed_matrix_fails_to_load(tmp_path, old, new, fragment):
    with pytest.raises(AuthzMatrixError) as info:
        load_matrix(_write(tmp_path, _replace_once(BASE, old, new)))
    assert fragment in str(info.value)


def test_missing_matrix_file_fails(tmp_path):
    with pytest.raises(AuthzMatrixError):
        load_matrix(tmp_path / "absent.toml")


def test_four_eyes():
    four_eyes_check("user-1", "user-2")
    four_eyes_check(1, 2)
    with pytest.raises(SelfApprovalError, match="four-eyes"):
        four_eyes_check("user-1", "user-1")
    with pytest.raises(SelfApprovalError):
        four_eyes_check(7, "7")  # same id, different types
    with pytest.raises(PermissionDeniedError):
        four_eyes_check(None, "user-2")
    assert issubclass(SelfApprovalError, PermissionDeniedError)
    assert issubclass(PermissionDeniedError, SynthgenError)


def test_scope_for():
    assert scope_for(True) == "own"
    assert scope_for(False) == "other"
    assert scope_for(1) == "other"  # only a real True grants membership
    assert set(ACTIONS) == set(DATASET_ACTIONS) | set(GLOBAL_ACTIONS)
