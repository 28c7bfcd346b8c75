"""Lifetime privacy budgets of datasets: read them, change them (never below what is spent or
reserved: :func:`app.core.ledger.set_total` checks under the dataset's lock).

The budget is given in ε at the dataset's δ and stored as ρ (zCDP); the conversion is
OpenDP's (``synthgen.budget``), rounded toward the safe side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core import ledger
from app.core.services import views
from app.core.services.types import Actor, BudgetSummary
from synthgen.budget import PrivacyBudget

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class Budgets:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def set_budget(self, actor: Actor, dataset_id: int, budget_epsilon: float) -> BudgetSummary:
        """Change the lifetime budget (ε at the dataset's δ); never below what is already
        spent or reserved."""
        with self.rt.op(actor, "set_budget", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "set_budget", dataset_id)
            total = PrivacyBudget.from_epsilon(budget_epsilon, ds.delta)
            old = PrivacyBudget(ds.budget_rho_total)
            ledger.set_total(op.session, ds.id, total)
            op.details.update(old_rho=old.rho, new_rho=total.rho, new_epsilon=float(budget_epsilon), delta=ds.delta)
            return views.budget_summary(op.session, ds)

    def budget_summary(self, actor: Actor, dataset_id: int) -> BudgetSummary:
        with self.rt.op(actor, "view_dataset", f"dataset:{dataset_id}", audit=False) as op:
            ds = self.rt.authorize_dataset(op, "view_dataset", dataset_id)
            return views.budget_summary(op.session, ds)


