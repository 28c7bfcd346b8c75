"""Each alert rule driven by the events it watches; alerts raised once, recorded, sent to a webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import update

from app.core import jobs
from app.core.alerts import AlertMonitor, AlertRules, evaluate
from app.core.services import AuthenticationError, Platform
from app.core.store import AuditRow, transaction
from core_helpers import PASSWORD, make_team, tiny_pipeline, upload_titanic


def _rules(**kw) -> AlertRules:
    return AlertRules(**{"failed_logins": 1000, "downloads": 1000, "budget_fraction": 1.0, **kw})


def _rules_hit(platform, rules) -> set[str]:
    return {a.rule for a in evaluate(platform, platform.now(), rules)}


def test_failed_login_burst_is_raised_once_and_survives_a_restart(platform):
    make_team(platform)
    rules = _rules(failed_logins=5)
    for name in ("owner", "officer", "nobody", "ml", "admin"):  # spraying: several accounts, unknown names
        with pytest.raises(AuthenticationError):
            platform.login(name, "not the password")
    monitor = AlertMonitor(platform, rules, send=lambda url, alerts: None)
    [alert] = monitor.check()
    assert alert.rule == "failed_login_burst" and alert.details["failed_logins"] == 5
    assert monitor.check() == []  # within the cooldown
    assert AlertMonitor(platform, rules).check() == []  # a restarted worker reads the log, pages nobody twice
    admin = platform.login("admin", PASSWORD).actor
    [entry] = platform.audit_log(admin, action="alert")
    assert entry.target == "alert:failed_logins" and entry.details["rule"] == "failed_login_burst"


def test_no_alert_below_the_thresholds(platform):
    team = make_team(platform)
    upload_titanic(platform, team)
    with pytest.raises(AuthenticationError):
        platform.login("owner", "typo")
    assert _rules_hit(platform, AlertRules()) == set()


def test_download_burst_names_the_actor(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    platform.approve(team.officer, rel.id, "gate passed")
    for _ in range(3):
        platform.download(team.ml, rel.id, "csv")
    assert _rules_hit(platform, _rules(downloads=4)) == set()
    platform.download(team.ml, rel.id, "csv")
    [alert] = evaluate(platform, platform.now(), _rules(downloads=4))
    assert (alert.rule, alert.key, alert.details["downloads"]) == ("download_burst", "downloads:ml", 4)


def test_budget_nearly_spent(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=1.0)
    platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)
    assert _rules_hit(platform, _rules(budget_fraction=0.5)) == set()
    platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.5)  # reserved counts as used
    [alert] = evaluate(platform, platform.now(), _rules(budget_fraction=0.5))
    assert alert.rule == "budget_nearly_spent" and alert.key == f"budget:{ds.id}"
    assert 0.5 <= alert.details["rho_used"] / alert.details["rho_total"] <= 1.0


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_forged_audit_row_raises_a_critical_alert_sent_to_the_webhook(settings):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with Platform.open(settings.with_(alert_webhook_url=url)) as platform:
            make_team(platform)
            assert _rules_hit(platform, _rules()) == set()
            with transaction(platform._factory) as s:  # someone edits an old entry in the database
                s.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="mallory"))
            [alert] = AlertMonitor(platform, _rules()).check()
            assert alert.rule == "audit_chain_invalid" and alert.severity == "critical"
    finally:
        server.shutdown()
        server.server_close()
    [(content_type, body)] = _Hook.received
    assert content_type == "application/json" and body["source"] == "synthgen"
    assert [a["rule"] for a in body["alerts"]] == ["audit_chain_invalid"]
