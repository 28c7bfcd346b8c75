"""Lifetime privacy budgets of datasets: read them, change them (never below what is spent or
reserved: :func:`app.core.ledger.set_total` checks under the dataset's lock).

The budget is given in ε at the dataset's δ and stored as ρ (zCDP); the conversion is
OpenDP's (``synthgen.budget``), rounded toward the safe side.

Raising a budget is a privacy decision, not the owner's alone: the owner's raise is recorded as
a pending :class:`app.core.store.BudgetRaise` and takes effect only when a privacy officer of
the dataset who did not ask for it approves it (four eyes, as for releases). Asking, approving
and rejecting are each one audit entry. Lowering takes effect at once: it only reduces what can
be released.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core import ledger
from app.core.authz import four_eyes_check
from app.core.services import views
from app.core.services.inputs import require_table
from app.core.services.types import Actor, BudgetSummary
from app.core.store import BudgetRaise
from synthgen.budget import PrivacyBudget
from synthgen.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class Budgets:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def set_budget(self, actor: Actor, dataset_id: int, budget_epsilon: float) -> BudgetSummary:
        """Change the lifetime budget (ε at the dataset's δ); never below what is already
        spent or reserved. A raise is only asked for here (``pending_raise`` of the summary):
        a privacy officer approves it with :meth:`approve_budget_raise`."""
        with self.rt.op(actor, "set_budget", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "set_budget", dataset_id)
            require_table(ds, "change its budget")
            total = PrivacyBudget.from_epsilon(budget_epsilon, ds.delta)
            old = PrivacyBudget(ds.budget_rho_total)
            s = op.session
            pending = self._pending(s, ds.id)
            if total.rho > old.rho:
                if pending is not None:  # one open request per dataset: the newest ask replaces it
                    pending.state = "withdrawn"
                    pending.decided_at = self.rt.now()
                raise_ = BudgetRaise(dataset_id=ds.id, requester_id=op.user.id, old_rho=old.rho, new_rho=total.rho,
                                     new_epsilon=float(budget_epsilon), state="pending", created_at=self.rt.now())
                s.add(raise_)
                s.flush()
                op.details.update(stage="raise_requested", budget_raise=raise_.id)
            else:
                ledger.set_total(s, ds.id, total)
                if pending is not None and pending.new_rho <= total.rho:
                    pending.state = "withdrawn"
                    pending.decided_at = self.rt.now()
                op.details.update(stage="applied")
            op.details.update(old_rho=old.rho, new_rho=total.rho, new_epsilon=float(budget_epsilon), delta=ds.delta)
            return self._summary(s, ds)

    def _decide_raise(self, actor: Actor, raise_id: int, approve: bool) -> BudgetSummary:
        action = "approve_budget_raise" if approve else "reject_budget_raise"
        with self.rt.op(actor, action, f"budget_raise:{raise_id}") as op:
            s = op.session
            raise_ = s.get(BudgetRaise, raise_id) if isinstance(raise_id, int) else None
            if raise_ is None:
                raise NotFoundError(f"budget raise {str(raise_id)[:20]} does not exist")
            op.details.update(dataset_id=raise_.dataset_id, budget_raise=raise_.id)
            # the privacy decision on a release and on a budget are the same permission
            ds = self.rt.authorize_dataset(op, "approve", raise_.dataset_id)
            four_eyes_check(raise_.requester_id, op.user.id)
            if raise_.state != "pending":
                raise ConflictError(f"budget raise {raise_.id} is {raise_.state!r}; only a pending raise can be decided")
            if approve:
                ledger.set_total(s, ds.id, PrivacyBudget(raise_.new_rho))
            raise_.state = "approved" if approve else "rejected"
            raise_.decided_by = op.user.id
            raise_.decided_at = self.rt.now()
            op.details.update(old_rho=raise_.old_rho, new_rho=raise_.new_rho, new_epsilon=raise_.new_epsilon,
                              delta=ds.delta)
            return self._summary(s, ds)

    def approve_budget_raise(self, actor: Actor, raise_id: int) -> BudgetSummary:
        """A privacy officer of the dataset, not the requester, applies a pending raise."""
        return self._decide_raise(actor, raise_id, True)

    def reject_budget_raise(self, actor: Actor, raise_id: int) -> BudgetSummary:
        return self._decide_raise(actor, raise_id, False)

    @staticmethod
    def _pending(s, dataset_id: int) -> BudgetRaise | None:
        return s.execute(select(BudgetRaise).where(BudgetRaise.dataset_id == dataset_id,
                                                   BudgetRaise.state == "pending")).scalars().first()

    def _summary(self, s, ds) -> BudgetSummary:
        return views.budget_summary(s, ds)

    def budget_summary(self, actor: Actor, dataset_id: int) -> BudgetSummary:
        with self.rt.op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self.rt.authorize_dataset(op, "view_dataset", dataset_id)
            return self._summary(op.session, ds)

    def budget_history(self, actor: Actor, dataset_id: int) -> list[tuple[datetime, float]]:
        """Cumulative ε used after each spend, oldest first: the meter's figure over time, for
        whoever may see the meter (the amounts spent are the dataset's budget, not its data)."""
        with self.rt.op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self.rt.authorize_dataset(op, "view_dataset", dataset_id)
            return ledger.history(op.session, ds.id, ds.delta)
