"""Budget meter: spent / reserved / remaining ε of a dataset at its δ, bar and numbers on one scale."""

from __future__ import annotations

import streamlit as st

from app.core.services import BudgetSummary
from synthgen.budget import PrivacyBudget


def used_share(b: BudgetSummary) -> float:
    """Share of the lifetime ε no longer available, on the same ε scale as the numbers shown
    beside the bar: 1 - remaining ε / lifetime ε. (Computing it on the internal accounting unit
    instead gave "Remaining ε 9.84 of 10" next to a bar saying 3 % used.)"""
    total = b.epsilon("total")
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - b.epsilon("remaining") / total))


def budget_meter(b: BudgetSummary, *, pending_epsilon: float | None = None) -> None:
    """Render the meter. ``pending_epsilon``: preview a spend of that ε (at the dataset's δ)."""
    total, spent, reserved, remaining = (b.epsilon(k) for k in ("total", "spent", "reserved", "remaining"))
    share = used_share(b)
    cols = st.columns(4)
    cols[0].metric("Lifetime budget", f"ε {total:.3g}")
    cols[1].metric("Spent", f"ε {spent:.3g}")
    cols[2].metric("Reserved (running)", f"ε {reserved:.3g}")
    cols[3].metric("Remaining", f"ε {remaining:.3g}")
    st.progress(share, text=f"ε {remaining:.3g} of ε {total:.3g} remaining ({share:.0%} of the lifetime budget used)")
    st.caption(f"All ε values hold at the dataset's δ = {b.delta:.0e}. Spent and remaining ε do not add up to the "
               "lifetime budget: the privacy loss of several releases together is smaller than the sum of their ε, "
               "so what remains is a little more than the subtraction suggests.")
    if b.extra_delta > 0:
        st.caption(f"DP schema discovery also used δ = {b.extra_delta:.0e} (releasing category names): the "
                   f"dataset's guarantee holds at δ = {b.guarantee_delta:.1e}.")
    if pending_epsilon is not None:
        preview_after_spend(b, pending_epsilon)


def preview_after_spend(b: BudgetSummary, epsilon: float, *, spent_on: str = "this release") -> bool:
    """Show what remains after spending ``epsilon`` at the dataset's δ. Returns False when it
    would exceed the budget or is not a valid ε (the service refuses it anyway)."""
    try:
        cost = PrivacyBudget.from_epsilon(epsilon, b.delta)
    except Exception as exc:  # noqa: BLE001 - the same message the service would give on submit
        st.error(f"ε = {epsilon:g} cannot be spent: {exc}")
        return False
    left_rho = b.remaining.rho - cost.rho
    if left_rho < -1e-12:
        st.error(f"{spent_on[0].upper() + spent_on[1:]} would spend ε {epsilon:.3g}, more than the remaining budget "
                 f"(ε {b.epsilon('remaining'):.3g} at δ = {b.delta:.0e}). It would be refused: ask for at most "
                 f"ε {b.epsilon('remaining'):.3g}, or ask the dataset's owner to raise the lifetime budget.")
        return False
    left = PrivacyBudget.from_rho(max(0.0, left_rho)).epsilon(b.delta) if left_rho > 0 else 0.0
    st.info(f"After {spent_on} the dataset keeps **ε {left:.3g}** of its lifetime budget "
            f"(at δ = {b.delta:.0e}). Budget spent is never refunded, whatever the outcome.")
    return True
