"""Releases: approved releases with their ML-team card and downloads (each download audited)."""

import streamlit as st

from app.core.bundle import download_name
from app.core.classification import describe as classification_line
from app.ui import state
from app.core.decisions import decision_rule
from app.ui.components.card import STATE_LABEL, embed_card, md, verdict_label
from app.ui.components.charts import release_gates
from app.ui.components.federation import federation_panel

actor = state.require_actor()
platform = state.platform()
token = state.token()

st.title("Releases")
releases = state.call(platform.list_releases, actor) or []
approved = [r for r in releases if r.state in ("approved", "published")]

if actor.role != "ml_engineer":
    others = [r for r in releases if r.state not in ("approved", "published")]
    if others:
        with st.expander(f"Not (yet) approved ({len(others)})"):
            st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Classification": r.classification,
                           "State": STATE_LABEL.get(r.state, r.state),
                           "Privacy": state.fmt_eps(r.epsilon, r.delta), "Verdict": verdict_label(r.verdict),
                           "Next step": decision_rule(dp=r.dp, verdict=r.verdict, policy=r.policy, federated=r.federated).short
                           if r.state == "evaluated" else
                           "a second privacy officer decides" if r.state == "second_review" else "",
                           "Reason": r.reason or ""}
                          for r in reversed(others)], hide_index=True, width="stretch")

if not approved:
    st.info("No approved release is available to you yet.")
    st.stop()

st.dataframe([{"Release": r.id, "Dataset": r.dataset_name, "Classification": r.classification,
               "State": STATE_LABEL.get(r.state, r.state), "Synthesizer": r.synthesizer, "Privacy": state.fmt_eps(r.epsilon, r.delta),
               "Approved by": ", ".join(a for a in (r.approver, r.second_approver) if a) or "—",
               "Published until": f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "—",
               "Override": "yes" if r.override else ""}
              for r in reversed(approved)], hide_index=True, width="stretch")
ids = [r.id for r in reversed(approved)]
wanted = state.selected_release()
rid = st.selectbox("Release", ids, index=ids.index(wanted) if wanted in ids else 0, key="release_select",
                   format_func=lambda i: next(f"#{r.id} — {r.dataset_name} ({r.synthesizer})" for r in approved if r.id == i))
state.select_release(rid)
rel = next(r for r in approved if r.id == rid)

st.markdown(f"### Release #{rel.id} of “{md(rel.dataset_name)}”")
st.markdown(f"**Classification:** {classification_line(rel.classification)}")
approvers = " and ".join(a for a in (rel.approver, rel.second_approver) if a)
until = f" · published until {rel.expires_at:%Y-%m-%d %H:%M} UTC" if rel.expires_at else ""
st.caption(f"{state.fmt_eps(rel.epsilon, rel.delta)} · approved by {approvers}{until} · {rel.reason or ''}")
if rel.override:
    st.warning("Approved with an override: a gate did not pass or the release has no formal privacy. Read the reason.")


def _fetch(release_id: int, fmt: str):
    """Deferred: runs only when the button is clicked, so every download (and only a download)
    is audited. Re-resolves the session, so a signed-out or disabled user gets nothing."""
    def get() -> bytes:
        return platform.download(platform.actor_for_session(token), release_id, fmt).data
    return get


cols = st.columns(4)
for col, (fmt, label, mime) in zip(cols, [("csv", "Download CSV", "text/csv"),
                                          ("parquet", "Download Parquet", "application/vnd.apache.parquet"),
                                          ("manifest", "Download manifest", "application/json"),
                                          ("bundle", "Download everything (zip)", "application/zip")]):
    col.download_button(label, data=_fetch(rel.id, fmt), file_name=download_name(rel.id, fmt), mime=mime,
                        key=f"dl_{fmt}_{rel.id}", on_click="ignore", icon=":material/download:")
st.caption("Each download is recorded in the audit log with the file's SHA-256.")

if rel.federated:
    federation_panel(rel.federation)
elif actor.role == "data_owner":
    # the owner may read the evaluation (view_risk_report on their own dataset): its key charts
    report = state.call(platform.get_risk_report, actor, rel.id)
    if report is not None:
        release_gates(report)

st.markdown("#### Release card")
html = state.call(platform.get_release_card, actor, rel.id, "ml")
if html:
    embed_card(html, file_name=f"release-{rel.id}-card.html")
