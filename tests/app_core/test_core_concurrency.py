"""Concurrent release requests: no deadlock reaches a user, the budget is never overspent, and
database errors never show SQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

from app.core.services import DatabaseBusyError
from app.core.services.runtime import database_error
from core_helpers import make_team, upload_titanic
from synthgen.errors import BudgetExceededError

N = 20


def _race(platform, team, ds_id, epsilon):
    barrier = threading.Barrier(N)
    outcomes: list[str] = []
    lock = threading.Lock()

    def request():
        barrier.wait()
        try:
            platform.request_release(team.owner, ds_id, synthesizer="mst", epsilon=epsilon)
            result = "ok"
        except BudgetExceededError:
            result = "over budget"
        except Exception as exc:  # noqa: BLE001 - anything else is the failure under test
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=request) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_concurrent_release_requests_never_deadlock(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=50.0)
    outcomes = _race(platform, team, ds.id, 0.5)
    assert outcomes == ["ok"] * N, [o for o in outcomes if o != "ok"]
    assert len(platform.list_releases(team.owner, dataset_id=ds.id)) == N


def test_concurrent_requests_at_the_budget_limit_never_overspend(platform):
    team = make_team(platform)
    ds = upload_titanic(platform, team, epsilon=2.0)
    outcomes = _race(platform, team, ds.id, 0.5)
    assert set(outcomes) <= {"ok", "over budget"}, [o for o in outcomes if o not in ("ok", "over budget")]
    summary = platform.budget_summary(team.owner, ds.id)
    assert summary.reserved.rho + summary.spent.rho <= summary.total.rho * (1 + 1e-12)
    assert outcomes.count("ok") >= 1


class _FakePgError(Exception):
    sqlstate = "40P01"


def test_database_errors_are_clean_messages():
    deadlock = OperationalError('UPDATE datasets SET budget_rho_total=%(x)s WHERE datasets.id = 1', {}, _FakePgError("deadlock detected"))
    assert isinstance(database_error(deadlock), DatabaseBusyError)
    other = database_error(OperationalError("SELECT secret FROM users", {}, Exception("boom")))
    assert "SELECT" not in str(other) and "users" not in str(other)
    assert "SELECT" not in str(database_error(deadlock))
