"""Audit (privacy officer, admin): filterable log, chain verification, CSV export."""

import json

import streamlit as st

from app.ui import state

actor = state.require_actor()
platform = state.platform()
token = state.token()

st.title("Audit log")
st.caption("Every action (and every refusal) is one hash-chained, signed entry. Entries are never edited.")

c1, c2, c3, c4 = st.columns(4)
action = c1.text_input("Action", key="audit_action", placeholder="e.g. approve").strip() or None
who = c2.text_input("Actor", key="audit_actor", placeholder="user name").strip() or None
target = c3.text_input("Target", key="audit_target", placeholder="e.g. release:3").strip() or None
limit = c4.number_input("Show at most", min_value=10, max_value=10_000, value=500, step=100, key="audit_limit")
outcome = st.segmented_control("Outcome", ["ok", "denied", "failed"], selection_mode="multi",
                               default=["ok", "denied", "failed"], key="audit_outcome")
filters = dict(action=action, actor_name=who, target=target, outcomes=list(outcome or []), limit=int(limit),
               newest=True)

entries = state.call(platform.audit_log, actor, **filters)
if entries is not None:
    st.dataframe([{"#": e.seq, "At (UTC)": e.at[:19].replace("T", " "), "Actor": e.actor, "Action": e.action,
                   "Outcome": e.outcome, "Target": e.target,
                   "Details": json.dumps(e.details, sort_keys=True, ensure_ascii=False)}
                  for e in reversed(entries)], hide_index=True, width="stretch", height=420)
    st.caption(f"{len(entries)} entries shown (newest first).")

    def _export() -> bytes:
        """Deferred: runs only when the button is clicked, so every export (and only an export)
        is recorded in the audit log. Re-resolves the session: a signed-out user gets nothing."""
        return platform.export_audit(platform.actor_for_session(token), **filters)

    st.download_button("Export CSV", data=_export, file_name="synthgen-audit.csv", mime="text/csv",
                       key="audit_export", on_click="ignore", icon=":material/download:",
                       help="The entries shown above. The export itself is recorded in the audit log. Cells that "
                            "a spreadsheet would run as formulas are prefixed with a quote.")

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
