"""Review (privacy officer): the queue of evaluated releases, the evidence, and the decision."""

import streamlit as st

from app.ui import state
from app.ui.components.card import STATE_LABEL, embed_card, metrics_table, verdict_label
from synthgen.budget import CONVERSION

actor = state.require_actor()
platform = state.platform()

st.title("Review")
releases = state.call(platform.list_releases, actor) or []
queue = [r for r in releases if r.state == "evaluated"]

st.subheader(f"Waiting for a decision ({len(queue)})")
if not queue:
    st.info("No evaluated release is waiting for review.")
else:
    st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Requested by": r.requester,
                   "Synthesizer": r.synthesizer, "Privacy": state.fmt_eps(r.epsilon, r.delta),
                   "Verdict": verdict_label(r.verdict)} for r in queue], hide_index=True, width="stretch")
    ids = [r.id for r in queue]
    rid = st.selectbox("Release to review", ids, key="review_select",
                       format_func=lambda i: next(f"#{r.id} — {r.dataset_name} ({r.synthesizer})" for r in queue if r.id == i))
    rel = next(r for r in queue if r.id == rid)

    st.markdown(f"### Release #{rel.id} of “{rel.dataset_name}”")
    c = st.columns(4)
    c[0].metric("Synthesizer", rel.synthesizer.upper() if rel.dp else f"{rel.synthesizer} (no formal privacy)")
    c[1].metric("ε", f"{rel.epsilon:.3g}" if rel.dp else "—")
    c[2].metric("δ", f"{rel.delta:.0e}" if rel.dp else "—")
    c[3].metric("Overall verdict", verdict_label(rel.verdict))
    if rel.dp:
        st.caption(f"ε at δ via {CONVERSION}. Requested by {rel.requester}; rows: {rel.rows or 'DP estimate of the table size'}; "
                   f"target: {rel.target or '—'}.")
    else:
        st.error("This release is **not differentially private**: it has no formal privacy guarantee.")

    report = state.call(platform.get_risk_report, actor, rel.id)
    if report is not None:
        metrics_table(report)
    # Loaded only when opened: the full card quotes real-side statistics, and opening it is
    # what the audit log records (once per session and release).
    if st.toggle("Show the full release card (plots, real-side statistics)", key=f"full_card_{rel.id}"):
        html = state.call(platform.get_release_card, actor, rel.id, "full")
        if html:
            embed_card(html)

    st.markdown("#### Decision")
    if rel.requester == actor.username:
        st.info("You requested this release, so you cannot decide on it (four-eyes rule). Another privacy officer "
                "must review it.")
    else:
        reason = st.text_area("Reason (required, kept in the audit log)", key=f"reason_{rel.id}")
        needs_override = (not rel.dp) or rel.verdict != "pass"
        override = False
        if needs_override:
            if rel.policy.get("allow_override"):
                override = st.checkbox("Approve despite the failed / inconclusive gate or missing formal privacy "
                                       "(override; the reason must justify it)", key=f"override_{rel.id}")
            else:
                st.warning("This release cannot be approved: its gates did not all pass and its policy does not allow "
                           "an override. You can reject it.")
        b1, b2, _ = st.columns([1, 1, 4])
        if b1.button("Approve", type="primary", key=f"approve_{rel.id}",
                     disabled=needs_override and not override):
            if state.call(platform.approve, actor, rel.id, reason, override=override) is not None:
                st.toast(f"Release {rel.id} approved")
                st.rerun()
        if b2.button("Reject", key=f"reject_{rel.id}"):
            if state.call(platform.reject, actor, rel.id, reason) is not None:
                st.toast(f"Release {rel.id} rejected")
                st.rerun()

st.subheader("Decided releases")
decided = [r for r in releases if r.state in ("approved", "published", "rejected", "revoked")]
if not decided:
    st.caption("None yet.")
else:
    st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "State": STATE_LABEL.get(r.state, r.state),
                   "Decided by": r.approver or "—", "Reason": r.reason or "", "Override": "yes" if r.override else "",
                   "Privacy": state.fmt_eps(r.epsilon, r.delta)} for r in reversed(decided)],
                 hide_index=True, width="stretch")
    live = [r.id for r in decided if r.state in ("approved", "published")]
    if live:
        with st.expander("Publish or revoke"):
            rid2 = st.selectbox("Release", live, key="pubrev_select")
            target_rel = next(r for r in decided if r.id == rid2)
            if target_rel.state == "approved" and st.button("Publish", key="publish_btn"):
                if state.call(platform.publish, actor, rid2) is not None:
                    st.rerun()
            why = st.text_input("Reason for revoking", key="revoke_reason")
            if st.button("Revoke", key="revoke_btn"):
                if state.call(platform.revoke, actor, rid2, why) is not None:
                    st.rerun()
