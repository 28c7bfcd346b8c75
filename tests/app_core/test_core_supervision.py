"""A job whose worker dies is requeued (charged once) and failed after MAX_ATTEMPTS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core import jobs
from app.core.store import LedgerEntry, transaction
from core_helpers import make_team, tiny_pipeline, upload_titanic


def _claim_and_lose(platform) -> None:
    """Claim the next job and abandon it as a killed worker would (no heartbeat any more)."""
    assert jobs.claim_next(platform) is not None
    assert jobs.recover_stale(platform, stale_after=timedelta(seconds=-1)) != []


def test_requeued_job_resumes_without_a_second_charge(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.3)
    _claim_and_lose(platform)
    info = platform.get_release(team.owner, rel.id)
    assert (info.state, info.job.state) == ("draft", "queued")
    assert jobs.run_one(platform, tiny_pipeline()) == "succeeded"
    with transaction(platform._factory) as s:
        entries = s.execute(select(LedgerEntry).where(LedgerEntry.release_id == rel.id)).scalars().all()
    assert [e.state for e in entries] == ["spent"] and entries[0].rho == pytest.approx(rel.rho)
    fits = [e for e in platform.audit_log(team.admin, action="fit") if e.details.get("release_id") == rel.id]
    assert [e.outcome for e in fits] == ["ok", "ok"]
    assert sum(e.details["rho_spent"] for e in fits) == pytest.approx(rel.rho)  # the second attempt spent 0
    requeued = platform.audit_log(team.admin, action="requeue")
    assert [e.details["release_id"] for e in requeued] == [rel.id]


def test_job_that_keeps_losing_its_worker_fails_after_max_attempts(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team)
    rel = platform.request_release(team.owner, ds.id, synthesizer="mst", epsilon=0.3)
    for _ in range(jobs.MAX_ATTEMPTS):
        _claim_and_lose(platform)
    info = platform.get_release(team.owner, rel.id)
    assert (info.state, info.job.state) == ("failed", "failed")
    assert f"{jobs.MAX_ATTEMPTS} attempt(s)" in info.job.error
    assert jobs.claim_next(platform) is None
    assert platform.budget_summary(team.owner, ds.id).spent.rho == pytest.approx(rel.rho)
