"""Privacy-budget ledger: exact composition, no overspend under concurrency, no refunds."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from app.core import ledger
from app.core.store import Dataset, LedgerEntry, User, make_engine, session_factory, transaction, utcnow
from synthgen.budget import PrivacyBudget
from synthgen.errors import BudgetError, BudgetExceededError

from core_helpers import REPO


def make_dataset(engine, total_rho: float, delta: float = 1e-6) -> int:
    with transaction(session_factory(engine)) as s:
        u = User(username=f"owner{random.randrange(10**9)}", role="data_owner", password_hash=None)
        s.add(u)
        s.flush()
        ds = Dataset(name="d", owner_id=u.id, columns_json="[]", budget_rho_total=total_rho, delta=delta,
                     storage_dir="x", split_seed=1, created_at=utcnow())
        s.add(ds)
        s.flush()
        return ds.id


def test_reserve_spend_and_summary(engine):
    ds = make_dataset(engine, 1.0)
    f = session_factory(engine)
    with transaction(f) as s:
        e1 = ledger.reserve(s, ds, PrivacyBudget(0.25), None)
    with transaction(f) as s:
        ledger.reserve(s, ds, PrivacyBudget(0.5), None)
        ledger.mark_spent(s, e1.id)
    with transaction(f) as s:
        summ = ledger.summary(s, ds)
    assert summ.total.rho == 1.0
    assert summ.spent.rho == 0.25 and summ.reserved.rho == 0.5
    assert summ.remaining.rho == pytest.approx(0.25)
    with pytest.raises(BudgetExceededError) as err:
        with transaction(f) as s:
            ledger.reserve(s, ds, PrivacyBudget(0.3), None)
    msg = str(err.value)
    assert "requested ε =" in msg and "remaining ε =" in msg and "difference ε =" in msg and "δ = 1e-06" in msg
    with transaction(f) as s:
        assert ledger.entry_count(s, ds) == 2  # the refused request wrote nothing
        # lowering the budget below what is used is refused
        with pytest.raises(BudgetError):
            ledger.set_total(s, ds, PrivacyBudget(0.5))


def test_delta_outside_zcdp_is_recorded_and_summed_never_folded_into_rho(engine):
    ds = make_dataset(engine, 1.0)
    f = session_factory(engine)
    with transaction(f) as s:
        ledger.reserve(s, ds, PrivacyBudget(0.1), None, extra_delta=1e-7)
        ledger.reserve(s, ds, PrivacyBudget(0.2), None)
        ledger.reserve(s, ds, PrivacyBudget(0.1), None, extra_delta=3e-7)
    with transaction(f) as s:
        summ = ledger.summary(s, ds)
    assert summ.extra_delta == pytest.approx(4e-7, rel=1e-12)
    assert summ.reserved.rho == pytest.approx(0.4) and summ.remaining.rho == pytest.approx(0.6)
    for bad in (-1e-9, 1.0, float("nan"), "1e-9"):
        with pytest.raises(BudgetError, match=r"extra_delta \(.*\) must be in \[0, 1\)"):
            with transaction(f) as s:
                ledger.reserve(s, ds, PrivacyBudget(0.1), None, extra_delta=bad)
    with transaction(f) as s:
        assert ledger.entry_count(s, ds) == 3  # refused reservations wrote nothing


def test_exact_fill_is_allowed_and_then_nothing_more(engine):
    ds = make_dataset(engine, 0.75)
    f = session_factory(engine)
    for _ in range(3):
        with transaction(f) as s:
            ledger.reserve(s, ds, PrivacyBudget(0.25), None)
    with pytest.raises(BudgetExceededError):
        with transaction(f) as s:
            ledger.reserve(s, ds, PrivacyBudget(1e-9), None)


@pytest.mark.slow
def test_concurrent_workers_never_overspend(db_url, engine):
    total = 2.0
    ds = make_dataset(engine, total)
    stop_at = time.monotonic() + 5.0
    granted: list[float] = []
    refused = [0]
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        own = make_engine(db_url)  # each worker its own engine and connections
        f = session_factory(own)
        try:
            while time.monotonic() < stop_at:
                rho = rng.choice([0.01, 0.02, 0.05, 0.1, 0.2])
                try:
                    with transaction(f) as s:
                        entry = ledger.reserve(s, ds, PrivacyBudget(rho), None)
                        entry_id = entry.id
                except BudgetExceededError:
                    with lock:
                        refused[0] += 1
                    continue
                with lock:
                    granted.append(rho)
                outcome = rng.choice(["succeed", "fail", "crash"])
                if outcome == "crash":
                    continue  # never marked spent: the reservation still counts
                with transaction(f) as s:
                    ledger.mark_spent(s, entry_id)
                # "fail": the computation failed after it started; no refund either way
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert refused[0] > 0, "the budget was never exhausted; the test did not exercise the limit"
    with transaction(session_factory(engine)) as s:
        entries = s.execute(select(LedgerEntry).where(LedgerEntry.dataset_id == ds)).scalars().all()
        summ = ledger.summary(s, ds)
    assert len(entries) == len(granted)
    assert sorted(e.rho for e in entries) == sorted(granted)
    used = math.fsum(e.rho for e in entries)
    assert used <= total
    assert summ.spent.rho + summ.reserved.rho == pytest.approx(used, abs=1e-12)
    assert summ.spent.rho == pytest.approx(math.fsum(e.rho for e in entries if e.state == "spent"), abs=1e-12)
    assert summ.remaining.rho == pytest.approx(total - used, abs=1e-12)
    assert summ.remaining.rho < 0.01 + 1e-12  # exhausted down to less than the smallest request


CRASH_SCRIPT = r"""
import os, signal, sys
from app.core import ledger
from app.core.store import make_engine, session_factory, transaction
from synthgen.budget import PrivacyBudget
eng = make_engine(sys.argv[1])
with transaction(session_factory(eng)) as s:
    ledger.reserve(s, int(sys.argv[2]), PrivacyBudget(0.4), None)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_crash_after_reserve_keeps_the_spend(db_url, engine):
    ds = make_dataset(engine, 1.0)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, db_url, str(ds)], cwd=REPO, capture_output=True,
                          timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    with transaction(session_factory(engine)) as s:
        summ = ledger.summary(s, ds)
    assert summ.reserved.rho == pytest.approx(0.4)
    assert summ.remaining.rho == pytest.approx(0.6)
