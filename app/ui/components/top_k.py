"""Top-k categories chosen with DP, from the Datasets page: the saved schema's top-k columns
still waiting for their categories, an ε, and one button that calls
:meth:`app.core.services.Platform.select_top_k` (which validates, charges and stores the draft)."""

from __future__ import annotations

import streamlit as st

from app.ui import state
from app.ui.components.budget import preview_after_spend

BUTTON = "Choose top-k categories (spends ε)"


def pending_top_k(schema_json: str | None) -> list[tuple[str, int]]:
    """(column, k) of every top-k column of the saved schema whose categories are not chosen yet.
    The names and k are the owner's public declarations; nothing here reads the table."""
    if not schema_json:
        return []
    from synthgen.schema import Schema

    try:
        schema = Schema.from_json(schema_json)
    except Exception:  # noqa: BLE001 - a stored schema was validated on save; no control if not
        return []
    return [(name, schema.column(name).top_k.k) for name in schema.pending_top_k()]


def top_k_control(platform, actor, ds, *, on_done) -> None:
    """Render the control when the saved schema has pending top-k columns. ``on_done`` runs
    after a successful selection (the page switches to reviewing the stored draft)."""
    pending = pending_top_k(ds.schema_json)
    if not pending:
        return
    with st.container(border=True):
        st.markdown("**Top-k categories to choose.** These columns keep their k most frequent values plus "
                    "`<other>`; the values are chosen with OpenDP's key thresholding on the private table "
                    "(a value held by few people never appears). A release cannot be fitted before.")
        st.table([{"Column": name, "k": k} for name, k in pending])
        if ds.schema_draft_json:
            # a new selection replaces the stored draft, whose budget is already spent
            st.caption("Save or discard the draft waiting for your review first: choosing the top-k categories "
                       "stores a new draft in its place.")
            return
        eps = st.number_input("ε to spend on choosing the top-k categories", min_value=0.01, max_value=10.0,
                              value=0.5, step=0.1, key=f"top_k_eps_{ds.id}")
        # the remaining budget, as discovery shows it: the spend is charged like a release
        affordable = preview_after_spend(ds.budget, float(eps), spent_on="choosing the top-k categories")
        if st.button(BUTTON, key=f"top_k_btn_{ds.id}", disabled=not affordable, type="primary"):
            with st.spinner("Choosing the top-k categories with differential privacy…"):
                info = state.call(platform.select_top_k, actor, ds.id, float(eps))
            if info is not None:
                on_done()
