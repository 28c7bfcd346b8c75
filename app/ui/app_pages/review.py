"""Review (privacy officer): the queue of evaluated releases, the evidence, and the decision."""

import streamlit as st

from app.core.classification import describe as classification_line
from app.core.decisions import decision_rule
from app.ui import state
from app.ui.components.card import STATE_LABEL, embed_card, md, metrics_table, verdict_badge, verdict_label
from app.ui.components.charts import release_gates
from app.ui.components.federation import federation_panel

actor = state.require_actor()
platform = state.platform()

DECISION_WORD = {"approve": "approve or reject", "approve_with_reason": "approve with a written reason, or reject",
                 "reject_only": "reject only"}

st.title("Review")
state.show_flash()
releases = state.call(platform.list_releases, actor) or []
# confidential and restricted data: a release approved once waits for a second, different officer
queue = [r for r in releases if r.state in ("evaluated", "second_review")]


def rule_of(r):
    return decision_rule(dp=r.dp, verdict=r.verdict, policy=r.policy, federated=r.federated)


def first_approver(r) -> bool:
    return r.state == "second_review" and r.approver == actor.username


def you_can(r) -> str:
    if r.requester == actor.username:
        return "nothing (you requested it)"
    if first_approver(r):
        return "nothing (you gave the first approval)"
    return DECISION_WORD[rule_of(r).kind]


st.subheader(f"Waiting for a decision ({len(queue)})")
if not queue:
    st.info("No evaluated release is waiting for review.")
else:
    st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Classification": r.classification,
                   "Approvals": f"{1 if r.state == 'second_review' else 0} of {r.approvals_required}",
                   "Requested by": r.requester,
                   "Synthesizer": r.synthesizer, "Privacy": state.fmt_eps(r.epsilon, r.delta),
                   "Verdict": verdict_label(r.verdict), "You can": you_can(r)}
                  for r in queue], hide_index=True, width="stretch")
    ids = [r.id for r in queue]
    wanted = state.selected_release()
    rid = st.selectbox("Release to review", ids, index=ids.index(wanted) if wanted in ids else 0, key="review_select",
                       format_func=lambda i: next(f"#{r.id} — {r.dataset_name} ({r.synthesizer})" for r in queue if r.id == i))
    state.select_release(rid)
    rel = next(r for r in queue if r.id == rid)
    rule = rule_of(rel)

    st.markdown(f"### Release #{rel.id} of “{md(rel.dataset_name)}”")
    st.markdown(f"**Classification:** {classification_line(rel.classification)}")
    if rel.state == "second_review":
        st.info(f"Approved by {rel.approver}; the classification asks for a second privacy officer (not the "
                "requester, not the first approver, nobody who saw the raw data).", icon=":material/group:")
    c = st.columns(4)
    c[0].metric("Synthesizer", rel.synthesizer.upper() if rel.dp else f"{rel.synthesizer} (no formal privacy)")
    c[1].metric("ε (privacy loss)", f"{rel.epsilon:.3g}" if rel.dp else "—")
    c[2].metric("δ (failure probability)", f"{rel.delta:.0e}" if rel.dp else "—")
    c[3].metric("Overall verdict", verdict_label(rel.verdict))
    if rel.dp:
        factor = 2.718281828 ** min(rel.epsilon, 50)
        st.info(f"**What ε = {rel.epsilon:.3g} and δ = {rel.delta:.0e} promise.** Whatever anyone does with this "
                f"synthetic table, they learn at most e^ε ≈ {factor:.3g} times more about any one person than if that "
                f"person had never been in the data, except with probability δ = {rel.delta:.0e} (far below one in "
                "the number of people in the table). ε ≤ 1 is strong protection, 1–5 is common, above 10 is weak. "
                + ("For a federated fit nothing measures what the guarantee does not (usefulness, real attacks): "
                   "the platform holds no real table of it." if rel.federated else
                   "The gates below measure what the guarantee does not: how useful the table is, and what real "
                   "attacks achieve on it."), icon=":material/shield:")
        st.caption(f"Requested by {rel.requester}; rows: {rel.rows or 'a differentially private estimate of the table size'}; "
                   f"ML-utility target: {rel.target or '—'}.")
    else:
        st.error("This release is **not differentially private**: it has no formal privacy guarantee.")
    st.markdown(f"{verdict_badge(rel.verdict)} **Overall: {verdict_label(rel.verdict)}**: {rule.reason}.")

    if rel.federated:
        federation_panel(rel.federation)
    else:
        report = state.call(platform.get_risk_report, actor, rel.id)
        if report is not None:
            release_gates(report)
            metrics_table(report)

    # Loaded only when opened: the full card quotes real-side statistics, and opening it is
    # what the audit log records (once per session and release).
    if st.toggle("Show the release card (charts, real-side statistics)", key=f"full_card_{rel.id}"):
        full_tab, ml_tab = st.tabs(["Full card (reviewers)", "ML-team card (what consumers will see)"])
        with full_tab:
            html = state.call(platform.get_release_card, actor, rel.id, "full")
            if html:
                embed_card(html, file_name=f"release-{rel.id}-card-full.html")
        with ml_tab:
            html = state.call(platform.get_release_card, actor, rel.id, "ml")
            if html:
                embed_card(html, file_name=f"release-{rel.id}-card-ml.html")

    st.markdown("#### Decision")
    if rel.requester == actor.username:
        st.error(f"You requested release #{rel.id} yourself, so you cannot approve or publish it (four-eyes rule), "
                 "whatever your role is now. Another privacy officer must decide on it.", icon=":material/block:")
    elif first_approver(rel):
        st.info(f"You gave release #{rel.id} its first approval; its classification asks for a second, different "
                "privacy officer to approve it before it can be downloaded or published.", icon=":material/group:")
    else:
        st.markdown(f"**What you can decide:** {DECISION_WORD[rule.kind]}, because {rule.reason}.")
        reason = st.text_area("Reason (required, kept in the audit log)", key=f"reason_{rel.id}",
                              placeholder="e.g. ε within policy; the inconclusive singling-out interval reaches 0.06, "
                                          "accepted because …")
        override = False
        if rule.kind == "approve_with_reason":
            override = st.checkbox("I approve although nothing was measured; the accounting and my reason above "
                                   "justify it (recorded as an override)" if rel.federated else
                                   "I approve although not every gate passed; my reason above justifies it "
                                   "(recorded as an override)", key=f"override_{rel.id}")
        elif rule.kind == "reject_only":
            st.warning("This release cannot be approved: " + rule.reason + ". Reject it with a reason; the "
                       "owner can request a new release.")
        b1, b2, _ = st.columns([1, 1, 4])
        approve = b1.button("Approve", type="primary", key=f"approve_{rel.id}",
                            disabled=rule.kind == "reject_only" or (rule.needs_override and not override))
        reject = b2.button("Reject", key=f"reject_{rel.id}")
        outcome = st.container()
        if approve and state.call_at(outcome, platform.approve, actor, rel.id, reason, override=override) is not None:
            state.flash(f"Release {rel.id} approved.")
            st.query_params.pop("release", None)
            st.rerun()
        if reject and state.call_at(outcome, platform.reject, actor, rel.id, reason) is not None:
            state.flash(f"Release {rel.id} rejected.")
            st.query_params.pop("release", None)
            st.rerun()

