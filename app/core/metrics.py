"""Operational metrics in Prometheus' text format (``GET /metrics`` on the API).

Every figure is read from the database at scrape time (the worker, the API and the dashboard are
separate processes, so in-process counters would each see a third of the truth):

* ``synthgen_jobs{state}``: jobs by state;
* ``synthgen_job_duration_seconds``: histogram of finished jobs (started → finished);
* ``synthgen_logins_total{outcome}``, ``synthgen_downloads_total{outcome}``: from the audit log;
* ``synthgen_budget_rho_total|spent|reserved{dataset_id}``: the privacy ledger (ρ, zCDP);
* ``synthgen_audit_entries``: the audit log's length.

Privacy: a fit's duration grows with the private table's size, so it is a statistic of the
table. The endpoint is therefore off unless the operator sets ``SYNTHGEN_METRICS_TOKEN`` and
is served only to a scraper presenting it (``Authorization: Bearer <token>``); datasets are
labelled by id, never by name. Buckets are coarse (seconds to hours).
"""

from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from app.core.store import AuditRow, Dataset, Job, LedgerEntry, session_factory

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
JOB_STATES = ("queued", "running", "succeeded", "failed")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


class _DatabaseCollector:
    def __init__(self, engine):
        self._factory = session_factory(engine)

    def collect(self):
        with self._factory() as s:
            by_state = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            finished = s.execute(select(Job.started_at, Job.finished_at).where(
                Job.finished_at.is_not(None), Job.started_at.is_not(None))).all()
            audit_counts = s.execute(select(AuditRow.action, AuditRow.outcome, func.count())
                                     .where(AuditRow.action.in_(("login", "download")))
                                     .group_by(AuditRow.action, AuditRow.outcome)).all()
            audit_len = s.execute(select(func.count()).select_from(AuditRow)).scalar_one()
            datasets = s.execute(select(Dataset.id, Dataset.budget_rho_total).where(Dataset.deleted_at.is_(None))).all()
            ledger = s.execute(select(LedgerEntry.dataset_id, LedgerEntry.state, func.sum(LedgerEntry.rho))
                               .group_by(LedgerEntry.dataset_id, LedgerEntry.state)).all()

        jobs = GaugeMetricFamily("synthgen_jobs", "Jobs by state", labels=["state"])
        for state in sorted(set(JOB_STATES) | set(by_state)):
            jobs.add_metric([state], by_state.get(state, 0))
        yield jobs

        durations = sorted(max(0.0, (_aware(f) - _aware(st)).total_seconds()) for st, f in finished)
        buckets = [(f"{b:g}", sum(1 for d in durations if d <= b)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(durations)))
        hist = HistogramMetricFamily("synthgen_job_duration_seconds", "Duration of finished jobs")
        hist.add_metric([], buckets, sum_value=sum(durations))
        yield hist

        for action, name, help_text in (("login", "synthgen_logins", "Password and OIDC sign-ins by outcome"),
                                        ("download", "synthgen_downloads", "Release downloads by outcome")):
            counter = CounterMetricFamily(name, help_text, labels=["outcome"])
            counts = {o: n for a, o, n in audit_counts if a == action}
            for outcome in sorted({"ok", "failed", "denied"} | set(counts)):
                counter.add_metric([outcome], counts.get(outcome, 0))
            yield counter

        used: dict[tuple[int, str], float] = {(d, st): float(r or 0.0) for d, st, r in ledger}
        families = {name: GaugeMetricFamily(f"synthgen_budget_rho_{name}", f"Privacy budget {name} (zCDP rho)",
                                            labels=["dataset_id"]) for name in ("total", "spent", "reserved")}
        for ds_id, total in datasets:
            families["total"].add_metric([str(ds_id)], total)
            families["spent"].add_metric([str(ds_id)], used.get((ds_id, "spent"), 0.0))
            families["reserved"].add_metric([str(ds_id)], used.get((ds_id, "reserved"), 0.0))
        yield from families.values()

        yield GaugeMetricFamily("synthgen_audit_entries", "Entries in the audit log", value=audit_len)


def render(engine) -> bytes:
    """The current metrics in Prometheus' text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector(engine))
    return generate_latest(registry)
