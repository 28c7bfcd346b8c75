"""``GET /metrics``: Prometheus text format, off without a token, figures match the database."""

from __future__ import annotations

import secrets

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqlalchemy import func, select

from api_helpers import PASSWORD, LiveServer
from app.core.store import Job, session_factory

TOKEN = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def metrics_server(world, tmp_path_factory):
    srv = LiveServer({**world.env, "SYNTHGEN_METRICS_TOKEN": TOKEN}, tmp_path_factory.mktemp("m") / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


def _samples(server) -> dict[tuple[str, tuple], float]:
    r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_are_off_without_a_configured_token(server):
    assert httpx.get(f"{server.url}/metrics").status_code == 404


def test_metrics_need_the_token(metrics_server):
    assert httpx.get(f"{metrics_server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{metrics_server.url}/metrics", headers={"Authorization": "Bearer " + "x" * 43})
    assert wrong.status_code == 401


def test_metrics_match_the_database(metrics_server, world, platform, ml_token):
    before = _samples(metrics_server)
    assert httpx.post(f"{metrics_server.url}/api/v1/tokens", auth=("ml", "wrong password")).status_code == 401
    assert httpx.get(f"{metrics_server.url}/api/v1/releases/{world.approved}/download",
                     headers={"Authorization": f"Bearer {ml_token}"}).status_code == 200
    after = _samples(metrics_server)
    assert after[("synthgen_logins_total", (("outcome", "failed"),))] == \
        before[("synthgen_logins_total", (("outcome", "failed"),))] + 1
    assert after[("synthgen_downloads_total", (("outcome", "ok"),))] == \
        before[("synthgen_downloads_total", (("outcome", "ok"),))] + 1

    admin = platform.login("admin", PASSWORD).actor
    datasets = platform.list_datasets(admin)
    for ds in datasets:
        summary = platform.budget_summary(admin, ds.id)
        label = (("dataset_id", str(ds.id)),)
        assert after[("synthgen_budget_rho_total", label)] == pytest.approx(summary.total.rho)
        assert after[("synthgen_budget_rho_spent", label)] == pytest.approx(summary.spent.rho)
    with session_factory(platform.engine)() as s:
        succeeded = s.execute(select(func.count()).select_from(Job).where(Job.state == "succeeded")).scalar_one()
    assert after[("synthgen_jobs", (("state", "succeeded"),))] == succeeded >= 5
    assert after[("synthgen_job_duration_seconds_count", ())] == succeeded
    assert after[("synthgen_audit_entries", ())] >= len(platform.audit_log(admin, limit=10_000)) - 1
