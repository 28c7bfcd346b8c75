"""The privacy-budget ledger.

Each dataset has a lifetime budget ``datasets.budget_rho_total`` (zCDP ρ). Every DP computation
first *reserves* its cost (a ``reserved`` ledger entry), inside a transaction that holds the
dataset's lock: ``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` (the whole database)
on SQLite. So two concurrent reservations can never both see the same remaining budget.

The reservation becomes ``spent`` when the computation starts. Nothing is ever refunded: a
reserved entry counts against the budget exactly like a spent one, whatever happens after
(the job fails, the worker is killed, the release is rejected). Composition is exact: ρ adds.

A computation that is not pure zCDP (DP schema discovery: OpenDP's key thresholding has a δ of
its own) also records that ``extra_delta``. It is not convertible into ρ; it adds to the δ at
which the dataset's ε holds, and the summary reports the sum so nobody reads the ε without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.store import Dataset, LedgerEntry, lock_for_update, utcnow
from synthgen.budget import PrivacyBudget
from synthgen.errors import BudgetError, BudgetExceededError, InternalError, InvalidInputError

RESERVED = "reserved"
SPENT = "spent"


@dataclass(frozen=True)
class LedgerSummary:
    total: PrivacyBudget
    spent: PrivacyBudget
    reserved: PrivacyBudget
    remaining: PrivacyBudget
    extra_delta: float = 0.0  # δ spent outside zCDP, over spent and reserved entries


def lock_dataset(session: Session, dataset_id: int) -> Dataset:
    """The dataset row, locked for the rest of the transaction."""
    ds = session.execute(lock_for_update(select(Dataset).where(Dataset.id == dataset_id), session)).scalar_one_or_none()
    if ds is None or ds.deleted_at is not None:
        raise InvalidInputError(f"dataset_id ({dataset_id}) does not name an existing dataset")
    return ds


def _used(session: Session, dataset_id: int) -> tuple[float, float]:
    spent, reserved, _ = _usage(session, dataset_id)
    return spent, reserved


def _usage(session: Session, dataset_id: int) -> tuple[float, float, float]:
    """(spent ρ, reserved ρ, extra δ of both)."""
    rows = session.execute(
        select(LedgerEntry.state, LedgerEntry.rho, LedgerEntry.extra_delta).where(LedgerEntry.dataset_id == dataset_id)
    ).all()
    spent = math.fsum(r.rho for r in rows if r.state == SPENT)
    reserved = math.fsum(r.rho for r in rows if r.state == RESERVED)
    return spent, reserved, math.fsum(r.extra_delta or 0.0 for r in rows)


def _fmt(budget: PrivacyBudget, delta: float) -> str:
    # People decide in ε at the dataset's δ; the internal ρ is left out of what they read.
    return f"ε = {budget.epsilon(delta):.4g} at δ = {delta:g}"


def reserve(session: Session, dataset_id: int, budget: PrivacyBudget, release_id: int | None, *,
            extra_delta: float = 0.0) -> LedgerEntry:
    """Reserve ``budget`` against the dataset, in the caller's transaction. ``extra_delta``: the
    computation's δ outside zCDP, recorded with it (see the module docstring).

    Raises :class:`BudgetExceededError` (requested / remaining / difference as ε at the
    dataset's δ) and writes nothing when it does not fit.
    """
    if not isinstance(budget, PrivacyBudget) or budget.rho <= 0:
        raise BudgetError(f"budget ({budget!r}) must be a positive PrivacyBudget")
    if not isinstance(extra_delta, (int, float)) or not 0.0 <= extra_delta < 1.0:
        raise BudgetError(f"extra_delta ({extra_delta!r}) must be in [0, 1)")
    ds = lock_dataset(session, dataset_id)
    spent, reserved = _used(session, dataset_id)
    used = spent + reserved
    if used + budget.rho > ds.budget_rho_total:
        remaining = PrivacyBudget(max(0.0, ds.budget_rho_total - used))
        difference = PrivacyBudget(budget.rho - remaining.rho)
        raise BudgetExceededError(
            _fmt(budget, ds.delta), _fmt(remaining, ds.delta), _fmt(difference, ds.delta),
            subject=f"privacy budget of dataset {dataset_id}",
        )
    entry = LedgerEntry(dataset_id=dataset_id, release_id=release_id, rho=budget.rho, extra_delta=float(extra_delta),
                        state=RESERVED, created_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def mark_spent(session: Session, entry_id: int) -> LedgerEntry:
    """The computation is starting: the reservation becomes spent (idempotent)."""
    entry = session.execute(lock_for_update(select(LedgerEntry).where(LedgerEntry.id == entry_id), session)).scalar_one_or_none()
    if entry is None:
        raise InternalError(f"ledger entry {entry_id} does not exist")
    if entry.state == RESERVED:
        entry.state = SPENT
        entry.spent_at = utcnow()
        session.flush()
    return entry


def mark_release_spent(session: Session, release_id: int) -> list[LedgerEntry]:
    """Mark every reservation of a release spent (called when its job starts)."""
    entries = session.execute(
        lock_for_update(select(LedgerEntry).where(LedgerEntry.release_id == release_id,
                                                  LedgerEntry.state == RESERVED), session)
    ).scalars().all()
    now = utcnow()
    for e in entries:
        e.state = SPENT
        e.spent_at = now
    session.flush()
    return list(entries)


def summary(session: Session, dataset: Dataset | int) -> LedgerSummary:
    """(total, spent, reserved, remaining) as PrivacyBudget values."""
    ds = dataset if isinstance(dataset, Dataset) else session.get(Dataset, dataset)
    if ds is None:
        raise InvalidInputError(f"dataset_id ({dataset}) does not name an existing dataset")
    spent, reserved, extra_delta = _usage(session, ds.id)
    remaining = max(0.0, ds.budget_rho_total - spent - reserved)
    return LedgerSummary(PrivacyBudget(ds.budget_rho_total), PrivacyBudget(spent), PrivacyBudget(reserved),
                         PrivacyBudget(remaining), extra_delta)


def set_total(session: Session, dataset_id: int, total: PrivacyBudget) -> Dataset:
    """Change the lifetime budget; refused below what is already spent or reserved."""
    ds = lock_dataset(session, dataset_id)
    spent, reserved = _used(session, dataset_id)
    if total.rho < spent + reserved:
        used = PrivacyBudget(spent + reserved)
        raise BudgetError(
            f"the lifetime budget ({_fmt(total, ds.delta)}) must not be below what is already spent or reserved "
            f"({_fmt(used, ds.delta)})"
        )
    ds.budget_rho_total = total.rho
    session.flush()
    return ds


def entry_count(session: Session, dataset_id: int) -> int:
    return session.execute(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.dataset_id == dataset_id)).scalar_one()


def history(session: Session, dataset_id: int, delta: float) -> list[tuple[datetime, float]]:
    """Cumulative ε used (spent or reserved, at ``delta``) after each ledger entry, oldest first.
    Entries count from their reservation: a reservation is never refunded. ε is converted from
    the running ρ sum (composition adds ρ, not ε), so the last point equals the meter's figure."""
    rows = session.execute(select(LedgerEntry.created_at, LedgerEntry.rho).where(LedgerEntry.dataset_id == dataset_id)
                           .order_by(LedgerEntry.created_at, LedgerEntry.id)).all()
    out, used = [], 0.0
    for at, rho in rows:
        used += rho
        out.append((at, PrivacyBudget(used).epsilon(delta)))
    return out
