"""Alert rules over the audit stream and the ledger.

Four rules, each a pure function of the database at a moment ``now``:

* ``failed_login_burst``: at least ``failed_logins`` failed sign-ins within ``login_window``
  (password spraying or a brute-force run, whatever the user names);
* ``download_burst``: one actor downloaded at least ``downloads`` times within ``download_window``
  (a leaked API token being drained);
* ``budget_nearly_spent``: a dataset's spent + reserved ρ reached ``budget_fraction`` of its total;
* ``audit_chain_invalid``: the audit log fails verification (edited, deleted or forged entries).

:class:`AlertMonitor` (run by the worker every ``interval``) evaluates them, records each new
alert in the audit log (``action="alert"``, target ``alert:<key>``) and POSTs it as JSON to the
optional webhook (``SYNTHGEN_ALERT_WEBHOOK_URL``). An alert is new when no alert with the same
key was recorded within ``cooldown``; this is read back from the audit log, so a restarted worker
does not page anyone twice. The dashboard's Alerts page (administrators and privacy officers)
shows the active alerts and the recorded ones.

Privacy: alerts carry counts of audit events and ρ figures of the ledger, both facts about the
platform's use, never about a private table.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import func, select

from app.core import audit as audit_mod
from app.core.store import AuditRow, Dataset, LedgerEntry, session_factory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertRules:
    failed_logins: int = 20
    login_window: timedelta = timedelta(minutes=5)
    downloads: int = 100
    download_window: timedelta = timedelta(minutes=10)
    budget_fraction: float = 0.9
    cooldown: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Alert:
    rule: str
    key: str  # what the alert is about; one alert per key per cooldown
    severity: str  # warning | critical
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(t: datetime) -> str:
    return audit_mod.utc_now_iso(t.astimezone(timezone.utc))


def evaluate(platform, now: datetime, rules: AlertRules = AlertRules()) -> list[Alert]:
    """The alerts that hold at ``now`` (stateless: nothing is written)."""
    alerts: list[Alert] = []
    factory = session_factory(platform.engine)
    with factory() as s:
        since = _iso(now - rules.login_window)
        # refused attempts of a flood are one entry per address and minute, with their count
        failed = sum(int(json.loads(d).get("refused", 1)) for d in s.execute(select(AuditRow.details_json).where(
            AuditRow.action == "login", AuditRow.outcome != "ok", AuditRow.at >= since)).scalars())
        if failed >= rules.failed_logins:
            alerts.append(Alert("failed_login_burst", "failed_logins", "warning",
                                f"{failed} failed sign-ins in the last {rules.login_window.total_seconds() / 60:g} "
                                "minutes", {"failed_logins": failed}))
        since = _iso(now - rules.download_window)
        actors = Counter(s.execute(select(AuditRow.actor).where(
            AuditRow.action == "download", AuditRow.at >= since)).scalars())
        for actor, n in sorted(actors.items()):
            if n >= rules.downloads:
                alerts.append(Alert("download_burst", f"downloads:{actor}", "warning",
                                    f"{actor} downloaded {n} times in the last "
                                    f"{rules.download_window.total_seconds() / 60:g} minutes",
                                    {"actor": actor, "downloads": n}))
        used = dict(s.execute(select(LedgerEntry.dataset_id, func.sum(LedgerEntry.rho))
                              .group_by(LedgerEntry.dataset_id)).all())
        for ds_id, total in s.execute(select(Dataset.id, Dataset.budget_rho_total)
                                      .where(Dataset.deleted_at.is_(None)).order_by(Dataset.id)).all():
            spent = float(used.get(ds_id) or 0.0)
            if total > 0 and spent >= rules.budget_fraction * total:
                alerts.append(Alert("budget_nearly_spent", f"budget:{ds_id}", "warning",
                                    f"dataset {ds_id} has used {spent / total:.0%} of its privacy budget",
                                    {"dataset_id": ds_id, "rho_used": spent, "rho_total": total}))
    try:
        result = platform.verify_audit_chain()
        problems = list(result.problems)
    except Exception as exc:  # noqa: BLE001 - a log too damaged to read is the worst case of this rule
        problems = [f"verification could not run: {type(exc).__name__}"]
    if problems:
        alerts.append(Alert("audit_chain_invalid", "audit_chain", "critical",
                            f"the audit log fails verification ({len(problems)} problem(s))",
                            {"problems": [str(p)[:200] for p in problems[:5]]}))
    return alerts


def post_webhook(url: str, alerts: list[Alert], timeout: float = 5.0) -> None:
    body = json.dumps({"source": "synthgen", "alerts": [a.to_dict() for a in alerts]}, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "synthgen-alerts"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https or loopback (Settings)
        response.read()


class AlertMonitor:
    """Raise new alerts once: record them in the audit log and send them to the webhook."""

    def __init__(self, platform, rules: AlertRules = AlertRules(), *,
                 send: Callable[[str, list[Alert]], None] = post_webhook):
        self.platform, self.rules, self.send = platform, rules, send
        self._unrecorded: dict[str, datetime] = {}  # keys raised while the log refused appends

    def _recently_raised(self, now: datetime) -> set[str]:
        with session_factory(self.platform.engine)() as s:
            targets = s.execute(select(AuditRow.target).where(
                AuditRow.action == "alert", AuditRow.at >= _iso(now - self.rules.cooldown))).scalars()
            keys = {t.removeprefix("alert:") for t in targets}
        return keys | {k for k, at in self._unrecorded.items() if now - at < self.rules.cooldown}

    def check(self, now: datetime | None = None) -> list[Alert]:
        """Evaluate the rules; returns the alerts raised now (not raised within the cooldown)."""
        now = now or self.platform.now()
        raised = self._recently_raised(now)
        new = [a for a in evaluate(self.platform, now, self.rules) if a.key not in raised]
        for alert in new:
            try:
                self.platform.record(actor="monitor", action="alert", outcome="ok", target=f"alert:{alert.key}",
                                     details={"rule": alert.rule, "severity": alert.severity,
                                              "message": alert.message, **alert.details})
            except Exception:  # noqa: BLE001 - e.g. the damaged log itself: still page the operator
                log.exception("could not record alert %s in the audit log", alert.key)
                self._unrecorded[alert.key] = now
        url = self.platform.settings.alert_webhook_url
        if new and url:
            try:
                self.send(url, new)
            except Exception as exc:  # noqa: BLE001 - an unreachable webhook must not stop the worker
                log.warning("alert webhook failed: %s", type(exc).__name__)
        return new

