"""Audit (privacy officer, admin): filterable log, chain verification, CSV export."""

import json

import streamlit as st

from app.ui import state
from app.ui.components.csv_export import audit_csv

actor = state.require_actor()
platform = state.platform()

st.title("Audit log")
st.caption("Every action (and every refusal) is one hash-chained, signed entry. Entries are never edited.")

c1, c2, c3, c4 = st.columns(4)
action = c1.text_input("Action", key="audit_action", placeholder="e.g. approve").strip() or None
who = c2.text_input("Actor", key="audit_actor", placeholder="user name").strip() or None
target = c3.text_input("Target", key="audit_target", placeholder="e.g. release:3").strip() or None
limit = c4.number_input("Show at most", min_value=10, max_value=10_000, value=500, step=100, key="audit_limit")
outcome = st.segmented_control("Outcome", ["ok", "denied", "failed"], selection_mode="multi",
                               default=["ok", "denied", "failed"], key="audit_outcome")

entries = state.call(platform.audit_log, actor, action=action, actor_name=who, target=target, limit=int(limit))
if entries is not None:
    shown = [e for e in entries if e.outcome in (outcome or [])]
    st.dataframe([{"#": e.seq, "At (UTC)": e.at[:19].replace("T", " "), "Actor": e.actor, "Action": e.action, "Outcome": e.outcome,
                   "Target": e.target, "Details": json.dumps(e.details, sort_keys=True, ensure_ascii=False)}
                  for e in reversed(shown)], hide_index=True, width="stretch", height=420)
    st.caption(f"{len(shown)} entries shown (newest first).")
    st.download_button("Export CSV", data=audit_csv(shown), file_name="synthgen-audit.csv", mime="text/csv",
                       key="audit_export", on_click="ignore", icon=":material/download:",
                       help="Cells that a spreadsheet would run as formulas are prefixed with a quote.")

st.subheader("Chain verification")
if st.button("Verify the whole chain", key="audit_verify"):
    result = state.call(platform.verify_audit, actor)
    if result is not None:
        if result.ok:
            st.success(f"Chain intact: {result.checked} entries verified (hashes, signatures, signed head).")
        else:
            st.error(f"Chain BROKEN after checking {result.checked} entries:")
            for p in result.problems[:50]:
                st.write("• " + p)
