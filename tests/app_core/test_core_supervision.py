"""A job whose worker dies is requeued (charged once) and failed after MAX_ATTEMPTS; the
launcher's supervisor restarts a dead child and leaves the others running."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core import jobs
from app.core.store import LedgerEntry, transaction
from app.supervisor import Supervisor
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


# --------------------------------------------------------------------------------------------
# The launcher's supervisor
# --------------------------------------------------------------------------------------------

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _wait(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_supervisor_restarts_a_killed_child_and_leaves_the_others_running(tmp_path):
    log: list[str] = []
    sup = Supervisor(env=dict(os.environ), cwd=str(tmp_path), log=log.append)
    try:
        worker, api = sup.add("worker", SLEEPER), sup.add("api", SLEEPER)
        first_worker, first_api = worker.proc.pid, api.proc.pid
        os.kill(first_worker, signal.SIGKILL)

        def restarted() -> bool:
            sup.poll()
            return worker.proc.pid != first_worker and worker.proc.poll() is None

        _wait(restarted)
        assert api.proc.pid == first_api and api.proc.poll() is None
        assert worker.restarts == 1 and any("restarting worker" in m for m in log)
    finally:
        sup.stop(timeout=5)
    assert all(c.proc.poll() is not None for c in sup.children)


def test_supervisor_keeps_restarting_a_crashing_child_with_growing_backoff(tmp_path):
    log: list[str] = []
    sup = Supervisor(env=dict(os.environ), cwd=str(tmp_path), log=log.append, max_backoff=1.0)
    try:
        broken = sup.add("api", [sys.executable, "-c", "raise SystemExit(3)"])
        healthy = sup.add("dashboard", SLEEPER)
        first = healthy.proc.pid

        def restarted_four_times() -> bool:
            sup.poll()
            return broken.restarts >= 4

        _wait(restarted_four_times)
        assert healthy.proc.pid == first and healthy.proc.poll() is None
        waits = [m for m in log if m.startswith("api exited with code 3; restarting in")]
        assert waits[:4] == [f"api exited with code 3; restarting in {b:g} s" for b in (0.5, 1, 1, 1)]
    finally:
        sup.stop(timeout=5)
