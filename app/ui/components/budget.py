"""Budget meter: spent / reserved / remaining ε of a dataset at its δ."""

from __future__ import annotations

import streamlit as st

from app.core.services import BudgetSummary
from synthgen.budget import PrivacyBudget


def budget_meter(b: BudgetSummary, *, pending_epsilon: float | None = None) -> None:
    """Render the meter. ``pending_epsilon``: preview a spend of that ε (at the dataset's δ)."""
    total, spent, reserved, remaining = (b.epsilon(k) for k in ("total", "spent", "reserved", "remaining"))
    used_fraction = 0.0 if b.total.rho <= 0 else min(1.0, (b.spent.rho + b.reserved.rho) / b.total.rho)
    cols = st.columns(4)
    cols[0].metric("Lifetime budget", f"ε {total:.3g}")
    cols[1].metric("Spent", f"ε {spent:.3g}")
    cols[2].metric("Reserved (running)", f"ε {reserved:.3g}")
    cols[3].metric("Remaining", f"ε {remaining:.3g}")
    st.progress(used_fraction, text=f"{used_fraction:.0%} of the lifetime budget used")
    st.caption(f"All ε values are at the dataset's δ = {b.delta:.0e}, converted with: {b.conversion}. "
               "Budgets add up in zCDP (ρ), so ε values do not simply add.")
    if b.extra_delta > 0:
        st.caption(f"DP schema discovery also spent δ = {b.extra_delta:.0e} outside zCDP (key thresholding): "
                   f"the dataset's guarantee holds at δ = {b.guarantee_delta:.1e}.")
    if pending_epsilon is not None:
        preview_after_spend(b, pending_epsilon)


def preview_after_spend(b: BudgetSummary, epsilon: float, *, spent_on: str = "this release") -> bool:
    """Show what remains after spending ``epsilon`` at the dataset's δ. Returns False when it
    would exceed the budget (the service refuses it anyway; this is only a preview)."""
    try:
        cost = PrivacyBudget.from_epsilon(epsilon, b.delta)
    except Exception:  # noqa: BLE001 - an invalid ε is reported by the service on submit
        return True
    left_rho = b.remaining.rho - cost.rho
    if left_rho < -1e-12:
        st.error(f"This spend (ε {epsilon:.3g}) is more than the remaining budget (ε {b.epsilon('remaining'):.3g}). "
                 "The request would be refused.")
        return False
    left = PrivacyBudget.from_rho(max(0.0, left_rho)).epsilon(b.delta) if left_rho > 0 else 0.0
    st.info(f"After {spent_on} the dataset keeps **ε {left:.3g}** of its lifetime budget "
            f"(at δ = {b.delta:.0e}). Budget spent is never refunded, whatever the outcome.")
    return True