st.subheader("Decided releases")
decided = [r for r in releases if r.state in ("approved", "published", "rejected", "revoked")]
if not decided:
    st.caption("None yet.")
else:
    st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Classification": r.classification,
                   "State": STATE_LABEL.get(r.state, r.state), "Requested by": r.requester,
                   "Decided by": ", ".join(a for a in (r.approver, r.second_approver) if a) or "—", "Reason": r.reason or "",
                   "Override": "yes" if r.override else "", "Privacy": state.fmt_eps(r.epsilon, r.delta)}
                  for r in reversed(decided)], hide_index=True, width="stretch")
    live = [r.id for r in decided if r.state in ("approved", "published")]
    if live:
        with st.expander("Publish or revoke", expanded=True):
            rid2 = st.selectbox("Release", live, key="pubrev_select")
            target_rel = next(r for r in decided if r.id == rid2)
            slot = st.container()
            if target_rel.state == "approved":
                own = target_rel.requester == actor.username
                if own:
                    st.caption(f"You requested release #{rid2}, so you cannot publish it (four-eyes rule).")
                if st.button("Publish", key="publish_btn", disabled=own):
                    if state.call_at(slot, platform.publish, actor, rid2) is not None:
                        state.flash(f"Release {rid2} published.")
                        st.rerun()
            why = st.text_input("Reason for revoking", key="revoke_reason")
            if st.button("Revoke", key="revoke_btn"):
                if state.call_at(slot, platform.revoke, actor, rid2, why) is not None:
                    state.flash(f"Release {rid2} revoked.")
                    st.rerun()
