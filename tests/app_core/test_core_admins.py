"""At least one active administrator always exists."""

from __future__ import annotations

import threading

import pytest

from app.core.authz import PermissionDeniedError
from synthgen.errors import InvalidInputError
from core_helpers import PASSWORD, make_team


def test_the_only_administrator_cannot_demote_themselves(platform):
    team = make_team(platform)
    with pytest.raises(InvalidInputError, match="last active administrator"):
        platform.set_role(team.admin, team.admin.user_id, "data_owner")
    assert platform.login("admin", PASSWORD).actor.role == "admin"


def test_demotion_allowed_while_another_administrator_remains(platform):
    team = make_team(platform)
    second = platform.create_user(team.admin, "admin2", PASSWORD, "admin")
    platform.set_role(team.admin, team.admin.user_id, "privacy_officer")  # admin2 remains
    admin2 = platform.login("admin2", PASSWORD).actor
    with pytest.raises(InvalidInputError, match="last active administrator"):
        platform.set_role(admin2, second.id, "ml_engineer")


def test_disabling_the_last_other_administrator_is_refused(platform):
    team = make_team(platform)
    second = platform.create_user(team.admin, "admin2", PASSWORD, "admin")
    admin2 = platform.login("admin2", PASSWORD).actor
    platform.disable_user(admin2, team.admin.user_id)  # one active admin (admin2) remains
    platform.create_user(admin2, "admin3", PASSWORD, "admin")
    admin3 = platform.login("admin3", PASSWORD).actor
    platform.set_role(admin3, second.id, "data_owner")
    with pytest.raises(InvalidInputError, match="last active administrator"):
        platform.set_role(admin3, platform.login("admin3", PASSWORD).actor.user_id, "data_owner")


def test_two_administrators_demoting_each_other_at_once_leave_one(platform):
    team = make_team(platform)
    second = platform.create_user(team.admin, "admin2", PASSWORD, "admin")
    admin2 = platform.login("admin2", PASSWORD).actor
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(actor, user_id):
        barrier.wait()
        try:
            platform.set_role(actor, user_id, "data_owner")
            outcomes.append("ok")
        except (InvalidInputError, PermissionDeniedError):  # last admin, or no longer an admin
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(team.admin, second.id)),
               threading.Thread(target=demote, args=(admin2, team.admin.user_id))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admins = []
    for name in ("admin", "admin2"):
        actor = platform.login(name, PASSWORD).actor
        if actor.role == "admin":
            admins.append(name)
    assert len(admins) == 1 and outcomes.count("ok") == 1
