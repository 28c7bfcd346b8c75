"""The Alerts page: officers and admins see the rules' state and the recorded alerts."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.core.alerts import AlertMonitor
from app.core.store import AuditRow, transaction
from tests.app_ui.ui_helpers import PAGE_FILES, app_test, texts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:streamlit")


def _alerts_page(platform, username):
    at = app_test(platform, username)
    at.run()
    at.switch_page(PAGE_FILES["alerts"]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_alerts_page_quiet_then_shows_a_broken_chain(platform, team, world):
    at = _alerts_page(platform, "officer")
    assert "No rule is firing." in texts(at) and "No alert has been recorded." in texts(at)
    with transaction(platform._factory) as s:
        s.execute(update(AuditRow).where(AuditRow.seq == 3).values(outcome="denied"))
    AlertMonitor(platform).check()
    at = _alerts_page(platform, "admin")
    assert any("audit_chain_invalid" in e.value for e in at.error)
    assert "the audit log fails verification" in texts(at)


def test_alerts_page_is_not_in_other_roles_navigation(platform, team, world):
    for user in ("owner", "ml"):
        at = app_test(platform, user)
        at.run()
        with pytest.raises(ValueError):
            at.switch_page(PAGE_FILES["alerts"])
